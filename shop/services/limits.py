"""Limits on what one shopper may hold unpaid, so nobody can empty the shelves.

An order holds its stock from placement until it is paid or expires
(``ORDER_PAYMENT_MINUTES``), so a visitor placing order after order could
hold every unit without paying. ``place_order`` runs ``check_order_limits``
after locking the cart and before holding anything; each rule raises a
LimitReached whose message tells the shopper what to do. The cart keeps to
the units-per-line rule too.

==============================  =======  =====================================
setting                         default  counts
==============================  =======  =====================================
MAX_UNITS_PER_LINE              10       units of one item in a cart or order
MAX_UNITS_PER_ORDER             30       units in one order
MAX_UNPAID_ORDERS_PER_VISITOR   3        the session's and the shopper's
MAX_UNPAID_ORDERS_PER_PHONE     3        orders paid from one M-Pesa number
MAX_UNPAID_ORDERS_PER_ADDRESS   10       orders placed from one IP address
==============================  =======  =====================================

Unpaid orders are those awaiting payment and not past ``expires_at``; paid,
expired and cancelled ones don't count. An unpaid-orders limit of 0 is off.
``place_order`` takes ``storefront.locks.lock_keys`` on the shopper, the phone and
the address first, so checkouts racing from different carts count one after
the other. (A guest's session orders are per browser, so two tabs share the
cart lock; two browsers are two visitors.)
"""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..exceptions import TooManyUnits, TooManyUnpaidOrders
from ..models import Order


def unpaid_orders(now: datetime) -> QuerySet[Order]:
    """Return the orders awaiting payment and still holding stock at *now*."""
    return Order.objects.filter(status=Order.Status.AWAITING_PAYMENT).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def _readable_phone(phone: str) -> str:
    """Return ``254708374149`` as ``0708 374 149`` (anything else unchanged)."""
    if len(phone) == 12 and phone.startswith("254") and phone.isdigit():
        return f"0{phone[3:6]} {phone[6:9]} {phone[9:]}"
    return phone


# Units ------------------------------------------------------------------------


def max_units_per_line() -> int:
    return settings.MAX_UNITS_PER_LINE


def check_units_per_line(quantity: int) -> None:
    """Raise TooManyUnits if one line holds more than ``MAX_UNITS_PER_LINE``."""
    if quantity > max_units_per_line():
        raise TooManyUnits(
            _("You can buy at most %(limit)s of one item per order.")
            % {"limit": max_units_per_line()}
        )


def check_units_per_order(quantities: Iterable[int]) -> None:
    """Raise TooManyUnits if the lines add up to more than ``MAX_UNITS_PER_ORDER``."""
    limit, total = settings.MAX_UNITS_PER_ORDER, sum(quantities)
    if total > limit:
        raise TooManyUnits(
            _(
                "You can buy at most %(limit)s items in one order, and your cart has "
                "%(total)s. Remove some before paying."
            )
            % {"limit": limit, "total": total}
        )


# Unpaid orders ------------------------------------------------------------------


def check_unpaid_orders_per_visitor(*, user, session_orders: Iterable[str], now: datetime) -> None:
    """Raise TooManyUnpaidOrders if the visitor has ``MAX_UNPAID_ORDERS_PER_VISITOR``.

    The visitor's orders are those its session placed (*session_orders*,
    their numbers) and, when signed in, the shopper's.
    """
    limit = settings.MAX_UNPAID_ORDERS_PER_VISITOR
    numbers = list(session_orders)
    signed_in = user is not None and user.is_authenticated
    if limit <= 0 or not (signed_in or numbers):
        return
    mine = Q(number__in=numbers)
    if signed_in:
        mine |= Q(user=user)
    count = unpaid_orders(now).filter(mine).count()
    if count >= limit:
        if signed_in:
            message = ngettext(
                "You already have %(count)s order waiting for payment. Pay or cancel one of "
                "them (My orders) before placing another.",
                "You already have %(count)s orders waiting for payment. Pay or cancel one of "
                "them (My orders) before placing another.",
                count,
            )
        else:
            message = ngettext(
                "You already have %(count)s order waiting for payment. Pay or cancel one of "
                "them (the links are in your order emails) before placing another.",
                "You already have %(count)s orders waiting for payment. Pay or cancel one of "
                "them (the links are in your order emails) before placing another.",
                count,
            )
        raise TooManyUnpaidOrders(message % {"count": count})


def check_unpaid_orders_per_phone(*, phone: str, now: datetime) -> None:
    """Raise TooManyUnpaidOrders if *phone* has ``MAX_UNPAID_ORDERS_PER_PHONE``."""
    limit = settings.MAX_UNPAID_ORDERS_PER_PHONE
    if limit <= 0 or not phone:
        return
    count = unpaid_orders(now).filter(phone=phone).count()
    if count >= limit:
        raise TooManyUnpaidOrders(
            ngettext(
                "The M-Pesa number %(phone)s already has %(count)s order waiting for payment. "
                "Pay or cancel one of them before placing another.",
                "The M-Pesa number %(phone)s already has %(count)s orders waiting for payment. "
                "Pay or cancel one of them before placing another.",
                count,
            )
            % {"phone": _readable_phone(phone), "count": count}
        )


def check_unpaid_orders_per_address(*, client_ip: str | None, now: datetime) -> None:
    """Raise TooManyUnpaidOrders if *client_ip* has ``MAX_UNPAID_ORDERS_PER_ADDRESS``.

    An address is often shared (an office, a mobile operator's NAT), so this
    limit is the loosest and its message blames nobody.
    """
    limit = settings.MAX_UNPAID_ORDERS_PER_ADDRESS
    if limit <= 0 or not client_ip:
        return
    if unpaid_orders(now).filter(placed_from=client_ip).count() >= limit:
        raise TooManyUnpaidOrders(
            _(
                "Too many orders from your network are waiting for payment. "
                "Please try again in a few minutes."
            )
        )


def check_order_limits(
    *,
    quantities: list[int],
    phone: str,
    user=None,
    session_orders: Iterable[str] = (),
    client_ip: str | None = None,
    now: datetime,
) -> None:
    """Run every rule for a new order of lines of *quantities*, cheapest first.

    Raises TooManyUnits or TooManyUnpaidOrders (both LimitReached); reads
    only, so a refusal changes nothing.
    """
    for quantity in quantities:
        check_units_per_line(quantity)
    check_units_per_order(quantities)
    check_unpaid_orders_per_visitor(user=user, session_orders=session_orders, now=now)
    check_unpaid_orders_per_phone(phone=phone, now=now)
    check_unpaid_orders_per_address(client_ip=client_ip, now=now)
