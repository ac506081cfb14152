from functools import cache, lru_cache

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import translation

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


def _category_nav(request) -> str:
    """Return the header's category links, rendered once per category tree and language.

    A nested loop over every category with a translation per link: on a
    cached page, a large share of its time when rendered for each request.
    """
    tree = category_tree(request)
    key = (translation.get_language(), get_script_prefix())
    html = tree.navigation.get(key)
    if html is None:
        html = render_to_string("components/_category_nav.html", {"nav_categories": tree.roots})
        tree.navigation[key] = html
    return html


def shop(request):
    """Site-wide context, evaluated lazily: only what a template uses costs a query."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "site_urls": _site_urls(get_script_prefix()),
        "category_nav": cache(lambda: _category_nav(request)),
        "cart_count": cache(lambda: cart_count(request)),
        "wishlist_ids": lambda: saved_product_ids(request),
    }
