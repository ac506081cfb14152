"""Receivers: visitors' carts follow them on sign-in; catalogue changes bump the version.

Rendered catalogue HTML is cached under a catalogue version
(``shop.fragments``). Any saved or deleted row that a catalogue page shows
moves the version on, whether the change comes from the admin, a service or
the shell. Stock moved by orders (``shop.services.orders`` updates the
variants with ``F()``, which sends no signal) bumps the version there, and
only when a page would show it (see ``orders._show_stock_change``): most
orders leave the cached pages valid. Popularity (``units_sold``: the best
sellers shelf, the "most popular" sort) follows with the next change or
when the stored page expires.
"""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from . import recently_viewed, services
from .carts import CART_SESSION_KEY
from .fragments import catalogue_changed
from .models import (
    Attribute,
    AttributeValue,
    Banner,
    Brand,
    Cart,
    Category,
    Product,
    ProductImage,
    ProductSpecification,
    ProductVariant,
)
from .queries import forget_category_tree


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


CATALOGUE_MODELS = (
    Attribute,
    AttributeValue,
    Banner,
    Brand,
    Category,
    Product,
    ProductImage,
    ProductSpecification,
    ProductVariant,
)


def _catalogue_row_changed(sender, **kwargs):
    if sender is Category:
        forget_category_tree()
    catalogue_changed()


def _variant_values_changed(sender, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        catalogue_changed()


for _model in CATALOGUE_MODELS:
    post_save.connect(
        _catalogue_row_changed, sender=_model, dispatch_uid=f"shop-catalogue-{_model.__name__}-save"
    )
    post_delete.connect(
        _catalogue_row_changed,
        sender=_model,
        dispatch_uid=f"shop-catalogue-{_model.__name__}-delete",
    )
m2m_changed.connect(
    _variant_values_changed,
    sender=ProductVariant.values.through,
    dispatch_uid="shop-catalogue-variant-values",
)
