"""On sign-in, a visitor's cart and recently viewed products follow them."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from . import recently_viewed, services
from .carts import CART_SESSION_KEY
from .models import Cart


@receiver(user_logged_in, dispatch_uid="shop-merge-visitor-cart")
def merge_visitor_cart(sender, request, user, **kwargs):
    if request is None:
        return
    cart_id = request.session.pop(CART_SESSION_KEY, None)
    visitor_cart = Cart.objects.filter(pk=cart_id, user__isnull=True).first() if cart_id else None
    if visitor_cart is not None:
        user_cart, _ = Cart.objects.get_or_create(user=user)
        services.merge_carts(source=visitor_cart, target=user_cart)
    viewed = recently_viewed.from_cookie(request)
    if viewed:
        services.merge_recently_viewed(user=user, product_ids=viewed)
    request.__dict__.pop("_shop_cart", None)
