"""Composed reads of the catalogue: the category tree, search and facets."""

from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.urls import reverse

from . import fragments, search
from .models import (
    AttributeValue,
    Brand,
    Category,
    FacetCount,
    ProductImage,
    ProductValue,
    ProductVariant,
)

CATEGORY_TREE_KEY = "shop:category-tree:v2"
CATEGORY_TREE_SECONDS = 300


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    parent_id: int | None
    sort_order: int
    image: str
    url: str
    children: list["CategoryNode"] = field(default_factory=list)

    def get_absolute_url(self) -> str:
        return self.url


@dataclass
class CategoryTree:
    by_id: dict[int, CategoryNode]
    roots: list[CategoryNode]
    #: Its header links as rendered, per language and script prefix.
    navigation: dict[tuple[str, str], str] = field(default_factory=dict)

    def by_slug(self, slug: str) -> CategoryNode | None:
        return next((n for n in self.by_id.values() if n.slug == slug), None)

    def ancestors(self, node: CategoryNode) -> list[CategoryNode]:
        """Return the path from the root down to *node*, *node* included."""
        path = []
        seen = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            path.append(node)
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        return list(reversed(path))

    def descendant_ids(self, node: CategoryNode) -> list[int]:
        ids, stack = [], [node]
        while stack:
            current = stack.pop()
            if current.id in ids:
                continue
            ids.append(current.id)
            stack.extend(current.children)
        return ids


# The tree a process built last, with the catalogue version it was built
# under: every category change bumps the version, so while the version
# stands the tree is reused as it is (no cache round trip, no rebuilding).
_built: tuple[int, "CategoryTree"] | None = None


def category_tree(request=None) -> CategoryTree:
    """Return the active categories as a tree, from the cache when warm.

    One query when cold, none when warm, whatever the catalogue size. The
    rows are cached with their URLs. With *request*, the catalogue version
    it already read (``fragments.request_version``) tells whether this
    process's last tree still stands.
    """
    global _built
    version, settled = fragments.request_version(request)
    built = _built
    if built is not None and built[0] == version:
        return built[1]
    rows = cache.get(CATEGORY_TREE_KEY)
    if rows is None:
        rows = list(
            Category.objects.filter(is_active=True).values(
                "id", "name", "slug", "parent_id", "sort_order", "image"
            )
        )
        for row in rows:  # every page's navigation links them: reverse once, here
            row["url"] = reverse("shop:category-detail", kwargs={"slug": row["slug"]})
        cache.set(CATEGORY_TREE_KEY, rows, CATEGORY_TREE_SECONDS)
    nodes = {row["id"]: CategoryNode(**row) for row in rows}
    roots = []
    for node in sorted(nodes.values(), key=lambda n: (n.sort_order, n.name)):
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)
    tree = CategoryTree(by_id=nodes, roots=roots)
    if settled:  # rows read right after a change may predate its commit
        _built = (version, tree)
    return tree


def forget_category_tree() -> None:
    global _built
    _built = None
    cache.delete(CATEGORY_TREE_KEY)


def search_products(queryset: QuerySet, query: str, *, exact: bool = False) -> QuerySet:
    """Filter *queryset* to products matching *query*, best matches first.

    Misspelt words are first corrected to the catalogue's own words
    (``shop.search.correct_query``; none with *exact*). On PostgreSQL:
    ranked full-text search over the product's stored search vector (the
    words of its search text); when no product matches every word, trigram
    word similarity finds near spellings instead ("samsnug", "galaxi"). On
    SQLite: every word must appear somewhere in the search text.
    """
    query = search.correct_query(query, exact=exact).searched
    if not query:
        return queryset
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity

        search_query = SearchQuery(query, config="simple", search_type="websearch")
        exact_matches = queryset.filter(search_vector=search_query)
        if exact_matches.exists():
            return exact_matches.annotate(
                rank=SearchRank(F("search_vector"), search_query)
            ).order_by("-rank", "-units_sold", "-id")
        return (
            queryset.filter(search_text__trigram_word_similar=query)
            .annotate(similarity=TrigramWordSimilarity(query, "search_text"))
            .order_by("-similarity", "-units_sold", "-id")
        )
    for word in query.split():
        queryset = queryset.filter(search_text__contains=word)
    return queryset


def option_groups(tokens) -> dict[str, list[str]]:
    """Group ``attribute:value`` filter tokens by attribute, in the order given."""
    groups: dict[str, list[str]] = {}
    for token in tokens or []:
        attribute, _, slug = token.partition(":")
        if attribute and slug:
            groups.setdefault(attribute, []).append(slug)
    return groups


FACET_ROWS_SECONDS = 300


def attribute_value_ids() -> dict[str, dict[str, int]]:
    """Return ``{attribute slug: {value slug: value id}}``, from ``facet_rows`` (no query).

    Filters name values by slug; asking the database by id lets it plan with
    what it knows of each value (how many variants have it) instead of an
    average, which made a search with an option filter 100 times slower.
    """
    table: dict[str, dict[str, int]] = {}
    for value in facet_rows()[1]:
        table.setdefault(value.attribute.slug, {})[value.slug] = value.pk
    return table


def matching_variants(cleaned: dict, *, except_attribute: str | None = None) -> QuerySet | None:
    """Return the active variants a listing's variant filters accept, or None without any.

    The variant filters are the options (``v``), the price range and "in
    stock only". One variant must pass them all: within an attribute any of
    the values asked for, across attributes every one, a price in the range,
    and units available with in stock only. "256 GB" with "Blue" finds a
    256 GB Blue phone, not a phone with a 256 GB Black and a 128 GB Blue
    variant. *except_attribute* leaves that attribute's choices out (facet
    counts).
    """
    variants = ProductVariant.objects.filter(is_active=True)
    applied = False
    groups = option_groups(cleaned.get("v"))
    known = attribute_value_ids() if groups else {}
    for attribute, slugs in groups.items():
        if attribute != except_attribute:
            ids = [known[attribute][s] for s in slugs if s in known.get(attribute, {})]
            # One filter() per attribute: each gets its own join to the values.
            # No known value (a stale link): nothing matches, as with any filter.
            variants = variants.filter(values__in=ids) if ids else variants.none()
            applied = True
    if cleaned.get("min_price") is not None:
        variants = variants.filter(price__gte=cleaned["min_price"])
        applied = True
    if cleaned.get("max_price") is not None:
        variants = variants.filter(price__lte=cleaned["max_price"])
        applied = True
    if cleaned.get("in_stock"):
        variants = variants.filter(stock_on_hand__gt=F("stock_allocated"))
        applied = True
    return variants if applied else None


@dataclass
class Facets:
    brands: list
    values: list

    def products(self, brands_ticked) -> int:
        """Return how many products the listing they describe shows.

        Each brand's count is over every filter but the brand filter, so the
        listing's products are the ticked brands' counts added up (every
        brand's, with none ticked): the paginator needs no count of its own.
        """
        ticked = set(brands_ticked or [])
        return sum(b.product_count for b in self.brands if not ticked or b.slug in ticked)


def facets_for(scope: QuerySet, cleaned: dict | None = None, cells: Q | None = None) -> Facets:
    """Return the brands and attribute values to offer over *scope*, with counts.

    Disjunctive counts: each number is how many products the list would show
    with that box ticked too. The brand counts are over the products matching
    every filter in *cleaned* but the brand filter (options, price, in stock;
    *scope* carries the search), and each attribute's counts over the
    products matching every filter but that attribute's own choices. Values
    that would find nothing are left out, unless ticked: a ticked value stays
    listed, even at 0, so it can be unticked.

    *cells* says that *scope* is a whole category, brand or the catalogue
    (a ``FacetCount`` filter; ``Q()`` for everything). With no filter on
    options, price or stock, the counts are then added up from the facet
    count table, at a cost that does not grow with the catalogue. Otherwise
    they are counted over the products and variants the filters leave, each
    in one grouped query: one for the brands, one for the attributes with
    nothing ticked and one per attribute with something ticked, then one
    each for the brand and value rows shown.
    """
    cleaned = cleaned or {}
    brands_ticked = sorted(set(cleaned.get("brand") or []))
    groups = option_groups(cleaned.get("v"))
    variants = matching_variants(cleaned)
    if _counted(cells, cleaned):
        return _counted_facets(cells, brands_ticked, in_stock=bool(cleaned.get("in_stock")))

    # Brands: every filter but the brand filter.
    brand_scope = (
        scope if variants is None else scope.filter(Exists(variants.filter(product=OuterRef("pk"))))
    )
    # Grouped as they are found: no sort, rank or card annotation is kept.
    per_brand = dict(brand_scope.order_by().values_list("brand_id").annotate(n=Count("pk")))

    # Attribute values: counted over variants, since one variant must match.
    products = scope.filter(brand__slug__in=brands_ticked) if brands_ticked else scope

    def per_value(except_attribute: str | None = None) -> dict[int, int]:
        pool = matching_variants(cleaned, except_attribute=except_attribute)
        others = matching_variants(
            {**cleaned, "in_stock": False}, except_attribute=except_attribute
        )
        if except_attribute and others is None and _counted(cells, {}):
            # Its own choices are this attribute's only option or price
            # filter: its counts are the whole scope's (of the products in
            # stock, with that filter), in the facet count table.
            return _table_value_counts(
                cells,
                brands_ticked,
                _values_of([except_attribute]),
                in_stock=bool(cleaned.get("in_stock")),
            )
        if pool is None:
            # Any variant will do: one row per product and value to count.
            rows = ProductValue.objects.filter(product__in=products.values("pk"))
            if except_attribute is None:
                rows = rows.exclude(value_id__in=_values_of(groups))
            else:
                rows = rows.filter(value_id__in=_values_of([except_attribute]))
            return dict(rows.values_list("value_id").annotate(n=Count("pk")).order_by())
        links = ProductVariant.values.through.objects.filter(
            productvariant__in=pool.filter(product__in=products.values("pk")).values("pk")
        )
        if except_attribute is None:
            links = links.exclude(attributevalue_id__in=_values_of(groups))
        else:
            links = links.filter(attributevalue_id__in=_values_of([except_attribute]))
        return dict(
            links.values_list("attributevalue_id")
            .annotate(n=Count("productvariant__product_id", distinct=True))
            .order_by()
        )

    counts = per_value()
    for attribute in groups:
        counts.update(per_value(except_attribute=attribute))
    return _facets(per_brand, counts, brands_ticked, groups)


def _values_of(attributes) -> list[int]:
    """Return the ids of the values of these attribute slugs (``facet_rows``: no query)."""
    known = attribute_value_ids()
    return [pk for attribute in attributes for pk in known.get(attribute, {}).values()]


def _counted(cells: Q | None, cleaned: dict) -> bool:
    """Return whether the facet count table describes the listing of *cells* under *cleaned*.

    It does for a whole category, brand or the catalogue with no search and
    no option or price filter (a brand filter and "in stock only" are fine),
    unless sold-out products are hidden: the table counts them too.
    """
    return (
        cells is not None
        and not cleaned.get("q")
        and matching_variants({**cleaned, "in_stock": False}) is None
        and not settings.HIDE_SOLD_OUT_PRODUCTS
    )


def _counted_facets(cells: Q, brands_ticked: list[str], *, in_stock: bool) -> Facets:
    """Return the facets of the products in *cells*, from the facet count table.

    The counts ``facets_for`` gives when no option or price filter is on:
    the brands over the whole scope, the values over the brands ticked (over
    all without any); of the products in stock only with *in_stock*.
    """
    column = "in_stock" if in_stock else "products"
    rows = FacetCount.objects.filter(cells).order_by()
    per_brand = dict(rows.filter(value_id=0).values_list("brand_id").annotate(n=Sum(column)))
    counts = _table_value_counts(cells, brands_ticked, in_stock=in_stock)
    return _facets(per_brand, counts, brands_ticked, {})


def _table_value_counts(
    cells: Q, brands_ticked: list[str], value_ids: list[int] | None = None, *, in_stock: bool
) -> dict[int, int]:
    """Return ``{value id: products}`` in *cells* from the facet count table.

    Over the brands ticked (all without any), for *value_ids* (every value
    when None); with *in_stock*, the products with a variant in stock that
    has the value.
    """
    rows = FacetCount.objects.filter(cells).exclude(value_id=0).order_by()
    if value_ids is not None:
        rows = rows.filter(value_id__in=value_ids)
    if brands_ticked:
        rows = rows.filter(brand_id__in=Brand.objects.filter(slug__in=brands_ticked).values("pk"))
    column = "in_stock" if in_stock else "products"
    return dict(rows.values_list("value_id").annotate(n=Sum(column)))


def _facets(per_brand: dict, per_value: dict, brands_ticked: list, groups: dict) -> Facets:
    """Return the brand and value rows with their counts: those above 0, and the ticked ones.

    The rows come from ``facet_rows`` (cached per catalogue version): no query.
    """
    brand_rows, value_rows = facet_rows()
    brands = [
        FacetBrand(brand.pk, brand.slug, brand.name, per_brand.get(brand.pk, 0))
        for brand in brand_rows  # by name
        if per_brand.get(brand.pk) or brand.slug in brands_ticked
    ]
    values = [
        FacetValue(value.pk, value.slug, value.value, value.attribute, per_value.get(value.pk, 0))
        for value in value_rows  # in the order the sidebar shows them
        if per_value.get(value.pk) or value.slug in groups.get(value.attribute.slug, ())
    ]
    return Facets(brands=brands, values=values)


# The sidebar's rows, as plain data: they are cached with every listing's
# facets, and pickling model instances cost milliseconds per listing.


class FacetBrand(NamedTuple):
    pk: int
    slug: str
    name: str
    product_count: int = 0


class FacetAttribute(NamedTuple):
    pk: int
    slug: str
    name: str


class FacetValue(NamedTuple):
    pk: int
    slug: str
    value: str
    attribute: FacetAttribute
    product_count: int = 0


def facet_rows() -> tuple[list[FacetBrand], list[FacetValue]]:
    """Return every brand (by name) and attribute value (in sidebar order), cached per version."""

    def read():
        values = list(AttributeValue.objects.select_related("attribute"))
        values.sort(key=lambda v: (v.attribute.sort_order, v.attribute.name, v.sort_order, v.value))
        attributes = {}
        for v in values:
            a = v.attribute
            attributes.setdefault(a.pk, FacetAttribute(a.pk, a.slug, a.name))
        brands = Brand.objects.order_by("name").values_list("pk", "slug", "name")
        return (
            [FacetBrand(*brand) for brand in brands],
            [FacetValue(v.pk, v.slug, v.value, attributes[v.attribute_id]) for v in values],
        )

    return fragments.versioned("shop:facet-rows:v2", read, FACET_ROWS_SECONDS)


def variant_pictures(
    images: list[ProductImage], variant_id: int | None, looks: dict[int, dict[int, int]]
) -> list[ProductImage]:
    """Return the pictures to show when *variant_id* is the variant chosen, in order.

    The variant's own pictures come first, then the product's general ones
    (those of no variant); the other variants' pictures are left out. A
    variant with no picture of its own takes those of the variants it looks
    like: where the variants that have pictures differ (in colour, say), it
    takes the pictures of the one it agrees with there, so a 256 GB Blue phone
    shows the 128 GB Blue one's. With nothing to show, every picture of the
    product is shown, the primary first. *looks* maps variant ids to their
    ``{attribute id: value id}``; pictures of variants missing from it are
    never borrowed.
    """
    ordered = sorted(images, key=lambda i: (not i.is_primary, i.sort_order, i.pk))
    own = [i for i in ordered if variant_id is not None and i.variant_id == variant_id]
    if not own and variant_id is not None:
        alike = _look_alikes(variant_id, {i.variant_id for i in ordered} & looks.keys(), looks)
        own = [i for i in ordered if i.variant_id in alike]
    general = [i for i in ordered if i.variant_id is None]
    return own + general or ordered


def _look_alikes(variant_id: int, pictured: set[int], looks: dict[int, dict[int, int]]) -> set:
    """Return the pictured variants that agree with *variant_id* where pictures differ."""
    if len(pictured) < 2:
        return set()  # one picture set tells nothing of what it shows
    differing = {
        attribute
        for attribute in set().union(*(looks[v] for v in pictured))
        if len({looks[v].get(attribute) for v in pictured}) > 1
    }
    mine = looks.get(variant_id, {})
    return {v for v in pictured if all(a in mine and looks[v].get(a) == mine[a] for a in differing)}


def variant_looks(variant_ids) -> dict[int, dict[int, int]]:
    """Return ``{variant id: {attribute id: value id}}`` for *variant_ids*, in one query."""
    looks: dict[int, dict[int, int]] = {v: {} for v in variant_ids}
    if looks:
        rows = ProductVariant.values.through.objects.filter(
            productvariant_id__in=list(looks)
        ).values_list("productvariant_id", "attributevalue__attribute_id", "attributevalue_id")
        for variant_id, attribute_id, value_id in rows:
            looks[variant_id][attribute_id] = value_id
    return looks
