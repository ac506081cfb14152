"""Product reviews by shoppers who received the product."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .catalogue import Product, TimeStampedModel
from .orders import OrderLine


class Review(TimeStampedModel):
    """A shopper's rating and words about a product, shown once staff approve it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        HIDDEN = "hidden", _("Hidden")

    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="reviews", on_delete=models.CASCADE
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        related_name="reviews",
        on_delete=models.CASCADE,
    )
    order_line = models.ForeignKey(
        OrderLine,
        verbose_name=_("bought in"),
        null=True,
        related_name="+",
        on_delete=models.SET_NULL,
        help_text=_("The delivered order line that makes this a verified purchase."),
    )
    rating = models.PositiveSmallIntegerField(_("rating"))
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("review"), max_length=4000)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderated by"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "user"], name="one_review_per_product"),
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"
            ),
        ]
        indexes = [
            models.Index(fields=["product", "status", "-created"], name="review_product_idx")
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ {self.title}"

    @property
    def verified_purchase(self) -> bool:
        return self.order_line_id is not None
