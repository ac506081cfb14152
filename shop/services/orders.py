"""Business rules of orders: delivery fees, placing, paying and expiring.

Stock moves with the order (on hand / allocated):

==========================================  =========  =========
event                                       on hand    allocated
==========================================  =========  =========
placed (awaiting payment)                   —          + q
expired, cancelled or refunded before ship  —          − q
shipped                                     − q        − q
==========================================  =========  =========

Every change locks rows through ``storefront.locks`` (orders before variants, each
in primary-key order) and updates with ``F()``; the database constraints
``0 ≤ allocated ≤ on hand`` are the backstop.
"""

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from payments import services as payments
from storefront import i18n, locks
from storefront.money import quantize, whole_shillings

from ..exceptions import EmptyCart, IllegalTransition, InsufficientStock, OrderTooLarge
from ..models import (
    Cart,
    CartLine,
    DeliveryZone,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    ProductVariant,
)
from ..models.orders import new_order_number
from . import limits
from .catalogue import stock_changed
from .limits import check_order_limits

logger = logging.getLogger(__name__)
Status = Order.Status

#: The order state machine: each status and the statuses it may move to.
TRANSITIONS: dict[str, set[str]] = {
    # A part-paid order (paid in parts, not all in) is cancelled by request:
    # its money needs a refund.
    Status.AWAITING_PAYMENT: {
        Status.PAID,
        Status.EXPIRED,
        Status.CANCELLED,
        Status.CANCELLATION_REQUESTED,
    },
    Status.PAID: {Status.PACKED, Status.CANCELLATION_REQUESTED, Status.REFUNDED},
    Status.PACKED: {Status.SHIPPED, Status.CANCELLATION_REQUESTED, Status.REFUNDED},
    Status.SHIPPED: {Status.OUT_FOR_DELIVERY, Status.DELIVERED},
    Status.OUT_FOR_DELIVERY: {Status.DELIVERED},
    Status.CANCELLATION_REQUESTED: {Status.REFUNDED, Status.PAID, Status.AWAITING_PAYMENT},
    Status.EXPIRED: set(),
    Status.CANCELLED: set(),
    Status.DELIVERED: set(),
    Status.REFUNDED: set(),
}
#: Moves that end an order's hold on stock without shipping it.
RELEASING = {Status.EXPIRED, Status.CANCELLED, Status.REFUNDED}
#: The shopper's notification for each move that has one (``shop.tasks.EMAILS``).
NOTIFIES = {
    (Status.AWAITING_PAYMENT, Status.PAID): "paid",
    (Status.AWAITING_PAYMENT, Status.CANCELLED): "cancelled",
    (Status.PACKED, Status.SHIPPED): "shipped",
    (Status.SHIPPED, Status.DELIVERED): "delivered",
    (Status.OUT_FOR_DELIVERY, Status.DELIVERED): "delivered",
    (Status.AWAITING_PAYMENT, Status.CANCELLATION_REQUESTED): "cancellation_requested",
    (Status.PAID, Status.CANCELLATION_REQUESTED): "cancellation_requested",
    (Status.PACKED, Status.CANCELLATION_REQUESTED): "cancellation_requested",
    (Status.PAID, Status.REFUNDED): "refunded",
    (Status.PACKED, Status.REFUNDED): "refunded",
    (Status.CANCELLATION_REQUESTED, Status.REFUNDED): "refunded",
}


# Delivery -------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryQuote:
    zone: str
    fee: Decimal
    free_over: Decimal | None
    delivery_days: str


def delivery_quote(*, county: str, subtotal: Decimal) -> DeliveryQuote:
    """Return the delivery fee for *county* and an order *subtotal*.

    Uses the zone that lists the county, else the fallback zone, else the
    ``DEFAULT_DELIVERY_FEE`` setting.
    """
    zones = list(DeliveryZone.objects.all())
    zone = next((z for z in zones if county in (z.counties or [])), None)
    zone = zone or next((z for z in zones if z.is_fallback), None)
    if zone is None:
        fee = quantize(getattr(settings, "DEFAULT_DELIVERY_FEE", Decimal("500")))
        return DeliveryQuote(zone="Standard", fee=fee, free_over=None, delivery_days="")
    free = zone.free_over is not None and subtotal >= zone.free_over
    return DeliveryQuote(
        zone=zone.name,
        fee=Decimal("0.00") if free else quantize(zone.fee),
        free_over=zone.free_over,
        delivery_days=zone.delivery_days,
    )


# Placing an order -----------------------------------------------------------


@dataclass(frozen=True)
class DeliveryAddress:
    recipient_name: str
    phone: str
    county: str
    town: str
    street: str = ""
    landmark: str = ""


def payment_window() -> timedelta:
    return timedelta(minutes=getattr(settings, "ORDER_PAYMENT_MINUTES", 30))


#: Tries at placing an order when its random number was taken meanwhile.
NUMBER_TRIES = 3


def place_order(
    *,
    cart: Cart,
    email: str,
    phone: str,
    address: DeliveryAddress,
    user=None,
    session_orders: Iterable[str] = (),
    client_ip: str | None = None,
    now: datetime | None = None,
) -> Order:
    """Reserve the cart's stock and create an order awaiting payment.

    In one transaction: take the checkout keys of the shopper, the M-Pesa
    *phone* and *client_ip* (``storefront.locks.lock_keys``); lock the
    cart's lines and their variants' rows, in primary-key order, and count
    the unpaid orders, in one statement; check the shopper's limits
    (``limits.check_order_limits``: units per line and per order, unpaid
    orders of the visitor, i.e. *user* and the *session_orders* numbers, of
    the phone and of the address), raising a LimitReached before anything
    is held; check every line (raising one InsufficientStock that lists
    every short line, reserving nothing), allocate the stock, create the
    Order with price snapshots, Decimal totals and the address it was
    placed from (an amount M-Pesa can't take,
    ``payments.services.amount_refusal``, raises OrderTooLarge first), and
    empty the cart of the lines ordered. The received email and the expiry
    are queued for when it commits. Payment is asked for after this
    commits, never while the rows are locked. Raises EmptyCart when there
    is nothing to order.
    """
    now = now or timezone.now()

    def place(number: str) -> Order:
        order, _counted = _place(
            number=number,
            cart=cart,
            email=email,
            phone=phone,
            address=address,
            user=user,
            session_orders=session_orders,
            client_ip=client_ip,
            now=now,
        )
        notify(order, "received")
        _schedule_expiry(order)
        return order

    return _with_a_free_number(place)


def place_order_to_pay(
    *,
    cart: Cart,
    email: str,
    phone: str,
    address: DeliveryAddress,
    user=None,
    session_orders: Iterable[str] = (),
    client_ip: str | None = None,
    now: datetime | None = None,
    before_commit: Callable[[Order], None] | None = None,
) -> tuple[Order, Any]:
    """Place the order as ``place_order`` does and open its M-Pesa payment.

    The checkout's "Pay with M-Pesa": in the one transaction that places the
    order, also create its first payment attempt
    (``payments.services.open_first_attempt``) and run *before_commit*
    (order), so the order, its attempt and what the caller records with
    them commit together, and a second prompt for the order (a resend from
    another tab) finds the first. Return (order, attempt); the attempt is
    None when the phone had too many prompts this hour. Daraja is asked
    afterwards (``payments.services.send_first_push``), with no row locked.
    """
    now = now or timezone.now()

    def place(number: str) -> tuple[Order, Any]:
        from ..tasks import enqueue_with_transaction, expire_order_task, send_order_email

        order, counted = _place(
            number=number,
            cart=cart,
            email=email,
            phone=phone,
            address=address,
            user=user,
            session_orders=session_orders,
            client_ip=client_ip,
            now=now,
            count_pushes=True,
        )
        attempt = payments.open_first_attempt(
            order=order, phone=phone, now=now, pushes=counted["pushes"]
        )
        # The received email and the expiry, as place_order queues them, and
        # the push's STK query, in one insert committed with the order.
        enqueue_with_transaction(
            (send_order_email, (order.pk, "received")),
            (expire_order_task.using(run_after=order.expires_at), (order.pk,)),
            *([payments.first_query(attempt, now=now)] if attempt is not None else []),
        )
        if before_commit is not None:
            before_commit(order)
        return order, attempt

    return _with_a_free_number(place)


def _with_a_free_number(place: Callable[[str], Any]) -> Any:
    """Run *place*(number) in a transaction, again if that order number was taken.

    Order numbers are random (``new_order_number``) and unique in the
    database; rather than ask before every insert, a clash (rare: 31⁸
    numbers) rolls the whole placement back, and it is placed again with a
    new number.
    """
    for tries in range(1, NUMBER_TRIES + 1):
        number = new_order_number()
        try:
            with transaction.atomic():
                return place(number)
        except IntegrityError:
            if tries == NUMBER_TRIES or not Order.objects.filter(number=number).exists():
                raise
            logger.info("Order number %s was taken; placing the order again", number)
    raise AssertionError("unreachable")


def _place(
    *,
    number: str,
    cart: Cart,
    email: str,
    phone: str,
    address: DeliveryAddress,
    user,
    session_orders: Iterable[str],
    client_ip: str | None,
    now: datetime,
    count_pushes: bool = False,
) -> tuple[Order, dict[str, int]]:
    """Place the order numbered *number* (``place_order``'s rules); call inside atomic().

    Return the order and the counts read with the cart lines: the unpaid
    orders (``unpaid_*``) and, with *count_pushes*, the phone's prompts this
    hour (``pushes``). Queues nothing: the callers do.
    """
    # The checkout keys first (the shopper, the phone, the address): checkouts
    # sharing one count their unpaid orders one after the other.
    signed_in = user is not None and user.is_authenticated
    locks.lock_keys(
        f"phone:{phone}",
        f"address:{client_ip}" if client_ip else "",
        f"user:{user.pk}" if signed_in else "",
    )
    # Then, in one statement, the cart's lines and their variants, locked,
    # with the counts the limits need. The same cart submitted twice (double
    # click, two tabs) waits here, then finds its lines gone and places nothing.
    session_orders = list(session_orders)
    counts = limits.unpaid_count_expressions(
        phone=phone, user=user, session_orders=session_orders, client_ip=client_ip, now=now
    )
    if count_pushes:
        counts["pushes"] = limits.count_of(payments.recent_pushes(phone=phone, now=now))
    cart_lines = locks.lock_cart_lines(cart, **counts)
    if not cart_lines:
        raise EmptyCart(_("Your cart is empty."))
    counted = {name: getattr(cart_lines[0], name) for name in counts}
    check_order_limits(
        quantities=[line.quantity for line in cart_lines],
        phone=phone,
        user=user,
        session_orders=session_orders,
        client_ip=client_ip,
        now=now,
        counts={name.removeprefix("unpaid_"): n for name, n in counted.items()},
    )
    variants = {line.variant_id: line.variant for line in cart_lines}
    shortages = []
    for line in cart_lines:
        variant = variants.get(line.variant_id)
        sellable = variant is not None and variant.is_active and variant.product.is_active
        available = variant.stock_available if sellable else 0
        if line.quantity > available:
            label = str(variant) if variant is not None else _("An item")
            shortages.append((label, line.quantity, available))
    if shortages:
        raise InsufficientStock(shortages)

    subtotal = sum(
        (quantize(variants[line.variant_id].price * line.quantity) for line in cart_lines),
        Decimal("0.00"),
    )
    quote = delivery_quote(county=address.county, subtotal=subtotal)
    total = quantize(subtotal + quote.fee)
    refusal = payments.amount_refusal(whole_shillings(total))
    if refusal:
        raise OrderTooLarge(refusal)
    order = Order(
        number=number,
        user=user if user is not None and user.is_authenticated else None,
        email=email,
        phone=phone,
        recipient_name=address.recipient_name,
        recipient_phone=address.phone,
        county=address.county,
        town=address.town,
        street=address.street,
        landmark=address.landmark,
        subtotal=subtotal,
        delivery_fee=quote.fee,
        total=total,
        amount_payable=whole_shillings(total),
        expires_at=now + payment_window(),
        placed_from=client_ip,
        language=i18n.language_for(fallback=translation.get_language()),
    )
    # Validate what the shopper typed (email, names, address, phone); the
    # number's uniqueness and the total's constraint are the database's to
    # enforce on insert (``_with_a_free_number``), and the shopper is the
    # request's own, so none of them costs a query here.
    order.full_clean(exclude=["user"], validate_unique=False, validate_constraints=False)
    order.save(force_insert=True)
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant=variants[line.variant_id],
                product_name=variants[line.variant_id].product.name,
                variant_name=variants[line.variant_id].name,
                sku=variants[line.variant_id].sku,
                unit_price=variants[line.variant_id].price,
                quantity=line.quantity,
                line_total=quantize(variants[line.variant_id].price * line.quantity),
            )
            for line in cart_lines
        ]
    )
    units: dict[int, int] = {}
    for line in cart_lines:
        units[line.variant_id] = units.get(line.variant_id, 0) + line.quantity
    ProductVariant.objects.filter(pk__in=units).update(
        stock_allocated=F("stock_allocated") + _per_row(units)
    )
    _show_stock_change(variants, units, taken=True)
    OrderEvent.objects.create(order=order, to_status=order.status, note="Order placed", actor=None)
    # The lines ordered (a line added meanwhile stays in the cart).
    CartLine.objects.filter(pk__in=[line.pk for line in cart_lines]).delete()
    return order, counted


def notify(order: Order, kind: str) -> None:
    """Tell the shopper about *order* once the transaction commits.

    An email for every *kind* (see ``shop.tasks.EMAILS``), and a text for
    the kinds ``shop.tasks.SMS`` has words for; both go through the worker.
    """
    from ..tasks import SMS, enqueue_with_transaction, send_order_email, send_order_sms

    calls = [(send_order_email, (order.pk, kind))]
    if kind in SMS:
        calls.append((send_order_sms, (order.pk, kind)))
    enqueue_with_transaction(*calls)


def _schedule_expiry(order: Order, *, when: datetime | None = None) -> None:
    from ..tasks import expire_order_task

    order_id, when = order.pk, when or order.expires_at
    transaction.on_commit(lambda: expire_order_task.using(run_after=when).enqueue(order_id))


# Status changes -------------------------------------------------------------


def _units_by(order: Order, key: str) -> dict[int, int]:
    """Return the order's units per *key* (``variant_id`` or ``variant__product_id``)."""
    units: dict[int, int] = {}
    for pk, quantity in order.lines.exclude(variant=None).values_list(key, "quantity"):
        units[pk] = units.get(pk, 0) + quantity
    return units


def _per_row(units: dict[int, int]) -> Case:
    """Return a per-primary-key amount, so one UPDATE moves every row."""
    whens = [When(pk=pk, then=Value(n)) for pk, n in units.items()]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def _show_stock_change(variants: dict[int, ProductVariant], units: dict[int, int], *, taken: bool):
    """Mark the cached pages showing this stock stale, where what they show changed.

    *variants* hold the figures before the change (``catalogue.stock_changed``).
    """
    changes = []
    for pk, quantity in units.items():
        variant = variants.get(pk)
        if variant is not None:
            before = variant.stock_available
            after = max(before - quantity, 0) if taken else before + quantity
            changes.append((variant, before, after))
    stock_changed(changes)


def _release_stock(order: Order, variants: dict[int, ProductVariant]) -> None:
    """End the order's hold on stock, once (*variants* are locked)."""
    if order.stock_released:
        return
    units = _units_by(order, "variant_id")
    if units:
        ProductVariant.objects.filter(pk__in=units).update(
            stock_allocated=F("stock_allocated") - _per_row(units)
        )
        _show_stock_change(variants, units, taken=False)
    order.stock_released = True


def _ship_stock(order: Order) -> None:
    """Take shipped units off the shelf and out of the allocation, once."""
    if order.stock_released:
        return
    units = _units_by(order, "variant_id")
    if units:
        ProductVariant.objects.filter(pk__in=units).update(
            stock_allocated=F("stock_allocated") - _per_row(units),
            stock_on_hand=F("stock_on_hand") - _per_row(units),
        )
    order.stock_released = True


def _move(order: Order, to: str, *, actor=None, note: str = "") -> Order:
    """Apply a status change to a locked *order*, with all that goes with it.

    The one place a status changes: it refuses moves ``TRANSITIONS`` doesn't
    allow, moves the stock (``RELEASING``, shipping), writes the history
    and queues the shopper's notification (``NOTIFIES``). Services call it;
    nothing else changes ``Order.status``.
    """
    if to not in Status.values:
        raise IllegalTransition(f"“{to}” is not an order status.")
    if to not in TRANSITIONS.get(order.status, set()):
        raise IllegalTransition(
            f"Order {order.number} can't go from {Status(order.status).label.lower()} "
            f"to {Status(to).label.lower()}."
        )
    if to in RELEASING or to == Status.SHIPPED:
        variant_ids = order.lines.exclude(variant=None).values_list("variant_id", flat=True)
        locked = locks.lock_variants(list(variant_ids))
    if to in RELEASING:
        _release_stock(order, locked)
    elif to == Status.SHIPPED:
        _ship_stock(order)
    from_status = order.status
    order.status = to
    order.save(update_fields=["status", "stock_released", "paid_at", "updated"])
    OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=to, note=note[:300], actor=actor
    )
    kind = NOTIFIES.get((from_status, to))
    if kind:
        notify(order, kind)
    return order


class PaymentRecorded(enum.StrEnum):
    """What ``mark_order_paid`` did with a payment."""

    PAID = "paid"
    ALREADY_PAID = "already_paid"
    AMOUNT_MISMATCH = "amount_mismatch"
    NOT_OPEN = "not_open"


# No savepoint: the payments app calls it inside its own transaction, which
# an error here rolls back whole.
@transaction.atomic(savepoint=False)
def mark_order_paid(
    *, order_id: int, amount: Decimal, reference: str, paid_at: datetime | None = None
) -> PaymentRecorded:
    """Record that an order's payment is complete; return what happened.

    The payments app calls it once the paid parts cover the order, after
    ``payments.services.payability`` said the order takes money. Locks the
    order. Only ``PAID`` changes the order (to paid, with its history,
    units sold and the shopper's notification); the caller flags the rest
    for staff.
    """
    order = locks.lock_order(order_id)
    if order.status != Status.AWAITING_PAYMENT:
        if order.status in (Status.EXPIRED, Status.CANCELLED):
            return PaymentRecorded.NOT_OPEN
        return PaymentRecorded.ALREADY_PAID
    if Decimal(amount) != Decimal(order.amount_payable):
        return PaymentRecorded.AMOUNT_MISMATCH
    order.paid_at = paid_at or timezone.now()
    label = "receipts" if "," in reference else "receipt"
    _move(order, Status.PAID, note=f"Paid by M-Pesa, {label} {reference}" if reference else "Paid")
    sold = _units_by(order, "variant__product_id")
    if sold:
        # Lock in primary-key order first: two payments of the same products
        # must not update them in opposite orders (a deadlock).
        locks.lock_products(sold)
        Product.objects.filter(pk__in=sold).update(units_sold=F("units_sold") + _per_row(sold))
    return PaymentRecorded.PAID


def expire_order(*, order_id: int, now: datetime | None = None) -> bool:
    """Expire an unpaid order whose time is up and release its stock, once.

    Asks ``payments.services.payability`` (the one rule for "can this order
    still be paid?"): an order still within its window, or with a prompt
    that may still be answered, is left alone (the expiry is tried again
    when that prompt's time is up); one with money in is never expired but
    held for staff. Locks the order; a payment recorded first wins. Return
    True if the order expired now.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = locks.lock_order(order_id)
        if order.status != Status.AWAITING_PAYMENT:
            return False
        verdict = payments.payability(order, now=now)
        if verdict.verdict == payments.Verdict.CLOSED:
            # Stored in English; the shopper's timeline translates it.
            _move(order, Status.EXPIRED, note=gettext_noop("Not paid in time; stock released"))
            logger.info("Order %s expired", order.number)
            return True
    if verdict.verdict == payments.Verdict.WAITING:
        _schedule_expiry(order, when=verdict.live_until)
    elif verdict.verdict == payments.Verdict.PART_PAID:
        payments.hold_for_staff(order_id=order_id, now=now)
    return False


def expire_overdue_orders(*, now: datetime | None = None) -> int:
    """Expire every unpaid order past its time; return how many expired."""
    now = now or timezone.now()
    overdue = Order.objects.filter(status=Status.AWAITING_PAYMENT, expires_at__lte=now).values_list(
        "pk", flat=True
    )
    return sum(expire_order(order_id=pk, now=now) for pk in list(overdue))
