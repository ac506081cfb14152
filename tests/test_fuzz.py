"""Fuzz every shopper-facing form and URL parameter: never an HTTP 500.

Hypothesis throws NUL bytes, odd unicode, huge and negative numbers,
markup and URLs at the search, filters, sort and pages, the catalogue's
slugs, the cart and wishlist, checkout, order look-up and order pages,
payment status and resend, the account pages, sign-in and sign-up. Each
example runs in its own transaction (``hypothesis.extra.django.TestCase``)
against a small catalogue, a shopper and a guest's order; pushes go to a
Daraja simulator started for the class. Bounded to a few dozen examples
per target so the suite stays quick; it runs on SQLite and PostgreSQL.
"""

from urllib.parse import quote

from django.core.cache import cache
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from accounts.tests.factories import AddressFactory, UserFactory
from payments.simulator import start_simulator
from payments.tests.factories import order_to_pay
from payments.tests.simulators import CREDENTIALS, FAST
from shop.models import CartLine, Review, WishlistItem
from shop.order_access import SESSION_KEY
from shop.tests.factories import (
    AttributeValueFactory,
    BrandFactory,
    CategoryFactory,
    make_product,
)

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no example database: each run starts fresh, in CI too
)

NASTY = [
    "",
    " ",
    "\x00",
    "phone\x00",
    "%00",
    "-1",
    "0",
    "-0",
    "1",
    "1.5",
    "1e999",
    "-1e999",
    "NaN",
    "inf",
    "9" * 30,
    "-" + "9" * 30,
    "9" * 5000,
    str(2**63),
    str(-(2**63) - 1),
    "0x1F",
    "١٢٣",
    "１２",
    "²",
    "\u202egnp.exe",
    "\u200b",
    "\ufeff",
    "🙂" * 40,
    "Z̴̧̛a̸l̷g̶o̵",
    "ǅ",
    "İstanbul",
    "<script>alert(1)</script>",
    "' OR '1'='1' --",
    "../../etc/passwd",
    "%2e%2e%2f",
    "null",
    "None",
    "true",
    "[]",
    "{}",
    "x" * 100_000,
    "é" * 3000,
    "\r\n",
    "\t",
    "\\",
    "//evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "foo",
    "storage:128-gb",
    "samsung",
    "price-asc",
    "new",
    "254708374149",
    "0712 345 678",
    "+254 712 345 678",
    "wanjiku@example.com",
    "a@b",
    "@",
]
#: Any text but lone surrogates (which no client can send as UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
INTS = st.integers(min_value=-(2**80), max_value=2**80).map(str)
#: PostgreSQL refuses NUL in text: make sure plenty of values carry one.
WITH_NUL = st.tuples(TEXT, st.one_of(TEXT, INTS)).map("\x00".join)
VALUE = st.one_of(st.sampled_from(NASTY), TEXT, INTS, WITH_NUL)
#: A path segment: quoted, so it stays one segment (``%2F`` and ``%00`` included).
SEGMENT = VALUE.map(lambda value: quote(value[:300], safe=""))
#: An ``<int:...>`` segment: any run of digits, however large.
DIGITS = st.one_of(st.integers(min_value=0, max_value=2**80), st.sampled_from([0, 1, 2, 3]))
HTMX = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {
            "HTTP_HX_REQUEST": st.just("true"),
            "HTTP_HX_TARGET": st.sampled_from(
                ["listing", "buy-box", "cart", "payment-status", "order-summary", "pay-amount", "x"]
            ),
        },
        optional={"HTTP_HX_HISTORY_RESTORE_REQUEST": st.just("true")},
    ),
)


def form(*names: str, values=VALUE):
    """Return a strategy for form data with any of *names* (or odd extra keys)."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, values)).flatmap(
        lambda data: st.dictionaries(VALUE, VALUE, max_size=2).map(lambda extra: extra | data)
    )


class FuzzTestCase(TestCase):
    """Every response to fuzzed input is a page, a redirect or a 4xx."""

    @classmethod
    def setUpClass(cls):
        cls.simulator, base_url = start_simulator(**CREDENTIALS, **FAST)
        cls.mpesa = override_settings(
            MPESA_ENVIRONMENT="simulator",
            MPESA_BASE_URL=base_url,
            MPESA_CONSUMER_KEY=CREDENTIALS["consumer_key"],
            MPESA_CONSUMER_SECRET=CREDENTIALS["consumer_secret"],
            MPESA_PASSKEY=CREDENTIALS["passkey"],
            MPESA_SHORTCODE=CREDENTIALS["shortcode"],
            MPESA_PARTY_B=CREDENTIALS["shortcode"],
            MPESA_TIMEOUT_SECONDS=5,
            # Nobody listens there: the simulator's callbacks go nowhere.
            MPESA_CALLBACK_BASE_URL="http://127.0.0.1:9",
        )
        cls.mpesa.enable()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.mpesa.disable()
        cls.simulator.stop()

    @classmethod
    def setUpTestData(cls):
        storage = AttributeValueFactory()
        cls.product = make_product(
            name="Galaxy A15",
            slug="galaxy-a15",
            brand=BrandFactory(name="Samsung", slug="samsung"),
            category=CategoryFactory(name="Phones", slug="phones"),
            prices=("20000", "23000"),
            stock=50,
            values=[[storage], []],
            specs=[("Screen", "6.5 in")],
        )
        cls.variant = cls.product.variants.order_by("price").first()
        cls.shopper = UserFactory(email="wanjiku@example.com")
        cls.address = AddressFactory(user=cls.shopper)
        cls.order = order_to_pay(price="1500", stock=5)

    def setup_example(self):
        super().setup_example()
        cache.clear()  # throttles and rate limits start afresh each example

    def sign_in(self):
        self.client.force_login(self.shopper)

    def with_cart(self):
        self.client.post("/cart/add/", {"variant": self.variant.pk, "quantity": 1})

    def with_order(self):
        session = self.client.session
        session[SESSION_KEY] = [self.order.number]
        session.save()

    def ok(self, response):
        assert response.status_code < 500, (response.status_code, response.request)

    def get(self, url, data=None, **headers):
        self.ok(self.client.get(url, data or {}, **headers))

    def post(self, url, data=None, **headers):
        self.ok(self.client.post(url, data or {}, **headers))

    # The catalogue --------------------------------------------------------

    @FUZZ
    @given(
        url=st.sampled_from(["/products/", "/search/", "/c/phones/", "/brands/samsung/", "/"]),
        params=form("q", "brand", "v", "min_price", "max_price", "in_stock", "sort", "page"),
        headers=HTMX,
    )
    def test_listing_search_filters_sort_and_page(self, url, params, headers):
        self.get(url, params, **headers)

    @FUZZ
    @given(slug=SEGMENT, params=form("variant", "page"), headers=HTMX)
    def test_slugs(self, slug, params, headers):
        for pattern in ("/c/{}/", "/brands/{}/", "/p/{}/", "/p/{}/reviews/"):
            self.get(pattern.format(slug), params, **headers)

    @FUZZ
    @given(params=form("variant", "page"), headers=HTMX)
    def test_product_page_and_its_variant_picker(self, params, headers):
        self.get("/p/galaxy-a15/", params, **headers)
        self.get("/p/galaxy-a15/reviews/", params, **headers)

    @FUZZ
    @given(data=form("rating", "title", "body"), signed_in=st.booleans())
    def test_review_form(self, data, signed_in):
        if signed_in:
            self.sign_in()
        self.post("/p/galaxy-a15/reviews/new/", data)
        assert not Review.objects.exists()  # nobody here received the product

    # Cart and wishlist ------------------------------------------------------

    @FUZZ
    @given(
        data=form("variant", "quantity", "next"),
        real_variant=st.booleans(),
        signed_in=st.booleans(),
        headers=HTMX,
    )
    def test_cart_add(self, data, real_variant, signed_in, headers):
        if signed_in:
            self.sign_in()
        if real_variant:
            data = {**data, "variant": str(self.variant.pk)}
        self.post("/cart/add/", data, **headers)

    @FUZZ
    @given(
        line=DIGITS,
        real_line=st.booleans(),
        data=form("quantity"),
        action=st.sampled_from(["update", "remove", "clear", "accept"]),
        headers=HTMX,
    )
    def test_cart_lines(self, line, real_line, data, action, headers):
        self.with_cart()
        if real_line:
            line = CartLine.objects.order_by("-pk").values_list("pk", flat=True).first()
        url = {
            "update": f"/cart/lines/{line}/",
            "remove": f"/cart/lines/{line}/remove/",
            "clear": "/cart/clear/",
            "accept": "/cart/accept-prices/",
        }[action]
        self.post(url, data, **headers)
        self.get("/cart/", **headers)
        self.get("/cart/badge/", **headers)

    @FUZZ
    @given(
        data=form("product", "variant", "next"),
        real_product=st.booleans(),
        signed_in=st.booleans(),
        item=DIGITS,
        headers=HTMX,
    )
    def test_wishlist(self, data, real_product, signed_in, item, headers):
        if signed_in:
            self.sign_in()
        if real_product:
            data = {**data, "product": str(self.product.pk)}
        self.post("/wishlist/toggle/", data, **headers)
        saved = WishlistItem.objects.values_list("pk", flat=True).first()
        self.post(f"/wishlist/{saved or item}/move-to-cart/", **headers)
        self.get("/wishlist/")

    # Checkout and orders -----------------------------------------------------

    @FUZZ
    @given(
        data=form(
            "email",
            "mpesa_phone",
            "address",
            "save_address",
            "action",
            "new-recipient_name",
            "new-phone",
            "new-county",
            "new-town",
            "new-street",
            "new-notes",
        ),
        signed_in=st.booleans(),
        headers=HTMX,
    )
    def test_checkout(self, data, signed_in, headers):
        if signed_in:
            self.sign_in()
        self.with_cart()
        self.get("/checkout/", **headers)
        self.post("/checkout/", data, **headers)

    @FUZZ
    @given(data=form("number", "phone"), real_number=st.booleans())
    def test_order_look_up(self, data, real_number):
        if real_number:
            data = {**data, "number": self.order.number}
        self.post("/orders/find/", data)

    @FUZZ
    @given(
        number=SEGMENT,
        real_number=st.booleans(),
        visible=st.booleans(),
        params=form("key", "page"),
        data=form("phone", "reason"),
        headers=HTMX,
    )
    def test_order_pages_payment_status_and_resend(
        self, number, real_number, visible, params, data, headers
    ):
        if visible:
            self.with_order()
        if real_number:
            number = self.order.number
        self.get("/orders/", params)
        self.get(f"/orders/{number}/", params, **headers)
        self.get(f"/orders/{number}/payment/", params, **headers)
        self.post(f"/orders/{number}/payment/resend/", data, **headers)
        self.post(f"/orders/{number}/reorder/", data)
        self.post(f"/orders/{number}/cancel/", data)

    # Accounts ----------------------------------------------------------------

    @FUZZ
    @given(
        profile=form("first_name", "last_name", "phone"),
        address=form(
            "recipient_name", "phone", "county", "town", "street", "notes", "is_default", "next"
        ),
        pk=DIGITS,
        own=st.booleans(),
        params=form("next"),
    )
    def test_account_forms(self, profile, address, pk, own, params):
        self.sign_in()
        if own:
            pk = self.address.pk
        self.get("/account/addresses/new/", params)
        self.post("/account/profile/", profile)
        self.post("/account/addresses/new/", address)
        self.get(f"/account/addresses/{pk}/edit/")
        self.post(f"/account/addresses/{pk}/edit/", address)
        self.post(f"/account/addresses/{pk}/default/")
        self.post(f"/account/addresses/{pk}/delete/")

    @FUZZ
    @given(
        login=form("login", "password", "remember", "next"),
        signup=form("email", "password1", "password2"),
        reset=form("email"),
        params=form("next"),
    )
    def test_sign_in_sign_up_and_password_reset(self, login, signup, reset, params):
        self.get("/accounts/login/", params)
        self.post("/accounts/login/", login)
        self.post("/accounts/signup/", signup)
        self.post("/accounts/password/reset/", reset)
