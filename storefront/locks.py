"""Every row lock the shop takes goes through here, in one fixed order.

Locks are taken in primary-key order (so two transactions locking the same
rows cannot deadlock) and the querysets are evaluated, so the lock is really
taken: an unevaluated ``select_for_update()`` locks nothing.

The lock order, for every transaction that takes more than one kind:

1. users (a shopper's addresses), 2. carts, 3. checkout keys
(``lock_keys``: the shopper, the M-Pesa number and the address an order is
placed from), 4. orders, 5. payment attempts, 6. shipments, 7. variants
(placing an order locks its cart lines with them, ``lock_cart_lines``),
8. products, 9. reviews.

It is the project's, not an app's: it names every app's rows, so it finds
their models when called instead of importing the apps.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.db import connection

from .web import int_or_none

if TYPE_CHECKING:
    from payments.models import PaymentAttempt
    from shop.models import Cart, CartLine, Order, ProductVariant, Review, Shipment


def _rows(label: str):
    """Return the model *label* (``"shop.Order"``)'s manager, loaded when called."""
    return apps.get_model(label).objects


def lock_variants(variant_ids) -> dict[int, ProductVariant]:
    """Lock the variants' stock rows; return them by id. Call inside atomic()."""
    rows = (
        _rows("shop.ProductVariant")
        .filter(pk__in=set(variant_ids))
        .select_related("product")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return {variant.pk: variant for variant in rows}


def lock_order(order_id) -> Order:
    """Lock one order row and return it. Call inside atomic()."""
    return _rows("shop.Order").select_for_update(of=("self",)).get(pk=order_id)


def lock_attempt(attempt_id) -> PaymentAttempt:
    """Lock one payment attempt (after its order) and return it. Call inside atomic()."""
    return _rows("payments.PaymentAttempt").select_for_update(of=("self",)).get(pk=attempt_id)


def lock_products(product_ids) -> None:
    """Lock products' rows (their counters) in primary-key order. Call inside atomic()."""
    list(
        _rows("shop.Product")
        .filter(pk__in=set(product_ids))
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )


#: ``lock_cart``'s owner when any owner will do.
ANY_OWNER = object()


def lock_cart(cart_id, *, user_id=ANY_OWNER) -> Cart:
    """Lock a cart row and return it. Call inside atomic().

    With *user_id* (None for a visitor's cart) the cart must still be that
    owner's, or Cart.DoesNotExist is raised.
    """
    rows = _rows("shop.Cart").select_for_update(of=("self",))
    if user_id is ANY_OWNER:
        return rows.get(pk=cart_id)
    return rows.get(pk=cart_id, user_id=user_id)


def lock_cart_lines(cart: Cart, **annotations) -> list[CartLine]:
    """Lock *cart*'s lines and their variants; return the lines, by variant id.

    For placing an order, after ``lock_keys``: one statement locks each line
    and its variant (with its product, unlocked), in variant primary-key
    order, so the variants are locked in the same order as ``lock_variants``.
    Lines another transaction deleted meanwhile (an order placed from the
    same cart) are left out. The cart row itself is not locked: changes to
    a cart wait for the locked lines. *cart* may be an unfetched reference;
    it must still be its owner's (``user_id``). *annotations* (e.g. counts
    the order's limits need) are read in the same statement.
    """
    return list(
        _rows("shop.CartLine")
        .filter(cart_id=cart.pk, cart__user_id=cart.user_id)
        .select_related("variant__product")
        .annotate(**annotations)
        .order_by("variant_id")
        .select_for_update(of=("self", "variant"))
    )


def lock_cart_line(cart: Cart, line_id) -> CartLine:
    """Return *cart*'s line *line_id*, locking the cart row in the same query."""
    return (
        _rows("shop.CartLine")
        .select_related("cart", "variant__product")
        .select_for_update(of=("cart",))
        .get(pk=int_or_none(line_id), cart_id=cart.pk, cart__user_id=cart.user_id)
    )


def lock_shipment(shipment_id) -> Shipment:
    """Lock one shipment (after its order) and return it. Call inside atomic()."""
    return _rows("shop.Shipment").select_for_update(of=("self",)).get(pk=shipment_id)


def lock_review(review_id) -> Review:
    """Lock one review and return it. Call inside atomic()."""
    return _rows("shop.Review").select_for_update(of=("self",)).get(pk=review_id)


def lock_keys(*keys: str) -> None:
    """Serialise transactions about the same *keys* (e.g. ``"phone:2547…"``).

    For counts that no row holds, such as a phone's unpaid orders: two
    checkouts from different carts must not both count below a limit and
    both place. On PostgreSQL each key takes a transaction-level advisory
    lock, in sorted order; SQLite already serialises writers. Call inside
    atomic(); empty keys are skipped.
    """
    if connection.vendor != "postgresql":
        return
    numbers = []
    for key in sorted({k for k in keys if k}):
        digest = hashlib.sha256(key.encode()).digest()
        numbers.append(int.from_bytes(digest[:8], "big", signed=True))
    if numbers:
        # One statement; PostgreSQL evaluates its select list left to right,
        # so the keys are still taken in sorted order.
        with connection.cursor() as cursor:
            locking = ", ".join(["pg_advisory_xact_lock(%s)"] * len(numbers))
            cursor.execute(f"SELECT {locking}", numbers)


def lock_user(user_id) -> None:
    """Lock a shopper's row (serialises their address writes). Call inside atomic()."""
    list(
        _rows(settings.AUTH_USER_MODEL)
        .select_for_update(of=("self",))
        .filter(pk=user_id)
        .values_list("pk", flat=True)
    )
