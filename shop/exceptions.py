"""Domain errors of the shop. Their messages are safe to show to shoppers."""


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
