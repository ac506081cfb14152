"""A change to one product refreshes every page showing it, and leaves the rest cached.

The pages that show a product (its page, the lists and search results it is
on, the home shelves) render again after a change to it commits, so no old
price or stock is shown; pages that don't show it, and lists it cannot
enter, are still served from the cache (``shop.fragments``).
"""

import re
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shop import fragments, services
from shop.models import Attribute, AttributeValue, Review
from shop.services.stock import set_stock_on_hand

from .factories import BrandFactory, CategoryFactory, make_product
from .test_page_cache import card

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    phones = CategoryFactory(name="Phones", slug="phones")
    samsung = BrandFactory(name="Samsung", slug="samsung")
    galaxy = make_product(
        name="Galaxy A15",
        slug="galaxy-a15",
        brand=samsung,
        category=CategoryFactory(name="Android", slug="android", parent=phones),
        prices=("18999",),
        stock=40,
    )
    laptop = make_product(
        name="ThinkPad E14",
        slug="thinkpad-e14",
        brand=BrandFactory(name="Lenovo", slug="lenovo"),
        category=CategoryFactory(name="Laptops", slug="laptops"),
        prices=("74999",),
        stock=40,
    )
    galaxy.variants.update(low_stock_threshold=3)
    return galaxy, laptop


#: Every kind of page that shows the Galaxy.
SHOWING = [
    "/",
    "/products/",
    "/products/?brand=samsung&sort=price-asc",
    "/c/phones/",
    "/c/android/",
    "/brands/samsung/",
    "/search/?q=galaxy",
    "/p/galaxy-a15/",
]
#: Pages that neither show it nor could list it.
ELSEWHERE = ["/c/laptops/", "/brands/lenovo/", "/p/thinkpad-e14/"]


def page(url: str) -> str:
    response = Client().get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def cached(url: str) -> bool:
    """Return True when the page came out of the cache (no query, for a visitor)."""
    with CaptureQueriesContext(connection) as ctx:
        page(url)
    return not ctx.captured_queries


def galaxy_part(url: str, html: str) -> str:
    return html if url.startswith("/p/") else card(html, "Galaxy A15")


@pytest.fixture
def settled(monkeypatch):
    """Pages rendered now are stored as in production, past the settling time."""
    monkeypatch.setattr(fragments, "SETTLE_SECONDS", 0)


def warm(urls):
    for url in urls:
        page(url)
    for url in urls:
        assert cached(url), url


def test_every_page_showing_a_product_shows_its_new_price(shop, settled):
    galaxy, _ = shop
    cheaper = "/products/?max_price=16000"  # none yet
    warm(SHOWING + ELSEWHERE + [cheaper])
    variant = galaxy.variants.get()
    variant.price = Decimal("15999")
    variant.save()
    services.refresh_product_summaries(product_ids=[galaxy.pk])
    for url in SHOWING:
        html = page(url)
        assert "KES 15,999" in galaxy_part(url, html), url
        assert "KES 18,999" not in galaxy_part(url, html), url
    assert "KES 15,999" in card(page(cheaper), "Galaxy A15")  # a list it just entered
    for url in ELSEWHERE:
        assert cached(url), url


def test_every_page_showing_a_product_says_when_it_runs_out(shop, settled):
    galaxy, _ = shop
    warm(SHOWING + ELSEWHERE)
    set_stock_on_hand(variant_id=galaxy.variants.get().pk, on_hand=0)
    for url in SHOWING:
        assert "Out of stock" in galaxy_part(url, page(url)), url
    for url in ELSEWHERE:
        assert cached(url), url


def test_running_out_refreshes_the_lists_showing_it_and_those_counting_stock_only(shop, settled):
    galaxy, _ = shop
    plain, stocked = "/products/?brand=lenovo", "/products/?in_stock=true&brand=lenovo"
    warm(SHOWING + ELSEWHERE + [plain, stocked])
    assert re.search(r'name="brand" value="samsung"', page(stocked))
    set_stock_on_hand(variant_id=galaxy.variants.get().pk, on_hand=0)
    for url in SHOWING:
        assert "Out of stock" in galaxy_part(url, page(url)), url
    # Listed to what is in stock, its brand counts change: rendered again.
    assert not re.search(r'name="brand" value="samsung"', page(stocked))
    # Without the stock filter, neither its products nor its counts change.
    for url in [*ELSEWHERE, plain]:
        assert cached(url), url


def test_with_sold_out_products_hidden_running_out_refreshes_every_list_of_it(
    shop, settled, settings
):
    settings.HIDE_SOLD_OUT_PRODUCTS = True
    galaxy, _ = shop
    plain = "/products/?brand=lenovo"
    warm([plain])
    assert re.search(r'name="brand" value="samsung"', page(plain))
    set_stock_on_hand(variant_id=galaxy.variants.get().pk, on_hand=0)
    assert not re.search(r'name="brand" value="samsung"', page(plain))  # hidden, not counted


def test_a_stock_count_change_refreshes_the_product_pages_only(shop, settled):
    galaxy, _ = shop
    lists = ["/products/?brand=lenovo", "/products/?in_stock=true&brand=lenovo"]
    warm(SHOWING + ELSEWHERE + lists)
    set_stock_on_hand(variant_id=galaxy.variants.get().pk, on_hand=2)  # low: "Only 2 left"
    assert "Only 2 left" in page("/p/galaxy-a15/")
    # Lists that don't show it stay cached: a count that doesn't run out
    # moves no product in or out of a list, and changes no facet count.
    for url in ELSEWHERE + lists:
        assert cached(url), url


def test_plenty_more_or_less_leaves_every_page_cached(shop, settled):
    galaxy, _ = shop
    warm(SHOWING)
    set_stock_on_hand(variant_id=galaxy.variants.get().pk, on_hand=30)  # "In stock" still
    for url in SHOWING:
        assert cached(url), url


def test_a_product_coming_back_enters_the_lists_that_only_show_stock(shop, settled):
    galaxy, _ = shop
    variant = galaxy.variants.get()
    set_stock_on_hand(variant_id=variant.pk, on_hand=0)
    url = "/products/?in_stock=true"
    html = page(url)
    assert "Galaxy A15" not in html
    assert not re.search(r'name="brand" value="samsung"', html)  # no facet for it either
    assert cached(url)
    set_stock_on_hand(variant_id=variant.pk, on_hand=5)
    html = page(url)
    assert "Out of stock" not in card(html, "Galaxy A15")
    assert re.search(r'name="brand" value="samsung"', html)  # and its brand is counted


def test_a_new_review_refreshes_the_stars_and_leaves_other_lists_cached(shop, settled):
    galaxy, _ = shop
    warm(SHOWING + ELSEWHERE)
    user = get_user_model().objects.create_user("wanjiru", "w@example.com", "pw")
    review = Review.objects.create(
        product=galaxy, user=user, rating=4, title="Good phone", body="Battery lasts two days."
    )
    services.moderate_review(review_id=review.pk, status=Review.Status.APPROVED)
    for url in SHOWING[:-1]:
        assert "(1)" in galaxy_part(url, page(url)), url  # one rating now
    for url in ELSEWHERE:
        assert cached(url), url


def test_a_picture_change_refreshes_only_the_pages_showing_the_product(shop, settled):
    galaxy, _ = shop
    warm(SHOWING + ELSEWHERE)
    galaxy.images.get().delete()
    for url in SHOWING[:-1]:  # the cards; the product page has its own placeholder
        assert "<img" not in galaxy_part(url, page(url)), url
    for url in ELSEWHERE:
        assert cached(url), url


def test_a_page_rendered_just_after_a_change_is_kept_only_until_it_settles(shop, monkeypatch):
    """The change may not have committed yet: what was read may be the old rows."""
    galaxy, laptop = shop
    monkeypatch.setattr(fragments, "_cache_is_shared", lambda: True)
    cache.set(fragments.CHANGED_KEY, 0.0, None)  # the catalogue settled long ago
    cache.delete(fragments.PRODUCT_MARK.format(laptop.pk))
    services.products_changed([galaxy.pk])  # just now
    stored: list[tuple[str, int]] = []
    real_set = cache.set

    def remember(key, value, timeout=None, **kwargs):
        stored.append((key, timeout))
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(cache, "set", remember)
    page("/p/galaxy-a15/")
    page("/p/thinkpad-e14/")
    # The first time each entry is stored (adding the whole page stores it again).
    first: dict[str, int] = {}
    for key, seconds in stored:
        if key.startswith("shop:fragment:product:"):
            first.setdefault(key, seconds)
    lifetimes = list(first.values())
    assert lifetimes[0] <= fragments.SETTLE_SECONDS  # the Galaxy's page
    assert lifetimes[1] == fragments.SHARED_SECONDS  # the ThinkPad's, changed long ago


def test_a_mark_lost_from_the_cache_reads_as_a_change(shop, settled):
    galaxy, _ = shop
    warm(["/p/galaxy-a15/"])
    services.products_changed([galaxy.pk])
    warm(["/p/galaxy-a15/"])
    cache.delete(fragments.PRODUCT_MARK.format(galaxy.pk))
    assert not cached("/p/galaxy-a15/")


def test_a_bulk_change_marks_the_whole_catalogue(shop, settled, monkeypatch):
    galaxy, laptop = shop
    monkeypatch.setattr(services.catalogue, "MAX_MARKED_PRODUCTS", 1)
    warm(ELSEWHERE)
    before = fragments.catalogue_version()[0]
    services.refresh_product_summaries(product_ids=[galaxy.pk, laptop.pk])
    assert fragments.catalogue_version()[0] != before
    assert not cached("/c/laptops/")


def test_marks_are_stamps_that_differ_per_change(shop):
    galaxy, _ = shop
    services.products_changed([galaxy.pk])
    first = cache.get(fragments.PRODUCT_MARK.format(galaxy.pk))
    time.sleep(0.001)
    services.products_changed([galaxy.pk])
    assert cache.get(fragments.PRODUCT_MARK.format(galaxy.pk)) != first


# In-stock lists with options ticked: stale only when a variant that can change them crosses zero


@pytest.fixture
def options_shop():
    """Phones of two brands, each variant a storage and a colour; some sold out."""
    colour = Attribute.objects.create(name="Colour", slug="colour")
    storage = Attribute.objects.create(name="Storage", slug="storage")
    values = {
        slug: AttributeValue.objects.create(attribute=attribute, value=slug, slug=slug)
        for attribute, slugs in [(colour, ["blue", "black", "red"]), (storage, ["128", "256"])]
        for slug in slugs
    }
    phones = CategoryFactory(name="Phones", slug="phones")
    samsung = BrandFactory(name="Samsung", slug="samsung")
    apple = BrandFactory(name="Apple", slug="apple")
    return [
        make_product(
            name="Galaxy A15",
            brand=samsung,
            category=phones,
            prices=("18999", "20999", "22999"),
            values=[
                [values["blue"], values["128"]],
                [values["black"], values["256"]],
                [values["red"], values["128"]],
            ],
            stock=5,
        ),
        make_product(
            name="iPhone 15",
            brand=apple,
            category=phones,
            prices=("99999", "119999"),
            values=[[values["black"], values["128"]], [values["blue"], values["256"]]],
            stock=5,
        ),
        make_product(
            name="Galaxy S24",
            brand=samsung,
            category=phones,
            prices=("89999",),
            values=[[values["red"], values["256"]]],
            stock=5,
        ),
    ]


IN_STOCK_LISTS = [
    "/products/?in_stock=true",
    "/products/?in_stock=true&v=colour:blue",
    "/products/?in_stock=true&v=colour:blue&brand=samsung",
    "/products/?in_stock=true&v=colour:blue&v=colour:red&brand=apple",
    "/products/?in_stock=true&v=colour:blue&v=storage:128",
    "/products/?in_stock=true&v=colour:red&v=storage:256&max_price=50000",
    "/c/phones/?in_stock=true&v=colour:black&v=storage:256",
    "/brands/samsung/?in_stock=true&v=colour:black&v=storage:128",
    "/search/?q=galaxy&in_stock=true&v=colour:blue&v=storage:128",
]


def _without_token(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)


def test_no_in_stock_list_is_stale_after_any_variant_runs_out_or_comes_back(options_shop, settled):
    """Every variant in turn sells out, then comes back: each list, cached or not, is as fresh."""
    variants = [v for product in options_shop for v in product.variants.order_by("pk")]
    kept = 0
    for variant in variants:
        for on_hand in (0, 5):
            warm(IN_STOCK_LISTS)
            set_stock_on_hand(variant_id=variant.pk, on_hand=on_hand)
            served = {}
            for url in IN_STOCK_LISTS:
                kept += cached(url)
                served[url] = _without_token(page(url))
            cache.clear()
            for url in IN_STOCK_LISTS:
                assert served[url] == _without_token(page(url)), (variant, on_hand, url)
    # Both kinds were checked: lists served from the cache and lists rendered again.
    assert 0 < kept < len(variants) * 2 * len(IN_STOCK_LISTS)


def test_a_sell_out_leaves_in_stock_lists_of_other_options_cached(options_shop, settled):
    galaxy = options_shop[0]
    red_128 = galaxy.variants.get(values__slug="red")
    both = "/products/?in_stock=true&v=colour:blue&v=storage:256"  # none of its values
    one_with_brand = "/products/?in_stock=true&v=colour:blue&brand=apple"  # neither
    one_of_its = "/products/?in_stock=true&v=colour:red&v=storage:256"  # red
    everything = "/products/?in_stock=true"
    warm([both, one_with_brand, one_of_its, everything])
    set_stock_on_hand(variant_id=red_128.pk, on_hand=0)
    assert cached(both) and cached(one_with_brand)
    assert not cached(one_of_its) and not cached(everything)
