"""The shop's part of a shopper's data: what it exports and what it erases.

Registered with ``accounts.services.personal_data_sources`` by
``ShopConfig.ready()`` (accounts imports nothing of the shop). Orders are
kept when an account is deleted: the VAT Act, 2013 and the Tax Procedures
Act, 2015 require records of sales for 5 years. They keep what a tax
invoice needs (number, dates, lines, prices, delivery fee, totals, county,
M-Pesa receipt numbers and amounts) and lose the person: the user link,
email, phone numbers, recipient name, street, town, landmark and the
address the order was placed from; payer phones are cleared from their
payment attempts and the raw M-Pesa callbacks.
"""

import json

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from payments.models import Callback, PaymentAttempt
from storefront import locks

from ..models import Cart, Order, RecentlyViewed, Review, WishlistItem
from .reviews import refresh_product_rating

#: Orders still being paid for or on their way: deleting the account waits.
IN_PROGRESS = (
    Order.Status.AWAITING_PAYMENT,
    Order.Status.PAID,
    Order.Status.PACKED,
    Order.Status.SHIPPED,
    Order.Status.OUT_FOR_DELIVERY,
    Order.Status.CANCELLATION_REQUESTED,
)

#: What an erased phone number becomes inside stored M-Pesa callbacks.
ERASED_PHONE = "254000000000"


# Export ---------------------------------------------------------------------


def export_orders(user) -> list[dict]:
    """Return the shopper's orders with lines, payments and refunds (four queries)."""
    orders = (
        Order.objects.filter(user=user)
        .order_by("created", "id")
        .prefetch_related(
            "lines",
            Prefetch("payment_attempts", queryset=PaymentAttempt.objects.order_by("created", "id")),
            "refunds",
        )
    )
    return [
        {
            "number": order.number,
            "status": order.status,
            "placed": order.created,
            "paid_at": order.paid_at,
            "email": order.email,
            "mpesa_phone": order.phone,
            "delivery": {
                "recipient_name": order.recipient_name,
                "recipient_phone": order.recipient_phone,
                "county": order.county,
                "town": order.town,
                "street": order.street,
                "landmark": order.landmark,
            },
            "placed_from": order.placed_from,
            "subtotal": order.subtotal,
            "delivery_fee": order.delivery_fee,
            "total": order.total,
            "currency": "KES",
            "lines": [
                {
                    "product": line.product_name,
                    "option": line.variant_name,
                    "sku": line.sku,
                    "unit_price": line.unit_price,
                    "quantity": line.quantity,
                    "line_total": line.line_total,
                }
                for line in order.lines.all()
            ],
            "payments": [
                {
                    "requested_at": attempt.created,
                    "phone": attempt.phone,
                    "amount": attempt.amount,
                    "status": attempt.status,
                    "mpesa_receipt": attempt.receipt_number or "",
                    "amount_paid": attempt.paid_amount,
                    "paid_from": attempt.paid_phone,
                    "completed_at": attempt.completed_at,
                }
                for attempt in order.payment_attempts.all()
            ],
            "refunds": [
                {
                    "amount": refund.amount,
                    "method": refund.method,
                    "reference": refund.reference,
                    "recorded_at": refund.created,
                }
                for refund in order.refunds.all()
            ],
        }
        for order in orders
    ]


def export_wishlist(user) -> list[dict]:
    items = WishlistItem.objects.filter(user=user).select_related("product", "variant")
    return [
        {
            "product": item.product.name,
            "option": item.variant.name if item.variant else "",
            "added": item.created,
        }
        for item in items
    ]


def export_cart(user) -> list[dict]:
    cart = Cart.objects.filter(user=user).first()
    if cart is None:
        return []
    lines = cart.lines.select_related("variant__product")
    return [
        {
            "product": line.variant.product.name,
            "option": line.variant.name,
            "quantity": line.quantity,
            "added": line.created,
        }
        for line in lines
    ]


def export_reviews(user) -> list[dict]:
    reviews = Review.objects.filter(user=user).select_related("product")
    return [
        {
            "product": review.product.name,
            "rating": review.rating,
            "title": review.title,
            "review": review.body,
            "status": review.status,
            "written": review.created,
        }
        for review in reviews
    ]


def export_recently_viewed(user) -> list[dict]:
    rows = RecentlyViewed.objects.filter(user=user).select_related("product")
    return [{"product": row.product.name, "viewed_at": row.viewed_at} for row in rows]


# Deletion -------------------------------------------------------------------


def order_blockers(user) -> list[str]:
    """Return why the account must wait: orders in progress, payments under review.

    Locks the shopper's cart and checkout key first (``place_order``'s
    locks, in ``storefront.locks`` order), so no order is placed while the
    account is being deleted.
    """
    cart_id = Cart.objects.filter(user=user).values_list("pk", flat=True).first()
    if cart_id is not None:
        locks.lock_cart(cart_id)
    locks.lock_keys(f"user:{user.pk}")
    reasons = []
    numbers = list(
        Order.objects.filter(user=user, status__in=IN_PROGRESS)
        .order_by("created")
        .values_list("number", flat=True)
    )
    if numbers:
        reasons.append(
            _(
                "These orders are still being paid for or delivered: %(numbers)s. "
                "You can delete your account once they are delivered, cancelled or expired."
            )
            % {"numbers": ", ".join(numbers)}
        )
    if PaymentAttempt.objects.filter(order__user=user).needing_review().exists():
        reasons.append(
            _(
                "Our staff are still checking a payment of yours (for example a refund "
                "to your M-Pesa number). Please try again once we have settled it."
            )
        )
    return reasons


def _scrub_text(text: str, phones: set[str]) -> str:
    for phone in phones:
        text = text.replace(phone, ERASED_PHONE)
    return text


def erase_orders(user) -> None:
    """Detach the shopper's orders from them, keeping what the tax records need."""
    orders = Order.objects.filter(user=user)
    order_ids = list(orders.values_list("pk", flat=True))
    if not order_ids:
        return
    attempts = PaymentAttempt.objects.filter(order_id__in=order_ids)
    phones = {
        phone for pair in orders.values_list("phone", "recipient_phone") for phone in pair if phone
    }
    phones |= {p for pair in attempts.values_list("phone", "paid_phone") for p in pair if p}
    if user.phone:
        phones.add(user.phone)
    phones = {phone for phone in phones if len(phone) >= 9}  # never scrub short digit runs
    for attempt in attempts.exclude(raw_callback=None).only("pk", "raw_callback"):
        scrubbed = json.loads(_scrub_text(json.dumps(attempt.raw_callback), phones))
        PaymentAttempt.objects.filter(pk=attempt.pk).update(raw_callback=scrubbed)
    for callback in Callback.objects.filter(attempt__in=attempts).only("pk", "body"):
        Callback.objects.filter(pk=callback.pk).update(body=_scrub_text(callback.body, phones))
    attempts.update(phone="", paid_phone="")
    orders.update(
        user=None,
        email="",
        phone="",
        recipient_name="",
        recipient_phone="",
        town="",
        street="",
        landmark="",
        placed_from=None,
    )


def erase_wishlist(user) -> None:
    WishlistItem.objects.filter(user=user).delete()


def erase_cart(user) -> None:
    Cart.objects.filter(user=user).delete()


def erase_reviews(user) -> None:
    """Delete the shopper's reviews and recount their products' ratings."""
    product_ids = set(Review.objects.filter(user=user).values_list("product_id", flat=True))
    Review.objects.filter(user=user).delete()
    for product_id in sorted(product_ids):
        refresh_product_rating(product_id=product_id)


def erase_recently_viewed(user) -> None:
    RecentlyViewed.objects.filter(user=user).delete()


def register(sources) -> None:
    """Hand the shop's parts to accounts' registry (``ShopConfig.ready()``)."""
    sources.register("orders", export=export_orders, erase=erase_orders, blockers=order_blockers)
    sources.register("wishlist", export=export_wishlist, erase=erase_wishlist)
    sources.register("cart", export=export_cart, erase=erase_cart)
    sources.register("reviews", export=export_reviews, erase=erase_reviews)
    sources.register("recently_viewed", export=export_recently_viewed, erase=erase_recently_viewed)
