"""After the sale: packing, shipping, delivery, cancellation, refunds, reorder.

Every change locks the order first (``storefront.locks``), moves it only along
``orders.TRANSITIONS`` (``_move`` refuses anything else and writes the
OrderEvent with who and when) and tells the shopper on commit.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from payments import services as payments
from storefront import locks
from storefront.money import quantize

from ..exceptions import CartError, FulfilmentError, IllegalTransition, NotEnoughStock
from ..models import Cart, CartLine, Order, Refund, Shipment, ShipmentUpdate
from .cart import add_to_cart
from .orders import _move

logger = logging.getLogger(__name__)
Status = Order.Status
Step = Shipment.Status

#: Shipment steps and the order status each one moves the order to.
STEP_MOVES_ORDER = {
    Step.OUT_FOR_DELIVERY: Status.OUT_FOR_DELIVERY,
    Step.DELIVERED: Status.DELIVERED,
}
#: Orders the shopper may still cancel (nothing has left the shop).
CANCELLABLE = {Status.AWAITING_PAYMENT, Status.PAID, Status.PACKED}


@transaction.atomic
def mark_packed(*, order_id: int, actor=None) -> Order:
    """Record that a paid order is packed. Locks the order."""
    return _move(locks.lock_order(order_id), Status.PACKED, actor=actor, note="Packed")


@transaction.atomic
def ship_order(*, order_id: int, courier: str, tracking_number: str, actor=None) -> Shipment:
    """Hand a paid or packed order to *courier* with its tracking number.

    Locks the order (and its variants: shipped units leave the shelf).
    A paid order is marked packed on the way. Raises FulfilmentError for a
    missing tracking number or unknown courier, IllegalTransition for an
    order that can't ship (unpaid, cancelled, already shipped).
    """
    tracking_number = (tracking_number or "").strip()
    if courier not in Shipment.Courier.values:
        raise FulfilmentError("Choose the courier.")
    if not tracking_number or len(tracking_number) > 64:
        raise FulfilmentError("Enter the courier's tracking number (up to 64 characters).")
    order = locks.lock_order(order_id)
    if order.status == Status.PAID:
        _move(order, Status.PACKED, actor=actor, note="Packed")
    label = Shipment.Courier(courier).label
    _move(order, Status.SHIPPED, actor=actor, note=f"Handed to {label}, tracking {tracking_number}")
    shipment = Shipment.objects.create(
        order=order, courier=courier, tracking_number=tracking_number
    )
    ShipmentUpdate.objects.create(shipment=shipment, status=Step.HANDED_OVER, actor=actor)
    return shipment


@transaction.atomic
def update_shipment(*, shipment_id: int, status: str, note: str = "", actor=None) -> Shipment:
    """Record a step of a shipment; out for delivery and delivered move the order.

    Locks the order, then the shipment. Raises FulfilmentError for an
    unknown step or a shipment already delivered.
    """
    if status not in Step.values or status == Step.HANDED_OVER:
        raise FulfilmentError("Choose what happened to the parcel.")
    order_id = Shipment.objects.values_list("order_id", flat=True).get(pk=shipment_id)
    order = locks.lock_order(order_id)
    shipment = locks.lock_shipment(shipment_id)
    if shipment.status == Step.DELIVERED:
        raise FulfilmentError("This parcel was already delivered.")
    ShipmentUpdate.objects.create(shipment=shipment, status=status, note=note[:300], actor=actor)
    shipment.status = status
    shipment.save(update_fields=["status", "updated"])
    to = STEP_MOVES_ORDER.get(status)
    if to is not None and order.status != to:
        if to == Status.DELIVERED:
            _move(order, to, actor=actor, note=note or "Delivered")
        elif order.status == Status.SHIPPED:
            _move(order, to, actor=actor, note=note or "Out for delivery")
    return shipment


def mark_delivered(*, order_id: int, note: str = "", actor=None) -> Shipment:
    """Record that the order's latest parcel was delivered."""
    shipment = Shipment.objects.filter(order_id=order_id).order_by("-created", "-id").first()
    if shipment is None:
        raise FulfilmentError("This order hasn't been shipped yet.")
    return update_shipment(shipment_id=shipment.pk, status=Step.DELIVERED, note=note, actor=actor)


@transaction.atomic
def cancel_order(*, order_id: int, actor=None, reason: str = "") -> Order:
    """Cancel an order that hasn't left the shop; return it.

    Unpaid: cancelled, its stock released once. Paid, packed, or part paid
    (some parts of an order paid in parts are in): the cancellation is
    *requested* and the order waits for staff to refund it (the stock
    stays held until the refund). Anything dispatched or
    closed raises IllegalTransition with a message for the shopper.
    """
    order = locks.lock_order(order_id)
    if order.status not in CANCELLABLE:
        if order.status in (Status.SHIPPED, Status.OUT_FOR_DELIVERY, Status.DELIVERED):
            raise IllegalTransition(
                _(
                    "Order %(number)s has left our shop and can no longer be cancelled. "
                    "Refuse the parcel or contact us to return it."
                )
                % {"number": order.number}
            )
        raise IllegalTransition(
            _("Order %(number)s can't be cancelled: it is %(status)s.")
            % {"number": order.number, "status": order.get_status_display().lower()}
        )
    # The notes are stored in English; the shopper's timeline translates them.
    note = reason.strip()[:300]
    if order.status == Status.AWAITING_PAYMENT and not paid_so_far(order):
        _move(
            order,
            Status.CANCELLED,
            actor=actor,
            note=note or gettext_noop("Cancelled before payment"),
        )
    else:
        _move(
            order,
            Status.CANCELLATION_REQUESTED,
            actor=actor,
            note=note or gettext_noop("Cancellation requested: refund due"),
        )
    return order


@transaction.atomic
def decline_cancellation(*, order_id: int, actor=None, note: str = "") -> Order:
    """Turn down a cancellation request: the order goes back to paid (or, part
    paid, back to awaiting the rest)."""
    order = locks.lock_order(order_id)
    if order.status != Status.CANCELLATION_REQUESTED:
        raise IllegalTransition(f"Order {order.number} has no cancellation request.")
    back = Status.PAID if order.paid_at else Status.AWAITING_PAYMENT
    return _move(order, back, actor=actor, note=note or "Cancellation declined")


def paid_so_far(order: Order) -> Decimal:
    """Return what the shopper has paid for *order*: all of it once paid,
    else the parts of an order paid in parts that are in."""
    if order.paid_at is not None:
        return Decimal(order.amount_payable)
    return Decimal(payments.payability(order).paid)


def refunded_amount(order: Order) -> Decimal:
    """Return what has been refunded on *order* so far."""
    return order.refunds.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")


@transaction.atomic
def record_refund(
    *, order_id: int, amount, method: str, reference: str, actor=None, note: str = ""
) -> Refund:
    """Record money given back for a paid order that won't ship, and close it.

    Locks the order (and its variants: the held stock is released once).
    Refunds are made outside the shop (M-Pesa reversal, payout, bank); this
    records them. Raises FulfilmentError for a bad amount, method or
    reference, IllegalTransition for an order that can't be refunded.
    """
    order = locks.lock_order(order_id)
    if method not in Refund.Method.values:
        raise FulfilmentError("Choose how the money was refunded.")
    reference = (reference or "").strip()
    if not reference or len(reference) > 64:
        raise FulfilmentError("Enter the refund's reference (e.g. the M-Pesa receipt).")
    try:
        amount = quantize(amount)
    except (ArithmeticError, ValueError, TypeError):
        raise FulfilmentError("Enter the amount refunded, in KES.") from None
    paid = paid_so_far(order)
    if amount <= 0 or amount + refunded_amount(order) > paid:
        raise FulfilmentError(f"Refund between KES 1 and what was paid (KES {paid:,}).")
    refund = Refund.objects.create(
        order=order, amount=amount, method=method, reference=reference, note=note[:300], actor=actor
    )
    _move(order, Status.REFUNDED, actor=actor, note=f"Refunded KES {amount:,} ({reference})")
    return refund


def reorder(*, order: Order, cart: Cart | None) -> tuple[list[CartLine], list[str]]:
    """Put the order's lines back into *cart*, as far as stock allows.

    Each line goes through ``add_to_cart`` (its stock and availability
    checks); a line short of stock adds what is left. Return the lines
    added and a message for each line that could not be added in full.
    """
    added, problems = [], []
    for line in order.lines.select_related("variant__product"):
        if line.variant is None:
            problems.append(_("%(product)s is no longer sold.") % {"product": line.product_name})
            continue
        quantity = line.quantity
        while quantity > 0:
            try:
                cart_line = add_to_cart(cart=cart, variant_id=line.variant_id, quantity=quantity)
            except NotEnoughStock as error:
                if 0 < error.available < quantity:
                    quantity = error.available
                    continue
                problems.append(f"{line.product_name}: {error.message}")
                break
            except CartError as error:
                problems.append(f"{line.product_name}: {error.message}")
                break
            cart = cart_line.cart
            added.append(cart_line)
            if quantity < line.quantity:
                problems.append(
                    ngettext(
                        "%(product)s: only %(count)s added, the rest is sold out.",
                        "%(product)s: only %(count)s added, the rest is sold out.",
                        quantity,
                    )
                    % {"product": line.product_name, "count": quantity}
                )
            break
    return added, problems
