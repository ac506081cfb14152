"""Page-cache keys come from the cleaned filter form: junk parameters add nothing."""

import pytest
from django.core.cache import cache
from django.test import Client

from .factories import BrandFactory, CategoryFactory, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalogue():
    phones = CategoryFactory(name="Phones", slug="phones")
    samsung = BrandFactory(name="Samsung", slug="samsung")
    tecno = BrandFactory(name="Tecno", slug="tecno")
    make_product(name="Galaxy A15", slug="galaxy-a15", brand=samsung, category=phones)
    make_product(name="Spark 20", slug="spark-20", brand=tecno, category=phones)


def stored_pages() -> list[str]:
    return [key for key in cache._cache if ":shop:fragment:" in key]


def test_eight_hundred_junk_urls_store_nothing_new():
    client = Client()
    assert client.get("/products/").status_code == 200
    assert client.get("/products/?brand=samsung").status_code == 200
    before = len(stored_pages())
    for n in range(800):
        junk = [
            f"/products/?utm_source=ad{n}",
            f"/products/?fbclid={n}&page=abc",
            f"/products/?brand=samsung&min_price=zz{n}",
            f"/products/?brand=samsung&brand=samsung&x{n}=1",
        ][n % 4]
        assert client.get(junk).status_code == 200
    assert len(stored_pages()) == before


def test_junk_never_reaches_the_links_served_to_others():
    first = Client().get("/products/?brand=samsung&utm_source=evil-tracker")
    assert "evil-tracker" not in first.content.decode()
    second = Client().get("/products/?brand=samsung").content.decode()
    assert "evil-tracker" not in second and "Galaxy A15" in second and "Spark 20" not in second


def test_the_same_filters_in_any_order_or_spelling_share_one_entry():
    client = Client()
    client.get("/products/?brand=tecno&brand=samsung&min_price=100.00&sort=price-asc")
    count = len(stored_pages())
    for url in [
        "/products/?brand=samsung,tecno&min_price=100&sort=price-asc",
        "/products/?sort=price-asc&min_price=1E%2B2&brand=samsung&brand=tecno",
        "/products/?brand=samsung&brand=tecno&min_price=100.0&sort=price-asc&page=1",
    ]:
        assert client.get(url).status_code == 200
    assert len(stored_pages()) == count


def test_a_search_keeps_its_words_and_drops_the_rest():
    page = Client().get("/search/?q=++galaxy+++a15&ref=newsletter").content.decode()
    assert "Galaxy A15" in page and "newsletter" not in page


def test_deep_pages_render_but_are_not_stored(settings):
    settings.PRODUCTS_PER_PAGE = 1
    client = Client()
    client.get("/products/")
    count = len(stored_pages())
    for page in (21, 22, 500):
        response = client.get(f"/products/?page={page}")
        assert response.status_code == 200
    assert len(stored_pages()) == count


def test_a_product_page_keys_on_the_variant_alone():
    client = Client()
    assert client.get("/p/galaxy-a15/").status_code == 200
    count = len(stored_pages())
    for n in range(50):
        assert client.get(f"/p/galaxy-a15/?utm_campaign={n}&variant=x{n}").status_code == 200
    assert len(stored_pages()) == count


def test_a_memory_cache_keeps_a_bounded_number_of_entries(settings):
    from django.core.cache import caches

    assert settings.CACHES["default"]["OPTIONS"]["MAX_ENTRIES"] > 0
    assert caches["default"]._max_entries == settings.CACHES["default"]["OPTIONS"]["MAX_ENTRIES"]
