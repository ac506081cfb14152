"""Finding the current request's cart: the user's, or the visitor's session's."""

from django.db import IntegrityError, transaction
from django.db.models import Sum

from .models import Cart, CartLine

CART_SESSION_KEY = "shop:cart-id"


def current_cart(request, *, create: bool = False) -> Cart | None:
    """Return the request's cart, creating one when *create* is set."""
    cached = getattr(request, "_shop_cart", None)
    if cached is not None:
        return cached
    cart = None
    if request.user.is_authenticated:
        cart = Cart.objects.filter(user=request.user).first()
        if cart is None and create:
            try:
                with transaction.atomic():
                    cart = Cart.objects.create(user=request.user)
            except IntegrityError:  # a parallel request created it first
                cart = Cart.objects.get(user=request.user)
    else:
        cart_id = request.session.get(CART_SESSION_KEY)
        if cart_id:
            cart = Cart.objects.filter(pk=cart_id, user__isnull=True).first()
        if cart is None and create:
            cart = Cart.objects.create()
            request.session[CART_SESSION_KEY] = cart.pk
    request._shop_cart = cart
    return cart


def cart_to_change(request, *, create_for_user: bool = False) -> Cart | None:
    """Return the request's cart for a cart service, which locks it.

    A visitor's cart comes back unfetched, as its id from the session: the
    service's ``SELECT ... FOR UPDATE`` loads it and checks that it is still
    a visitor's cart (raising ``Cart.DoesNotExist`` if not), so a change
    costs no separate lookup. None when the visitor has no cart yet; a
    signed-in shopper's cart is looked up (and made, with *create_for_user*).
    """
    if request.user.is_authenticated:
        return current_cart(request, create=create_for_user)
    cart_id = request.session.get(CART_SESSION_KEY)
    return Cart(pk=cart_id, user=None) if isinstance(cart_id, int) else None


def remember_cart(request, cart: Cart) -> None:
    """Make *cart* the request's cart (a visitor's is kept in the session)."""
    if not request.user.is_authenticated and request.session.get(CART_SESSION_KEY) != cart.pk:
        request.session[CART_SESSION_KEY] = cart.pk
    request._shop_cart = cart


def cart_count(request) -> int:
    """Return the number of items in the request's cart, in one query."""
    if request.user.is_authenticated:
        lines = CartLine.objects.filter(cart__user=request.user)
    else:
        if not request.session.session_key:
            return 0
        cart_id = request.session.get(CART_SESSION_KEY)
        if not cart_id:
            return 0
        lines = CartLine.objects.filter(cart_id=cart_id, cart__user__isnull=True)
    return lines.aggregate(total=Sum("quantity"))["total"] or 0
