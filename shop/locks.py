"""Every row lock the shop takes goes through here, in one fixed order.

Locks are taken in primary-key order (so two transactions locking the same
rows cannot deadlock) and the querysets are evaluated, so the lock is really
taken: an unevaluated ``select_for_update()`` locks nothing. Lock orders
before payment attempts, and orders before variants.
"""

from .models import Order, ProductVariant


def lock_variants(variant_ids) -> dict[int, ProductVariant]:
    """Lock the variants' stock rows; return them by id. Call inside atomic()."""
    rows = (
        ProductVariant.objects.filter(pk__in=set(variant_ids))
        .select_related("product")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return {variant.pk: variant for variant in rows}


def lock_order(order_id) -> Order:
    """Lock one order row and return it. Call inside atomic()."""
    return Order.objects.select_for_update(of=("self",)).get(pk=order_id)
