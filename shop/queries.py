"""Composed reads of the catalogue: the category tree, search and facets."""

from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, QuerySet
from django.urls import reverse

from . import fragments, search
from .models import AttributeValue, Brand, Category

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
    ranked full-text search over the product's search text; when no product
    matches every word, trigram word similarity finds near spellings instead
    ("samsnug", "galaxi"). On SQLite: every word must appear somewhere in
    the search text.
    """
    query = search.correct_query(query, exact=exact).searched
    if not query:
        return queryset
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import (
            SearchQuery,
            SearchRank,
            SearchVector,
            TrigramWordSimilarity,
        )

        vector = SearchVector("search_text", config="simple")
        search_query = SearchQuery(query, config="simple", search_type="websearch")
        exact_matches = queryset.annotate(search_vector=vector).filter(search_vector=search_query)
        if exact_matches.exists():
            return exact_matches.annotate(rank=SearchRank(vector, search_query)).order_by(
                "-rank", "-units_sold", "-id"
            )
        return (
            queryset.filter(search_text__trigram_word_similar=query)
            .annotate(similarity=TrigramWordSimilarity(query, "search_text"))
            .order_by("-similarity", "-units_sold", "-id")
        )
    for word in query.split():
        queryset = queryset.filter(search_text__contains=word)
    return queryset


@dataclass
class Facets:
    brands: list
    values: list


def facets_for(scope: QuerySet) -> Facets:
    """Return the brands and attribute values present among *scope*'s products.

    Two grouped queries, independent of the number of products.
    """
    brand_rows = (
        Brand.objects.filter(products__in=scope.values("pk"))
        .annotate(product_count=Count("products"))
        .order_by("name")
    )
    value_rows = (
        AttributeValue.objects.filter(
            variants__product__in=scope.values("pk"), variants__is_active=True
        )
        .select_related("attribute")
        .annotate(product_count=Count("variants__product", distinct=True))
        .order_by("attribute__sort_order", "attribute__name", "sort_order", "value")
    )
    return Facets(brands=list(brand_rows), values=list(value_rows))
