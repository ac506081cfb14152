from functools import cache

from django.conf import settings

from .carts import cart_count
from .fragments import saved_product_ids
from .queries import category_tree


def shop(request):
    """Site-wide context, evaluated lazily: only what a template uses costs a query."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "nav_categories": cache(lambda: category_tree(request).roots),
        "cart_count": cache(lambda: cart_count(request)),
        "wishlist_ids": lambda: saved_product_ids(request),
    }
