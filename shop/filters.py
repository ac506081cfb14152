"""The product-list filters: one GET form for search, filters and sort.

Invalid values are dropped by the form (django-filter filters only on the
fields that validate), so a tampered or stale URL still gives a normal page.
"""

from decimal import Decimal
from functools import lru_cache

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from .models import ProductVariant
from .queries import matching_variants, option_groups, search_products

SORTS = {
    "featured": (_("Featured"), ["-is_featured", "-units_sold", "-created", "-id"]),
    "newest": (_("Newest"), ["-created", "-id"]),
    "price-asc": (_("Price: low to high"), ["price", "id"]),
    "price-desc": (_("Price: high to low"), ["-price", "-id"]),
    "popular": (_("Most popular"), ["-units_sold", "-id"]),
    "top-rated": (_("Top rated"), ["-rating_average", "-rating_count", "-id"]),
}
SORT_CHOICES = [(key, label) for key, (label, _order) in SORTS.items()]
MAX_PRICE = Decimal("10000000")


class SlugListField(forms.Field):
    """A list of short slugs from repeated GET parameters; junk is dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        cleaned = []
        for item in value:
            for part in str(item).split(","):
                part = part.strip().lower()[:80]
                if part and all(c.isalnum() or c in "-_:" for c in part):
                    cleaned.append(part)
        return cleaned[:30]


class SlugListFilter(django_filters.Filter):
    field_class = SlugListField


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label=_("Search"), max_length=100)
    # Search for the words as typed: no correction of misspellings.
    exact = django_filters.BooleanFilter(
        method="filter_exact",
        label=_("Search exactly as typed"),
        widget=django_filters.widgets.BooleanWidget,  # 1/true or 0/false; junk is neither
    )
    brand = SlugListFilter(method="filter_brand", label=_("Brand"))
    # The options, the price range and "in stock only" are asked of one
    # variant together (queries.matching_variants), in filter_queryset.
    v = SlugListFilter(method="filter_variants", label=_("Options"))
    min_price = django_filters.NumberFilter(
        method="filter_variants", label=_("Min price"), min_value=0, max_value=MAX_PRICE
    )
    max_price = django_filters.NumberFilter(
        method="filter_variants", label=_("Max price"), min_value=0, max_value=MAX_PRICE
    )
    in_stock = django_filters.BooleanFilter(
        method="filter_variants", label=_("In stock only"), widget=forms.CheckboxInput
    )
    sort = django_filters.ChoiceFilter(
        method="filter_sort", choices=SORT_CHOICES, label=_("Sort by"), empty_label=None
    )

    def __init__(self, *args, searched: bool = False, **kwargs):
        #: The queryset is already the search's matches (the search page's):
        #: ``q`` is not searched again.
        self.searched = searched
        super().__init__(*args, **kwargs)

    def filter_search(self, queryset, name, value):
        if self.searched:
            return queryset
        return search_products(queryset, value, exact=bool(self.cleaned.get("exact")))

    def filter_exact(self, queryset, name, value):
        return queryset  # read by filter_search

    def filter_brand(self, queryset, name, value):
        return queryset.filter(brand__slug__in=value) if value else queryset

    def filter_variants(self, queryset, name, value):
        return queryset  # applied together, in filter_queryset

    def filter_queryset(self, queryset):
        """Filter, then keep the products with a variant passing every variant filter.

        Each product then carries its matching variants' offer for its card:
        ``match_price`` and ``match_compare_at`` of the cheapest (and its id,
        ``match_variant_id``), and ``match_price_max`` of the dearest.
        """
        queryset = super().filter_queryset(queryset)
        variants = matching_variants(self.cleaned)
        if variants is None:
            return queryset
        matching = variants.filter(product=OuterRef("pk"))
        cheapest = matching.order_by("price", "pk")
        return queryset.filter(Exists(matching)).annotate(
            match_price=Subquery(cheapest.values("price")[:1]),
            match_compare_at=Subquery(cheapest.values("compare_at_price")[:1]),
            match_variant_id=Subquery(cheapest.values("pk")[:1]),
            match_price_max=Subquery(matching.order_by("-price").values("price")[:1]),
        )

    def filter_sort(self, queryset, name, value):
        return queryset  # applied last, in sorted_qs, so search rank can lead

    @property
    def cleaned(self) -> dict:
        """The values that validated; invalid ones are left out."""
        self.form.is_valid()
        return getattr(self.form, "cleaned_data", {})

    def sorted_qs(self):
        queryset = self.qs
        sort = self.cleaned.get("sort") or ""
        if sort in SORTS:
            ordering = SORTS[sort][1]
            if "match_price" in queryset.query.annotations:
                # By the price each card shows: its matching variants'.
                ordering = [
                    {"price": "match_price", "-price": "-match_price"}.get(o, o) for o in ordering
                ]
            if self.cleaned.get("q"):
                # Search results are few next to the catalogue: find them
                # through the search index, then sort them. Read in a sort's
                # index order instead, PostgreSQL would test every product
                # on the way (2 s for "pro max" at 100,000 products; 3 ms so).
                ordering = [_not_from_an_index(term) for term in ordering]
            return queryset.order_by(*ordering)
        if self.cleaned.get("q"):
            return queryset  # search ranks best matches first
        return queryset.order_by(*SORTS["featured"][1])

    @property
    def active_count(self) -> int:
        """Return how many filters are on: each brand and option, the price range, in stock."""
        cleaned = self.cleaned
        return (
            len(set(cleaned.get("brand") or []))
            + sum(len(set(slugs)) for slugs in option_groups(cleaned.get("v")).values())
            + (cleaned.get("min_price") is not None or cleaned.get("max_price") is not None)
            + bool(cleaned.get("in_stock"))
        )


def _not_from_an_index(term: str):
    """Return the ordering *term* as an expression no index provides (the same order)."""
    name = term.removeprefix("-")
    expression = Coalesce(F(name), F(name))
    return expression.desc() if term.startswith("-") else expression.asc()


#: The filters that shape a listing's facet counts (with its search).
FACET_FILTERS = ("brand", "v", "min_price", "max_price", "in_stock")

#: Listing pages deeper than this are rendered for each request, never stored:
#: with the cleaned filters, this bounds the entries one listing can make.
MAX_STORED_PAGE = 20


def listing_query(data) -> list[tuple[str, str]]:
    """Return a listing URL's parameters as its form cleans them, in one order.

    The listing's HTML depends on these alone: invalid values and unknown
    parameters are dropped, lists sorted, numbers written one way. Cleaning
    builds the whole filter form (about a sixth of a cached page's time), so the
    answers for the most recent parameters are kept in the process.
    """
    parameters = tuple(sorted((name, tuple(values)) for name, values in data.lists()))
    if sum(len(name) + sum(map(len, values)) for name, values in parameters) > 2000:
        return list(_cleaned_query.__wrapped__(parameters))  # not kept: a junk URL
    return list(_cleaned_query(parameters))


@lru_cache(maxsize=2048)
def _cleaned_query(parameters: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple:
    data = MultiValueDict({name: list(values) for name, values in parameters})
    cleaned = ProductFilter(data, queryset=ProductVariant.objects.none()).cleaned
    query: list[tuple[str, str]] = []
    search = " ".join((cleaned.get("q") or "").split())
    if search:
        query.append(("q", search))
        if cleaned.get("exact"):
            query.append(("exact", "1"))
    for name in ("brand", "v"):
        query.extend((name, value) for value in sorted(set(cleaned.get(name) or [])))
    for name in ("min_price", "max_price"):
        if cleaned.get(name) is not None:
            query.append((name, format(cleaned[name].normalize(), "f")))
    if cleaned.get("in_stock"):
        query.append(("in_stock", "true"))
    if cleaned.get("sort"):
        query.append(("sort", cleaned["sort"]))
    page = listing_page(data)
    if page > 1:
        query.append(("page", str(page)))
    return tuple(query)


def listing_page(data) -> int:
    """Return the page number a listing URL asks for (1 when it asks none or nonsense)."""
    try:
        page = int(str(data.get("page", "")).strip())
    except ValueError:
        return 1
    return max(page, 1)
