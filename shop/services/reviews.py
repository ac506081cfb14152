"""Reviews: only a shopper who received a product reviews it, once; staff moderate.

A product's ``rating_average`` and ``rating_count`` are kept in step with
its approved reviews here, in the same transaction as each moderation, so
listing pages read them from the product row and stay within their query
bound.
"""

from django.db import transaction
from django.db.models import Avg, Count, DecimalField, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront import locks
from storefront.web import int_or_none

from ..exceptions import ReviewError
from ..models import Order, OrderLine, Product, Review
from .catalogue import products_changed

Status = Review.Status
TITLE_MAX = 120
BODY_MAX = 4000


def delivered_line(*, user, product_id: int) -> OrderLine | None:
    """Return a delivered order line of *product_id* bought by *user*, if any."""
    if user is None or not user.is_authenticated:
        return None
    return (
        OrderLine.objects.filter(
            order__user=user,
            order__status=Order.Status.DELIVERED,
            variant__product_id=product_id,
        )
        .order_by("-order__created")
        .first()
    )


def can_review(*, user, product_id: int) -> bool:
    """Return whether *user* may review the product now (bought, delivered, not yet)."""
    if delivered_line(user=user, product_id=product_id) is None:
        return False
    return not Review.objects.filter(user=user, product_id=product_id).exists()


@transaction.atomic
def submit_review(*, user, product_id: int, rating, title: str, body: str) -> Review:
    """Save a shopper's review, waiting for staff approval; return it.

    Raise ReviewError (nothing saved) unless the shopper has a delivered
    order line of the product and hasn't reviewed it, and the rating is a
    whole number from 1 to 5 with a title and some words.
    """
    product = Product.objects.active().filter(pk=int_or_none(product_id)).first()
    if product is None:
        raise ReviewError(_("This product can't be reviewed."))
    line = delivered_line(user=user, product_id=product.pk)
    if line is None:
        raise ReviewError(_("Only shoppers who received this product can review it."))
    if Review.objects.filter(user=user, product=product).exists():
        raise ReviewError(_("You have already reviewed this product. Thank you!"))
    stars = int_or_none(rating)
    if stars is None or not 1 <= stars <= 5:
        raise ReviewError(_("Choose a rating from 1 to 5 stars."))
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise ReviewError(
            _("Give your review a title (up to %(max)s characters).") % {"max": TITLE_MAX}
        )
    if len(body) < 10 or len(body) > BODY_MAX:
        raise ReviewError(
            _("Tell other shoppers a little more (10 to %(max)s characters).") % {"max": BODY_MAX}
        )
    return Review.objects.create(
        product=product, user=user, order_line=line, rating=stars, title=title, body=body
    )


def refresh_product_rating(*, product_id: int) -> None:
    """Recompute the product's average rating and count from approved reviews."""
    approved = Review.objects.filter(product=OuterRef("pk"), status=Status.APPROVED).values(
        "product"
    )
    Product.objects.filter(pk=product_id).update(
        rating_average=Coalesce(
            Subquery(approved.annotate(avg=Avg("rating")).values("avg")),
            Value(0),
            output_field=DecimalField(max_digits=3, decimal_places=2),
        ),
        rating_count=Coalesce(
            Subquery(approved.annotate(n=Count("pk")).values("n")),
            Value(0),
            output_field=IntegerField(),
        ),
    )
    products_changed([product_id], listings=True)  # the stars shown, the top-rated sort


@transaction.atomic
def moderate_review(*, review_id: int, status: str, actor=None) -> Review:
    """Approve or hide a review and update its product's rating. Locks the review."""
    if status not in (Status.APPROVED, Status.HIDDEN):
        raise ReviewError("A review is approved or hidden.")
    review = locks.lock_review(review_id)
    review.status = status
    review.moderated_by = actor
    review.moderated_at = timezone.now()
    review.save(update_fields=["status", "moderated_by", "moderated_at", "updated"])
    refresh_product_rating(product_id=review.product_id)
    return review
