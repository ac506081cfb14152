"""Business rules of the catalogue."""

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Prefetch, Q

from storefront import locks

from .. import fragments
from ..fragments import catalogue_changed
from ..models import Category, FacetCount, Product, ProductValue, ProductVariant
from ..models.catalogue import available_variants
from ..queries import attribute_value_ids, category_tree, option_groups

#: Past this many products at once, a change marks the whole catalogue
#: instead (a bulk edit): fewer cache writes, and most pages change anyway.
MAX_MARKED_PRODUCTS = 100


def list_scopes(product_ids: Iterable[int]) -> set[str]:
    """Return the list scopes of these products: all, their brands, their categories up the tree.

    One query. The scopes are those the listing views name (``shop.views.catalogue``).
    """
    tree = category_tree()
    scopes = set()
    rows = Product.objects.filter(pk__in=list(product_ids)).values_list(
        "category_id", "brand__slug"
    )
    for category_id, brand_slug in rows:
        scopes.update(_scopes_of(tree, category_id, brand_slug))
    return scopes


def _scopes_of(tree, category_id: int, brand_slug: str) -> set[str]:
    scopes = {"all", f"brand:{brand_slug}"}
    node = tree.by_id.get(category_id)
    if node is not None:
        scopes.update(f"category:{n.id}" for n in tree.ancestors(node))
    return scopes


def stock_scope(scope: str, *, brand: str | None = None, value: int | None = None) -> str:
    """Return the name of *scope*'s lists that show only what is in stock.

    With *brand* or *value*: those of them that a variant of that brand, or
    with that option value, running out or coming back can change
    (``listing_scopes``).
    """
    if brand is not None:
        return f"{scope}+in-stock+brand:{brand}"
    if value is not None:
        return f"{scope}+in-stock+value:{value}"
    return f"{scope}+in-stock"


def listing_scopes(scope: str, query: list[tuple[str, str]]) -> tuple[str, ...]:
    """Return the list scopes a listing of *scope* under *query* (cleaned pairs) is stale with.

    Every list is stale with its scope. One filtered to what is in stock is
    also stale when a variant of the scope runs out or comes back
    (``stock_changed``), if that can change it: its products, their count or
    a facet count. Which variants can:

    - With two attributes' options ticked or more: only variants with one of
      the ticked values. Every count and product shown is over variants that
      match all ticked attributes, or all but one of them (an attribute's own
      counts), so a variant with none of the values is in none of them.
    - With one attribute's options ticked and brands ticked: a variant with
      one of the values (the products, the brand and other attributes'
      counts) or of one of the brands (the attribute's own counts, over the
      ticked brands' products).
    - Otherwise any variant of the scope.
    """
    if ("in_stock", "true") not in query:
        return (scope,)
    ticked = option_groups([v for name, v in query if name == "v"])
    brands = sorted({b for name, b in query if name == "brand"})
    if len(ticked) < 2 and not (ticked and brands):
        return (scope, stock_scope(scope))
    known = attribute_value_ids()  # cached with the catalogue version: no query
    values = sorted(
        {
            known[attribute][slug]
            for attribute, slugs in ticked.items()
            for slug in slugs
            if slug in known.get(attribute, {})
        }
    )
    marks = [stock_scope(scope, value=pk) for pk in values]
    if len(ticked) == 1:
        marks += [stock_scope(scope, brand=brand) for brand in brands]
    return (scope, *marks)


def stock_marks(variant_ids: Iterable[int]) -> set[str]:
    """Return the list scopes stale when these variants run out or come back (one query).

    For each list scope of each variant's product: its in-stock lists as a
    whole, and those of the product's brand and of each of the variant's
    option values (``listing_scopes``).
    """
    tree = category_tree()
    marks = set()
    rows = ProductVariant.objects.filter(pk__in=list(variant_ids)).values_list(
        "product__category_id", "product__brand__slug", "values"
    )
    for category_id, brand_slug, value_id in rows:
        for scope in _scopes_of(tree, category_id, brand_slug):
            marks.add(stock_scope(scope))
            marks.add(stock_scope(scope, brand=brand_slug))
            if value_id is not None:
                marks.add(stock_scope(scope, value=value_id))
    return marks


def products_changed(
    product_ids: Iterable[int], *, listings: bool = False, crossed: Iterable[int] = ()
) -> None:
    """Make the cached pages that show these products stale.

    With *listings* (the change can move a product into, out of or within a
    list, or change its facet counts: a price, a variant or its options, a
    rating), also every list the products are in. With *crossed*, variants
    that ran out or came back: the lists filtered to what is in stock that
    this can change (``stock_marks``); no other list's products, order,
    count or facets depend on stock. Other pages stay cached. Call it inside
    the changing transaction (see ``shop.fragments``).
    """
    ids = set(product_ids)
    if not ids:
        return
    if len(ids) > MAX_MARKED_PRODUCTS:
        catalogue_changed()
        return
    if listings:
        scopes = list_scopes(ids)
    elif crossed:
        scopes = stock_marks(crossed)
    else:
        scopes = set()
    fragments.products_changed(ids, scopes)


def stock_changed(changes: Iterable[tuple[ProductVariant, int, int]]) -> None:
    """Mark the pages showing these variants' stock stale, if what they show changed.

    *changes* are ``(variant, units available before, units available
    after)``. A product page says "In stock" above a variant's low-stock
    threshold, "Only N left" at or below it and "Out of stock" at none, so a
    change shows only when the smaller of the two figures is at or below the
    threshold: then the pages showing the product are stale. Lists change
    ("in stock only", sold-out cards, hidden sold-out products) only when a
    variant runs out or comes back, and so do the in-stock facet counts, which
    are then counted again here. Most stock changes mark nothing.
    """
    shown: set[int] = set()
    crossed: dict[int, int] = {}  # variant: product
    for variant, before, after in changes:
        if variant.runs_low_at(min(before, after)):
            shown.add(variant.product_id)
        if (before > 0) != (after > 0):
            crossed[variant.pk] = variant.product_id
    if crossed:
        recount_facets(
            Product.objects.filter(pk__in=set(crossed.values())).values_list(
                "category_id", "brand_id"
            )
        )
    if settings.HIDE_SOLD_OUT_PRODUCTS:  # every list leaves sold-out products out
        products_changed(shown, listings=bool(crossed))
    else:
        products_changed(shown, crossed=crossed)


@transaction.atomic
def refresh_product_summaries(*, product_ids: Iterable[int]) -> int:
    """Recompute the denormalised price and search text of the given products.

    Cards, the price filter and the price sort read ``Product.price`` (the
    cheapest active variant) so that listing pages need no aggregate over
    variants; search reads ``Product.search_text``. Call this after changing
    variants, specifications, names, brand or category. Marks the products'
    pages and lists stale (``bulk_update`` sends no signals). Return the
    number of products updated.
    """
    ids = list(product_ids)
    if not ids:
        return 0
    categories = {c.pk: c for c in Category.objects.only("id", "name", "parent_id")}
    products = (
        Product.objects.filter(pk__in=ids)
        .select_related("brand")
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=ProductVariant.objects.prefetch_related("values").order_by("price", "id"),
            ),
            "specifications",
        )
    )
    changed = []
    for product in products:
        active = [v for v in product.variants.all() if v.is_active]
        cheapest = active[0] if active else None
        product.price = cheapest.price if cheapest else 0
        product.compare_at_price = (
            cheapest.compare_at_price
            if cheapest and cheapest.compare_at_price and cheapest.compare_at_price > cheapest.price
            else None
        )
        words = [product.name, product.brand.name, product.summary]
        category = categories.get(product.category_id)
        while category is not None:
            words.append(category.name)
            category = categories.get(category.parent_id)
        for variant in product.variants.all():
            words.extend([variant.sku, variant.name])
            words.extend(value.value for value in variant.values.all())
        for spec in product.specifications.all():
            words.extend([spec.name, spec.value])
        product.search_text = " ".join(w for w in words if w).lower()
        changed.append(product)
    Product.objects.bulk_update(changed, ["price", "compare_at_price", "search_text"])
    recount_facets_of(ids)
    products_changed(ids, listings=True)
    return len(changed)


# Facet counts -------------------------------------------------------------------


def _cells(pairs, prefix: str = "") -> Q:
    return reduce(or_, (Q(**{f"{prefix}category_id": c, f"{prefix}brand_id": b}) for c, b in pairs))


def _count(pairs=None) -> list[FacetCount]:
    """Count the facet cells of *pairs* of (category id, brand id), or of every pair."""
    products = Product.objects.filter(is_active=True)
    links = ProductVariant.values.through.objects.filter(
        productvariant__is_active=True, productvariant__product__is_active=True
    )
    if pairs is not None:
        products = products.filter(_cells(pairs))
        links = links.filter(_cells(pairs, "productvariant__product__"))
    rows = [
        FacetCount(category_id=c, brand_id=b, value_id=0, products=n, in_stock=s)
        for c, b, n, s in products.values_list("category_id", "brand_id")
        .annotate(n=Count("pk"), s=Count("pk", filter=Exists(available_variants())))
        .order_by()
    ]
    variant_in_stock = Q(productvariant__stock_on_hand__gt=F("productvariant__stock_allocated"))
    rows.extend(
        FacetCount(category_id=c, brand_id=b, value_id=v, products=n, in_stock=s)
        for c, b, v, n, s in links.values_list(
            "productvariant__product__category_id",
            "productvariant__product__brand_id",
            "attributevalue_id",
        )
        .annotate(
            n=Count("productvariant__product_id", distinct=True),
            s=Count("productvariant__product_id", distinct=True, filter=variant_in_stock),
        )
        .order_by()
    )
    return rows


@transaction.atomic(savepoint=False)
def recount_facets(pairs: Iterable[tuple[int, int]]) -> None:
    """Count again the facet cells of these (category id, brand id) pairs.

    Call it in the transaction that changed products, variants or their
    options, with the pairs they were in before and after (None and
    incomplete pairs are skipped). Recounts are
    serialised (one advisory lock on PostgreSQL), and each counts after
    taking the lock, so it sees every recount committed before it.
    """
    pairs = {tuple(pair) for pair in pairs if pair and all(pair)}
    if not pairs:
        return
    locks.lock_keys("shop:facet-counts")
    _count_cells(pairs)


def _count_cells(pairs: set[tuple[int, int]]) -> None:
    """Write the facet count rows of *pairs* afresh (under the facet count lock)."""
    FacetCount.objects.filter(_cells(pairs)).delete()
    FacetCount.objects.bulk_create(_count(pairs), batch_size=1000)


@transaction.atomic
def recount_facets_of(product_ids: Iterable[int]) -> None:
    """Count again the facets of these products: their option values, their cells.

    Call it in the transaction that changed their variants or options.
    """
    ids = list(product_ids)
    if not ids:
        return
    locks.lock_keys("shop:facet-counts")
    _list_values(ids)
    products = Product.objects.filter(pk__in=ids)
    pairs = set(products.values_list("category_id", "brand_id").distinct())
    if pairs:
        _count_cells(pairs)


def _list_values(product_ids: list[int] | None) -> None:
    """Write the ``ProductValue`` rows of these products (of every product with None).

    One ``INSERT … SELECT DISTINCT`` after a delete, so that a bulk load's
    millions of rows never pass through Python.
    """
    rows = ProductValue.objects.all()
    if product_ids is not None:
        rows = rows.filter(product_id__in=product_ids)
    rows.delete()
    links = ProductVariant.values.through._meta.db_table
    variants = ProductVariant._meta.db_table
    sql = (
        f"INSERT INTO {ProductValue._meta.db_table} (product_id, value_id) "
        f"SELECT DISTINCT v.product_id, l.attributevalue_id FROM {links} l "
        f"JOIN {variants} v ON v.id = l.productvariant_id WHERE v.is_active = %s"
    )
    params: list = [True]
    if product_ids is not None:
        sql += f" AND v.product_id IN ({', '.join(['%s'] * len(product_ids))})"
        params.extend(product_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def rebuild_facet_counts() -> int:
    """Count every facet afresh (after a bulk load, or to repair); return the cells' rows."""
    locks.lock_keys("shop:facet-counts")
    _list_values(None)
    FacetCount.objects.all().delete()
    return len(FacetCount.objects.bulk_create(_count(), batch_size=1000))
