"""Receivers: visitors' carts follow them on sign-in; catalogue changes make pages stale.

Rendered catalogue HTML is cached (``shop.fragments``). Any saved or deleted
row that a catalogue page shows makes the pages that show it stale, whether
the change comes from the admin, a service or the shell: a variant, a
picture or a specification only the pages showing its product (and, for a
variant, the lists it is in); a product, category, brand, attribute or
banner every page (names, menus and what is listed change with them).
Stock moved by orders (``shop.services.orders`` updates the variants with
``F()``, which sends no signal) is marked there, and only when a page would
show it (see ``orders._show_stock_change``): most orders leave the cached
pages valid. Popularity (``units_sold``: the best sellers shelf, the "most
popular" sort) follows with the next change or when the stored page expires.
"""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
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
    FacetCount,
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
#: Rows shown only with their product: ``{model: whether lists change too}``.
PRODUCT_PARTS = {ProductVariant: True, ProductImage: False, ProductSpecification: False}


def _catalogue_row_changed(sender, instance, **kwargs):
    if sender is ProductVariant:  # its options and whether it counts
        services.recount_facets_of([instance.product_id])
    elif sender is Product:  # where it is counted, before and after
        before = getattr(instance, "_counted_in", None)
        services.recount_facets([(instance.category_id, instance.brand_id), before])
    if sender in PRODUCT_PARTS:
        services.products_changed([instance.product_id], listings=PRODUCT_PARTS[sender])
        return
    if sender is Category:
        forget_category_tree()
    catalogue_changed()


@receiver(post_delete, sender=AttributeValue, dispatch_uid="shop-value-counts")
def _forget_value_counts(sender, instance, **kwargs):
    """Its variants' links go with it, without m2m signals: so do its facet counts."""
    FacetCount.objects.filter(value_id=instance.pk).delete()


@receiver(pre_save, sender=Product, dispatch_uid="shop-product-counted-in")
def _remember_where_product_was_counted(sender, instance, raw=False, **kwargs):
    """Keep the category and brand a product had, for its facet counts (one query)."""
    if instance.pk and not raw:
        instance._counted_in = (
            Product.objects.filter(pk=instance.pk).values_list("category_id", "brand_id").first()
        )


def _variant_values_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:  # a value's variants: any number of products
        if pk_set is None:  # cleared: which variants had it is gone
            services.rebuild_facet_counts()
        else:
            variants = ProductVariant.objects.filter(pk__in=pk_set)
            services.recount_facets_of(variants.values_list("product_id", flat=True))
        catalogue_changed()
    else:
        services.recount_facets_of([instance.product_id])
        services.products_changed([instance.product_id], listings=True)


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
