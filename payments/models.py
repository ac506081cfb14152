"""M-Pesa payment attempts and the callbacks Daraja sends about them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

#: Flagged for staff and not reviewed yet (the "needs review" rule, in one place).
NEEDS_REVIEW = ~Q(flag="") & Q(reviewed_at__isnull=True)


class PaymentAttemptQuerySet(models.QuerySet):
    def needing_review(self) -> "PaymentAttemptQuerySet":
        """Return the attempts flagged for staff and not reviewed yet."""
        return self.filter(NEEDS_REVIEW)

    def newest_first(self) -> "PaymentAttemptQuerySet":
        return self.order_by("-created", "-id")

    def newest(self) -> "PaymentAttempt | None":
        """Return the most recent attempt (``order.payment_attempts.newest()``), if any."""
        return self.newest_first().first()

    def applied(self) -> "PaymentAttemptQuerySet":
        """Return the payments with a receipt that paid their order, oldest first.

        Payments flagged for a refund (an amount that didn't match, a
        payment after the close or a second payment) are left out.
        """
        refund = ["amount_mismatch", "order_not_open", "order_already_paid"]
        return (
            self.filter(status="paid")
            .exclude(flag__in=refund)
            .exclude(receipt_number=None)
            .order_by("completed_at", "id")
        )

    def receipts(self) -> str:
        """Return the receipts of ``applied`` payments (``order.payment_attempts.receipts()``)."""
        return ", ".join(self.applied().values_list("receipt_number", flat=True))

    def receipts_by_order(self) -> dict[int, str]:
        """Return ``receipts()`` for each order of these payments, in one query."""
        receipts: dict[int, list[str]] = {}
        for order_id, receipt in self.applied().values_list("order_id", "receipt_number"):
            receipts.setdefault(order_id, []).append(receipt)
        return {order_id: ", ".join(numbers) for order_id, numbers in receipts.items()}


class PaymentAttempt(models.Model):
    """One STK push for an order, created before Daraja is called.

    An order above M-Pesa's ceiling per payment is paid in parts: each part
    is its own attempt, asking for ``amount`` (that part, not the order's
    total). ``counted`` marks a paid part applied to the order's balance.

    ``status`` only moves one way, ``pending | unknown → paid | failed``
    (``unknown``: the push went out but Daraja's answer never came, so a
    prompt may be on the phone; a later callback is matched to it by phone,
    amount and time). Anything a
    person must look at (an amount that doesn't match, a payment for an
    order that is no longer open, a payment proven by query without a
    receipt) is a ``flag``, never a silent change of the order.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        UNKNOWN = "unknown", _("No answer from Daraja")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")

    class Flag(models.TextChoices):
        NONE = "", _("—")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount doesn't match the order")
        ORDER_NOT_OPEN = "order_not_open", _("Paid after the order expired or was cancelled")
        ORDER_ALREADY_PAID = "order_already_paid", _("Order was already paid (paid twice)")
        NO_RECEIPT = "no_receipt", _("Paid by query, no receipt yet")
        DUPLICATE_RECEIPT = "duplicate_receipt", _("Receipt already used by another payment")
        RESULT_CONFLICT = "result_conflict", _("Callback contradicts the recorded result")
        PENDING_AT_EXPIRY = "pending_at_expiry", _("Still pending when the order expired")
        PART_PAID = "part_paid", _("Part paid when the payment window closed")

    order = models.ForeignKey(
        "shop.Order",
        verbose_name=_("order"),
        related_name="payment_attempts",
        on_delete=models.PROTECT,
    )
    phone = models.CharField(_("payer phone"), max_length=12)
    amount = models.PositiveIntegerField(_("amount (KES)"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    checkout_request_id = models.CharField(
        _("CheckoutRequestID"), max_length=64, unique=True, null=True, blank=True
    )
    merchant_request_id = models.CharField(_("MerchantRequestID"), max_length=64, blank=True)
    result_code = models.CharField(_("result code"), max_length=32, blank=True)
    result_desc = models.CharField(_("result"), max_length=300, blank=True)
    message = models.CharField(
        _("shopper message"),
        max_length=300,
        blank=True,
        help_text=_("What the shopper was told about this result."),
    )
    receipt_number = models.CharField(
        _("M-Pesa receipt"), max_length=20, unique=True, null=True, blank=True
    )
    paid_amount = models.DecimalField(
        _("amount paid"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    paid_phone = models.CharField(_("paid from"), max_length=16, blank=True)
    counted = models.BooleanField(
        _("counted towards the order"),
        default=False,
        help_text=_("A paid part applied to the order's balance."),
    )
    raw_callback = models.JSONField(_("callback body"), null=True, blank=True)
    callbacks_received = models.PositiveSmallIntegerField(_("callbacks received"), default=0)
    flag = models.CharField(_("flag"), max_length=24, choices=Flag.choices, blank=True)
    flag_note = models.CharField(_("flag note"), max_length=300, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    resend_after = models.DateTimeField(_("no new push before"))
    queries_made = models.PositiveSmallIntegerField(_("STK queries made"), default=0)
    next_query_at = models.DateTimeField(_("next STK query"), null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    objects = PaymentAttemptQuerySet.as_manager()

    class Meta:
        verbose_name = _("M-Pesa payment attempt")
        verbose_name_plural = _("M-Pesa payment attempts")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["status", "next_query_at"], name="attempt_status_query_idx"),
            models.Index(fields=["flag"], condition=~Q(flag=""), name="attempt_flagged_idx"),
            models.Index(fields=["phone", "created"], name="attempt_phone_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="attempt_amount_gte_1"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "unknown", "paid", "failed"]),
                name="attempt_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.checkout_request_id or f"attempt {self.pk}"

    @property
    def needs_review(self) -> bool:
        return bool(self.flag) and self.reviewed_at is None


class Callback(models.Model):
    """A request Daraja (or anyone) POSTed to the callback URL, stored first.

    The raw body is saved before anything is parsed, so a callback that
    fails to process is never lost: staff can read it and process it again.
    """

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received, not processed yet")
        PAID = "paid", _("Payment recorded")
        UNCONFIRMED = "unconfirmed", _("Success without details: confirming by STK query")
        FAILED = "failed", _("Failure recorded")
        DUPLICATE = "duplicate", _("Duplicate, nothing changed")
        RECEIPT_ADDED = "receipt_added", _("Receipt added to a payment proven by query")
        FLAGGED = "flagged", _("Flagged for staff")
        UNKNOWN = "unknown", _("Unknown CheckoutRequestID")
        MALFORMED = "malformed", _("Not an STK callback")
        ERROR = "error", _("Processing failed")

    body = models.TextField(_("raw body"))
    remote_addr = models.GenericIPAddressField(_("from"), null=True, blank=True)
    ip_allowed = models.BooleanField(_("from an allowed address"), null=True)
    checkout_request_id = models.CharField(
        _("CheckoutRequestID"), max_length=64, blank=True, db_index=True
    )
    attempt = models.ForeignKey(
        PaymentAttempt,
        verbose_name=_("payment attempt"),
        null=True,
        blank=True,
        related_name="callbacks",
        on_delete=models.SET_NULL,
    )
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED
    )
    reports_payment = models.BooleanField(
        _("reports a payment"),
        default=False,
        help_text=_("The body says the payment succeeded (ResultCode 0)."),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("M-Pesa callback")
        verbose_name_plural = _("M-Pesa callbacks")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.checkout_request_id or 'callback'} ({self.get_outcome_display()})"
