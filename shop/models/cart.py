"""Carts, wishlists and recently viewed products."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalogue import MONEY, Product, ProductVariant, TimeStampedModel


class Cart(TimeStampedModel):
    """A shopper's cart: owned by a user, or by a visitor's session.

    A visitor's cart is found through its id in the (database-backed)
    session; on login it merges into the user's cart. Carts hold no stock.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        related_name="cart",
        on_delete=models.CASCADE,
    )

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self) -> str:
        return f"Cart {self.pk}" + (f" of {self.user}" if self.user_id else "")


class CartLine(TimeStampedModel):
    cart = models.ForeignKey(
        Cart, verbose_name=_("cart"), related_name="lines", on_delete=models.CASCADE
    )
    variant = models.ForeignKey(
        ProductVariant, verbose_name=_("variant"), related_name="+", on_delete=models.CASCADE
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price_when_added = models.DecimalField(_("price when added"), **MONEY)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_unique_variant"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_line_quantity_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant_id}"

    @property
    def unit_price(self):
        return self.variant.price

    @property
    def line_total(self):
        return self.variant.price * self.quantity

    @property
    def price_changed(self) -> bool:
        return self.price_when_added != self.variant.price

    @property
    def short_of_stock(self) -> bool:
        return self.quantity > self.variant.stock_available


class WishlistItem(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        related_name="wishlist_items",
        on_delete=models.CASCADE,
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="+", on_delete=models.CASCADE
    )
    variant = models.ForeignKey(
        ProductVariant,
        verbose_name=_("variant"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    created = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("wishlist item")
        verbose_name_plural = _("wishlist items")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "product"], name="wishlist_unique_product")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ♥ {self.product_id}"


class RecentlyViewed(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        related_name="recently_viewed",
        on_delete=models.CASCADE,
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="+", on_delete=models.CASCADE
    )
    viewed_at = models.DateTimeField(_("viewed at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("recently viewed product")
        verbose_name_plural = _("recently viewed products")
        ordering = ["-viewed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "product"], name="recently_viewed_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.product_id}"
