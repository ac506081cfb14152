from functools import cache, lru_cache

from django.conf import settings
from django.urls import get_script_prefix, reverse

from .carts import cart_count
from .fragments import saved_product_ids
from .queries import category_tree

#: The links of every page's header and footer, by the names base.html uses.
SITE_URLS = {
    "home": "shop:home",
    "search": "shop:search",
    "products": "shop:product-list",
    "brands": "shop:brand-list",
    "cart": "shop:cart",
    "cart_badge": "shop:cart-badge",
    "wishlist": "shop:wishlist",
    "account": "accounts:overview",
    "login": "account_login",
    "logout": "account_logout",
}


@lru_cache(maxsize=8)
def _site_urls(prefix: str) -> dict[str, str]:
    # Reversing a dozen URLs on every page cost about a sixth of a cached
    # page's time; they change only with the script prefix.
    return {key: reverse(name) for key, name in SITE_URLS.items()}


def shop(request):
    """Site-wide context, evaluated lazily: only what a template uses costs a query."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "site_urls": _site_urls(get_script_prefix()),
        "nav_categories": cache(lambda: category_tree(request).roots),
        "cart_count": cache(lambda: cart_count(request)),
        "wishlist_ids": lambda: saved_product_ids(request),
    }
