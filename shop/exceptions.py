"""Domain errors of the shop. Their messages are safe to show to shoppers."""

from django.utils.translation import gettext as _


class ShopError(Exception):
    """A request the shop refuses; ``str(error)`` is the shopper's message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CartError(ShopError):
    """A cart change that was refused; the cart is left as it was."""


class VariantUnavailable(CartError):
    """The variant does not exist, is inactive, or its product is hidden."""


class InvalidQuantity(CartError):
    """The quantity is not a whole number within the allowed range."""


class NotEnoughStock(CartError):
    """The cart would hold more units than are available."""

    def __init__(self, message: str, *, available: int):
        super().__init__(message)
        self.available = available


class CheckoutError(ShopError):
    """The order could not be placed; nothing was reserved."""


class EmptyCart(CheckoutError):
    """There is nothing to order."""


class InsufficientStock(CheckoutError):
    """Some lines ask for more than is available; lists every short line."""

    def __init__(self, shortages: list[tuple[str, int, int]]):
        self.shortages = shortages  # (item, wanted, available)
        parts = [
            _("%(item)s: only %(available)s left (you asked for %(wanted)s)")
            % {"item": item, "available": available, "wanted": wanted}
            if available
            else _("%(item)s: sold out") % {"item": item}
            for item, wanted, available in shortages
        ]
        super().__init__(
            _("Some items are short of stock — %(items)s.") % {"items": "; ".join(parts)}
        )


class OrderTooLarge(CheckoutError):
    """The order is more than M-Pesa takes from one payer; nothing was reserved."""


class LimitReached(CheckoutError):
    """The order would let one shopper hold too much; nothing was reserved."""


class TooManyUnpaidOrders(LimitReached):
    """The visitor, M-Pesa number or address already has enough unpaid orders."""


class TooManyUnits(InvalidQuantity, LimitReached):
    """Too many units of one item, or in one order; refused by cart and checkout."""


class IllegalTransition(ShopError):
    """An order status change that the rules do not allow."""


class FulfilmentError(ShopError):
    """A packing, shipping or refund step that was refused; nothing changed."""


class ReviewError(ShopError):
    """A review that was refused; nothing was saved."""
