"""Delivery zones, orders, their lines and their history."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.counties import COUNTIES

from .catalogue import MONEY, ProductVariant, TimeStampedModel

COUNTY_CHOICES = [(name, name) for _, name in COUNTIES]


class DeliveryZone(models.Model):
    """A delivery fee for a group of counties, editable by staff.

    A county belongs to at most one zone; counties in no zone use the zone
    marked as the fallback.
    """

    name = models.CharField(_("name"), max_length=80, unique=True)
    counties = models.JSONField(_("counties"), default=list, blank=True)
    fee = models.DecimalField(_("delivery fee"), **MONEY)
    free_over = models.DecimalField(
        _("free delivery from"),
        null=True,
        blank=True,
        help_text=_("Orders with a subtotal at or above this amount ship free."),
        **MONEY,
    )
    delivery_days = models.CharField(_("delivery time"), max_length=60, blank=True)
    is_fallback = models.BooleanField(_("fallback for other counties"), default=False)

    class Meta:
        verbose_name = _("delivery zone")
        verbose_name_plural = _("delivery zones")
        ordering = ["fee", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(fee__gte=0), name="delivery_fee_gte_0"),
            models.UniqueConstraint(
                fields=["is_fallback"], condition=Q(is_fallback=True), name="one_fallback_zone"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def new_order_number() -> str:
    """Return a short, unambiguous order number such as ``DT7K3M9Q2A``."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    return "DT" + "".join(secrets.choice(alphabet) for _ in range(8))


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        PACKED = "packed", _("Packed")
        SHIPPED = "shipped", _("Shipped")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        CANCELLATION_REQUESTED = "cancellation_requested", _("Cancellation requested")
        REFUNDED = "refunded", _("Refunded")

    number = models.CharField(
        _("order number"), max_length=16, unique=True, default=new_order_number
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        null=True,
        blank=True,
        related_name="orders",
        on_delete=models.SET_NULL,
    )
    email = models.EmailField(_("email"))
    phone = models.CharField(_("M-Pesa phone"), max_length=12)
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.AWAITING_PAYMENT
    )
    # The delivery address, copied at placement.
    recipient_name = models.CharField(_("recipient"), max_length=120)
    recipient_phone = models.CharField(_("recipient phone"), max_length=12)
    county = models.CharField(_("county"), max_length=40, choices=COUNTY_CHOICES)
    town = models.CharField(_("town / area"), max_length=120)
    street = models.CharField(_("street or building"), max_length=200, blank=True)
    landmark = models.CharField(_("landmark / delivery notes"), max_length=300, blank=True)
    # Money, copied at placement.
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    delivery_fee = models.DecimalField(_("delivery fee"), **MONEY)
    total = models.DecimalField(_("total"), **MONEY)
    amount_payable = models.PositiveIntegerField(
        _("M-Pesa amount (KES)"), help_text=_("The total in whole shillings, rounded up.")
    )
    expires_at = models.DateTimeField(_("payment due by"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    stock_released = models.BooleanField(_("stock released"), default=False, editable=False)
    placed_from = models.GenericIPAddressField(
        _("placed from"),
        null=True,
        blank=True,
        help_text=_("The IP address the order was placed from."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("The shopper's language when they ordered: emails and texts use it."),
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="order_status_expiry_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("shop:order-detail", kwargs={"number": self.number})

    @property
    def is_open_for_payment(self) -> bool:
        return self.status == self.Status.AWAITING_PAYMENT

    @property
    def address_lines(self) -> list[str]:
        return [
            line
            for line in (
                self.recipient_name,
                self.street,
                self.town,
                gettext("%(county)s County") % {"county": self.county},
            )
            if line
        ]


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), related_name="lines", on_delete=models.CASCADE
    )
    variant = models.ForeignKey(
        ProductVariant,
        verbose_name=_("variant"),
        null=True,
        related_name="order_lines",
        on_delete=models.SET_NULL,
    )
    product_name = models.CharField(_("product"), max_length=200)
    variant_name = models.CharField(_("option"), max_length=200, blank=True)
    sku = models.CharField(_("SKU"), max_length=64)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    quantity = models.PositiveIntegerField(_("quantity"))
    line_total = models.DecimalField(_("line total"), **MONEY)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_gte_1")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name}"


class OrderEvent(models.Model):
    """One change of an order's status: the shopper's timeline, the staff's history."""

    order = models.ForeignKey(
        Order, verbose_name=_("order"), related_name="events", on_delete=models.CASCADE
    )
    from_status = models.CharField(_("from"), max_length=24, blank=True)
    to_status = models.CharField(_("to"), max_length=24, choices=Order.Status.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    created = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '—'} → {self.to_status}"


class ShipmentQuerySet(models.QuerySet):
    def newest(self) -> "Shipment | None":
        """Return the most recent shipment (``order.shipments.newest()``), if any."""
        return self.order_by("-created", "-id").first()


class Shipment(TimeStampedModel):
    """A parcel handed to a courier for an order, with its tracking number."""

    class Status(models.TextChoices):
        HANDED_OVER = "handed_over", _("Handed to the courier")
        IN_TRANSIT = "in_transit", _("In transit")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERY_FAILED = "delivery_failed", _("Delivery attempt failed")
        DELIVERED = "delivered", _("Delivered")

    class Courier(models.TextChoices):
        OWN_RIDER = "own_rider", _("Our own rider")
        G4S = "g4s", _("G4S Courier")
        WELLS_FARGO = "wells_fargo", _("Wells Fargo")
        FARGO = "fargo", _("Fargo Courier")
        SENDY = "sendy", _("Sendy")
        POSTA = "posta", _("Posta Kenya (EMS)")
        MATATU = "matatu", _("Matatu parcel service")
        OTHER = "other", _("Other")

    order = models.ForeignKey(
        Order, verbose_name=_("order"), related_name="shipments", on_delete=models.PROTECT
    )
    courier = models.CharField(_("courier"), max_length=20, choices=Courier.choices)
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.HANDED_OVER
    )

    objects = ShipmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(tracking_number=""), name="shipment_tracking_number_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_courier_display()} {self.tracking_number}"


class ShipmentUpdate(models.Model):
    """One step of a shipment (who recorded it, when, where)."""

    shipment = models.ForeignKey(
        Shipment, verbose_name=_("shipment"), related_name="updates", on_delete=models.CASCADE
    )
    status = models.CharField(_("status"), max_length=20, choices=Shipment.Status.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    created = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shipment update")
        verbose_name_plural = _("shipment updates")
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.shipment}: {self.get_status_display()}"


class Refund(models.Model):
    """Money given back for an order, as recorded by staff."""

    class Method(models.TextChoices):
        MPESA_REVERSAL = "mpesa_reversal", _("M-Pesa reversal")
        MPESA_B2C = "mpesa_b2c", _("M-Pesa payout (B2C)")
        BANK = "bank", _("Bank transfer")
        CASH = "cash", _("Cash")

    order = models.ForeignKey(
        Order, verbose_name=_("order"), related_name="refunds", on_delete=models.PROTECT
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    reference = models.CharField(_("reference"), max_length=64)
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    created = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: KES {self.amount} ({self.reference})"
