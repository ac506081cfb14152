"""The shop's models, one module per domain."""

from .cart import Cart, CartLine, RecentlyViewed, WishlistItem
from .catalogue import (
    MONEY,
    Attribute,
    AttributeValue,
    Banner,
    BannerQuerySet,
    Brand,
    Category,
    FacetCount,
    Product,
    ProductImage,
    ProductQuerySet,
    ProductSpecification,
    ProductValue,
    ProductVariant,
    TimeStampedModel,
)
from .jobs import JobRun, WorkerHeartbeat
from .orders import (
    DeliveryZone,
    Order,
    OrderEvent,
    OrderLine,
    Refund,
    Shipment,
    ShipmentUpdate,
)
from .pages import Page
from .reviews import Review

__all__ = [
    "MONEY",
    "Attribute",
    "AttributeValue",
    "Banner",
    "BannerQuerySet",
    "Brand",
    "Cart",
    "CartLine",
    "Category",
    "FacetCount",
    "ProductValue",
    "DeliveryZone",
    "JobRun",
    "Order",
    "OrderEvent",
    "OrderLine",
    "Page",
    "Product",
    "ProductImage",
    "ProductQuerySet",
    "ProductSpecification",
    "ProductVariant",
    "RecentlyViewed",
    "Refund",
    "Review",
    "Shipment",
    "ShipmentUpdate",
    "TimeStampedModel",
    "WishlistItem",
    "WorkerHeartbeat",
]
