"""The catalogue's cached HTML: invalidation, per-visitor bits, fragments."""

import re
import time
from decimal import Decimal

import pytest
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import _does_token_match
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shop import fragments, queries, services
from shop.models import (
    Banner,
    Cart,
    CartLine,
    Category,
    Order,
    ProductImage,
    ProductVariant,
    WishlistItem,
)
from shop.services import DeliveryAddress

from .factories import BrandFactory, CategoryFactory, make_product, move_order

pytestmark = pytest.mark.django_db

LIST = "/products/"
ADDRESS = DeliveryAddress(
    recipient_name="Amina Wanjiru",
    phone="0712345678",
    county="Nairobi",
    town="Westlands",
    street="Mpaka Road",
    landmark="",
)


@pytest.fixture
def phone():
    return make_product(
        name="Galaxy A15",
        slug="galaxy-a15",
        brand=BrandFactory(name="Samsung", slug="samsung"),
        category=CategoryFactory(name="Phones", slug="phones"),
        prices=("18999",),
        stock=1,
    )


def html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def served_from_cache(client, url) -> bool:
    """Return True when the page came out of the cache (no query, for a visitor)."""
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return not ctx.captured_queries


def card(page: str, name: str) -> str:
    """Return the product card of *name* on *page*."""
    for article in re.findall(r"<article.*?</article>", page, re.S):
        if f">{name}</a></h3>" in article:
            return article
    raise AssertionError(f"no card for {name}")


# The cache is used ------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", LIST, "/c/phones/", "/brands/samsung/", "/p/galaxy-a15/"])
def test_catalogue_pages_are_served_from_the_cache(client, phone, url):
    client.get(url)
    assert served_from_cache(Client(), url)


def test_a_change_that_bypasses_the_signals_is_not_seen_until_the_version_moves(client, phone):
    """The cache really serves stored HTML: only a version bump refreshes it."""
    assert "KES 18,999" in card(html(client.get(LIST)), "Galaxy A15")
    phone.variants.update(price=Decimal("15999"))
    phone.__class__.objects.filter(pk=phone.pk).update(price=Decimal("15999"))
    assert "KES 18,999" in card(html(client.get(LIST)), "Galaxy A15")
    fragments.catalogue_changed()
    assert "KES 15,999" in card(html(client.get(LIST)), "Galaxy A15")


def test_each_query_string_has_its_own_page(client, phone):
    make_product(name="iPhone 15", brand=BrandFactory(name="Apple", slug="apple"))
    for _ in range(2):
        assert names_on(client.get("/products/?brand=samsung")) == ["Galaxy A15"]
        assert names_on(client.get("/products/?brand=apple")) == ["iPhone 15"]
        assert names_on(client.get("/search/?q=iphone")) == ["iPhone 15"]
        assert names_on(client.get("/search/?q=galaxy")) == ["Galaxy A15"]


def names_on(response) -> list[str]:
    return re.findall(r'<h3 class="[^"]*"><a href="[^"]*" [^>]*>([^<]*)</a></h3>', html(response))


def test_a_setting_that_shapes_the_pages_gets_them_rendered_again(client, phone, settings):
    make_product(name="iPhone 15")
    assert len(names_on(client.get(LIST))) == 2
    settings.PRODUCTS_PER_PAGE = 1
    assert len(names_on(client.get(LIST))) == 1


# Every kind of catalogue change shows at once ----------------------------------


def test_a_price_change_shows_on_list_and_product_pages(client, phone):
    client.get(LIST), client.get(phone.get_absolute_url())
    variant = phone.variants.get()
    variant.price = Decimal("15999")
    variant.save()
    services.refresh_product_summaries(product_ids=[phone.pk])
    assert "KES 15,999" in card(html(client.get(LIST)), "Galaxy A15")
    assert "KES 15,999" in html(client.get(phone.get_absolute_url()))


def test_a_price_change_in_the_admin_shows_at_once(client, phone):
    client.get(LIST)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    variant = phone.variants.get()
    changelist = reverse("admin:shop_productvariant_changelist")
    response = staff.post(
        changelist,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": variant.pk,
            "form-0-price": "14999",
            "form-0-stock_on_hand": variant.stock_on_hand,
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert ProductVariant.objects.get(pk=variant.pk).price == Decimal("14999")
    assert "KES 14,999" in card(html(client.get(LIST)), "Galaxy A15")


def test_buying_the_last_unit_shows_out_of_stock_at_once(client, phone):
    """Orders move stock with F() updates (no signal): the order's save bumps the version."""
    variant = phone.variants.get()
    url = phone.get_absolute_url()
    assert "Out of stock" not in card(html(client.get(LIST)), "Galaxy A15")
    assert "Only 1 left" in html(client.get(url))
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=1, price_when_added=variant.price)
    order = services.place_order(
        cart=cart, email="a@example.com", phone="254712345678", address=ADDRESS
    )
    assert "Out of stock" in card(html(client.get(LIST)), "Galaxy A15")
    assert "Add to cart" not in html(client.get(url))
    move_order(order_id=order.pk, to=Order.Status.CANCELLED)
    assert "Out of stock" not in card(html(client.get(LIST)), "Galaxy A15")
    assert "Add to cart" in html(client.get(url))


def test_a_stock_change_in_the_admin_shows_at_once(client, phone):
    client.get(phone.get_absolute_url())
    variant = phone.variants.get()
    variant.stock_on_hand = 0
    variant.save()
    assert "This option is out of stock" in html(client.get(phone.get_absolute_url()))


def test_a_hidden_product_disappears_at_once(client, phone):
    client.get(LIST), client.get(phone.get_absolute_url())
    phone.is_active = False
    phone.save()
    assert "Galaxy A15" not in html(client.get(LIST))
    assert client.get(phone.get_absolute_url()).status_code == 404


@pytest.mark.parametrize(
    ("url", "change", "shown"),
    [
        ("/", lambda p: Banner.objects.create(title="Lipa na M-Pesa"), "Lipa na M-Pesa"),
        ("/brands/samsung/", lambda p: _rename(p.brand, "Samsung Kenya"), "Samsung Kenya"),
        (
            "/c/phones/",
            lambda p: _rename(Category.objects.get(slug="phones"), "Simu"),
            '">Simu</h1>',  # the page's heading
        ),
        (
            "/p/galaxy-a15/",
            lambda p: p.specifications.create(name="Battery", value="6000 mAh"),
            "6000 mAh",
        ),
    ],
    ids=["banner", "brand", "category", "specification"],
)
def test_other_catalogue_changes_show_at_once(client, phone, url, change, shown):
    assert shown not in html(client.get(url))
    change(phone)
    assert shown in html(client.get(url))


def _rename(obj, name):
    obj.name = name
    obj.save()


def test_a_deleted_picture_goes_at_once(client, phone):
    assert "<img" in card(html(client.get(LIST)), "Galaxy A15")
    ProductImage.objects.filter(product=phone).delete()
    assert "<img" not in card(html(client.get(LIST)), "Galaxy A15")


def test_the_category_tree_is_reused_until_the_catalogue_changes(client, phone, monkeypatch):
    monkeypatch.setattr(fragments, "SETTLE_SECONDS", 0)
    client.get(LIST)
    built = queries._built
    assert built is not None
    client.get(LIST)
    assert queries._built is built
    CategoryFactory(name="Laptops", slug="laptops")
    assert 'href="/c/laptops/"' in html(client.get(LIST))
    assert queries._built is not built
    # Another process renames a category: this one sees it through the shared cache.
    Category.objects.filter(slug="phones").update(name="Simu")
    cache.delete(queries.CATEGORY_TREE_KEY)
    fragments.catalogue_changed()
    assert 'href="/c/phones/" class="hover:text-emerald-700">Simu</a>' in html(client.get(LIST))


def test_a_tree_read_just_after_a_change_is_not_kept(client, phone):
    fragments.catalogue_changed()
    client.get(LIST)
    assert queries._built is None or queries._built[0] != fragments.catalogue_version()[0]


# How long a stored page is kept ---------------------------------------------------


def test_a_page_rendered_just_after_a_change_is_kept_only_briefly(monkeypatch):
    """Until a change has surely committed, what is rendered may be from the old rows."""
    monkeypatch.setattr(fragments, "_cache_is_shared", lambda: True)
    assert fragments._lifetime(time.time(), None) <= fragments.SETTLE_SECONDS
    settled = time.time() - fragments.SETTLE_SECONDS - 1
    assert fragments._lifetime(settled, None) == fragments.SHARED_SECONDS


def test_the_home_page_is_kept_no_longer_than_until_a_banner_starts(client, phone):
    Banner.objects.create(title="Later", starts_at=timezone.now() + timezone.timedelta(seconds=9))
    assert fragments._lifetime(0.0, timezone.now() + timezone.timedelta(seconds=9)) <= 9
    assert "Later" not in html(client.get("/"))


def test_without_a_shared_cache_pages_are_kept_briefly():
    assert fragments._lifetime(0.0, None) == fragments.LOCAL_SECONDS


def test_a_lost_version_comes_back_higher_than_before(phone):
    before, _ = fragments.catalogue_version()
    cache.delete(fragments.VERSION_KEY)
    after, _ = fragments.catalogue_version()
    assert after > before


# Per-visitor bits ---------------------------------------------------------------


def tokens(page: str) -> list[str]:
    found = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found
    return found


@pytest.mark.parametrize("url", [LIST, "/", "/p/galaxy-a15/"])
def test_every_visitor_gets_forms_with_their_own_csrf_token(phone, url):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first_page, second_page = html(first.get(url)), html(second.get(url))
    assert fragments.CSRF_PLACEHOLDER not in first_page + second_page
    first_secret = first.cookies["csrftoken"].value
    second_secret = second.cookies["csrftoken"].value  # the cached page still sets the cookie
    assert first_secret != second_secret
    assert all(_does_token_match(t, first_secret) for t in tokens(first_page))
    assert all(_does_token_match(t, second_secret) for t in tokens(second_page))
    assert not any(_does_token_match(t, first_secret) for t in tokens(second_page))


def test_a_form_from_a_cached_page_posts(phone):
    Client().get(phone.get_absolute_url())  # stored by another visitor
    visitor = Client(enforce_csrf_checks=True)
    page = html(visitor.get(phone.get_absolute_url()))
    token = tokens(page)[-1]  # the add-to-cart form's
    response = visitor.post(
        reverse("shop:cart-add"),
        {"variant": phone.variants.get().pk, "quantity": 1, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert re.search(r'data-testid="cart-count"[^>]*>1<', html(visitor.get(LIST)))


def signed_in(name: str):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client, user


def heart_pressed(page: str, name: str) -> bool:
    return 'aria-pressed="true"' in card(page, name)


@pytest.mark.parametrize("saver_first", [True, False])
@pytest.mark.parametrize("url", [LIST, "/"])
def test_wishlist_hearts_are_each_shoppers_own(phone, url, saver_first):
    (saver, user), (other, _) = signed_in("ann"), signed_in("bob")
    WishlistItem.objects.create(user=user, product=phone)
    order = [(saver, True), (other, False), (Client(), False)]
    if not saver_first:
        order.reverse()
    for client, pressed in order:
        assert heart_pressed(html(client.get(url)), "Galaxy A15") is pressed
    for client, pressed in order:  # and again, now that pages are stored
        assert heart_pressed(html(client.get(url)), "Galaxy A15") is pressed


def test_the_product_page_heart_is_the_shoppers_own(phone):
    saver, user = signed_in("ann")
    WishlistItem.objects.create(user=user, product=phone)
    url = phone.get_absolute_url()
    assert 'aria-pressed="true"' not in html(Client().get(url))
    assert 'aria-pressed="true"' in html(saver.get(url))
    assert 'aria-pressed="true"' not in html(Client().get(url))


def test_cart_badge_and_history_stay_per_visitor(phone):
    buyer, browser = Client(), Client()
    buyer.post(reverse("shop:cart-add"), {"variant": phone.variants.get().pk, "quantity": 1})
    other = make_product(name="Other phone", prices=("100",))
    browser.get(other.get_absolute_url())
    badge = re.compile(r'data-testid="cart-count"[^>]*>(\d+)<')
    buyer_page = html(buyer.get(phone.get_absolute_url()))
    browser_page = html(browser.get(phone.get_absolute_url()))
    assert badge.search(buyer_page).group(1) == "1"
    assert badge.search(browser_page).group(1) == "0"
    assert 'id="recently-viewed"' in browser_page and 'id="recently-viewed"' not in buyer_page


# Fragments and whole pages ------------------------------------------------------

HX = {"HX-Request": "true", "HX-Target": "listing"}
RESTORE = {**HX, "HX-History-Restore-Request": "true"}


@pytest.mark.parametrize("page_first", [True, False])
def test_listing_fragment_and_whole_page_from_one_stored_listing(client, phone, page_first):
    url = "/products/?brand=samsung"
    requests = [{}, HX] if page_first else [HX, {}]
    answers = {}
    for headers in requests + requests:
        response = client.get(url, headers=headers)
        assert "HX-Request" in response["Vary"]
        answers.setdefault(bool(headers), []).append(html(response))
    for fragment in answers[True]:
        assert fragment.lstrip().startswith('<div id="listing"') and "<footer" not in fragment
        assert "Galaxy A15" in fragment
    for page in answers[False]:
        assert page.startswith("<!doctype html>") and "<footer" in page
        assert '<div id="listing"' in page and "<title>All products · Duka Tech</title>" in page
    restore = client.get(url, headers=RESTORE)
    assert "<footer" in html(restore) and "HX-Request" in restore["Vary"]


@pytest.mark.parametrize("page_first", [True, False])
def test_product_top_fragment_and_whole_product_page(client, phone, page_first):
    url = phone.get_absolute_url()
    top = {"HX-Request": "true", "HX-Target": "product-top"}
    order = [{}, top] if page_first else [top, {}]
    for headers in order + order:
        page = html(client.get(url, headers=headers))
        if headers:
            assert page.lstrip().startswith('<div id="product-top"') and "<footer" not in page
            assert '<div id="buy-box"' in page and 'id="gallery"' in page
        else:
            assert "<footer" in page and '<div id="buy-box"' in page
            assert '<script type="application/ld+json">' in page
            assert "<title>Galaxy A15 · Duka Tech</title>" in page


def mark_of(product) -> int | None:
    return cache.get(fragments.PRODUCT_MARK.format(product.pk))


def test_orders_that_leave_the_shown_stock_alone_keep_the_cached_pages(phone):
    """Plenty left before and after: "In stock" either way, so nothing is stale."""
    variant = phone.variants.get()
    ProductVariant.objects.filter(pk=variant.pk).update(stock_on_hand=50, low_stock_threshold=3)
    variant.refresh_from_db()
    before, mark = fragments.catalogue_version(), mark_of(phone)
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=2, price_when_added=variant.price)
    order = services.place_order(
        cart=cart, email="a@example.com", phone="254712345678", address=ADDRESS
    )
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK")
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-1")
    assert fragments.catalogue_version() == before
    assert mark_of(phone) == mark
    # Down to the threshold: the page now says "Only 3 left". Its pages are
    # stale, and nothing else.
    ProductVariant.objects.filter(pk=variant.pk).update(stock_on_hand=4, stock_allocated=0)
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=1, price_when_added=variant.price)
    order = services.place_order(
        cart=cart, email="a@example.com", phone="254712345678", address=ADDRESS
    )
    after_low = mark_of(phone)
    assert after_low != mark
    assert fragments.catalogue_version() == before
    move_order(order_id=order.pk, to=Order.Status.CANCELLED)
    assert mark_of(phone) != after_low  # back above it: shown again as in stock
    assert fragments.catalogue_version() == before


# Whole pages for visitors with nothing of their own ------------------------------

PAGES = ["/", LIST, "/c/phones/", "/brands/samsung/", "/search/?q=galaxy", "/p/galaxy-a15/"]


def rendered_anything(response) -> bool:
    """Return whether answering rendered a template (the test client records each)."""
    assert response.status_code == 200
    return bool(response.templates)


@pytest.mark.parametrize("url", PAGES)
def test_a_visitor_without_cookies_gets_the_whole_stored_page(phone, url):
    first = Client().get(url)
    assert rendered_anything(first)
    again = Client().get(url)
    assert not rendered_anything(again)
    assert again.content.decode().startswith("<!doctype html>")
    assert again["Content-Type"] == first["Content-Type"]
    # The same page but for the CSRF token, which is the visitor's own.
    tokenless = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')
    assert tokenless.sub("", again.content.decode()) == tokenless.sub("", first.content.decode())
    assert not rendered_anything(Client().head(url))


def test_the_whole_page_goes_stale_with_what_it_shows(client, phone):
    Client().get(LIST)
    variant = phone.variants.get()
    variant.price = Decimal("15999")
    variant.save()
    services.refresh_product_summaries(product_ids=[phone.pk])
    page = Client().get(LIST)
    assert rendered_anything(page) and "KES 15,999" in card(html(page), "Galaxy A15")
    assert not rendered_anything(Client().get(LIST))


@pytest.mark.parametrize("stored_first", [True, False])
def test_whoever_has_something_of_their_own_gets_it_not_the_stored_page(phone, stored_first):
    shopper, _ = signed_in("ann")
    buyer = Client()
    buyer.post(reverse("shop:cart-add"), {"variant": phone.variants.get().pk, "quantity": 1})
    browser = Client()
    browser.get("/p/galaxy-a15/")  # a recently viewed cookie, no session
    badge = re.compile(r'data-testid="cart-count"[^>]*>(\d+)<')
    if stored_first:
        Client().get(LIST)
    for _ in range(2):
        assert badge.search(html(buyer.get(LIST))).group(1) == "1"
        assert f'href="{reverse("account_logout")}"' in html(shopper.get(LIST))
        assert 'id="recently-viewed"' in html(browser.get("/"))
        nobody = html(Client().get(LIST))
        assert badge.search(nobody).group(1) == "0"
        assert f'href="{reverse("account_login")}"' in nobody
        assert f'href="{reverse("account_logout")}"' not in nobody
    assert not rendered_anything(Client().get(LIST))


def test_a_message_for_a_visitor_is_shown_and_not_stored(phone):
    Client().get(LIST)
    storage = CookieStorage(RequestFactory().get(LIST))
    storage.add(messages.INFO, "Karibu tena")
    carrier = HttpResponse()
    storage.update(carrier)
    visitor = Client()
    visitor.cookies["messages"] = carrier.cookies["messages"].value
    assert "Karibu tena" in html(visitor.get(LIST))
    assert "Karibu tena" not in html(Client().get(LIST))


def test_each_language_has_its_own_stored_page(phone):
    english, swahili = Client(), Client()
    swahili.cookies.load({"django_language": "sw"})
    for _ in range(2):
        assert '<html lang="en-gb">' in html(english.get(LIST))
        assert '<html lang="sw">' in html(swahili.get(LIST))
        kenyan_browser = Client(headers={"Accept-Language": "sw-KE,sw;q=0.9"})
        assert '<html lang="sw">' in html(kenyan_browser.get(LIST))
    assert not rendered_anything(swahili.get(LIST))
    assert not rendered_anything(english.get(LIST))


def test_a_tracking_parameter_neither_stores_a_page_nor_ends_up_in_one(phone):
    tagged = f"{LIST}?brand=samsung&utm_source=newsletter"
    for _ in range(2):
        page = Client().get(tagged)
        assert rendered_anything(page)  # asked with more than its cleaned parameters
        assert "utm_source" not in html(page)
    Client().get(f"{LIST}?brand=samsung")
    clean = Client().get(f"{LIST}?brand=samsung")
    assert not rendered_anything(clean) and "utm_source" not in html(clean)


def test_a_stored_page_is_served_from_this_process_without_reading_its_html(phone, monkeypatch):
    Client().get(LIST)
    asked: list[str] = []
    real_get_many, real_get = cache.get_many, cache.get
    monkeypatch.setattr(
        cache, "get_many", lambda keys, **kw: asked.extend(keys) or real_get_many(keys, **kw)
    )
    monkeypatch.setattr(
        cache, "get", lambda key, *a, **kw: asked.append(key) or real_get(key, *a, **kw)
    )
    assert not rendered_anything(Client().get(LIST))
    assert not [key for key in asked if key.startswith("shop:fragment:")]
    # Stale here once another process marks the product changed.
    cache.set(fragments.PRODUCT_MARK.format(phone.pk), time.time_ns(), 60)
    assert rendered_anything(Client().get(LIST))


@pytest.mark.parametrize("url", PAGES)
def test_a_page_served_whole_costs_one_cache_round_trip_and_no_query(phone, url, monkeypatch):
    Client().get(url)
    trips: list[str] = []
    inside = []

    def counted(name, real):
        def call(*args, **kwargs):
            if not inside:  # the memory cache's get_many calls its get
                trips.append(name)
            inside.append(name)
            try:
                return real(*args, **kwargs)
            finally:
                inside.pop()

        return call

    for name in ("get", "get_many", "set", "set_many", "add", "incr"):
        monkeypatch.setattr(cache, name, counted(name, getattr(cache, name)))
    with CaptureQueriesContext(connection) as queries_run:
        assert not rendered_anything(Client().get(url))
    assert trips == ["get_many"] and not queries_run.captured_queries


def test_an_unknown_category_is_still_not_found_once_others_are_stored(phone):
    Client().get("/c/phones/")
    assert Client().get("/c/no-such-thing/").status_code == 404
    category = Category.objects.get(slug="phones")
    category.slug = "mobiles"
    category.save()
    assert Client().get("/c/phones/").status_code == 404
    assert "Galaxy A15" in html(Client().get("/c/mobiles/"))
