import json

from django import template
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

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
