from functools import cache

from django.conf import settings

from .carts import cart_count
from .models import WishlistItem
from .queries import category_tree


def shop(request):
    """Site-wide context, evaluated lazily: only what a template uses costs a query."""

    @cache
    def wishlist_ids():
        if not request.user.is_authenticated:
            return set()
        return set(
            WishlistItem.objects.filter(user=request.user).values_list("product_id", flat=True)
        )

    return {
        "SITE_NAME": settings.SITE_NAME,
        "nav_categories": cache(lambda: category_tree().roots),
        "cart_count": cache(lambda: cart_count(request)),
        "wishlist_ids": wishlist_ids,
    }
