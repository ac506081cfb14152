"""Limits on what one shopper may hold unpaid: orders per visitor, phone and address, units."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from shop import services
from shop.carts import CART_SESSION_KEY
from shop.exceptions import (
    CartError,
    CheckoutError,
    InvalidQuantity,
    LimitReached,
    TooManyUnits,
    TooManyUnpaidOrders,
)
from shop.models import Cart, CartLine, DeliveryZone, Order, OrderEvent, ProductVariant
from shop.order_access import SESSION_KEY
from shop.services import DeliveryAddress

from .factories import make_product, move_order

pytestmark = pytest.mark.django_db

S = Order.Status
CHECKOUT = reverse("shop:checkout")
ADDRESS = DeliveryAddress(
    recipient_name="Amina Wanjiru", phone="254712345678", county="Nairobi", town="Westlands"
)
PHONE = "254712345678"
IP = "197.248.10.20"
GUEST = {
    "email": "amina@example.com",
    "new-recipient_name": "Amina Wanjiru",
    "new-phone": "0712 345 678",
    "new-county": "47",  # Nairobi
    "new-town": "Westlands",
    "new-street": "Mpaka Road, Apple Court",
    "mpesa_phone": "0708 374 149",
    "action": "pay",
}
VISITOR_MESSAGE = "You already have 3 orders waiting for payment."


@pytest.fixture(autouse=True)
def zone():
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200, is_fallback=True)


@pytest.fixture
def variant() -> ProductVariant:
    return make_product(prices=("1500",), stock=100, image=False).variants.get()


def other_phone(n: int) -> str:
    return f"2547083{n:05d}"


def cart_with(*items) -> Cart:
    """A cart holding ``(variant, quantity)`` lines, the cart's own checks bypassed."""
    cart = Cart.objects.create()
    for variant, quantity in items:
        CartLine.objects.create(
            cart=cart, variant=variant, quantity=quantity, price_when_added=variant.price
        )
    return cart


def place(cart, *, phone=PHONE, **kwargs) -> Order:
    return services.place_order(
        cart=cart, email="amina@example.com", phone=phone, address=ADDRESS, **kwargs
    )


def unpaid(variant, count, **kwargs) -> list[Order]:
    """Place *count* orders of one unit, each from its own cart."""
    return [place(cart_with((variant, 1)), **kwargs) for _ in range(count)]


def numbers(orders) -> list[str]:
    return [order.number for order in orders]


def snapshot(*carts) -> dict:
    """Everything a refused order must leave as it was."""
    return {
        "orders": sorted(Order.objects.values_list("pk", "status")),
        "events": OrderEvent.objects.count(),
        "stock": sorted(
            ProductVariant.objects.values_list("pk", "stock_on_hand", "stock_allocated")
        ),
        "carts": [sorted(cart.lines.values_list("variant_id", "quantity")) for cart in carts],
    }


def refused(cart, error=LimitReached, **kwargs) -> str:
    """Place *cart*, expect a refusal that changes nothing; return its message."""
    before = snapshot(cart)
    with pytest.raises(error) as refusal:
        place(cart, **kwargs)
    assert snapshot(cart) == before
    assert isinstance(refusal.value, CheckoutError)
    return refusal.value.message


# A normal shopper ---------------------------------------------------------------


def test_a_normal_shopper_is_never_caught(variant):
    """Two orders of a few units from one session, phone, account and address pass."""
    user = UserFactory()
    second = make_product(prices=("900",), stock=10, image=False).variants.get()
    first = place(cart_with((variant, 3)), user=user, client_ip=IP)
    order = place(
        cart_with((variant, 2), (second, 4)),
        user=user,
        session_orders=[first.number],
        client_ip=IP,
    )
    assert order.status == S.AWAITING_PAYMENT and order.placed_from == IP
    assert ProductVariant.objects.get(pk=variant.pk).stock_allocated == 5


def test_the_defaults_are_the_documented_ones(settings):
    assert (
        settings.MAX_UNPAID_ORDERS_PER_VISITOR,
        settings.MAX_UNPAID_ORDERS_PER_PHONE,
        settings.MAX_UNPAID_ORDERS_PER_ADDRESS,
        settings.MAX_UNITS_PER_LINE,
        settings.MAX_UNITS_PER_ORDER,
    ) == (3, 3, 10, 10, 30)


# Unpaid orders ------------------------------------------------------------------


def test_a_visitor_session_holds_at_most_three_unpaid_orders(variant):
    mine = [
        place(cart_with((variant, 1)), phone=other_phone(n), client_ip=f"10.0.0.{n}")
        for n in range(3)
    ]
    cart = cart_with((variant, 1))
    message = refused(cart, TooManyUnpaidOrders, session_orders=numbers(mine), phone=other_phone(9))
    assert message == (
        "You already have 3 orders waiting for payment. Pay or cancel one of them "
        "(the links are in your order emails) before placing another."
    )
    # Another visitor with the same cart contents is not held back by them.
    assert place(cart, phone=other_phone(9), session_orders=numbers(mine[:2])).pk


def test_a_signed_in_shopper_holds_at_most_three_unpaid_orders(variant):
    user = UserFactory()
    for n in range(2):
        place(cart_with((variant, 1)), user=user, phone=other_phone(n))
    guest = place(cart_with((variant, 1)), phone=other_phone(2))  # before signing in
    cart = cart_with((variant, 1))
    message = refused(
        cart, user=user, session_orders=[guest.number], phone=other_phone(3), client_ip=IP
    )
    assert message.startswith(VISITOR_MESSAGE) and "(My orders)" in message


def test_one_mpesa_number_has_at_most_three_unpaid_orders(variant):
    unpaid(variant, 3, phone=PHONE)
    message = refused(cart_with((variant, 1)), TooManyUnpaidOrders, phone=PHONE)
    assert message == (
        "The M-Pesa number 0712 345 678 already has 3 orders waiting for payment. "
        "Pay or cancel one of them before placing another."
    )
    assert place(cart_with((variant, 1)), phone=other_phone(1)).pk


def test_one_address_has_at_most_ten_unpaid_orders(variant):
    """An office or a mobile network shares an address: ten orders pass, not eleven."""
    for n in range(10):
        place(cart_with((variant, 1)), phone=other_phone(n), client_ip=IP)
    message = refused(cart_with((variant, 1)), TooManyUnpaidOrders, phone=PHONE, client_ip=IP)
    assert message == (
        "Too many orders from your network are waiting for payment. "
        "Please try again in a few minutes."
    )
    assert place(cart_with((variant, 1)), client_ip="197.248.10.21").placed_from == (
        "197.248.10.21"
    )
    assert place(cart_with((variant, 1)), phone=other_phone(11)).placed_from is None


def close(order, how: str) -> None:
    if how == "paid":
        paid = services.mark_order_paid(
            order_id=order.pk, amount=order.amount_payable, reference="R"
        )
        assert paid == "paid"
    elif how == "cancelled":
        move_order(order_id=order.pk, to=S.CANCELLED)
    elif how == "expired":
        assert services.expire_order(order_id=order.pk, now=timezone.now() + timedelta(hours=1))
    else:  # past its expiry time, not yet swept by the worker
        Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("how", ["paid", "cancelled", "expired", "past_due"])
def test_paid_expired_and_cancelled_orders_do_not_count(variant, how):
    user = UserFactory()
    orders = unpaid(variant, 3, user=user, client_ip=IP)
    close(orders[0], how)
    order = place(
        cart_with((variant, 1)),
        user=user,
        session_orders=numbers(orders),
        client_ip=IP,
    )
    assert order.status == S.AWAITING_PAYMENT
    assert Order.objects.filter(user=user).count() == 4


def test_the_limits_follow_the_settings_and_zero_switches_them_off(settings, variant):
    settings.MAX_UNPAID_ORDERS_PER_PHONE = 1
    first = place(cart_with((variant, 1)))
    refused(cart_with((variant, 1)), TooManyUnpaidOrders)
    settings.MAX_UNPAID_ORDERS_PER_PHONE = 0
    settings.MAX_UNPAID_ORDERS_PER_VISITOR = 0
    settings.MAX_UNPAID_ORDERS_PER_ADDRESS = 0
    for _ in range(12):
        place(cart_with((variant, 1)), session_orders=[first.number], client_ip=IP)
    assert Order.objects.filter(status=S.AWAITING_PAYMENT).count() == 13


def test_an_order_placed_in_the_past_counts_what_was_unpaid_then(variant):
    earlier = timezone.now() - timedelta(hours=2)
    unpaid(variant, 3, now=earlier)
    refused(cart_with((variant, 1)), TooManyUnpaidOrders, now=earlier + timedelta(minutes=5))
    assert place(cart_with((variant, 1))).pk  # now they are all past due


# Units ----------------------------------------------------------------------------


def test_one_line_holds_at_most_ten_units(variant):
    message = refused(cart_with((variant, 11)), TooManyUnits)
    assert message == "You can buy at most 10 of one item per order."
    assert place(cart_with((variant, 10))).lines.get().quantity == 10


def test_one_order_holds_at_most_thirty_units():
    variants = [make_product(stock=20, image=False).variants.get() for _ in range(4)]
    cart = cart_with(*[(v, 8) for v in variants])
    message = refused(cart, TooManyUnits)
    assert message == (
        "You can buy at most 30 items in one order, and your cart has 32. "
        "Remove some before paying."
    )
    cart.lines.filter(variant=variants[0]).update(quantity=6)
    assert sum(place(cart).lines.values_list("quantity", flat=True)) == 30


def test_units_are_checked_before_unpaid_orders(variant):
    unpaid(variant, 3)
    with pytest.raises(TooManyUnits):
        place(cart_with((variant, 11)))


def test_the_cart_keeps_to_the_units_per_line_setting(settings, variant):
    settings.MAX_UNITS_PER_LINE = 4
    cart = Cart.objects.create()
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=3)
    with pytest.raises(TooManyUnits, match="at most 4 of one item") as refusal:
        services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=2)
    assert isinstance(refusal.value, InvalidQuantity) and isinstance(refusal.value, CartError)
    line = services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=1)
    with pytest.raises(TooManyUnits):
        services.update_cart_line(cart=cart, line_id=line.pk, quantity=5)
    assert cart.lines.get().quantity == 4
    visitor = cart_with((variant, 3))
    services.merge_carts(source=visitor, target=cart)
    assert cart.lines.get().quantity == 4


# Through the pages ----------------------------------------------------------------


def fill_cart(client, variant, quantity=1):
    response = client.post(reverse("shop:cart-add"), {"variant": variant.pk, "quantity": quantity})
    assert response.status_code == 302


def cart_of(client) -> Cart:
    return Cart.objects.get(pk=client.session[CART_SESSION_KEY])


def test_one_session_cannot_place_a_fourth_unpaid_order(client, sim, variant):
    """The incident: one visitor placing order after order to hold the shelf."""
    for _ in range(3):
        fill_cart(client, variant, 2)
        assert client.post(CHECKOUT, GUEST).status_code == 302
    assert Order.objects.count() == 3
    fill_cart(client, variant, 2)
    before = snapshot(cart_of(client))
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 400
    html = response.content.decode()
    assert VISITOR_MESSAGE in html and "Pay or cancel one of them" in html
    assert snapshot(cart_of(client)) == before
    assert ProductVariant.objects.get(pk=variant.pk).stock_allocated == 6
    assert set(Order.objects.values_list("placed_from", flat=True)) == {"127.0.0.1"}


def test_the_checkout_counts_the_orders_the_session_remembers(client, variant):
    mine = [place(cart_with((variant, 1)), phone=other_phone(n)) for n in range(3)]
    fill_cart(client, variant)
    session = client.session
    session[SESSION_KEY] = numbers(mine)
    session.save()
    before = snapshot(cart_of(client))
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 400 and VISITOR_MESSAGE in response.content.decode()
    assert snapshot(cart_of(client)) == before


def test_the_checkout_counts_the_address_it_is_called_from(client, variant):
    for n in range(10):
        place(cart_with((variant, 1)), phone=other_phone(n), client_ip=IP)
    fill_cart(client, variant)
    before = snapshot(cart_of(client))
    response = client.post(CHECKOUT, GUEST, REMOTE_ADDR=IP)
    assert response.status_code == 400
    assert "Too many orders from your network" in response.content.decode()
    assert snapshot(cart_of(client)) == before


def test_the_checkout_refuses_too_many_units_in_one_order(client):
    variants = [make_product(stock=20, image=False).variants.get() for _ in range(4)]
    for variant in variants:
        fill_cart(client, variant, 8)
    before = snapshot(cart_of(client))
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 400
    assert "You can buy at most 30 items in one order" in response.content.decode()
    assert snapshot(cart_of(client)) == before


def test_adding_to_the_cart_keeps_to_the_units_per_line(client, variant):
    fill_cart(client, variant, 6)
    response = client.post(reverse("shop:cart-add"), {"variant": variant.pk, "quantity": 5})
    messages = [str(m) for m in response.wsgi_request._messages]
    assert "You can buy at most 10 of one item per order." in messages
    assert cart_of(client).lines.get().quantity == 6
    htmx = {"HX-Request": "true", "HX-Target": "cart-feedback"}
    response = client.post(
        reverse("shop:cart-add"), {"variant": variant.pk, "quantity": 11}, headers=htmx
    )
    assert "You can buy at most 10 of one item per order." in response.content.decode()
    assert "HX-Trigger" not in response
    line = cart_of(client).lines.get()
    client.post(reverse("shop:cart-line-update", args=[line.pk]), {"quantity": 11})
    assert cart_of(client).lines.get().quantity == 6


@pytest.mark.skipif(
    "postgresql" not in __import__("django.db").db.connection.vendor,
    reason="Row and advisory locks need PostgreSQL; SQLite serialises writers.",
)
@pytest.mark.django_db(transaction=True)
def test_racing_checkouts_from_different_carts_keep_to_the_phone_limit(settings):
    from .threads import run_in_threads

    settings.MAX_UNPAID_ORDERS_PER_PHONE = 3
    variant = make_product(prices=("1000",), stock=50, image=False).variants.get()
    carts = []
    for _ in range(8):
        cart = Cart.objects.create()
        CartLine.objects.create(cart=cart, variant=variant, quantity=1, price_when_added=1000)
        carts.append(cart)

    def place(cart):
        return services.place_order(cart=cart, email="a@example.com", phone=PHONE, address=ADDRESS)

    results = run_in_threads(*[lambda c=c: place(c) for c in carts])
    placed = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, TooManyUnpaidOrders)]
    assert (len(placed), len(refused)) == (3, 5), results
    assert Order.objects.filter(phone=PHONE).count() == 3
    assert ProductVariant.objects.get(pk=variant.pk).stock_allocated == 3
