"""Catalogue pages: thin views that pick a page or an htmx fragment.

The expensive, visitor-independent parts of each page (cards, listing,
gallery and specifications) come from ``shop.fragments``, cached per URL
and catalogue version; the views add the per-visitor rest.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache as memoize

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from storefront.htmx import wants_fragment
from storefront.web import int_or_none

from .. import fragments, recently_viewed, services
from ..filters import (
    FACET_FILTERS,
    MAX_STORED_PAGE,
    SORT_CHOICES,
    ProductFilter,
    listing_page,
    listing_query,
)
from ..fragments import Fragment
from ..models import (
    AttributeValue,
    Banner,
    Brand,
    Product,
    ProductImage,
    ProductVariant,
    Review,
)
from ..queries import category_tree, facets_for, search_products, variant_pictures
from ..search import Correction, correct_query

CARD_FIELDS = (
    "id",
    "name",
    "slug",
    "price",
    "compare_at_price",
    "is_new",
    "is_hot",
    "brand__name",
    "brand__slug",
    "created",
    "rating_average",
    "rating_count",
)


def attach_primary_images(products: list[Product]) -> list[Product]:
    """Give each product its ``primary_images`` in one query for all of them."""
    if not products:
        return products
    images: dict[int, list[ProductImage]] = {}
    for image in ProductImage.objects.filter(
        product_id__in=[p.pk for p in products], is_primary=True
    ):
        images.setdefault(image.product_id, []).append(image)
    for product in products:
        product.primary_images = images.get(product.pk, [])
    return products


def card_queryset():
    products = Product.objects.active().with_stock()
    if settings.HIDE_SOLD_OUT_PRODUCTS:
        # Listings skip them; their own page still opens (and says sold out).
        products = products.in_stock_only()
    # The dearest active variant's price: a card says "from" when it is above
    # Product.price (the cheapest's).
    dearest = ProductVariant.objects.filter(product=OuterRef("pk"), is_active=True)
    return (
        products.select_related("brand")
        .only(*CARD_FIELDS)
        .annotate(price_max=Subquery(dearest.order_by("-price").values("price")[:1]))
    )


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    page = fragments.fragment(
        request, "home", lambda: _home_fragment(request), query=[], scopes=("all",)
    )
    return fragments.respond(
        request,
        page,
        "shop/home.html",
        lambda: {
            "page": page,
            "recently_viewed": attach_primary_images(
                _products_in_order(recently_viewed.product_ids(request))
            ),
        },
    )


def _home_fragment(request: HttpRequest) -> Fragment:
    """Render the home page's shelves and brands, the same for every visitor."""
    now = timezone.now()
    shelves = {
        "featured": card_queryset().filter(is_featured=True).order_by("-created", "-id")[:8],
        "new_arrivals": card_queryset().order_by("-created", "-id")[:8],
        "best_sellers": card_queryset().order_by("-units_sold", "-id")[:8],
    }
    shelves = {name: list(qs) for name, qs in shelves.items()}
    products = [p for products in shelves.values() for p in products]
    attach_primary_images(products)
    banners = list(Banner.objects.live(now))
    # The page changes when a banner starts or ends: keep it no longer.
    upcoming = Banner.objects.filter(is_active=True).aggregate(
        start=Min("starts_at", filter=Q(starts_at__gt=now)),
        end=Min("ends_at", filter=Q(ends_at__gt=now)),
    )
    context = {
        **shelves,
        "hero_banners": [b for b in banners if b.placement == Banner.Placement.HERO],
        "promo_banners": [b for b in banners if b.placement == Banner.Placement.PROMO],
        "top_categories": category_tree(request).roots[:8],
        "brands": Brand.objects.filter(is_featured=True).order_by("name")[:12],
    }
    return Fragment(
        parts={
            "shelves": fragments.render_part("shop/home.html#shelves", context, request),
            "brands": fragments.render_part("shop/home.html#brands", context, request),
        },
        product_ids=frozenset(p.pk for p in products),
        data={},
        expires=min((t for t in upcoming.values() if t is not None), default=None),
    )


FACETS_SECONDS = 300


@dataclass
class Scope:
    """What a list page lists: its products, title and sidebar counts."""

    products: QuerySet
    title: str
    facet_key: str
    facet_products: QuerySet | None = None
    #: When it lists a whole category, brand or the catalogue: its facet
    #: count cells (``queries.facets_for``).
    cells: Q | None = None
    #: The search page: *products* are already the search's matches.
    is_search: bool = False
    correction: Correction | None = None


def _listing(
    request: HttpRequest,
    find: Callable[[], Scope],
    context: Callable[[], dict] = dict,
    *,
    scope: Callable[[], str] = lambda: "all",
) -> HttpResponse:
    """Answer a product list page, or its listing fragment for htmx.

    The listing (filters, cards, pagination) comes from the fragment cache;
    *find* runs only to render it, and may raise Http404. *scope* names what
    it lists for the cache (``all``, ``category:<id>``, ``brand:<slug>``, as
    ``shop.services.catalogue.list_scopes`` names a product's): a change that
    can move a product within its lists makes only those lists stale. It and
    *context* (the page's besides the listing) run only when needed: a page
    served whole from the cache needs neither.
    """
    query = listing_query(request.GET)
    listing = fragments.fragment(
        request,
        "listing",
        lambda: _listing_fragment(request, find(), scope()),
        query=query,
        store=listing_page(request.GET) <= MAX_STORED_PAGE,
        scopes=lambda: services.listing_scopes(scope(), query),
    )
    # The filter form swaps #results and picks its facets from the listing.
    if wants_fragment(request, "listing") or wants_fragment(request, "results"):
        return fragments.respond_part(request, listing, "listing")
    return fragments.respond(
        request,
        listing,
        "shop/product_list.html",
        lambda: {**context(), **listing.data, "listing": listing["listing"]},
    )


def _listing_fragment(request: HttpRequest, scope: Scope, scope_name: str) -> Fragment:
    """Render the listing of *scope* for the request's filters, sort and page.

    The sidebar's brand and option counts describe ``scope.facet_products``
    (default ``scope.products``) narrowed by the filters applied
    (``facets_for``), and are cached under ``scope.facet_key`` and those
    filters, so that other sorts and pages reuse them: counting over every
    variant would dominate the page's cost.
    """
    product_filter = ProductFilter(request.GET, queryset=scope.products, searched=scope.is_search)
    products = product_filter.sorted_qs()
    shaping = [(name, value) for name, value in listing_query(request.GET) if name in FACET_FILTERS]
    facet_key = f"{scope.facet_key}?{urlencode(shaping)}"
    facets = fragments.versioned(
        "shop:facets:v2:" + hashlib.sha256(facet_key.encode()).hexdigest(),
        lambda: facets_for(
            scope.facet_products if scope.facet_products is not None else scope.products,
            product_filter.cleaned,
            cells=scope.cells,
        ),
        FACETS_SECONDS,
        scopes=services.listing_scopes(scope_name, shaping),
    )
    paginator = Paginator(products, settings.PRODUCTS_PER_PAGE)
    if scope.facet_products is not None or not product_filter.cleaned.get("q"):
        # The facets describe this listing (a search within a category
        # doesn't narrow them): its product count is theirs, shared by every
        # sort and page, instead of a count that grows with the catalogue.
        paginator.count = facets.products(product_filter.cleaned.get("brand"))
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = attach_primary_images(list(page.object_list))
    query = product_filter.cleaned.get("q") or ""
    context = {
        "title": scope.title,
        "filter": product_filter,
        "page": page,
        "products": page.object_list,
        "sort_choices": SORT_CHOICES,
        "active_sort": product_filter.cleaned.get("sort") or "",
        "selected_brands": set(product_filter.cleaned.get("brand") or []),
        "selected_values": set(product_filter.cleaned.get("v") or []),
        "query": query,
        "is_search": scope.is_search,
        "correction": scope.correction,
        "list_url": request.path,
        "facets": facets,
        "active_filters": product_filter.active_count,
    }
    return Fragment(
        parts={
            "listing": fragments.render_part("shop/product_list.html#listing", context, request)
        },
        product_ids=frozenset(p.pk for p in page.object_list),
        data={"title": scope.title, "page_number": page.number, "query": query},
    )


@require_safe
@vary_on_headers("HX-Request")
def product_list(request: HttpRequest) -> HttpResponse:
    return _listing(
        request, lambda: Scope(card_queryset(), _("All products"), facet_key="all", cells=Q())
    )


@require_safe
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    def find() -> Scope:
        query = (request.GET.get("q") or "").strip()
        # Asked as the cleaned parameters (shop.fragments): "1" or absent.
        correction = correct_query(query, exact=request.GET.get("exact") == "1")
        searched = correction.searched
        if correction.changed and not correction.exact:
            title = _("Results for “%(query)s”") % {"query": searched}
        else:
            title = _("Results for “%(query)s”") % {"query": query[:100]} if query else _("Search")
        # Searched once: the listing's filters narrow the matches, the
        # facets count over all of them.
        matches = search_products(card_queryset(), query, exact=correction.exact)
        return Scope(
            matches,
            title,
            facet_key=f"search:{'exact:' if correction.exact else ''}{searched}",
            facet_products=matches,
            is_search=True,
            correction=correction if query else None,
        )

    return _listing(request, find)


@require_safe
@vary_on_headers("HX-Request")
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    @memoize
    def found():
        # Only when the page is rendered: one served whole needs no tree.
        tree = category_tree(request)
        node = tree.by_slug(slug)
        if node is None:
            raise Http404("No such category")
        return tree, node

    def scope() -> Scope:
        tree, node = found()
        return Scope(
            card_queryset().filter(category_id__in=tree.descendant_ids(node)),
            node.name,
            facet_key=f"category:{node.id}",
            cells=Q(category_id__in=tree.descendant_ids(node)),
        )

    def context() -> dict:
        tree, node = found()
        return {"breadcrumbs": tree.ancestors(node), "subcategories": node.children}

    return _listing(request, scope, context, scope=lambda: f"category:{found()[1].id}")


@require_safe
def brand_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/brand_list.html", {"brands": Brand.objects.order_by("name")})


@require_safe
@vary_on_headers("HX-Request")
def brand_detail(request: HttpRequest, slug: str) -> HttpResponse:
    def find() -> Scope:
        brand = get_object_or_404(Brand, slug=slug)
        return Scope(
            card_queryset().filter(brand=brand),
            brand.name,
            facet_key=f"brand:{brand.pk}",
            cells=Q(brand_id=brand.pk),
        )

    return _listing(request, find, scope=lambda: f"brand:{slug}")


def _variant_options(variants: list[ProductVariant], selected: ProductVariant) -> list[dict]:
    """Group the variants' attribute values into pickers.

    Each option links to the variant that has that value and, as far as
    possible, the selected variant's other values (one in stock, if any).
    An option is *available* when that variant is in stock: with Black
    chosen, "256 GB" is marked sold out when the 256 GB Black phones are,
    even if a 256 GB Blue one is left.
    """
    selected_values = {v.attribute_id: v for v in selected.values.all()}
    attributes: dict[int, dict] = {}
    for variant in variants:
        for value in variant.values.all():
            group = attributes.setdefault(
                value.attribute_id,
                {"attribute": value.attribute, "options": {}},
            )
            group["options"].setdefault(value.pk, {"value": value, "variants": []})
            group["options"][value.pk]["variants"].append(variant)
    pickers = []
    for attribute_id, group in sorted(
        attributes.items(),
        key=lambda item: (item[1]["attribute"].sort_order, item[1]["attribute"].name),
    ):
        options = []
        for option in sorted(
            group["options"].values(), key=lambda o: (o["value"].sort_order, o["value"].value)
        ):

            def score(variant, attribute_id=attribute_id):
                values = {v.attribute_id: v.pk for v in variant.values.all()}
                same = sum(
                    1
                    for a, v in selected_values.items()
                    if a != attribute_id and values.get(a) == v.pk
                )
                return (same, variant.in_stock)

            target = max(option["variants"], key=score)
            options.append(
                {
                    "value": option["value"],
                    "variant": target,
                    "selected": selected_values.get(attribute_id) == option["value"],
                    "available": target.in_stock,
                }
            )
        pickers.append({"attribute": group["attribute"], "options": options})
    return pickers


@require_safe
@vary_on_headers("HX-Request")
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    if wants_fragment(request, "product-top"):
        top = fragments.fragment(
            request,
            "product-top",
            lambda: _product_fragment(request, slug, top_only=True),
            query=_product_query(request),
        )
        return fragments.respond_part(request, top, "product-top")
    page = fragments.fragment(
        request, "product", lambda: _product_fragment(request, slug), query=_product_query(request)
    )
    product_id = page.data["product_id"]

    def context() -> dict:
        viewed_ids = [i for i in recently_viewed.product_ids(request) if i != product_id]
        return {
            **page.data,
            "page": page,
            "recently_viewed": attach_primary_images(_products_in_order(viewed_ids)),
        }

    response = fragments.respond(request, page, "shop/product_detail.html", context)
    recently_viewed.remember(request, response, product_id)
    return response


def _product_query(request: HttpRequest) -> list[tuple[str, str]]:
    """A product page shows one thing of its query string: the variant asked for."""
    variant = int_or_none(request.GET.get("variant"))
    return [("variant", str(variant))] if variant is not None and variant > 0 else []


def _product_fragment(request: HttpRequest, slug: str, *, top_only: bool = False) -> Fragment:
    """Render a product page's parts (or only its top) for the requested variant.

    The top is what a variant changes: the gallery (the variant's pictures,
    ``variant_pictures``), the title's wishlist button and the buy box.
    """
    product = get_object_or_404(
        Product.objects.active()
        .select_related("brand", "category")
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=ProductVariant.objects.filter(is_active=True).prefetch_related(
                    Prefetch("values", queryset=AttributeValue.objects.select_related("attribute"))
                ),
            ),
            "images",
            "specifications",
        ),
        slug=slug,
    )
    variants = list(product.variants.all())
    requested = request.GET.get("variant", "")
    selected = next((v for v in variants if str(v.pk) == requested), None)
    if selected is None:
        selected = next((v for v in variants if v.in_stock), variants[0] if variants else None)
    looks = {v.pk: {value.attribute_id: value.pk for value in v.values.all()} for v in variants}
    images = variant_pictures(list(product.images.all()), selected.pk if selected else None, looks)
    context = {
        "product": product,
        "variants": variants,
        "variant": selected,
        "images": images,
        "pickers": _variant_options(variants, selected) if selected else [],
    }
    template = "shop/product_detail.html"
    if top_only:
        return Fragment(
            parts={
                "product-top": fragments.render_part(f"{template}#product-top", context, request)
            },
            product_ids=frozenset([product.pk]),  # its wishlist button
            data={},
        )
    tree = category_tree(request)
    node = tree.by_id.get(product.category_id)
    related = list(
        card_queryset()
        .filter(category_id=product.category_id)
        .exclude(pk=product.pk)
        .order_by("-units_sold", "-id")[:4]
    )
    attach_primary_images(related)
    context.update(
        {
            "breadcrumbs": tree.ancestors(node) if node else [],
            "specifications": list(product.specifications.all()),
            "reviews": (
                list(
                    Review.objects.filter(product=product, status=Review.Status.APPROVED)
                    .select_related("user")
                    .order_by("-created", "-id")[:3]
                )
                if product.rating_count
                else []
            ),
            "related": related,
            "product_ld": _product_json_ld(request, product, variants, images),
        }
    )
    return Fragment(
        parts={
            name: fragments.render_part(f"{template}#{name}", context, request)
            for name in ("head", "main", "related")
        },
        product_ids=frozenset([product.pk, *(p.pk for p in related)]),
        data={
            "product_id": product.pk,
            "title": product.name,
            "description": Truncator(product.summary or product.description).chars(155),
        },
    )


def _products_in_order(ids: list[int]) -> list[Product]:
    """Return the active products with *ids* as cards, in the order of *ids*."""
    if not ids:
        return []
    found = {p.pk: p for p in card_queryset().filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def _product_json_ld(request, product, variants, images) -> dict:
    """Return schema.org Product data for search engines."""
    absolute = request.build_absolute_uri
    rating = (
        {
            "aggregateRating": {
                "@type": "AggregateRating",
                "ratingValue": str(product.rating_average),
                "reviewCount": product.rating_count,
            }
        }
        if product.rating_count
        else {}
    )
    return {
        **rating,
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "description": product.summary or product.description[:300],
        "brand": {"@type": "Brand", "name": product.brand.name},
        "image": [absolute(image.image.url) for image in images[:5]],
        "sku": variants[0].sku if variants else "",
        "offers": [
            {
                "@type": "Offer",
                "sku": variant.sku,
                "name": variant.label,
                "price": str(variant.price),
                "priceCurrency": settings.CURRENCY,
                "availability": "https://schema.org/"
                + ("InStock" if variant.in_stock else "OutOfStock"),
                "url": absolute(variant.get_absolute_url()),
            }
            for variant in variants
        ],
    }


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /staff/",
        "Disallow: /accounts/",
        "Disallow: /cart/",
        "Disallow: /checkout/",
        f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be the thing that failed.
    return HttpResponse(loader.get_template("500.html").render({}), status=500)
