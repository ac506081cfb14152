"""Business rules of carts, wishlists and recently viewed products."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront import locks
from storefront.web import int_or_none

from ..exceptions import InvalidQuantity, NotEnoughStock, VariantUnavailable
from ..models import (
    Cart,
    CartLine,
    Product,
    ProductImage,
    ProductVariant,
    RecentlyViewed,
    WishlistItem,
)
from ..queries import variant_looks, variant_pictures
from .limits import check_units_per_line, max_units_per_line

# Carts ----------------------------------------------------------------------
#
# The stock rule for carts: a cart never holds more units of a variant than
# are available (on hand minus allocated) at the moment of the change, but a
# cart does not reserve stock. Two shoppers may both put the last unit in
# their carts; stock is reserved only when an order is placed, under row
# locks, and the second checkout is refused. Changes to one cart are
# serialised by locking the cart row, so two requests on the same cart
# cannot together push it past the stock they each checked.


def _parse_quantity(quantity) -> int:
    try:
        value = int(str(quantity).strip())
    except (TypeError, ValueError):
        raise InvalidQuantity(_("Enter a whole number of items.")) from None
    if value < 1:
        raise InvalidQuantity(_("Choose at least one item."))
    check_units_per_line(value)
    return value


def _sellable_variant(variant_id) -> ProductVariant:
    """Return the variant, or raise DoesNotExist (bad id) / VariantUnavailable."""
    variant_pk = int_or_none(variant_id)
    if variant_pk is None:
        raise ProductVariant.DoesNotExist
    variant = ProductVariant.objects.select_related("product").get(pk=variant_pk)
    if not (variant.is_active and variant.product.is_active):
        raise VariantUnavailable(_("Sorry, %(item)s isn't sold any more.") % {"item": variant})
    return variant


def _check_stock(variant: ProductVariant, quantity: int) -> None:
    available = variant.stock_available
    if available <= 0:
        raise NotEnoughStock(_("Sorry, %(item)s is out of stock.") % {"item": variant}, available=0)
    if quantity > available:
        raise NotEnoughStock(
            _("Only %(n)s of %(item)s left in stock.") % {"n": available, "item": variant},
            available=available,
        )


def _locked(cart: Cart) -> Cart:
    """Lock *cart*'s row and return it, fresh; call inside atomic().

    *cart* may be an unfetched reference (``carts.cart_to_change``): the
    lock also checks that its owner is unchanged, raising Cart.DoesNotExist
    if the cart is gone or was merged into a shopper's.
    """
    return locks.lock_cart(cart.pk, user_id=cart.user_id)


def add_to_cart(*, cart: Cart | None, variant_id, quantity=1) -> CartLine:
    """Add *quantity* of a variant to *cart* (or raise, changing nothing).

    With *cart* None (a visitor's first add, or a session whose cart is
    gone) a new visitor cart is made in the same transaction as its first
    line, so a refused add leaves no empty cart; the line's ``cart`` is
    the cart used. Locks an existing cart's row. Raises
    ProductVariant.DoesNotExist for an unknown id, VariantUnavailable,
    InvalidQuantity or NotEnoughStock (the line's new total would exceed
    the units available).
    """
    quantity = _parse_quantity(quantity)
    variant = _sellable_variant(variant_id)
    with transaction.atomic():
        line = None
        if cart is not None:
            try:
                cart = _locked(cart)
            except Cart.DoesNotExist:
                if cart.user_id is not None:
                    raise
                cart = None
            else:
                line = CartLine.objects.filter(cart=cart, variant=variant).first()
        new_quantity = quantity + (line.quantity if line else 0)
        check_units_per_line(new_quantity)
        _check_stock(variant, new_quantity)
        if cart is None:
            cart = Cart.objects.create()
        if line is None:
            line = CartLine.objects.create(
                cart=cart, variant=variant, quantity=new_quantity, price_when_added=variant.price
            )
        else:
            line.quantity = new_quantity
            line.save(update_fields=["quantity", "updated"])
    line.cart = cart
    line.variant = variant
    return line


@transaction.atomic
def update_cart_line(*, cart: Cart, line_id, quantity) -> CartLine | None:
    """Set a line's quantity; 0 removes it. Return the line, or None if removed.

    Locks the cart row. Raises CartLine.DoesNotExist for a line that isn't
    in *cart*, and InvalidQuantity or NotEnoughStock, changing nothing. The
    stock is checked when the quantity grows, or when the line already holds
    more than is available.
    """
    line = locks.lock_cart_line(cart, line_id)
    if str(quantity).strip() == "0":
        line.delete()
        return None
    quantity = _parse_quantity(quantity)
    if quantity > line.quantity or line.quantity > line.variant.stock_available:
        _check_stock(line.variant, quantity)
    if quantity != line.quantity:
        line.quantity = quantity
        line.save(update_fields=["quantity", "updated"])
    return line


@transaction.atomic
def remove_cart_line(*, cart: Cart, line_id) -> None:
    """Remove a line; raise CartLine.DoesNotExist if it isn't in *cart*."""
    locks.lock_cart_line(cart, line_id).delete()


@transaction.atomic
def clear_cart(*, cart: Cart) -> None:
    _locked(cart)
    cart.lines.all().delete()


@transaction.atomic
def merge_carts(*, source: Cart, target: Cart) -> Cart:
    """Move *source*'s lines into *target*, adding quantities up to stock.

    Used when a visitor signs in. Quantities add up, capped by the units
    available and the per-line maximum; lines that can't be kept (sold out,
    inactive) are dropped. *source* is deleted.
    """
    if source.pk == target.pk:
        return target
    _locked(target)
    existing = {line.variant_id: line for line in target.lines.select_related("variant")}
    for line in source.lines.select_related("variant__product"):
        variant = line.variant
        if not (variant.is_active and variant.product.is_active):
            continue
        current = existing.get(variant.pk)
        wanted = line.quantity + (current.quantity if current else 0)
        capped = min(wanted, variant.stock_available, max_units_per_line())
        if capped <= 0:
            continue
        if current:
            current.quantity = capped
            current.save(update_fields=["quantity", "updated"])
        else:
            CartLine.objects.create(
                cart=target,
                variant=variant,
                quantity=capped,
                price_when_added=line.price_when_added,
            )
    source.delete()
    return target


@dataclass
class CartSummary:
    lines: list[CartLine]
    count: int
    subtotal: Decimal
    price_changes: list[CartLine]
    stock_problems: list[CartLine]


def summarise_cart(cart: Cart | None) -> CartSummary:
    """Return the cart's lines with current prices and pictures, in two or three queries.

    Each line's ``picture`` is the first its variant's gallery shows
    (``queries.variant_pictures``): the Blue phone in the cart shows blue.
    A third query reads the variants' values, only when a variant without
    pictures of its own has to borrow a look-alike's.
    """
    if cart is None:
        return CartSummary([], 0, Decimal("0"), [], [])
    lines = list(
        cart.lines.select_related("variant__product__brand").prefetch_related(
            Prefetch(
                "variant__product__images",
                queryset=ProductImage.objects.all(),
                to_attr="all_images",
            )
        )
    )
    _attach_pictures(lines)
    return CartSummary(
        lines=lines,
        count=sum(line.quantity for line in lines),
        subtotal=sum((line.line_total for line in lines), Decimal("0")),
        price_changes=[line for line in lines if line.price_changed],
        stock_problems=[
            line
            for line in lines
            if line.short_of_stock
            or not line.variant.is_active
            or not line.variant.product.is_active
        ],
    )


def _attach_pictures(lines: list[CartLine]) -> None:
    """Give each line the picture of its variant, reading values only if needed."""
    borrowing = []
    for line in lines:
        images = line.variant.product.all_images
        pictured = {i.variant_id for i in images if i.variant_id is not None}
        if line.variant_id not in pictured and len(pictured) > 1:
            borrowing.append((line, pictured))
    looks = variant_looks(
        {line.variant_id for line, _ in borrowing} | {v for _, p in borrowing for v in p}
    )
    for line in lines:
        pictures = variant_pictures(line.variant.product.all_images, line.variant_id, looks)
        line.picture = pictures[0] if pictures else None


@transaction.atomic
def accept_cart_prices(*, cart: Cart) -> None:
    """Record that the shopper has seen the current prices of every line."""
    _locked(cart)
    for line in cart.lines.select_related("variant"):
        if line.price_changed:
            line.price_when_added = line.variant.price
            line.save(update_fields=["price_when_added", "updated"])


# Wishlist -------------------------------------------------------------------


@transaction.atomic
def toggle_wishlist(*, user, product_id, variant_id=None) -> bool:
    """Add the product to the user's wishlist, or remove it; return if added.

    Raises Product.DoesNotExist for an unknown or hidden product.
    """
    product = Product.objects.active().get(pk=int_or_none(product_id))
    deleted, _ = WishlistItem.objects.filter(user=user, product=product).delete()
    if deleted:
        return False
    variant = None
    if variant_id not in (None, ""):
        variant = ProductVariant.objects.filter(pk=int_or_none(variant_id), product=product).first()
    WishlistItem.objects.create(user=user, product=product, variant=variant)
    return True


@transaction.atomic
def move_wishlist_item_to_cart(*, user, item_id, cart: Cart) -> CartLine:
    """Put a wishlist item in the cart and take it off the wishlist.

    Uses the saved variant, or the product's first variant in stock. Raises
    WishlistItem.DoesNotExist for another user's item, and the cart errors.
    """
    item = WishlistItem.objects.select_related("variant", "product").get(
        pk=int_or_none(item_id), user=user
    )
    variant = item.variant
    if variant is None or not variant.in_stock:
        variant = next(
            (v for v in item.product.variants.filter(is_active=True) if v.in_stock), None
        )
    if variant is None:
        raise NotEnoughStock(
            _("Sorry, %(item)s is out of stock.") % {"item": item.product}, available=0
        )
    line = add_to_cart(cart=cart, variant_id=variant.pk, quantity=1)
    item.delete()
    return line


# Recently viewed --------------------------------------------------------------

RECENTLY_VIEWED_LIMIT = 10


def remember_viewed(*, user, product_id: int) -> None:
    """Record that a signed-in shopper viewed a product, keeping the last 10."""
    RecentlyViewed.objects.update_or_create(
        user=user, product_id=product_id, defaults={"viewed_at": timezone.now()}
    )
    _trim_recently_viewed(user)


def _trim_recently_viewed(user) -> None:
    stale = list(
        RecentlyViewed.objects.filter(user=user).values_list("pk", flat=True)[
            RECENTLY_VIEWED_LIMIT:
        ]
    )
    if stale:
        RecentlyViewed.objects.filter(pk__in=stale).delete()


def merge_recently_viewed(*, user, product_ids: list[int]) -> None:
    """Merge a visitor's recently viewed products into the shopper's list."""
    now = timezone.now()
    for offset, product_id in enumerate(reversed(product_ids[:RECENTLY_VIEWED_LIMIT])):
        if Product.objects.filter(pk=product_id).exists():
            RecentlyViewed.objects.update_or_create(
                user=user,
                product_id=product_id,
                defaults={"viewed_at": now + timezone.timedelta(microseconds=offset)},
            )
    _trim_recently_viewed(user)
