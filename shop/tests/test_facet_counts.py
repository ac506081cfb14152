"""The facet count table: kept exact through every catalogue change, and read by listings.

A listing over a whole category, brand or the catalogue adds its facet counts
up from ``FacetCount`` instead of counting every product; the counts must be
those the live count gives (``queries.facets_for`` without cells).
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop import queries, services
from shop.models import (
    Attribute,
    AttributeValue,
    Brand,
    Cart,
    CartLine,
    Category,
    FacetCount,
    ProductValue,
    ProductVariant,
)
from shop.views.catalogue import card_queryset

from .factories import BrandFactory, CategoryFactory, make_product
from .test_page_cache import ADDRESS

pytestmark = pytest.mark.django_db


def table() -> set[tuple[int, int, int, int, int]]:
    return set(
        FacetCount.objects.values_list(
            "category_id", "brand_id", "value_id", "products", "in_stock"
        )
    )


def counted_afresh() -> set[tuple[int, int, int, int, int]]:
    return {
        (r.category_id, r.brand_id, r.value_id, r.products, r.in_stock)
        for r in services.catalogue._count()
    }


def product_values() -> set[tuple[int, int]]:
    return set(ProductValue.objects.values_list("product_id", "value_id"))


def product_values_afresh() -> set[tuple[int, int]]:
    """Each product's values, read from its active variants one by one."""
    return {
        (variant.product_id, value.pk)
        for variant in ProductVariant.objects.filter(is_active=True).prefetch_related("values")
        for value in variant.values.all()
    }


@pytest.fixture
def catalogue():
    colour = Attribute.objects.create(name="Colour", slug="colour")
    storage = Attribute.objects.create(name="Storage", slug="storage")
    blue = AttributeValue.objects.create(attribute=colour, value="Blue", slug="blue")
    black = AttributeValue.objects.create(attribute=colour, value="Black", slug="black")
    gb128 = AttributeValue.objects.create(attribute=storage, value="128 GB", slug="128gb")
    phones = CategoryFactory(name="Phones", slug="phones")
    android = CategoryFactory(name="Android", slug="android", parent=phones)
    laptops = CategoryFactory(name="Laptops", slug="laptops")
    samsung = BrandFactory(name="Samsung", slug="samsung")
    apple = BrandFactory(name="Apple", slug="apple")
    made = {
        "galaxy": make_product(
            name="Galaxy A15",
            brand=samsung,
            category=android,
            prices=("18999", "20999"),
            values=[[blue, gb128], [black, gb128]],
        ),
        "iphone": make_product(
            name="iPhone 15", brand=apple, category=phones, prices=("99999",), values=[[black]]
        ),
        "book": make_product(name="Galaxy Book", brand=samsung, category=laptops, values=[[blue]]),
    }
    return made, {"blue": blue, "black": black, "128gb": gb128, "laptops": laptops}


def facets_as_counts(facets) -> tuple[dict, dict]:
    return (
        {b.slug: b.product_count for b in facets.brands},
        {f"{v.attribute.slug}:{v.slug}": v.product_count for v in facets.values},
    )


SCOPES = {
    "all": lambda: (card_queryset(), Q()),
    "phones": lambda: (
        card_queryset().filter(category__slug__in=["phones", "android"]),
        Q(category_id__in=Category.objects.filter(slug__in=["phones", "android"]).values("pk")),
    ),
    "samsung": lambda: (
        card_queryset().filter(brand__slug="samsung"),
        Q(brand_id=Brand.objects.get(slug="samsung").pk),
    ),
}


def sell_out(variant) -> None:
    services.stock.set_stock_on_hand(variant_id=variant.pk, on_hand=0)


@pytest.fixture
def some_sold_out(catalogue):
    """The blue Galaxy and the Galaxy Book are sold out: blue is in stock nowhere."""
    made, values = catalogue
    sell_out(made["galaxy"].variants.get(values__slug="blue"))
    sell_out(made["book"].variants.get())
    return catalogue


@pytest.mark.parametrize("in_stock", [False, True])
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("brands", [[], ["samsung"], ["apple", "samsung"], ["nokia"]])
def test_the_table_gives_the_counts_the_live_count_gives(some_sold_out, scope, brands, in_stock):
    products, cells = SCOPES[scope]()
    cleaned = {"brand": brands, "in_stock": in_stock}
    live = queries.facets_for(products, cleaned)
    counted = queries.facets_for(products, cleaned, cells=cells)
    assert facets_as_counts(counted) == facets_as_counts(live)
    assert [b.slug for b in counted.brands] == [b.slug for b in live.brands]
    assert [v.pk for v in counted.values] == [v.pk for v in live.values]


def test_counts_as_expected(catalogue):
    products, cells = SCOPES["all"]()
    brands, values = facets_as_counts(queries.facets_for(products, {}, cells=cells))
    assert brands == {"apple": 1, "samsung": 2}
    # The Galaxy counts once for 128 GB although two of its variants have it.
    assert values == {"colour:blue": 2, "colour:black": 2, "storage:128gb": 1}


def test_in_stock_counts_as_expected(some_sold_out):
    products, cells = SCOPES["all"]()
    facets = queries.facets_for(products, {"in_stock": True}, cells=cells)
    brands, values = facets_as_counts(facets)
    assert brands == {"apple": 1, "samsung": 1}  # the Galaxy Book is sold out
    # Blue is sold out everywhere; the Galaxy is in stock in black, 128 GB.
    assert values == {"colour:black": 2, "storage:128gb": 1}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("brands", [[], ["samsung"], ["apple"]])
@pytest.mark.parametrize(
    "ticked", [["colour:blue"], ["colour:blue", "colour:black"], ["storage:128gb"]]
)
@pytest.mark.parametrize("in_stock", [False, True])
def test_an_attributes_own_counts_come_from_the_table_as_the_live_count_gives_them(
    some_sold_out, scope, brands, ticked, in_stock
):
    products, cells = SCOPES[scope]()
    cleaned = {"brand": brands, "v": ticked, "in_stock": in_stock}
    live = queries.facets_for(products, cleaned)
    counted = queries.facets_for(products, cleaned, cells=cells)
    assert facets_as_counts(counted) == facets_as_counts(live)
    assert [v.pk for v in counted.values] == [v.pk for v in live.values]


def test_with_one_attribute_ticked_its_counts_are_read_from_the_table(catalogue, client):
    _made, values = catalogue
    # A marker only the table has: 7 in each (category, brand) cell with Black.
    cells = FacetCount.objects.filter(value_id=values["black"].pk).update(products=7)
    html = client.get("/products/?v=colour:blue").content.decode()
    assert f'Black <span class="text-slate-500">({7 * cells})</span>' in html
    # Another attribute's counts depend on the ticked colour: counted live.
    FacetCount.objects.filter(value_id=values["128gb"].pk).update(products=8)
    assert "(8)" not in client.get("/products/?v=colour:blue").content.decode()
    # With a price range too, colour's counts depend on it: counted live.
    html = client.get("/products/?v=colour:blue&max_price=50000").content.decode()
    assert f"({7 * cells})" not in html


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/products/?v=colour:blue", 2),
        ("/products/?v=colour:blue&brand=samsung", 2),
        ("/products/?v=colour:black&brand=apple&brand=nokia", 1),
        ("/products/?v=storage:128gb&v=colour:blue", 1),
        ("/c/phones/?v=colour:black&max_price=50000", 1),
        ("/products/?in_stock=true&brand=samsung", 2),
        ("/search/?q=galaxy", 2),
        ("/search/?q=galaxy&brand=apple", 0),
        ("/search/?q=galaxy&v=colour:black", 1),
    ],
)
def test_a_filtered_listing_takes_its_product_count_from_its_facets(catalogue, client, url, shown):
    html = client.get(url).content.decode()
    assert f"{shown} product" in html
    assert html.count("<article") == shown
    # Another sort of the same filters counts nothing: the facets are shared.
    with CaptureQueriesContext(connection) as queries:
        client.get(url + "&sort=price-desc")
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_search_within_a_listing_counts_its_matches_not_the_scope(catalogue, client):
    html = client.get("/products/?q=iphone").content.decode()
    assert "1 product" in html and html.count("<article") == 1


def test_filters_on_variants_count_live(catalogue):
    products, cells = SCOPES["all"]()
    facets = queries.facets_for(products, {"v": ["colour:blue"]}, cells=cells)
    _, values = facets_as_counts(facets)
    assert values["storage:128gb"] == 1 and values["colour:black"] == 2


CHANGES = {
    "new product": lambda made, v: make_product(
        name="Redmi 13", category=v["laptops"], values=[[v["black"]]]
    ),
    "variant off": lambda made, v: _save(made["galaxy"].variants.first(), is_active=False),
    "variant deleted": lambda made, v: made["galaxy"].variants.first().delete(),
    "option added": lambda made, v: made["iphone"].variants.get().values.add(v["128gb"]),
    "option removed": lambda made, v: made["galaxy"].variants.first().values.clear(),
    "value's variants": lambda made, v: v["blue"].variants.set(
        ProductVariant.objects.filter(product=made["iphone"])
    ),
    "value's variants cleared": lambda made, v: v["black"].variants.clear(),
    "product off": lambda made, v: _save(made["galaxy"], is_active=False),
    "product moved": lambda made, v: _save(made["galaxy"], category=v["laptops"]),
    "brand changed": lambda made, v: _save(made["book"], brand=made["iphone"].brand),
    "product deleted": lambda made, v: made["book"].delete(),
    "value deleted": lambda made, v: v["black"].delete(),
    "variant sold out": lambda made, v: sell_out(made["iphone"].variants.get()),
    "last units ordered": lambda made, v: _order_all_of(made["book"].variants.get()),
}


def _order_all_of(variant):
    cart = Cart.objects.create()
    CartLine.objects.create(
        cart=cart, variant=variant, quantity=variant.stock_available, price_when_added=variant.price
    )
    return services.place_order(
        cart=cart, email="amina@example.com", phone="254712345678", address=ADDRESS
    )


def _save(obj, **fields):
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.save()


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_keeps_the_table_exact(catalogue, change):
    made, values = catalogue
    assert table() == counted_afresh()
    assert product_values() == product_values_afresh()
    before = table()
    CHANGES[change](made, values)
    assert table() == counted_afresh()
    assert product_values() == product_values_afresh()
    assert table() != before  # each change moves some count


def in_stock_of(product) -> int:
    return FacetCount.objects.get(
        category_id=product.category_id, brand_id=product.brand_id, value_id=0
    ).in_stock


def test_stock_running_out_and_coming_back_keeps_the_in_stock_counts_exact(catalogue):
    made, _ = catalogue
    iphone, book = made["iphone"], made["book"]
    sell_out(iphone.variants.get())
    assert in_stock_of(iphone) == 0 and table() == counted_afresh()
    services.stock.set_stock_on_hand(variant_id=iphone.variants.get().pk, on_hand=3)
    assert in_stock_of(iphone) == 1 and table() == counted_afresh()
    order = _order_all_of(book.variants.get())  # its last units, held for the order
    assert in_stock_of(book) == 0 and table() == counted_afresh()
    services.expire_order(order_id=order.pk, now=timezone.now() + timedelta(days=1))
    assert in_stock_of(book) == 1 and table() == counted_afresh()


def test_rebuilding_gives_the_same_table(catalogue):
    before, listed = table(), product_values()
    FacetCount.objects.all().update(products=99)
    ProductValue.objects.all().delete()
    services.rebuild_facet_counts()
    assert table() == before
    assert product_values() == listed == product_values_afresh()


@pytest.mark.parametrize(
    ("cleaned", "brands", "values"),
    [
        ({}, {"apple": 1, "samsung": 2}, {"colour:blue": 2, "colour:black": 2, "storage:128gb": 1}),
        (
            {"brand": ["samsung"]},
            {"apple": 1, "samsung": 2},
            {"colour:blue": 2, "colour:black": 1, "storage:128gb": 1},
        ),
        (
            {"v": ["colour:black"]},
            {"apple": 1, "samsung": 1},
            {"colour:blue": 2, "colour:black": 2, "storage:128gb": 1},
        ),
    ],
)
def test_counts_over_any_set_of_products_count_each_product_once(
    catalogue, cleaned, brands, values
):
    """Over a set of products that is no whole scope (a search's matches):
    counted from the products' values, each product once per value."""
    made, _values = catalogue
    ProductVariant.objects.create(  # a second Black 128 GB Galaxy, and a switched-off Blue one
        product=made["galaxy"], sku="GAL-2", name="Black 128", price=1
    ).values.set([_values["black"], _values["128gb"]])
    off = ProductVariant.objects.create(product=made["iphone"], sku="IPH-2", name="Blue", price=1)
    off.values.set([_values["blue"]])
    off.is_active = False
    off.save()
    matches = card_queryset().filter(pk__in=[p.pk for p in made.values()])
    assert facets_as_counts(queries.facets_for(matches, cleaned)) == (brands, values)


def test_a_listing_reads_the_table_not_the_products(catalogue, client):
    FacetCount.objects.filter(value_id=0).update(products=7)  # a marker only the table has
    html = client.get("/products/").content.decode()
    assert "(7)" in html
    html = client.get("/products/?v=colour:blue").content.decode()
    assert "(7)" not in html  # an option filter counts live


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/products/", 3),
        ("/products/?brand=samsung", 2),
        ("/products/?brand=nokia", 0),
        ("/c/phones/", 2),
        ("/c/phones/?brand=apple", 1),
        ("/brands/samsung/", 2),
    ],
)
def test_the_product_count_of_a_whole_scope_comes_from_the_table(catalogue, client, url, shown):
    html = client.get(url).content.decode()
    assert f"{shown} product" in html  # "1 product", "2 products"
    cards = html.count("<article")
    assert cards == shown
    services.rebuild_facet_counts()
    assert table() == counted_afresh()


def test_a_listing_counts_its_products_from_the_table(catalogue, client):
    FacetCount.objects.filter(value_id=0).update(products=70)
    assert "140 products" in client.get("/products/?brand=samsung").content.decode()
    # With an option filter the table does not describe the list: counted live.
    assert "1 product" in client.get("/products/?brand=samsung&v=storage:128gb").content.decode()


def test_a_list_of_what_is_in_stock_reads_the_table(catalogue, client):
    _made, values = catalogue
    # A marker only the table has: 7 in-stock products in each cell with Black.
    cells = FacetCount.objects.filter(value_id=values["black"].pk).update(in_stock=7)
    html = client.get("/products/?in_stock=true").content.decode()
    assert f'Black <span class="text-slate-500">({7 * cells})</span>' in html
    html = client.get("/products/?in_stock=true&v=colour:blue").content.decode()
    assert f'Black <span class="text-slate-500">({7 * cells})</span>' in html
    # A price range is counted live.
    html = client.get("/products/?in_stock=true&max_price=50000").content.decode()
    assert f"({7 * cells})" not in html
