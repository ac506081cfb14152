"""The shop's business rules, one module per domain.

Call them through this package: ``services.add_to_cart(...)``.
"""

from .cart import (
    RECENTLY_VIEWED_LIMIT,
    CartSummary,
    accept_cart_prices,
    add_to_cart,
    clear_cart,
    max_line_quantity,
    merge_carts,
    merge_recently_viewed,
    move_wishlist_item_to_cart,
    remember_viewed,
    remove_cart_line,
    summarise_cart,
    toggle_wishlist,
    update_cart_line,
)
from .catalogue import refresh_product_summaries
from .orders import (
    TRANSITIONS,
    DeliveryAddress,
    DeliveryQuote,
    change_order_status,
    delivery_quote,
    expire_order,
    expire_overdue_orders,
    mark_order_paid,
    place_order,
)

__all__ = [
    "RECENTLY_VIEWED_LIMIT",
    "TRANSITIONS",
    "CartSummary",
    "DeliveryAddress",
    "DeliveryQuote",
    "accept_cart_prices",
    "add_to_cart",
    "change_order_status",
    "clear_cart",
    "delivery_quote",
    "expire_order",
    "expire_overdue_orders",
    "mark_order_paid",
    "max_line_quantity",
    "merge_carts",
    "merge_recently_viewed",
    "move_wishlist_item_to_cart",
    "place_order",
    "refresh_product_summaries",
    "remember_viewed",
    "remove_cart_line",
    "summarise_cart",
    "toggle_wishlist",
    "update_cart_line",
]
