"""Phone first: lean listing markup, variant-aware cards, narrowing facets, variant pictures.

The page layout itself (what is on the first screen at 390 px) is checked in
Chromium by tests/journeys/test_phone.py; these tests pin the markup and the
data behind it.
"""

import gzip
import re
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from sorl.thumbnail import get_thumbnail

from shop import services
from shop.filters import ProductFilter
from shop.fragments import catalogue_changed
from shop.models import Cart, ProductImage, ProductVariant
from shop.queries import attribute_value_ids, facet_rows, facets_for, variant_pictures
from shop.views.catalogue import card_queryset

from .factories import (
    AttributeFactory,
    AttributeValueFactory,
    BrandFactory,
    CategoryFactory,
    ProductFactory,
    VariantFactory,
    make_product,
    tiny_jpeg,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def storage(gb: int):
    return AttributeValueFactory(value=f"{gb} GB", slug=f"{gb}-gb")


def colour(name: str):
    attribute = AttributeFactory(name="Colour", slug="colour", sort_order=1)
    return AttributeValueFactory(attribute=attribute, value=name, slug=name.lower())


@pytest.fixture
def catalogue():
    phones = CategoryFactory(name="Phones", slug="phones")
    smartphones = CategoryFactory(name="Smartphones", slug="smartphones", parent=phones)
    laptops = CategoryFactory(name="Laptops", slug="laptops")
    samsung = BrandFactory(name="Samsung", slug="samsung")
    apple = BrandFactory(name="Apple", slug="apple")
    galaxy = make_product(
        name="Galaxy A15",
        slug="galaxy-a15",
        brand=samsung,
        category=smartphones,
        prices=("18999", "21999"),
        values=[[storage(128)], [storage(256)]],
    )
    iphone = make_product(
        name="iPhone 15",
        slug="iphone-15",
        brand=apple,
        category=smartphones,
        prices=("119999",),
        values=[[storage(256)]],
    )
    macbook = make_product(
        name="MacBook Air", slug="macbook-air", brand=apple, category=laptops, prices=("164999",)
    )
    return {"phones": phones, "galaxy": galaxy, "iphone": iphone, "macbook": macbook}


def colour_phone(*, stock=None, pictures=True, name="Spark 20", brand=None, category=None):
    """A phone in 128/256 GB and Black/Blue; *stock* maps (gb, colour) to units (default 5).

    With *pictures*: one for the 128 GB Black (primary), one for the 128 GB
    Blue and one of the box (no variant), as the demo catalogue has them.
    """
    stock = stock or {}
    product = ProductFactory(
        name=name,
        brand=brand or BrandFactory(),
        category=category or CategoryFactory(),
    )
    variants = {}
    for order, (gb, price) in enumerate(((128, "15000"), (256, "18000"))):
        for shade in ("Black", "Blue"):
            variant = VariantFactory(
                product=product,
                price=Decimal(price),
                stock_on_hand=stock.get((gb, shade), 5),
                sort_order=order,
                name=f"{gb} GB · {shade}",
            )
            variant.values.set([storage(gb), colour(shade)])
            variants[gb, shade] = variant
    if pictures:
        for order, (variant, alt) in enumerate(
            [(variants[128, "Black"], "Black"), (variants[128, "Blue"], "Blue"), (None, "Box")]
        ):
            ProductImage.objects.create(
                product=product,
                variant=variant,
                image=tiny_jpeg(),
                alt=alt,
                is_primary=order == 0,
                sort_order=order,
            )
    services.refresh_product_summaries(product_ids=[product.pk])
    product.refresh_from_db()
    return product, variants


def page(client, url: str, **headers) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return response.content.decode()


class _Subtree(HTMLParser):
    """Collect the HTML of the element with a given id (and what it contains)."""

    VOID = {"input", "img", "br", "hr", "meta", "link", "source", "wbr", "area", "col"}

    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=False)
        self.element_id, self.depth, self.parts = element_id, 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth == 0 and dict(attrs).get("id") == self.element_id:
            self.depth = 1 if tag not in self.VOID else 0
            self.parts.append(self.get_starttag_text())
            return
        if self.depth:
            self.parts.append(self.get_starttag_text())
            if tag not in self.VOID:
                self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.parts.append(f"</{tag}>")
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def element(html: str, element_id: str) -> str:
    """Return the HTML of the element with *element_id* ("" if there is none)."""
    parser = _Subtree(element_id)
    parser.feed(html)
    return "".join(parser.parts)


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def card(html: str, name: str) -> str:
    """Return the product card named *name* on a page."""
    for article in re.findall(r"<article.*?</article>", html, re.S):
        if f">{name}</a></h3>" in article:
            return article
    raise AssertionError(f"no card for {name}")


def card_price(html: str, name: str) -> str:
    found = re.search(r'data-testid="card-price">(.*?)</p>', card(html, name), re.S)
    return text(found.group(1))


def card_names(html: str) -> list[str]:
    return [
        unescape(n) for n in re.findall(r'leading-snug"><a href="[^"]*" [^>]*>([^<]*)</a>', html)
    ]


def counts(html: str, name: str) -> dict[str, int]:
    """Return the facet counts of checkbox *name* (``brand`` or ``v``): value -> count."""
    found = re.findall(
        rf'<input type="checkbox" name="{name}" value="([^"]+)"[^>]*> [^<]* <span[^>]*>\((\d+)\)',
        html,
    )
    return {value: int(count) for value, count in found}


def ticked(html: str, name: str) -> set[str]:
    return set(re.findall(rf'<input type="checkbox" name="{name}" value="([^"]+)" checked>', html))


# The listing's markup ------------------------------------------------------------


def test_filters_are_one_closed_details_panel_with_the_sort_outside_it(client, catalogue):
    html = page(client, "/c/phones/")
    assert html.count('<form id="filters"') == 1  # one form for phones and desktops
    assert html.count('name="min_price"') == 1 and html.count('name="brand" value="apple"') == 1
    panel = re.search(r"<details[^>]*>.*?</details>", element(html, "filters"), re.S).group(0)
    assert " open" not in panel.split(">", 1)[0]  # closed: a phone shows products first
    assert "md:details-content:[content-visibility:visible]" in panel  # a sidebar from md up
    assert re.search(r"<summary[^>]*><span>Filters<span id=\"filter-count\"></span>", panel)
    assert 'name="brand"' in panel and 'name="min_price"' in panel
    assert 'id="f-sort"' not in panel and 'id="f-sort"' in element(html, "filters")


def test_the_summary_counts_the_filters_applied(client, catalogue):
    url = "/products/?brand=samsung&brand=apple&v=storage:256-gb&min_price=100&in_stock=true"
    assert (
        text(element(page(client, url), "filter-count")) == "(5)"
    )  # 2 brands, 1 option, price, stock
    assert text(element(page(client, "/products/?min_price=100"), "filter-count")) == "(1)"
    assert text(element(page(client, "/products/?min_price=abc"), "filter-count")) == ""


def test_htmx_swaps_the_results_and_the_counts_never_the_typed_prices(client, catalogue):
    """The form targets #results and picks the counts out of the answer.

    The price inputs are in neither: a response arriving while the shopper
    types the maximum cannot replace it, and the panel keeps its open state.
    """
    html = page(client, "/c/phones/")
    form = re.search(r'<form id="filters"[^>]*>', html).group(0)
    assert 'hx-target="#results"' in form and 'hx-select="#results"' in form
    assert 'hx-select-oob="#filter-count,#facet-brands,#facet-options"' in form
    assert 'hx-sync="this:replace"' in form  # a newer change cancels the older request
    assert 'hx-trigger="change, submit"' in form  # prices are sent once typed, not per key
    # Unswapped controls keep stale attributes: Back and Forward ask the server.
    assert re.search(r'<div id="listing"[^>]* hx-history="false"', html)
    swapped = "".join(
        element(html, i) for i in ("results", "filter-count", "facet-brands", "facet-options")
    )
    assert 'name="brand"' in swapped and 'name="v"' in swapped
    assert 'name="min_price"' not in swapped and 'name="max_price"' not in swapped
    assert "<details" not in swapped

    fragment = page(client, "/c/phones/?brand=apple", HX_Request="true", HX_Target="results")
    assert fragment.lstrip().startswith('<div id="listing"') and "<footer" not in fragment
    for part in ("results", "filter-count", "facet-brands", "facet-options"):
        assert element(fragment, part), part
    assert card_names(element(fragment, "results")) == ["iPhone 15"]
    assert ticked(element(fragment, "facet-brands"), "brand") == {"apple"}


def test_page_links_swap_the_results_only(client, catalogue, settings):
    settings.PRODUCTS_PER_PAGE = 1
    results = element(page(client, "/products/"), "results")
    link = re.search(r'<a rel="next"[^>]*>', results).group(0)
    assert 'hx-target="#results"' in link and 'hx-select="#results"' in link
    assert 'href="?page=2"' in link


def test_listing_pages_stay_light(client):
    """A full listing page with a wide catalogue stays under 20 KB gzipped (bench target)."""
    category = CategoryFactory(slug="phones")
    brands = [BrandFactory() for _ in range(12)]
    values = [storage(gb) for gb in (32, 64, 128, 256, 512)] + [
        colour(c) for c in ("Black", "Blue", "Green", "Gold", "Silver", "Red")
    ]
    for i in range(24):
        make_product(
            brand=brands[i % 12],
            category=category,
            prices=("1000", "2000"),
            values=[[values[i % 5], values[5 + i % 6]], [values[(i + 1) % 5]]],
        )
    html = page(client, "/c/phones/")
    assert html.count("<article") == 24
    assert len(gzip.compress(html.encode())) < 20_000


# Cards: the price of the variants that match -------------------------------------


def test_cards_say_from_when_the_variants_differ_in_price(client, catalogue):
    html = page(client, "/products/")
    assert card_price(html, "Galaxy A15") == "from KES 18,999"
    assert card_price(html, "iPhone 15") == "KES 119,999"


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("v=storage:256-gb", "KES 21,999"),
        ("v=storage:128-gb", "KES 18,999"),
        ("min_price=20000", "KES 21,999"),
        ("max_price=20000", "KES 18,999"),
        ("min_price=18000&max_price=30000", "from KES 18,999"),
        ("v=storage:128-gb&v=storage:256-gb", "from KES 18,999"),
        ("in_stock=true", "from KES 18,999"),
    ],
)
def test_cards_show_the_matching_variants_price(client, catalogue, query, shown):
    html = page(client, f"/products/?{query}")
    assert card_price(html, "Galaxy A15") == shown


def test_a_filtered_card_links_to_its_cheapest_matching_variant(client, catalogue):
    galaxy = catalogue["galaxy"]
    big = galaxy.variants.get(price=Decimal("21999"))
    html = page(client, "/products/?v=storage:256-gb")
    assert f'href="/p/galaxy-a15/?variant={big.pk}"' in card(html, "Galaxy A15")
    assert 'href="/p/galaxy-a15/"' in card(page(client, "/products/"), "Galaxy A15")


def test_the_old_price_is_the_matching_variants(client, catalogue):
    galaxy = catalogue["galaxy"]
    ProductVariant.objects.filter(product=galaxy, price=Decimal("21999")).update(
        compare_at_price=Decimal("24999")
    )
    services.refresh_product_summaries(product_ids=[galaxy.pk])
    assert "24,999" not in card(page(client, "/products/"), "Galaxy A15")
    html = card(page(client, "/products/?v=storage:256-gb"), "Galaxy A15")
    assert "<s " in html and "KES 24,999" in html and "-12%" in html


def test_price_sort_follows_the_shown_price(client):
    """With 256 GB asked for, a phone whose 256 GB costs less comes first."""
    category = CategoryFactory(slug="phones")
    make_product(
        name="Cheap base",
        category=category,
        prices=("10000", "50000"),
        values=[[storage(128)], [storage(256)]],
    )
    make_product(name="Mid", category=category, prices=("30000",), values=[[storage(256)]])
    assert card_names(page(client, "/products/?sort=price-asc")) == ["Cheap base", "Mid"]
    html = page(client, "/products/?sort=price-asc&v=storage:256-gb")
    assert card_names(html) == ["Mid", "Cheap base"]
    html = page(client, "/products/?sort=price-desc&v=storage:256-gb")
    assert card_names(html) == ["Cheap base", "Mid"]


@pytest.mark.parametrize(
    ("sort", "names"),
    [
        ("price-asc", ["Spark 20", "Spark 30", "Spark 10"]),
        ("price-desc", ["Spark 10", "Spark 30", "Spark 20"]),
        ("newest", ["Spark 30", "Spark 20", "Spark 10"]),
        ("popular", ["Spark 20", "Spark 10", "Spark 30"]),
    ],
)
def test_search_results_follow_the_sort_asked_for(client, sort, names):
    """Search results are sorted after they are found (not read in an index's order)."""
    category = CategoryFactory(slug="phones")
    for name, price, sold in [
        ("Spark 10", "30000", 5),
        ("Spark 20", "10000", 9),
        ("Spark 30", "20000", 1),
    ]:
        make_product(name=name, category=category, prices=(price,), units_sold=sold)
    make_product(name="Camon 20", category=category, prices=("5000",), units_sold=50)
    assert card_names(page(client, f"/search/?q=spark&sort={sort}")) == names
    html = page(client, f"/search/?q=spark&sort={sort}&v=storage:999-gb")
    assert card_names(html) == []


def test_one_variant_must_match_every_option_and_the_price(client):
    _product, _variants = colour_phone(name="Spark 20")
    ProductVariant.objects.filter(values__slug="blue").filter(values__slug="256-gb").delete()
    # Left: 128 Black, 128 Blue, 256 Black.
    assert card_names(page(client, "/products/?v=storage:256-gb&v=colour:black")) == ["Spark 20"]
    assert card_names(page(client, "/products/?v=storage:256-gb&v=colour:blue")) == []
    assert card_names(page(client, "/products/?v=colour:blue&min_price=16000")) == []
    assert card_names(page(client, "/products/?v=colour:black&min_price=16000")) == ["Spark 20"]


def test_in_stock_only_asks_the_matching_variant_to_be_in_stock(client):
    colour_phone(name="Spark 20", stock={(256, "Blue"): 0})
    assert card_names(page(client, "/products/?v=storage:256-gb&v=colour:blue")) == ["Spark 20"]
    html = page(client, "/products/?v=storage:256-gb&v=colour:blue&in_stock=true")
    assert card_names(html) == []
    html = page(client, "/products/?v=storage:256-gb&in_stock=true")
    assert card_price(html, "Spark 20") == "KES 18,000"


# Facets: counts narrow with the filters ------------------------------------------


def test_brand_counts_leave_out_the_brand_filter_only(client, catalogue):
    html = page(client, "/products/?brand=samsung")
    assert counts(html, "brand") == {"apple": 2, "samsung": 1}  # Apple stays offered
    assert ticked(html, "brand") == {"samsung"}
    html = page(client, "/products/?v=storage:256-gb")
    assert counts(html, "brand") == {"apple": 1, "samsung": 1}  # the MacBook has no 256 GB
    html = page(client, "/products/?min_price=100000")
    assert counts(html, "brand") == {"apple": 2}


def test_option_counts_leave_out_their_own_attribute_only(client, catalogue):
    html = page(client, "/products/?v=storage:256-gb")
    assert counts(html, "v") == {"storage:128-gb": 1, "storage:256-gb": 2}
    html = page(client, "/products/?brand=apple")
    assert counts(html, "v") == {"storage:256-gb": 1}  # no Apple in 128 GB: not offered
    html = page(client, "/products/?max_price=20000")
    assert counts(html, "v") == {"storage:128-gb": 1}


def test_ticked_values_stay_listed_at_zero(client, catalogue):
    html = page(client, "/products/?brand=apple&v=storage:128-gb")
    assert counts(html, "v") == {"storage:128-gb": 0, "storage:256-gb": 1}
    assert counts(html, "brand") == {"apple": 0, "samsung": 1}
    assert ticked(html, "v") == {"storage:128-gb"} and ticked(html, "brand") == {"apple"}
    assert card_names(html) == []


def test_option_counts_count_products_whose_one_variant_matches(client):
    colour_phone(name="Spark 20", stock={(256, "Blue"): 0})
    html = page(client, "/products/?v=storage:256-gb&in_stock=true")
    assert counts(html, "v")["colour:black"] == 1
    assert "colour:blue" not in counts(html, "v")  # its 256 GB Blue is sold out
    html = page(client, "/products/?v=colour:blue&in_stock=true")
    assert counts(html, "v") == {"colour:black": 1, "colour:blue": 1, "storage:128-gb": 1}


def test_search_counts_stay_within_the_matches(client, catalogue):
    html = page(client, "/search/?q=galaxy&v=storage:256-gb")
    assert counts(html, "brand") == {"samsung": 1}
    assert counts(html, "v") == {"storage:128-gb": 1, "storage:256-gb": 1}


def test_the_cached_counts_are_keyed_by_the_filters(client, catalogue):
    assert "storage:128-gb" in counts(page(client, "/products/"), "v")
    # Within the counts' cache lifetime, another filter gets its own counts.
    assert "storage:128-gb" not in counts(page(client, "/products/?brand=apple"), "v")
    assert "storage:128-gb" in counts(page(client, "/products/?sort=newest"), "v")


def facet_queries(query: str) -> int:
    cleaned = ProductFilter(QueryDict(query), queryset=card_queryset()).cleaned
    facet_rows()  # the brand and value rows: read once per catalogue version, for every listing
    with CaptureQueriesContext(connection) as queries:
        facets_for(card_queryset(), cleaned)
    return len(queries)


QUERIES = {
    "": 2,
    "in_stock=true&min_price=10": 2,
    "brand=b0": 2,
    "brand=b0&v=storage:64-gb": 3,
    "v=storage:64-gb&v=colour:black&max_price=5000": 4,
}


def test_facet_queries_depend_on_the_attributes_ticked_not_the_products():
    """Two grouped queries plus one per attribute ticked, for 3 and 30 products."""
    category = CategoryFactory()
    brands = [BrandFactory(slug=f"b{i}") for i in range(3)]

    def add(n):
        for i in range(n):
            make_product(
                brand=brands[i % 3],
                category=category,
                prices=("1000", "2000"),
                values=[[storage(64), colour("Black")], [storage(128), colour("Blue")]],
            )

    add(3)
    small = {query: facet_queries(query) for query in QUERIES}
    add(27)
    large = {query: facet_queries(query) for query in QUERIES}
    assert small == large == QUERIES
    catalogue_changed()
    with CaptureQueriesContext(connection) as queries:
        assert set(attribute_value_ids()["storage"]) == {"64-gb", "128-gb"}
        attribute_value_ids()
    assert len(queries) == 2  # the brand and value rows, then cached until the catalogue changes


def test_unknown_option_values_match_nothing_and_break_nothing(client, catalogue):
    assert card_names(page(client, "/products/?v=storage:999-gb")) == []
    html = page(client, "/products/?v=storage:999-gb&v=storage:128-gb&sort=price-asc")
    assert card_names(html) == ["Galaxy A15"]
    assert card_names(page(client, "/products/?v=nope:x&brand=apple")) == []
    html = page(client, "/search/?q=galaxy&v=storage:999-gb")
    assert card_names(html) == [] and counts(html, "v") == {
        "storage:128-gb": 1,
        "storage:256-gb": 1,
    }


# Product page: the buy box, variant pictures, sold-out options --------------------


def gallery(html: str) -> list[str]:
    """Alt texts of the gallery's pictures, in order."""
    return re.findall(r'<figure[^>]*>\s*<img [^>]*alt="([^"]*)"', element(html, "gallery"))


def test_the_gallery_shows_the_chosen_variants_pictures_then_the_general_ones(client):
    product, variants = colour_phone()
    url = product.get_absolute_url()
    assert gallery(page(client, f"{url}?variant={variants[128, 'Blue'].pk}")) == ["Blue", "Box"]
    assert gallery(page(client, f"{url}?variant={variants[128, 'Black'].pk}")) == ["Black", "Box"]
    # 256 GB has no pictures of its own: those of the same colour in 128 GB.
    assert gallery(page(client, f"{url}?variant={variants[256, 'Blue'].pk}")) == ["Blue", "Box"]
    fragment = page(
        client,
        f"{url}?variant={variants[256, 'Blue'].pk}",
        HX_Request="true",
        HX_Target="product-top",
    )
    assert gallery(fragment) == ["Blue", "Box"]


def test_variant_pictures_rules():
    black, blue, box, other = (
        ProductImage(pk=1, variant_id=10, is_primary=True, sort_order=0),
        ProductImage(pk=2, variant_id=11, sort_order=1),
        ProductImage(pk=3, variant_id=None, sort_order=2),
        ProductImage(pk=4, variant_id=99, sort_order=3),  # an inactive variant's
    )
    looks = {10: {1: 128, 2: 1}, 11: {1: 128, 2: 2}, 12: {1: 256, 2: 1}, 13: {1: 256, 2: 2}}
    images = [box, other, blue, black]
    assert variant_pictures(images, 11, looks) == [blue, box]
    assert variant_pictures(images, 13, looks) == [blue, box]  # looks like 11 in colour
    assert variant_pictures(images, 12, looks) == [black, box]
    assert variant_pictures(images, None, looks) == [box]
    # One variant's pictures say nothing of the others: general ones, else all.
    assert variant_pictures([black, box], 12, looks) == [box]
    assert variant_pictures([black], 12, looks) == [black]
    assert variant_pictures([], 12, looks) == []


def test_the_product_page_queries_do_not_grow_with_variants_and_pictures():
    def queries(product, variant):
        client = Client()  # a first-time visitor: no recently viewed products
        url = f"{product.get_absolute_url()}?variant={variant.pk}"
        client.get(url)  # warm the thumbnails and the category tree
        catalogue_changed()
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        return len(ctx)

    small, variants = colour_phone(name="Small")
    few = queries(small, variants[256, "Blue"])
    big, variants = colour_phone(name="Big")
    for n in range(6):
        extra = VariantFactory(product=big, price=Decimal("20000"))
        extra.values.set([storage(512 + n), colour("Blue")])
        ProductImage.objects.create(product=big, variant=extra, image=tiny_jpeg(), alt=f"x{n}")
    assert queries(big, variants[256, "Blue"]) == few


def option(html: str, value: str) -> str:
    for link in re.findall(r'<a id="option-[^"]*".*?</a>', element(html, "buy-box"), re.S):
        if re.search(rf">{re.escape(value)}(<|$)", link):
            return link
    raise AssertionError(f"no option {value}")


def sold_out(link: str) -> bool:
    return "line-through" in link and "(out of stock)" in link


def test_an_option_sold_out_with_the_other_choices_is_marked(client):
    product, variants = colour_phone(stock={(128, "Blue"): 0})
    url = product.get_absolute_url()
    html = page(client, f"{url}?variant={variants[128, 'Black'].pk}")
    # Blue in 128 GB is gone, though a 256 GB Blue is left: marked, still a link.
    blue = option(html, "Blue")
    assert sold_out(blue) and f'href="?variant={variants[128, "Blue"].pk}"' in blue
    assert not sold_out(option(html, "256 GB")) and not sold_out(option(html, "Black"))
    html = page(client, f"{url}?variant={variants[256, 'Black'].pk}")
    assert not sold_out(option(html, "Blue"))  # the 256 GB Blue is in stock
    html = page(client, f"{url}?variant={variants[256, 'Blue'].pk}")
    assert sold_out(option(html, "128 GB")) and not sold_out(option(html, "256 GB"))


def test_a_missing_combination_links_to_the_nearest_one_in_stock(client):
    product, variants = colour_phone(stock={(256, "Black"): 0})
    variants[256, "Blue"].delete()
    html = page(client, f"{product.get_absolute_url()}?variant={variants[128, 'Blue'].pk}")
    link = option(html, "256 GB")  # only in Black, and sold out
    assert sold_out(link) and f'?variant={variants[256, "Black"].pk}"' in link


def test_the_buy_box_follows_the_title_and_the_summary_follows_it_on_phones(client):
    product, _ = colour_phone()
    product.summary = "A bright screen and a long battery."
    product.save()
    html = page(client, product.get_absolute_url())
    top = element(html, "product-top")
    assert top.index("<h1") < top.index('id="buy-box"') < top.index("Add to cart")
    summary = re.search(r'<p class="([^"]*)">A bright screen', top).group(1)
    assert "order-last" in summary and "md:order-none" in summary
    form = re.search(r'<form method="post" action="/cart/add/"[^>]*>', top).group(0)
    assert "sticky bottom-0" in form and "md:static" in form


# The cart shows the variant's picture ------------------------------------------------


def cart_picture(client) -> str:
    html = page(client, reverse("shop:cart"))
    return re.search(r'data-testid="cart-line">\s*<a [^>]*><img src="([^"]+)"', html).group(1)


def thumbnail_url(image: ProductImage) -> str:
    return get_thumbnail(image.image, "160x160", crop="center", format="WEBP").url


def test_the_cart_line_shows_the_picture_of_the_variant_in_the_cart(client):
    product, variants = colour_phone()
    pictures = {i.alt: i for i in product.images.all()}
    for key, alt in [((128, "Blue"), "Blue"), ((256, "Blue"), "Blue"), ((256, "Black"), "Black")]:
        Cart.objects.all().delete()
        client.post(reverse("shop:cart-add"), {"variant": variants[key].pk, "quantity": 1})
        assert cart_picture(client) == thumbnail_url(pictures[alt]), key


def test_cart_pictures_take_a_bounded_number_of_queries(client):
    def count() -> int:
        client.get(reverse("shop:cart"))  # thumbnails
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("shop:cart"))
        return len(ctx)

    first, variants = colour_phone(name="First")
    client.post(reverse("shop:cart-add"), {"variant": variants[256, "Blue"].pk})
    one = count()
    for n in range(4):
        _product, variants = colour_phone(name=f"More {n}")
        client.post(reverse("shop:cart-add"), {"variant": variants[256, "Black"].pk})
    assert count() == one
    cart = Cart.objects.get()
    with CaptureQueriesContext(connection) as ctx:
        summary = services.summarise_cart(cart)
    assert len(ctx) == 3 and [line.picture.alt for line in summary.lines].count("Black") == 4


# Subcategories ----------------------------------------------------------------------


def test_the_category_menu_opens_each_top_category_on_its_subcategories(client, catalogue):
    html = page(client, "/")
    nav = re.search(r'<nav [^>]*aria-label="Categories">.*?</nav>', html, re.S).group(0)
    phones = re.search(r"<details[^>]*>.*?</details>", nav, re.S).group(0)
    assert re.search(r"<summary[^>]*>Phones ", phones)
    assert 'href="/c/phones/"' in phones and "All Phones" in phones
    assert 'href="/c/smartphones/"' in phones
    assert '<a href="/c/laptops/"' in nav and nav.count("<details") == 1  # no children: a link


def test_a_parent_category_lists_its_subcategories(client, catalogue):
    html = page(client, "/c/phones/")
    chips = re.search(r'<nav aria-label="Types of Phones".*?</nav>', html, re.S).group(0)
    assert re.findall(r'<a href="([^"]+)"', chips) == ["/c/smartphones/"]
    assert 'aria-label="Types of' not in page(client, "/c/smartphones/")
