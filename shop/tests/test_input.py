"""Input that reaches the database: NUL bytes, ``next`` and staff-entered links.

PostgreSQL refuses NUL in text and SQLite doesn't, so these run on both.
"""

import json

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.tests.factories import UserFactory
from payments.models import Callback
from shop.models import Banner, ProductVariant, WishlistItem
from shop.tests.factories import make_product
from storefront.web import is_local_path, is_safe_link

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "contains a NUL character"


@pytest.fixture
def product():
    return make_product(
        name="Galaxy A15", slug="galaxy-a15", prices=("20000",), stock=5, image=False
    )


@pytest.fixture
def shopper_client(client):
    client.force_login(UserFactory(email="wanjiku@example.com"))
    return client


def assert_refused(response):
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert NUL_MESSAGE in response.content.decode()


# NUL bytes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=phone%00",
        "/search/?q=%00",
        "/products/?brand=%00",
        "/products/?v=storage:%00&sort=newest",
        "/products/?sort=%00",
        "/products/?page=1%00",
        "/products/?%00=1",
        "/p/galaxy-a15/?variant=1%00",
        "/c/phones%00/",
        "/p/galaxy%00a15/",
        "/orders/AB%00CD/",
        "/orders/%00/",
        "/orders/AB%00CD/payment/",
        "/orders/KE12345678/?key=%00",
        "/account/addresses/new/?next=/%00",
    ],
)
def test_a_nul_in_the_address_is_a_plain_400(client, product, url):
    assert_refused(client.get(url))


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/orders/find/", {"number": "KE1\x00", "phone": "0712345678"}),
        ("/orders/find/", {"number": "KE1", "phone": "0712\x00345678"}),
        ("/cart/add/", {"variant": "1\x00", "quantity": "1"}),
        ("/cart/add/", {"variant": "1", "quantity": "1", "next": "/\x00"}),
        ("/wishlist/toggle/", {"product": "\x00"}),
        ("/checkout/", {"email": "a\x00@example.com"}),
        ("/accounts/login/", {"login": "a\x00@example.com", "password": "x"}),
        ("/accounts/signup/", {"email": "a@example.com\x00", "password1": "x", "password2": "x"}),
        ("/orders/AB%00CD/cancel/", {}),
        ("/orders/AB%00CD/payment/resend/", {"phone": "0712345678"}),
    ],
)
def test_a_nul_in_a_form_is_a_plain_400(client, product, url, data):
    assert_refused(client.post(url, data))


def test_a_nul_in_a_field_name_or_upload_name_is_refused(shopper_client):
    assert_refused(shopper_client.post("/account/profile/", {"first\x00name": "Amina"}))


def test_account_forms_refuse_nul(shopper_client):
    data = {
        "recipient_name": "Amina\x00",
        "phone": "0712345678",
        "county": "47",
        "town": "Westlands",
        "street": "Mpaka Road",
    }
    assert_refused(shopper_client.post("/account/addresses/new/", data))
    assert_refused(shopper_client.post("/account/profile/", {"first_name": "\x00"}))


def test_a_cookie_with_a_nul_is_ignored(client, product):
    client.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijklmnop"
    response = client.get("/products/")
    assert response.status_code == 200


def test_nul_free_requests_pass_untouched(client, product):
    assert client.get("/search/?q=galaxy").status_code == 200
    assert client.get("/p/galaxy-a15/").status_code == 200
    assert client.get("/orders/KE0000/").status_code == 404


def test_darajas_callback_still_gets_its_raw_body(client):
    """The callback is not refused by the shop: the payments app stores and judges it."""
    url = reverse("payments:callback", kwargs={"token": settings.MPESA_CALLBACK_TOKEN})
    body = json.dumps({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_\u0000"}}})

    response = client.post(url, body, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    record = Callback.objects.get()
    assert "ws_CO_" in record.body

    form = client.post(url, "a=%00", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 200
    assert Callback.objects.count() == 2


@pytest.fixture
def without_the_middleware(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "shop.middleware.RefuseNulMiddleware"
    ]


@pytest.mark.usefixtures("without_the_middleware")
def test_order_pages_and_the_look_up_handle_nul_themselves(client):
    """Behind the middleware, the order views still never send a NUL to the database."""
    assert client.get("/orders/AB%00CD/").status_code == 404
    assert client.get("/orders/AB%00CD/payment/").status_code == 404
    found = client.post("/orders/find/", {"number": "KE1\x00", "phone": "0712345678"})
    assert found.status_code == 302
    assert found["Location"] == reverse("shop:order-list")


# next ----------------------------------------------------------------------------

UNSAFE_NEXT = [
    "foo",
    "cart",
    "//evil.example/",
    "https://evil.example/",
    "http://testserver.evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    " /cart/",
    "/car\tt/",
]


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_an_unsafe_next_is_ignored_when_adding_to_the_cart(client, product, target):
    variant = product.variants.get()
    response = client.post("/cart/add/", {"variant": variant.pk, "quantity": 1, "next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:cart")


def test_a_local_next_is_followed_when_adding_to_the_cart(client, product):
    variant = product.variants.get()
    target = f"/p/galaxy-a15/?variant={variant.pk}"
    response = client.post("/cart/add/", {"variant": variant.pk, "quantity": 1, "next": target})
    assert response["Location"] == target


def test_an_unsafe_next_is_ignored_after_a_refused_cart_add(client, product):
    variant = product.variants.get()
    ProductVariant.objects.filter(pk=variant.pk).update(is_active=False)
    response = client.post("/cart/add/", {"variant": variant.pk, "quantity": 1, "next": "foo"})
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response["Location"] == reverse("shop:cart")


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_an_unsafe_next_is_ignored_by_the_wishlist(shopper_client, product, target):
    response = shopper_client.post("/wishlist/toggle/", {"product": product.pk, "next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:wishlist")
    assert WishlistItem.objects.count() == 1


def test_a_visitor_is_sent_to_sign_in_with_a_safe_next(client, product):
    response = client.post("/wishlist/toggle/", {"product": product.pk, "next": "foo"})
    assert response.status_code == 302
    assert response["Location"].endswith("?next=%2Fp%2Fgalaxy-a15%2F")


ADDRESS = {
    "recipient_name": "Wanjiku Kamau",
    "phone": "0712345678",
    "county": "47",
    "town": "Westlands",
    "street": "Mpaka Road",
}


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_an_unsafe_next_is_ignored_by_the_address_form(shopper_client, target):
    url = "/account/addresses/new/"
    page = shopper_client.get(url, {"next": target})
    assert page.status_code == 200
    assert 'name="next"' not in page.content.decode()
    response = shopper_client.post(url, {**ADDRESS, "next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:address-list")


def test_the_address_form_returns_to_a_local_next(shopper_client):
    response = shopper_client.post("/account/addresses/new/", {**ADDRESS, "next": "/checkout/"})
    assert response["Location"] == "/checkout/"


# Staff-entered links ---------------------------------------------------------------

UNSAFE_LINKS = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "ftp://files.example/",
    "https://",
    "c/phones/",
    "mailto:shop@example.com",
]
SAFE_LINKS = ["/c/phones/", "/p/samsung-galaxy-s24/?variant=3", "https://shop.example.co.ke/sale"]


@pytest.mark.parametrize("link", UNSAFE_LINKS)
def test_unsafe_links_are_not_safe(link):
    assert not is_safe_link(link)
    assert not is_local_path(link)


@pytest.mark.parametrize("link", SAFE_LINKS)
def test_local_paths_and_web_addresses_are_safe_links(link):
    assert is_safe_link(link)


def banner_data(link: str) -> dict:
    return {
        "title": "Back to school",
        "subtitle": "",
        "placement": "hero",
        "link_url": link,
        "link_text": "Shop now",
        "is_active": "on",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "sort_order": "0",
    }


@pytest.mark.parametrize("link", [link for link in UNSAFE_LINKS if "\t" not in link])
def test_staff_cannot_save_an_unsafe_banner_link(admin_client, link):
    response = admin_client.post(reverse("admin:shop_banner_add"), banner_data(link))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "starting with a single “/”" in errors["link_url"][0]
    assert not Banner.objects.exists()


@pytest.mark.parametrize("link", SAFE_LINKS)
def test_staff_save_banner_links_to_pages_and_web_addresses(admin_client, link):
    response = admin_client.post(reverse("admin:shop_banner_add"), banner_data(link))
    assert response.status_code == 302
    assert Banner.objects.get().link_url == link


@pytest.mark.parametrize("placement", [Banner.Placement.HERO, Banner.Placement.PROMO])
def test_an_unsafe_banner_link_saved_around_the_admin_never_renders(client, placement):
    Banner.objects.create(
        title="Evil", placement=placement, link_url="javascript:alert(1)", link_text="Go"
    )
    Banner.objects.create(title="Good", placement=placement, link_url="/c/phones/")

    html = client.get("/").content.decode()

    assert "javascript:" not in html
    assert 'href="/c/phones/"' in html
