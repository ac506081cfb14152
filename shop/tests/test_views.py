"""Catalogue pages: content, htmx fragments, bad input and query bounds."""

import json
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop import services
from shop.fragments import catalogue_changed
from shop.models import Banner, Product

from .factories import AttributeValueFactory, BrandFactory, CategoryFactory, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def catalogue():
    phones = CategoryFactory(name="Phones", slug="phones")
    smartphones = CategoryFactory(name="Smartphones", slug="smartphones", parent=phones)
    laptops = CategoryFactory(name="Laptops", slug="laptops")
    samsung = BrandFactory(name="Samsung", slug="samsung", is_featured=True)
    apple = BrandFactory(name="Apple", slug="apple")
    gb128 = AttributeValueFactory(value="128 GB", slug="128-gb")
    gb256 = AttributeValueFactory(value="256 GB", slug="256-gb")
    galaxy = make_product(
        name="Galaxy A15",
        slug="galaxy-a15",
        brand=samsung,
        category=smartphones,
        prices=("18999", "21999"),
        values=[[gb128], [gb256]],
        specs=[("Battery", "5000 mAh")],
        is_featured=True,
    )
    iphone = make_product(
        name="iPhone 15",
        slug="iphone-15",
        brand=apple,
        category=smartphones,
        prices=("119999",),
        values=[[gb256]],
    )
    macbook = make_product(
        name="MacBook Air", slug="macbook-air", brand=apple, category=laptops, prices=("164999",)
    )
    sold_out = make_product(
        name="Galaxy Sold Out",
        slug="galaxy-sold-out",
        brand=samsung,
        category=smartphones,
        stock=0,
        prices=("5000",),
    )
    return {
        "phones": phones,
        "smartphones": smartphones,
        "laptops": laptops,
        "samsung": samsung,
        "apple": apple,
        "galaxy": galaxy,
        "iphone": iphone,
        "macbook": macbook,
        "sold_out": sold_out,
    }


CARD_NAME = re.compile(
    r'<h3 class="text-sm font-medium leading-snug"><a href="[^"]*" [^>]*>([^<]*)</a></h3>'
)


def names(response_or_html) -> list[str]:
    """Return the names on the product cards of a page (or part of one), in order."""
    html = getattr(response_or_html, "content", response_or_html)
    if isinstance(html, bytes):
        html = html.decode()
    return [unescape(name) for name in CARD_NAME.findall(html)]


def section(html: str, heading_id: str) -> str:
    """Return the <section> labelled by the heading *heading_id*."""
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def selected_sku(response) -> str:
    return re.search(r'data-testid="sku">([^<]+)<', response.content.decode()).group(1)


def test_home_shows_shelves_categories_and_brands(client, catalogue):
    Banner.objects.create(title="Pay with M-Pesa", link_url="/products/")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Pay with M-Pesa" in html
    assert "Galaxy A15" in names(section(html, "featured"))
    assert "Phones" in html and "Samsung" in html
    assert "<title>Duka Tech</title>" in html


def test_category_page_includes_subcategories_and_breadcrumbs(client, catalogue):
    response = client.get(reverse("shop:category-detail", kwargs={"slug": "phones"}))
    assert response.status_code == 200
    assert set(names(response)) == {"Galaxy A15", "iPhone 15", "Galaxy Sold Out"}
    crumbs = re.search(r'aria-label="Breadcrumb".*?</nav>', response.content.decode(), re.S)
    assert re.findall(r'<span aria-current="page">([^<]+)</span>', crumbs.group(0)) == ["Phones"]


def test_brand_page_lists_only_the_brand(client, catalogue):
    response = client.get(reverse("shop:brand-detail", kwargs={"slug": "apple"}))
    assert set(names(response)) == {"iPhone 15", "MacBook Air"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("brand=samsung", {"Galaxy A15", "Galaxy Sold Out"}),
        (
            "brand=samsung&brand=apple",
            {"Galaxy A15", "Galaxy Sold Out", "iPhone 15", "MacBook Air"},
        ),
        ("min_price=100000", {"iPhone 15", "MacBook Air"}),
        ("max_price=19000", {"Galaxy A15", "Galaxy Sold Out"}),
        ("min_price=10000&max_price=120000", {"Galaxy A15", "iPhone 15"}),
        ("in_stock=true", {"Galaxy A15", "iPhone 15", "MacBook Air"}),
        ("v=storage:256-gb", {"Galaxy A15", "iPhone 15"}),
        ("v=storage:128-gb", {"Galaxy A15"}),
        ("v=storage:128-gb&brand=apple", set()),
    ],
)
def test_filters(client, catalogue, query, expected):
    response = client.get(f"/products/?{query}")
    assert response.status_code == 200
    assert set(names(response)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price-asc", ["Galaxy Sold Out", "Galaxy A15", "iPhone 15", "MacBook Air"]),
        ("price-desc", ["MacBook Air", "iPhone 15", "Galaxy A15", "Galaxy Sold Out"]),
        ("newest", ["Galaxy Sold Out", "MacBook Air", "iPhone 15", "Galaxy A15"]),
    ],
)
def test_sort(client, catalogue, sort, expected):
    response = client.get(f"/products/?sort={sort}")
    assert names(response) == expected


def test_sort_by_popularity(client, catalogue):
    Product.objects.filter(pk=catalogue["macbook"].pk).update(units_sold=50)
    Product.objects.filter(pk=catalogue["iphone"].pk).update(units_sold=10)
    response = client.get("/products/?sort=popular")
    assert names(response)[:2] == ["MacBook Air", "iPhone 15"]


def test_pagination(client, catalogue, settings):
    settings.PRODUCTS_PER_PAGE = 3
    first = client.get("/products/?sort=price-asc")
    second = client.get("/products/?sort=price-asc&page=2")
    assert len(names(first)) == 3
    assert names(second) == ["MacBook Air"]
    assert 'href="?page=2&amp;sort=price-asc"' in first.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-1",
        "page=99999",
        "page=1e9",
        "sort=drop-table",
        "sort=",
        "min_price=cheap",
        "max_price=-5",
        "min_price=1e999",
        "min_price=NaN",
        "brand=<script>",
        "brand=nope",
        "v=nonsense",
        "v=storage:",
        "v=:x",
        "in_stock=maybe",
        "q=" + "x" * 500,
        "q=%27%3B--",
        "category=../../etc",
    ],
)
def test_nonsense_parameters_give_a_normal_page(client, catalogue, query):
    for url in ("/products/", "/search/", "/c/phones/", "/brands/samsung/"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, (url, query)
        assert b"<footer" in response.content


@pytest.mark.parametrize(
    "url", ["/c/nope/", "/brands/nope/", "/p/nope/", "/p/../../etc/passwd/", "/nothing-here/"]
)
def test_unknown_slugs_404_in_the_shop_style(client, catalogue, url):
    response = client.get(url)
    assert response.status_code == 404
    assert b"couldn't find that page" in response.content


def test_inactive_product_404s(client, catalogue):
    Product.objects.filter(pk=catalogue["iphone"].pk).update(is_active=False)
    assert client.get("/p/iphone-15/").status_code == 404
    assert "iPhone 15" not in names(client.get("/products/"))


def test_search_matches_name_brand_category_sku_and_specs(client, catalogue):
    sku = catalogue["iphone"].variants.get().sku
    assert "iPhone 15" in names(client.get("/search/?q=iphone"))
    assert set(names(client.get("/search/?q=apple"))) == {"iPhone 15", "MacBook Air"}
    assert "MacBook Air" in names(client.get("/search/?q=laptops"))
    assert names(client.get(f"/search/?q={sku}")) == ["iPhone 15"]
    assert names(client.get("/search/?q=5000 mah")) == ["Galaxy A15"]
    assert names(client.get("/search/?q=zzzzqqq")) == []


def test_search_sidebar_counts_only_the_matches(client, catalogue):
    html = client.get("/search/?q=iphone").content.decode()
    brands = re.findall(r'name="brand" value="([^"]+)"[^>]*> [^<]* <span[^>]*>\((\d+)\)', html)
    assert brands == [("apple", "1")]


def test_search_tolerates_typos_on_postgresql(client, catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("Typo tolerance (pg_trgm) is a PostgreSQL feature; SQLite matches words.")
    assert "Galaxy A15" in names(client.get("/search/?q=galaxi"))
    assert "MacBook Air" in names(client.get("/search/?q=macbok"))


def test_search_ranks_better_matches_first_on_postgresql(client, catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("Ranking is a PostgreSQL feature.")
    make_product(name="Galaxy case for A15", slug="case", prices=("500",))
    assert names(client.get("/search/?q=galaxy a15"))[0] == "Galaxy A15"


def test_search_reads_the_stored_words_which_follow_every_change_on_postgresql(client, catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("The stored search vector is a PostgreSQL column.")
    phone = catalogue["iphone"]
    phone.name = "Kifaru Phone"
    phone.save()
    services.refresh_product_summaries(product_ids=[phone.pk])
    assert names(client.get("/search/?q=kifaru")) == ["Kifaru Phone"]

    # Matched and ranked from the stored column: no text is parsed per product.
    with CaptureQueriesContext(connection) as queries:
        client.get("/search/?q=apple")
    searched = [q["sql"] for q in queries.captured_queries if "@@" in q["sql"]]
    assert searched and not any("to_tsvector" in sql for sql in searched)
    assert all('"search_vector" @@' in sql for sql in searched)


def test_a_search_page_searches_once_and_its_filters_narrow_the_matches(client, catalogue):
    make_product(name="Galaxy case for A15", slug="case", prices=("500",))
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/search/?q=galaxy&max_price=1000")
    assert names(response) == ["Galaxy case for A15"]
    if connection.vendor == "postgresql":
        # One probe for whole-word matches (else near spellings are searched).
        probes = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].startswith('SELECT 1 AS "a"') and "@@" in q["sql"]
        ]
        assert len(probes) == 1, probes
    # Matched once in each query, not once by the page and again by its filter.
    searched = [q["sql"] for q in queries.captured_queries if "search_" in q["sql"]]
    assert searched and all(
        sql.count('search_vector" @@') + sql.count('search_text" LIKE') <= 1 for sql in searched
    ), searched


def test_results_fragment_for_htmx_and_whole_page_on_history_restore(client, catalogue):
    fragment = client.get(
        "/products/?brand=apple", headers={"HX-Request": "true", "HX-Target": "listing"}
    )
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="listing"')
    assert 'value="apple" checked' in html  # the filter form is swapped with the results
    assert "<footer" not in html and "iPhone 15" in html
    assert "HX-Request" in fragment["Vary"]

    restore = client.get(
        "/products/?brand=apple",
        headers={
            "HX-Request": "true",
            "HX-Target": "listing",
            "HX-History-Restore-Request": "true",
        },
    )
    assert b"<footer" in restore.content
    assert "HX-Request" in restore["Vary"]


def test_product_detail_shows_variants_specs_and_structured_data(client, catalogue):
    galaxy = catalogue["galaxy"]
    response = client.get(galaxy.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "KES 18,999" in html
    assert "5000 mAh" in html
    assert 'aria-label="Breadcrumb"' in html
    data = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', html).group(1)
    )
    assert data["@type"] == "Product"
    assert {o["price"] for o in data["offers"]} == {"18999.00", "21999.00"}
    assert all(o["priceCurrency"] == "KES" for o in data["offers"])


def test_variant_picker_swaps_the_gallery_and_buy_box(client, catalogue):
    galaxy = catalogue["galaxy"]
    expensive = galaxy.variants.get(price=Decimal("21999"))
    url = f"{galaxy.get_absolute_url()}?variant={expensive.pk}"
    fragment = client.get(url, headers={"HX-Request": "true", "HX-Target": "product-top"})
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="product-top"')
    assert 'id="gallery"' in html and '<div id="buy-box"' in html
    assert 'hx-target="#product-top"' in html  # the picker swaps the same part again
    assert "KES 21,999" in html and expensive.sku in html
    assert "<footer" not in html
    whole = client.get(url)
    assert b"<footer" in whole.content and b"KES 21,999" in whole.content


def test_out_of_stock_variant_is_shown_unavailable(client, catalogue):
    galaxy = catalogue["galaxy"]
    cheap = galaxy.variants.get(price=Decimal("18999"))
    cheap.stock_on_hand = 0
    cheap.save()
    response = client.get(f"{galaxy.get_absolute_url()}?variant={cheap.pk}")
    html = response.content.decode()
    assert "Out of stock" in html
    assert 'title="Out of stock"' in html  # the 128 GB option is marked unavailable


@pytest.mark.parametrize("variant", ["abc", "-1", "999999", "1 OR 1=1"])
def test_unknown_variant_falls_back_to_a_default(client, catalogue, variant):
    response = client.get(f"{catalogue['galaxy'].get_absolute_url()}?variant={variant}")
    assert response.status_code == 200
    skus = set(catalogue["galaxy"].variants.values_list("sku", flat=True))
    assert selected_sku(response) in skus


def test_variant_of_another_product_is_not_shown(client, catalogue):
    other = catalogue["iphone"].variants.get()
    response = client.get(f"{catalogue['galaxy'].get_absolute_url()}?variant={other.pk}")
    assert selected_sku(response) in set(catalogue["galaxy"].variants.values_list("sku", flat=True))


def test_sitemap_and_robots(client, catalogue):
    sitemap = client.get("/sitemap.xml").content.decode()
    assert "/p/galaxy-a15/" in sitemap and "/c/phones/" in sitemap and "/brands/apple/" in sitemap
    robots = client.get("/robots.txt").content.decode()
    assert "Disallow: /staff/" in robots and "Sitemap: http://testserver/sitemap.xml" in robots


def test_pages_have_titles_and_meta_descriptions(client, catalogue):
    for url, title in [
        ("/p/galaxy-a15/", "Galaxy A15 · Duka Tech"),
        ("/c/phones/", "Phones · Duka Tech"),
        ("/brands/apple/", "Apple · Duka Tech"),
    ]:
        html = client.get(url).content.decode()
        assert f"<title>{title}</title>" in html
        assert '<meta name="description" content="' in html


def test_thumbnails_are_webp_sized_and_lazy(client, catalogue):
    html = client.get("/products/").content.decode()
    images = re.findall(r"<img [^>]+>", html)
    assert images
    for tag in images:
        assert ".webp" in tag and 'width="' in tag and 'height="' in tag and 'loading="lazy"' in tag


# Query bounds ---------------------------------------------------------------


def build_catalogue(products: int):
    category = CategoryFactory(name="Phones", slug="phones")
    child = CategoryFactory(name="Smartphones", slug="smartphones", parent=category)
    brands = [BrandFactory(slug=f"b{i}", is_featured=True) for i in range(3)]
    values = [AttributeValueFactory(value=f"{i} GB", slug=f"{i}-gb") for i in (64, 128)]
    Banner.objects.create(title="Hero")
    first = None
    for i in range(products):
        product = make_product(
            brand=brands[i % 3],
            category=child,
            prices=("1000", "2000"),
            values=[[values[0]], [values[1]]],
            specs=[("Battery", "5000 mAh")],
            is_featured=i % 2 == 0,
            image=True,
        )
        first = first or product
    return first


PAGES = [
    "/",
    "/products/",
    "/products/?brand=b1&in_stock=true&sort=price-asc&v=storage:64-gb&min_price=10",
    "/c/phones/",
    "/brands/b1/",
    "/search/?q=phone",
    "/brands/",
    "{detail}",
    "{detail}?variant={variant}",
]


TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def without_tokens(response) -> str:
    """Return the page with its CSRF tokens (masked anew for each request) blanked."""
    return TOKEN.sub(r"\1", response.content.decode())


def count_queries(urls) -> dict[str, tuple[int, int]]:
    """Count each page's queries for a first-time visitor: rendered, and from the cache.

    The first count is a page rendered afresh (the catalogue just changed,
    per-process caches such as the category tree and thumbnails warm); the
    second is the same page served from the fragment cache.
    """
    client = Client()
    counts = {}
    for url in urls:
        client.get(url)  # warm caches (category tree, thumbnails)
        catalogue_changed()
        with CaptureQueriesContext(connection) as rendered:
            response = client.get(url)
        assert response.status_code == 200, url
        with CaptureQueriesContext(connection) as cached:
            assert without_tokens(client.get(url)) == without_tokens(response), url
        counts[url] = (len(rendered.captured_queries), len(cached.captured_queries))
    return counts


def test_each_page_runs_a_bounded_number_of_queries(settings):
    """The same number of queries for 3 and 30 products, and at most 10.

    Rendered right after a catalogue change, so with the reads made once per
    catalogue version (the brand and value rows of the sidebar, the category
    tree); a search on PostgreSQL first asks whether any product matches every
    word.
    """
    settings.PRODUCTS_PER_PAGE = 2  # both catalogues fill the page

    def urls_for(product):
        variant = product.variants.order_by("-price").first()
        return [u.format(detail=product.get_absolute_url(), variant=variant.pk) for u in PAGES]

    product = build_catalogue(3)
    small = count_queries(urls_for(product))
    for _ in range(27):
        make_product(
            brand=product.brand,
            category=product.category,
            prices=("1500", "2500"),
            specs=[("Battery", "4000 mAh")],
            is_featured=True,
        )
    cache.clear()
    large = count_queries(urls_for(product))
    assert list(small.values()) == list(large.values()), (small, large)
    assert max(rendered for rendered, _ in large.values()) <= 10, large
    # From the cache, a catalogue page needs no query at all for a visitor
    # (the brand index is not cached).
    cached = {url: n for url, (_, n) in large.items() if url != "/brands/"}
    assert set(cached.values()) == {0}, large


def test_server_errors_get_the_shop_styled_500_page(rf):
    from shop.views.catalogue import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
