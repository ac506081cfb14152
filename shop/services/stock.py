"""Staff stock counts: the one way staff change a variant's stock on hand.

Staff count what is on the shelf (``stock_on_hand``); orders own
``stock_allocated`` (``shop.services.orders``). Every staff change (the
variant's admin page, the variant inline on the product page, the variant
list and the stock import) goes through ``set_stock_on_hand``, which locks
the variant, refuses a count below what orders hold, and writes that one
column, so an allocation made meanwhile is never written over.
"""

import logging

from django.db import transaction
from django.utils import timezone

from storefront import locks

from ..exceptions import ShopError
from ..models import ProductVariant
from .catalogue import stock_changed

logger = logging.getLogger(__name__)


class StockBelowAllocated(ShopError):
    """Stock on hand would fall below the units held by orders; nothing changed."""

    def __init__(self, *, allocated: int, on_hand: int):
        self.allocated = allocated
        self.on_hand = on_hand
        units = "unit is" if allocated == 1 else "units are"
        super().__init__(
            f"{allocated} {units} held by unpaid or unshipped orders; on hand can't go below that."
        )


class InvalidStockCount(ShopError):
    """Stock on hand that is not a whole number of units, zero or more."""


def _count(on_hand) -> int:
    if isinstance(on_hand, bool) or not isinstance(on_hand, int):
        raise InvalidStockCount("Stock on hand must be a whole number of units.")
    if on_hand < 0:
        raise InvalidStockCount("Stock on hand can't be negative.")
    return on_hand


def check_stock_on_hand(*, variant_id: int, on_hand: int) -> ProductVariant:
    """Return the variant if its stock on hand may be set to *on_hand*.

    Raise InvalidStockCount for a negative count, StockBelowAllocated when
    orders hold more units than *on_hand*, and ProductVariant.DoesNotExist.
    Inside a transaction the variant is locked (``storefront.locks``) until it
    ends, so a check made while validating a form still holds when
    ``set_stock_on_hand`` writes in the same transaction (the admin's views
    are atomic); outside one it is a plain read, good for feedback only.
    """
    on_hand = _count(on_hand)
    if transaction.get_connection().in_atomic_block:
        variant = locks.lock_variants([variant_id]).get(variant_id)
    else:
        variant = ProductVariant.objects.filter(pk=variant_id).first()
    if variant is None:
        raise ProductVariant.DoesNotExist(f"No variant {variant_id}")
    if on_hand < variant.stock_allocated:
        raise StockBelowAllocated(allocated=variant.stock_allocated, on_hand=on_hand)
    return variant


@transaction.atomic
def set_stock_on_hand(*, variant_id: int, on_hand: int, actor=None) -> ProductVariant:
    """Set the variant's stock on hand to *on_hand*; return the variant as stored.

    Locks the variant row, checks that *on_hand* is a whole number no lower
    than the units allocated to orders (raising StockBelowAllocated or
    InvalidStockCount, nothing changed) and updates ``stock_on_hand`` (and
    ``updated``) only. Marks the cached pages that show it stale when what they show changes.
    """
    variant = check_stock_on_hand(variant_id=variant_id, on_hand=on_hand)
    if variant.stock_on_hand == on_hand:
        return variant
    now = timezone.now()
    ProductVariant.objects.filter(pk=variant.pk).update(stock_on_hand=on_hand, updated=now)
    logger.info(
        "Stock on hand of %s set from %s to %s by %s",
        variant.sku,
        variant.stock_on_hand,
        on_hand,
        getattr(actor, "pk", None) or "the system",
    )
    before = variant.stock_available
    variant.stock_on_hand, variant.updated = on_hand, now
    stock_changed([(variant, before, variant.stock_available)])  # update() sends no signal
    return variant
