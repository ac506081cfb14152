"""Catalogue pages: thin views that pick a page or an htmx fragment."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template import loader
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from .. import recently_viewed
from ..filters import SORT_CHOICES, ProductFilter
from ..htmx import wants_fragment
from ..models import (
    Banner,
    Brand,
    Product,
    ProductImage,
    ProductVariant,
)
from ..queries import category_tree, facets_for, search_products

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
)


def attach_primary_images(products: list[Product]) -> list[Product]:
    """Give each product its ``primary_images`` in one query for all of them."""
    images: dict[int, list[ProductImage]] = {}
    for image in ProductImage.objects.filter(
        product_id__in=[p.pk for p in products], is_primary=True
    ):
        images.setdefault(image.product_id, []).append(image)
    for product in products:
        product.primary_images = images.get(product.pk, [])
    return products


def card_queryset():
    return Product.objects.active().with_stock().select_related("brand").only(*CARD_FIELDS)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    shelves = {
        "featured": card_queryset().filter(is_featured=True).order_by("-created", "-id")[:8],
        "new_arrivals": card_queryset().order_by("-created", "-id")[:8],
        "best_sellers": card_queryset().order_by("-units_sold", "-id")[:8],
    }
    shelves = {name: list(qs) for name, qs in shelves.items()}
    shelves["recently_viewed"] = _products_in_order(recently_viewed.product_ids(request))
    attach_primary_images([p for products in shelves.values() for p in products])
    banners = list(Banner.objects.live())
    tree = category_tree()
    return render(
        request,
        "shop/home.html",
        {
            **shelves,
            "hero_banners": [b for b in banners if b.placement == Banner.Placement.HERO],
            "promo_banners": [b for b in banners if b.placement == Banner.Placement.PROMO],
            "top_categories": tree.roots[:8],
            "brands": Brand.objects.filter(is_featured=True).order_by("name")[:12],
        },
    )


FACETS_SECONDS = 300


def _listing(
    request: HttpRequest, *, scope, title: str, context: dict, facet_key: str, facet_scope=None
) -> HttpResponse:
    """Render a product list page (or its listing fragment) for *scope*.

    The sidebar's brand and option counts describe *facet_scope* (default
    *scope*) and are cached for a few minutes under *facet_key*: counting
    over every variant on each request would dominate the page's cost.
    """
    product_filter = ProductFilter(request.GET, queryset=scope)
    products = product_filter.sorted_qs()
    page = Paginator(products, settings.PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = attach_primary_images(list(page.object_list))
    cache_key = "shop:facets:" + hashlib.sha256(facet_key.encode()).hexdigest()
    facets = cache.get(cache_key)
    if facets is None:
        facets = facets_for(facet_scope if facet_scope is not None else scope)
        cache.set(cache_key, facets, FACETS_SECONDS)
    context = {
        **context,
        "title": title,
        "filter": product_filter,
        "page": page,
        "products": page.object_list,
        "sort_choices": SORT_CHOICES,
        "active_sort": product_filter.cleaned.get("sort") or "",
        "selected_brands": set(product_filter.cleaned.get("brand") or []),
        "selected_values": set(product_filter.cleaned.get("v") or []),
        "query": product_filter.cleaned.get("q") or "",
        "list_url": request.path,
        "facets": facets,
    }
    template = "shop/product_list.html"
    if wants_fragment(request, "listing"):
        template += "#listing"
    return render(request, template, context)


@require_GET
@vary_on_headers("HX-Request")
def product_list(request: HttpRequest) -> HttpResponse:
    return _listing(
        request, scope=card_queryset(), title="All products", context={}, facet_key="all"
    )


@require_GET
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    query = (request.GET.get("q") or "").strip()
    title = f"Results for “{query[:100]}”" if query else "Search"
    cleaned_query = " ".join(query.split())[:100].lower()
    return _listing(
        request,
        scope=card_queryset(),
        title=title,
        context={"is_search": True},
        facet_key=f"search:{cleaned_query}",
        facet_scope=search_products(card_queryset(), cleaned_query),
    )


@require_GET
@vary_on_headers("HX-Request")
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tree = category_tree()
    node = tree.by_slug(slug)
    if node is None:
        raise Http404("No such category")
    scope = card_queryset().filter(category_id__in=tree.descendant_ids(node))
    return _listing(
        request,
        scope=scope,
        title=node.name,
        context={"category": node, "breadcrumbs": tree.ancestors(node)},
        facet_key=f"category:{node.id}",
    )


@require_GET
def brand_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/brand_list.html", {"brands": Brand.objects.order_by("name")})


@require_GET
@vary_on_headers("HX-Request")
def brand_detail(request: HttpRequest, slug: str) -> HttpResponse:
    brand = get_object_or_404(Brand, slug=slug)
    scope = card_queryset().filter(brand=brand)
    return _listing(
        request,
        scope=scope,
        title=brand.name,
        context={"brand": brand},
        facet_key=f"brand:{brand.pk}",
    )


def _variant_options(variants: list[ProductVariant], selected: ProductVariant) -> list[dict]:
    """Group the variants' attribute values into pickers.

    Each option links to the variant that has that value and, as far as
    possible, the selected variant's other values.
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
                    "available": any(v.in_stock for v in option["variants"]),
                }
            )
        pickers.append({"attribute": group["attribute"], "options": options})
    return pickers


@require_GET
@vary_on_headers("HX-Request")
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(
        Product.objects.active()
        .select_related("brand", "category")
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=ProductVariant.objects.filter(is_active=True).prefetch_related(
                    "values__attribute"
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
    images = list(product.images.all())
    if selected is not None:
        # The variant's own pictures lead the gallery when it has any.
        images.sort(
            key=lambda i: (i.variant_id != selected.pk, not i.is_primary, i.sort_order, i.pk)
        )
    context = {
        "product": product,
        "variants": variants,
        "variant": selected,
        "images": images,
        "pickers": _variant_options(variants, selected) if selected else [],
    }
    if wants_fragment(request, "buy-box"):
        return render(request, "shop/product_detail.html#buy-box", context)
    tree = category_tree()
    node = tree.by_id.get(product.category_id)
    related = list(
        card_queryset()
        .filter(category_id=product.category_id)
        .exclude(pk=product.pk)
        .order_by("-units_sold", "-id")[:4]
    )
    viewed_ids = [i for i in recently_viewed.product_ids(request) if i != product.pk]
    recent = _products_in_order(viewed_ids)
    attach_primary_images(related + recent)
    context.update(
        {
            "breadcrumbs": tree.ancestors(node) if node else [],
            "specifications": list(product.specifications.all()),
            "related": related,
            "in_stock": any(v.in_stock for v in variants),
            "product_ld": _product_json_ld(request, product, variants, images),
            "recently_viewed": recent,
        }
    )
    response = render(request, "shop/product_detail.html", context)
    recently_viewed.remember(request, response, product.pk)
    return response


def _products_in_order(ids: list[int]) -> list[Product]:
    """Return the active products with *ids* as cards, in the order of *ids*."""
    if not ids:
        return []
    found = {p.pk: p for p in card_queryset().filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def _product_json_ld(request, product, variants, images) -> dict:
    """Return schema.org Product data for search engines."""
    absolute = request.build_absolute_uri
    return {
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


@require_GET
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
