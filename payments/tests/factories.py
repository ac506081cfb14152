"""Orders to pay, made through the shop's own services."""

from shop import services
from shop.models import Cart, CartLine, Order, ProductVariant
from shop.tests.factories import make_product

ADDRESS = services.DeliveryAddress(
    recipient_name="Amina Wanjiru",
    phone="254712345678",
    county="Nairobi",
    town="Westlands",
    street="Mpaka Road",
)
#: A payer the simulator answers with success (no scripted suffix).
PAYER = "254708374149"


def payer(suffix: str) -> str:
    """Return a Safaricom number ending in *suffix* (the simulator's outcome)."""
    return "2547083" + "0" * (5 - len(suffix)) + suffix


def order_to_pay(*, price="1500", stock=5, quantity=1, lines=1, phone=PAYER) -> Order:
    """Place an order awaiting payment of *lines* products."""
    cart = Cart.objects.create()
    for _ in range(lines):
        variant = make_product(prices=(price,), stock=stock, image=False).variants.get()
        CartLine.objects.create(
            cart=cart, variant=variant, quantity=quantity, price_when_added=variant.price
        )
    return services.place_order(cart=cart, email="amina@example.com", phone=phone, address=ADDRESS)


def allocated(order: Order) -> list[int]:
    """The stock allocated on each of the order's variants, as stored now."""
    return list(
        ProductVariant.objects.filter(order_lines__order=order)
        .order_by("pk")
        .values_list("stock_allocated", flat=True)
    )
