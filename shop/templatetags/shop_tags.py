import json
from dataclasses import dataclass
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from shop import fragments
from storefront.money import format_kes

register = template.Library()


@register.filter
def kes(value) -> str:
    """Show a Decimal amount as ``KES 12,999`` (cents only where non-zero)."""
    return format_kes(value)


@register.filter
def discount_percent(product_or_variant) -> int:
    """Return the whole-percent discount of a price against its compare-at price."""
    price = getattr(product_or_variant, "price", None)
    compare = getattr(product_or_variant, "compare_at_price", None)
    if not price or not compare or compare <= price:
        return 0
    return int((compare - price) * 100 / compare)


@dataclass(frozen=True)
class CardOffer:
    """What a product card shows: price, old price, "from" and where it links."""

    price: Decimal
    compare_at_price: Decimal | None
    varies: bool
    url: str


@register.simple_tag
def card_offer(product) -> CardOffer:
    """Return a card's offer: the cheapest matching variant's under filters, else the product's.

    A listing filtered by options or price annotates its products with their
    matching variants' prices (``shop.filters.ProductFilter``): the card then
    shows those and links to the cheapest matching variant. "From" is shown
    when the variants (matching ones, under filters) differ in price.
    """
    url = product.get_absolute_url()
    if getattr(product, "match_price", None) is not None:
        price, compare, top = product.match_price, product.match_compare_at, product.match_price_max
        url = f"{url}?variant={product.match_variant_id}"
    else:
        price, compare = product.price, product.compare_at_price
        top = getattr(product, "price_max", None)
    return CardOffer(
        price=price,
        compare_at_price=compare if compare and compare > price else None,
        varies=top is not None and top > price,
        url=url,
    )


@register.simple_tag(takes_context=True)
def query_replace(context, **kwargs) -> str:
    """Return the current query string with *kwargs* replaced (None removes)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = urlencode(sorted(params.lists()), doseq=True)
    return f"?{encoded}" if encoded else "?"


_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def json_ld(data) -> str:
    """Render *data* as a schema.org JSON-LD script, escaped like json_script."""
    payload = json.dumps(data, default=str).translate(_JSON_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))


@register.simple_tag(takes_context=True)
def product_cards(context, products):
    """Render the grid items of *products*' cards (kept one by one: ``shop.fragments``)."""
    return fragments.product_cards(context, products)
