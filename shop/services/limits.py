"""Limits on what one shopper may hold unpaid, so nobody can empty the shelves.

An order holds its stock from placement until it is paid or expires
(``ORDER_PAYMENT_MINUTES``), so a visitor placing order after order could
hold every unit without paying. ``place_order`` runs ``check_order_limits``
after locking the cart's lines and before holding anything; each rule raises a
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
the other; it reads the counts with the cart lines it locks
(``unpaid_count_expressions``), others in one query (``unpaid_counts``). (A
guest's session orders are per browser, so two tabs share the cart's line
locks; two browsers are two visitors.)
"""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Subquery
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


def _visitor_orders(user, session_orders: Iterable[str]) -> Q | None:
    """Return the visitor's orders as a filter, or None when the rule is off or moot."""
    numbers = list(session_orders)
    signed_in = user is not None and user.is_authenticated
    if settings.MAX_UNPAID_ORDERS_PER_VISITOR <= 0 or not (signed_in or numbers):
        return None
    mine = Q(number__in=numbers)
    if signed_in:
        mine |= Q(user=user)
    return mine


def check_unpaid_orders_per_visitor(
    *, user, session_orders: Iterable[str], now: datetime, count: int | None = None
) -> None:
    """Raise TooManyUnpaidOrders if the visitor has ``MAX_UNPAID_ORDERS_PER_VISITOR``.

    The visitor's orders are those its session placed (*session_orders*,
    their numbers) and, when signed in, the shopper's. *count* (of them
    unpaid at *now*) saves the query when the caller has it.
    """
    limit = settings.MAX_UNPAID_ORDERS_PER_VISITOR
    mine = _visitor_orders(user, session_orders)
    if mine is None:
        return
    signed_in = user is not None and user.is_authenticated
    if count is None:
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


def check_unpaid_orders_per_phone(*, phone: str, now: datetime, count: int | None = None) -> None:
    """Raise TooManyUnpaidOrders if *phone* has ``MAX_UNPAID_ORDERS_PER_PHONE``.

    *count* (the phone's unpaid orders at *now*) saves the query when given.
    """
    limit = settings.MAX_UNPAID_ORDERS_PER_PHONE
    if limit <= 0 or not phone:
        return
    if count is None:
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


def check_unpaid_orders_per_address(
    *, client_ip: str | None, now: datetime, count: int | None = None
) -> None:
    """Raise TooManyUnpaidOrders if *client_ip* has ``MAX_UNPAID_ORDERS_PER_ADDRESS``.

    An address is often shared (an office, a mobile operator's NAT), so this
    limit is the loosest and its message blames nobody. *count* (the
    address's unpaid orders at *now*) saves the query when given.
    """
    limit = settings.MAX_UNPAID_ORDERS_PER_ADDRESS
    if limit <= 0 or not client_ip:
        return
    if count is None:
        count = unpaid_orders(now).filter(placed_from=client_ip).count()
    if count >= limit:
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
    counts: dict[str, int] | None = None,
) -> None:
    """Run every rule for a new order of lines of *quantities*, cheapest first.

    Raises TooManyUnits or TooManyUnpaidOrders (both LimitReached); reads
    only, so a refusal changes nothing. The three unpaid-orders counts come
    from one query (``unpaid_counts``), or from *counts* when the caller
    read them already (``unpaid_count_expressions``, keys without the
    ``unpaid_`` prefix).
    """
    for quantity in quantities:
        check_units_per_line(quantity)
    check_units_per_order(quantities)
    session_orders = list(session_orders)
    if counts is None:
        counts = unpaid_counts(
            phone=phone, user=user, session_orders=session_orders, client_ip=client_ip, now=now
        )
    check_unpaid_orders_per_visitor(
        user=user, session_orders=session_orders, now=now, count=counts.get("visitor")
    )
    check_unpaid_orders_per_phone(phone=phone, now=now, count=counts.get("phone"))
    check_unpaid_orders_per_address(client_ip=client_ip, now=now, count=counts.get("address"))


def _count_rules(*, phone, user, session_orders, client_ip) -> dict[str, Q]:
    """Return the filter of each unpaid-orders rule that is on and has something to count."""
    rules = {
        "visitor": _visitor_orders(user, session_orders),
        "phone": Q(phone=phone) if settings.MAX_UNPAID_ORDERS_PER_PHONE > 0 and phone else None,
        "address": Q(placed_from=client_ip)
        if settings.MAX_UNPAID_ORDERS_PER_ADDRESS > 0 and client_ip
        else None,
    }
    return {name: rule for name, rule in rules.items() if rule is not None}


def unpaid_counts(
    *,
    phone: str,
    user=None,
    session_orders: Iterable[str] = (),
    client_ip: str | None = None,
    now: datetime,
) -> dict[str, int]:
    """Return the unpaid orders of the visitor, the phone and the address at *now*.

    One query for the rules that are on and have something to count (keys
    ``visitor``, ``phone``, ``address``); an empty dict when none has.
    """
    rules = _count_rules(phone=phone, user=user, session_orders=session_orders, client_ip=client_ip)
    if not rules:
        return {}
    anyone = Q()
    for rule in rules.values():
        anyone |= rule
    return (
        unpaid_orders(now)
        .filter(anyone)
        .aggregate(**{name: Count("pk", filter=rule) for name, rule in rules.items()})
    )


def count_of(queryset: QuerySet) -> Subquery:
    """Return ``SELECT COUNT(*)`` of *queryset* as an expression for another query."""
    counted = queryset.order_by().annotate(_n=Func(F("pk"), function="COUNT")).values("_n")
    return Subquery(counted, output_field=IntegerField())


def unpaid_count_expressions(
    *,
    phone: str,
    user=None,
    session_orders: Iterable[str] = (),
    client_ip: str | None = None,
    now: datetime,
) -> dict[str, Subquery]:
    """Return ``unpaid_counts`` as expressions, to be read with another query.

    ``place_order`` reads them with the cart lines it locks, after taking
    the checkout keys, so they count every order placed before it.
    """
    rules = _count_rules(phone=phone, user=user, session_orders=session_orders, client_ip=client_ip)
    return {
        f"unpaid_{name}": count_of(unpaid_orders(now).filter(rule)) for name, rule in rules.items()
    }
