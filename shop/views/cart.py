"""Cart and wishlist: thin views answering plain forms (PRG) and htmx alike."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from storefront.htmx import wants_fragment
from storefront.web import int_or_none, safe_next

from .. import services
from ..carts import cart_to_change, current_cart, remember_cart
from ..exceptions import CartError
from ..models import (
    Cart,
    CartLine,
    Product,
    ProductVariant,
    WishlistItem,
)
from .catalogue import attach_primary_images, card_queryset

# Cart -----------------------------------------------------------------------


def _cart_updated(response: HttpResponse) -> HttpResponse:
    return trigger_client_event(response, "cart:updated", {})


def _cart_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    summary = services.summarise_cart(current_cart(request))
    template = "shop/cart.html"
    if wants_fragment(request, "cart"):
        template += "#cart"
    return render(request, template, {"cart": summary, "error": error}, status=status)


@require_GET
@vary_on_headers("HX-Request")
def cart_detail(request: HttpRequest) -> HttpResponse:
    return _cart_page(request)


@require_GET
@vary_on_headers("HX-Request")
def cart_badge(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html#cart-badge", {})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    try:
        line = services.add_to_cart(
            cart=cart_to_change(request, create_for_user=True),
            variant_id=request.POST.get("variant"),
            quantity=request.POST.get("quantity", 1),
        )
    except ProductVariant.DoesNotExist:
        raise Http404("No such product option") from None
    except CartError as error:
        if request.htmx:
            return render(request, "shop/_cart_feedback.html", {"error": error.message})
        messages.error(request, error.message)
        return redirect(safe_next(request, reverse("shop:cart")))
    remember_cart(request, line.cart)
    if request.htmx:
        return _cart_updated(render(request, "shop/_cart_feedback.html", {"line": line}))
    messages.success(request, _("Added %(item)s to your cart.") % {"item": line.variant})
    return redirect(safe_next(request, reverse("shop:cart")))


def _cart_change(request: HttpRequest, change) -> HttpResponse:
    """Apply *change* to the request's cart and answer with the cart."""
    cart = cart_to_change(request)
    if cart is None:
        raise Http404("No cart")
    error = ""
    try:
        message = change(cart)
    except Cart.DoesNotExist:
        raise Http404("No cart") from None
    except CartLine.DoesNotExist:
        raise Http404("No such cart line") from None
    except CartError as exc:
        error, message = exc.message, ""
    if request.htmx:
        request.htmx.target = "cart"  # the cart actions always swap the cart
        return _cart_updated(_cart_page(request, error=error))
    if error:
        messages.error(request, error)
    elif message:
        messages.success(request, message)
    return redirect("shop:cart")


@require_POST
def cart_line_update(request: HttpRequest, line_id: int) -> HttpResponse:
    def change(cart):
        line = services.update_cart_line(
            cart=cart, line_id=line_id, quantity=request.POST.get("quantity", "")
        )
        return _("Cart updated.") if line else _("Item removed from your cart.")

    return _cart_change(request, change)


@require_POST
def cart_line_remove(request: HttpRequest, line_id: int) -> HttpResponse:
    def change(cart):
        services.remove_cart_line(cart=cart, line_id=line_id)
        return _("Item removed from your cart.")

    return _cart_change(request, change)


@require_POST
def cart_clear(request: HttpRequest) -> HttpResponse:
    def change(cart):
        services.clear_cart(cart=cart)
        return _("Your cart is empty.")

    return _cart_change(request, change)


@require_POST
def cart_accept_prices(request: HttpRequest) -> HttpResponse:
    def change(cart):
        services.accept_cart_prices(cart=cart)
        return _("Prices updated.")

    return _cart_change(request, change)


# Wishlist -------------------------------------------------------------------


@require_GET
@login_required
def wishlist(request: HttpRequest) -> HttpResponse:
    items = list(
        WishlistItem.objects.filter(user=request.user)
        .select_related("variant")
        .prefetch_related(Prefetch("product", queryset=card_queryset()))
    )
    items = [item for item in items if item.product is not None]
    attach_primary_images([item.product for item in items])
    return render(request, "shop/wishlist.html", {"items": items})


@require_POST
def wishlist_toggle(request: HttpRequest) -> HttpResponse:
    product_id = request.POST.get("product")
    if not request.user.is_authenticated:
        product = Product.objects.active().filter(pk=int_or_none(product_id)).first()
        back = safe_next(request, product.get_absolute_url() if product else reverse("shop:home"))
        login = f"{reverse('account_login')}?{urlencode({'next': back})}"
        messages.info(request, _("Sign in to keep a wishlist."))
        if request.htmx:
            return HttpResponseClientRedirect(login)
        return redirect(login)
    try:
        added = services.toggle_wishlist(
            user=request.user, product_id=product_id, variant_id=request.POST.get("variant")
        )
    except Product.DoesNotExist:
        raise Http404("No such product") from None
    if request.htmx:
        product = Product.objects.get(pk=int_or_none(product_id))
        return render(
            request,
            "components/_wishlist_button.html",
            {"product": product, "wishlisted": added, "variant_id": request.POST.get("variant")},
        )
    messages.success(
        request, _("Saved to your wishlist.") if added else _("Removed from your wishlist.")
    )
    return redirect(safe_next(request, reverse("shop:wishlist")))


@require_POST
@login_required
def wishlist_move_to_cart(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        line = services.move_wishlist_item_to_cart(
            user=request.user, item_id=item_id, cart=current_cart(request, create=True)
        )
    except WishlistItem.DoesNotExist:
        raise Http404("No such wishlist item") from None
    except ProductVariant.DoesNotExist:
        raise Http404("No such product option") from None
    except CartError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Moved %(item)s to your cart.") % {"item": line.variant})
    return _cart_updated(redirect("shop:wishlist"))
