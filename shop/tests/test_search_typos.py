"""Search forgives misspellings: corrected to the catalogue's words, on SQLite and PostgreSQL.

The same tests run on both databases (``DATABASE_URL`` picks PostgreSQL).
"""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings

from shop import search
from shop.demo import seed_catalogue
from shop.fragments import catalogue_changed
from shop.models import Product
from shop.queries import search_products
from shop.search import correct_query, distance

from .factories import make_product
from .test_views import build_catalogue, count_queries, names

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo catalogue, seeded once for a class of tests and rolled back after it."""
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        with transaction.atomic():
            seed_catalogue()
            yield media
            transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _fresh_vocabulary():
    search.forget_vocabulary()
    yield
    search.forget_vocabulary()


def found(query: str, **options) -> list[str]:
    products = search_products(Product.objects.active(), query, **options)
    return list(products.values_list("name", flat=True))


def notice(html: str, testid: str) -> str:
    match = re.search(rf'<(div|p) [^>]*data-testid="{testid}".*?</\1>', html, re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(0)))) if match else ""


# (what the shopper typed, what it is corrected to, a product it must find)
MISSPELLINGS = [
    ("samsng", "samsung", "Samsung Galaxy A15"),
    ("iphnoe", "iphone", "iPhone 15"),
    ("aple", "apple", "MacBook Air 13 M3"),
    ("galaxi", "galaxy", "Samsung Galaxy S24"),
    ("tecno sprak", "tecno spark", "Tecno Spark 20"),
    ("tecnospark", "tecno spark", "Tecno Spark 20"),
    ("powerbank", "power bank", "Oraimo Toast 10000mAh Power Bank"),
    ("hedphones", "headphones", "Sony WH-1000XM5"),
    ("infinx", "infinix", "Infinix Smart Feature T1"),
    ("xiomi", "xiaomi", "Xiaomi Redmi Pad SE"),
    ("labtop", "laptops", "HP 250 G10"),
    ("laptos", "laptops", "HP 250 G10"),
    ("erbuds", "earbuds", "Oraimo FreePods 4"),
    ("earphones", "earbuds", "Oraimo FreePods 4"),
    ("smarttv", "smart tv", "Samsung Crystal UHD 4K Smart TV"),
    ("chager", "charger", "Samsung 25W USB-C Charger"),
    ("play station", "playstation", "Sony PlayStation 5 Slim"),
    ("samsng galaxi", "samsung galaxy", "Samsung Galaxy A55 5G"),
    ("SAMSNG", "samsung", "Samsung Galaxy A15"),
]


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [
        ("iphnoe", "iphone", 1),
        ("sprak", "spark", 1),
        ("aple", "apple", 1),
        ("abc", "abc", 0),
        ("samsng", "samsung", 1),
        ("ca", "abc", 3),
        ("kitten", "sitting", 3),
    ],
)
def test_distance_counts_a_swap_as_one_edit(a, b, edits):
    assert distance(a, b, 5) == edits
    assert distance(a, b, edits - 1) == edits if edits else True


def test_search_pages_run_as_many_queries_for_many_products_as_for_few(settings):
    """Corrected or not, the search page's queries do not grow with the catalogue."""
    settings.PRODUCTS_PER_PAGE = 2
    product = build_catalogue(3)
    urls = [
        "/search/?q=phone",
        "/search/?q=brnad",  # corrected to "brand", from the brands' names
        "/search/?q=brnad&exact=1",
        "/search/?q=zzzzqqqq",
    ]
    assert "Showing results for" in Client().get(urls[1]).content.decode()
    small = count_queries(urls)
    for _ in range(27):
        make_product(brand=product.brand, category=product.category, prices=("1500",))
    cache.clear()
    search.forget_vocabulary()
    large = count_queries(urls)
    assert small == large, (small, large)
    # Rendered right after a catalogue change: with the brand and value rows
    # the sidebar shows, read once per catalogue version (queries.facet_rows).
    assert max(rendered for rendered, _ in large.values()) <= 10, large


class TestOnTheDemoCatalogue:
    """Misspellings against the real demo catalogue (seeded once for the class)."""

    @pytest.fixture(autouse=True)
    def _demo_pictures(self, demo, settings):
        settings.MEDIA_ROOT = demo

    @pytest.mark.parametrize(("typed", "corrected", "product"), MISSPELLINGS)
    def test_a_misspelling_finds_the_product(self, demo, typed, corrected, product):
        correction = correct_query(typed)
        assert correction.corrected == corrected
        assert correction.changed
        assert product in found(typed)

    @pytest.mark.parametrize(
        "query",
        [
            "tecno spark",
            "samsung galaxy",
            "iphone",
            "smart tv",
            "5000 mah",
            "usb-c",
            "power bank",
            "a15",
            "phone",
            "oraimo",
            "128 gb",
            "macbook air",
        ],
    )
    def test_words_the_catalogue_has_are_left_alone(self, demo, query):
        correction = correct_query(query)
        assert correction.corrected == query and not correction.changed
        assert found(query)

    def test_the_page_says_what_it_searched_for_and_offers_the_words_as_typed(self, demo):
        client = Client()
        html = client.get("/search/?q=samsng+galaxi").content.decode()
        assert "Samsung Galaxy A15" in names(html)
        text = notice(html, "search-corrected")
        assert "Showing results for samsung galaxy" in text
        assert "Search instead for samsng galaxi" in text
        link = re.search(r'data-testid="search-corrected".*?href="([^"]*exact=1[^"]*)"', html, re.S)
        url = unescape(link.group(1))
        assert parse_qs(urlsplit(url).query) == {"q": ["samsng galaxi"], "exact": ["1"]}

        exact = client.get(url).content.decode()
        assert names(exact) == [] or "Samsung Galaxy A15" not in names(exact)
        assert not notice(exact, "search-corrected")
        # The filter form keeps asking for the words as typed.
        assert '<input type="hidden" name="exact" value="1">' in exact
        # With nothing found as typed, the corrected words are offered.
        if not names(exact):
            assert "samsung galaxy" in notice(exact, "search-suggestions")

    def test_the_listing_fragment_for_htmx_carries_the_notice(self, demo):
        response = Client().get(
            "/search/?q=iphnoe", headers={"HX-Request": "true", "HX-Target": "listing"}
        )
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="listing"')
        assert "Showing results for iphone" in notice(html, "search-corrected")

    def test_correct_words_get_no_notice(self, demo):
        html = Client().get("/search/?q=tecno+spark").content.decode()
        assert names(html) and all("Tecno Spark" in name for name in names(html))
        assert not notice(html, "search-corrected")
        assert not notice(html, "search-suggestions")

    def test_nothing_found_even_corrected_suggests_near_catalogue_words(self, demo):
        # "samsuxyz" is three edits from "samsung": too far to correct, near enough to offer.
        html = Client().get("/search/?q=samsuxyz").content.decode()
        assert names(html) == []
        text = notice(html, "search-suggestions")
        assert "Did you mean" in text and "samsung" in text
        link = re.search(
            r'data-testid="search-suggestions".*?href="([^"]*)"[^>]*>samsung</a>', html, re.S
        )
        assert "Samsung Galaxy A15" in names(Client().get(unescape(link.group(1))))

    def test_nonsense_gets_no_suggestions(self, demo):
        html = Client().get("/search/?q=zzzzqqqq").content.decode()
        assert names(html) == []
        assert "No products match" in html
        assert not notice(html, "search-suggestions")

    def test_exact_is_part_of_the_page_cache_key(self, demo):
        client = Client()
        corrected = client.get("/search/?q=samsng").content.decode()
        exact = client.get("/search/?q=samsng&exact=1").content.decode()
        assert "Samsung Galaxy A15" in names(corrected)
        assert "Samsung Galaxy A15" not in names(exact)
        assert names(client.get("/search/?q=samsng&exact=true")) == names(exact)
        assert names(client.get("/search/?q=samsng&exact=0")) == names(corrected)
        assert names(client.get("/search/?q=samsng&exact=")) == names(corrected)
        assert names(client.get("/search/?q=samsng&exact=maybe")) == names(corrected)

    @pytest.mark.parametrize(
        "query",
        [
            "x" * 5000,
            "samsng " * 200,
            "<script>alert(1)</script>",
            "%%%%%% ' \" ; -- \\",
            "📱📱 samsng 📱",
            "ñandú ärger çok",
            "a b c d e f g h i j k l m n o p q r s t u v w x y z",
            "&exact=1&q=",
            'OR AND NOT -samsung "galaxy',
        ],
    )
    def test_junk_never_fails(self, demo, query):
        response = Client().get("/search/", {"q": query})
        assert response.status_code == 200
        assert Client().get("/search/", {"q": query, "exact": "1"}).status_code == 200

    def test_the_vocabulary_is_built_once_per_catalogue_version(
        self, demo, django_assert_num_queries
    ):
        correct_query("samsng")  # built
        with django_assert_num_queries(0):
            correct_query("iphnoe")
        catalogue_changed()
        search.forget_vocabulary()
        cache.clear()
        with django_assert_num_queries(1):
            correct_query("iphnoe")

    def test_a_new_product_name_is_learnt_at_the_next_catalogue_version(self, demo):
        assert correct_query("zenfone").corrected == "zenfone"
        product = Product.objects.filter(is_active=True).first()
        Product.objects.filter(pk=product.pk).update(name="Asus Zenfone 11")
        catalogue_changed()
        search.forget_vocabulary()  # as after SETTLE_SECONDS
        assert correct_query("zenfome").corrected == "zenfone"
