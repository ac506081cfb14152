"""The shopper's order pages: list, detail and timeline, find, cancel, reorder."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import UserFactory
from payments.tests.factories import order_to_pay
from shop import services
from shop.models import CartLine, Order
from shop.order_access import SESSION_KEY, order_link

pytestmark = pytest.mark.django_db

S = Order.Status


def owned_by(user, **kwargs) -> Order:
    order = order_to_pay(**kwargs)
    Order.objects.filter(pk=order.pk).update(user=user)
    return Order.objects.get(pk=order.pk)


def paid(order) -> Order:
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK1")
    return Order.objects.get(pk=order.pk)


def detail(order) -> str:
    return reverse("shop:order-detail", kwargs={"number": order.number})


@pytest.fixture
def shopper(client):
    user = UserFactory()
    client.force_login(user)
    return user


def test_my_orders_lists_only_mine_newest_first(client, shopper):
    first = owned_by(shopper)
    second = owned_by(shopper)
    someone_elses = owned_by(UserFactory())
    html = client.get(reverse("shop:order-list")).content.decode()
    assert html.index(second.number) < html.index(first.number)
    assert someone_elses.number not in html


def test_a_visitor_gets_the_find_form(client):
    html = client.get(reverse("shop:order-list")).content.decode()
    assert "Find your order" in html and 'name="number"' in html and 'name="phone"' in html


def test_the_order_page_tells_the_whole_story(client, shopper):
    order = paid(owned_by(shopper, price="1500"))
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G4S-777")
    shipment = order.shipments.get()
    services.update_shipment(shipment_id=shipment.pk, status="in_transit", note="At Nakuru depot")
    html = client.get(detail(order)).content.decode()
    for label in ("Order placed", "Paid", "Packed", "Shipped", "Out for delivery", "Delivered"):
        assert label in html
    assert 'data-status="shipped" data-done="true" aria-current="step"' in html
    assert 'data-status="delivered" data-done="false"' in html
    assert "G4S Courier" in html and "G4S-777" in html and "At Nakuru depot" in html
    assert "KES 2,000" in html and "Westlands" in html
    assert 'data-testid="cancel"' not in html  # it has left the shop


def test_a_cancelled_order_shows_how_it_ended(client, shopper):
    order = owned_by(shopper)
    services.cancel_order(order_id=order.pk, reason="Found it cheaper")
    html = client.get(detail(order)).content.decode()
    assert 'data-status="cancelled" data-done="true" aria-current="step"' in html
    assert "Found it cheaper" in html and 'data-status="paid"' not in html


def test_nobody_opens_anothers_order_by_guessing(client, shopper):
    other = owned_by(UserFactory())
    for name in ("shop:order-detail", "shop:order-payment"):
        assert client.get(reverse(name, kwargs={"number": other.number})).status_code == 404
    for name in ("shop:order-cancel", "shop:order-reorder"):
        assert client.post(reverse(name, kwargs={"number": other.number})).status_code == 404
    assert Order.objects.get(pk=other.pk).status == S.AWAITING_PAYMENT
    assert not CartLine.objects.exists()
    assert client.get(detail(other) + "?key=forged").status_code == 404


def test_the_emailed_link_opens_the_order_in_another_browser(client):
    order = order_to_pay()
    assert client.get(detail(order)).status_code == 404
    assert client.get(order_link(order)).status_code == 200
    assert client.get(detail(order)).status_code == 200  # remembered


def test_a_guest_finds_their_order_by_number_and_phone(client):
    order = order_to_pay(phone="254708374149")
    response = client.post(
        reverse("shop:order-find"), {"number": order.number.lower(), "phone": "0708 374 149"}
    )
    assert response.status_code == 302 and response["Location"] == detail(order)
    assert order.number in client.session[SESSION_KEY]
    assert client.get(detail(order)).status_code == 200


@pytest.mark.parametrize(
    ("number", "phone", "message"),
    [
        ("DTWRONG123", "0708374149", "We couldn&#x27;t find an order"),
        (None, "0711111111", "We couldn&#x27;t find an order"),
        (None, "junk", "Enter a Kenyan mobile number"),
    ],
)
def test_a_wrong_number_or_phone_finds_nothing(client, number, phone, message):
    order = order_to_pay(phone="254708374149")
    response = client.post(
        reverse("shop:order-find"), {"number": number or order.number, "phone": phone}, follow=True
    )
    assert message in response.content.decode()
    assert SESSION_KEY not in client.session


def test_guessing_orders_is_throttled(client):
    order = order_to_pay(phone="254708374149")
    for _ in range(10):
        client.post(reverse("shop:order-find"), {"number": "DTNOPE2345", "phone": "0708374149"})
    response = client.post(
        reverse("shop:order-find"), {"number": order.number, "phone": "0708374149"}, follow=True
    )
    assert "Too many tries" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_shopper_cancels_an_unpaid_order(client, shopper):
    order = owned_by(shopper)
    response = client.post(
        reverse("shop:order-cancel", kwargs={"number": order.number}), follow=True
    )
    assert f"Order {order.number} is cancelled." in response.content.decode()
    order.refresh_from_db()
    assert order.status == S.CANCELLED and order.events.last().actor == shopper


def test_cancelling_a_paid_order_asks_for_the_refund(client, shopper):
    order = paid(owned_by(shopper))
    response = client.post(
        reverse("shop:order-cancel", kwargs={"number": order.number}), follow=True
    )
    assert "will refund your payment" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == S.CANCELLATION_REQUESTED


def test_cancelling_a_shipped_order_is_refused_clearly(client, shopper):
    order = paid(owned_by(shopper))
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-1")
    response = client.post(
        reverse("shop:order-cancel", kwargs={"number": order.number}), follow=True
    )
    assert "has left our shop" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == S.SHIPPED


def test_reorder_fills_the_cart(client, shopper):
    order = owned_by(shopper, quantity=2, lines=2)
    response = client.post(reverse("shop:order-reorder", kwargs={"number": order.number}))
    assert response.status_code == 302 and response["Location"] == reverse("shop:cart")
    assert sorted(
        CartLine.objects.filter(cart__user=shopper).values_list("quantity", flat=True)
    ) == [2, 2]


def page_queries(client, user, lines: int, orders: int) -> tuple[int, int]:
    for _ in range(orders):
        order = paid(owned_by(user, price="100", lines=lines))
        services.ship_order(order_id=order.pk, courier="g4s", tracking_number=f"G{order.pk}")
    with CaptureQueriesContext(connection) as listing:
        assert client.get(reverse("shop:order-list")).status_code == 200
    with CaptureQueriesContext(connection) as page:
        assert client.get(detail(order)).status_code == 200
    return len(listing), len(page)


def test_order_pages_run_a_bounded_number_of_queries(client):
    small_user, large_user = UserFactory(), UserFactory()
    client.force_login(small_user)
    small = page_queries(client, small_user, lines=1, orders=1)
    client.force_login(large_user)
    large = page_queries(client, large_user, lines=6, orders=12)
    assert small == large
    assert small[0] <= 8 and small[1] <= 10


def test_the_throttle_counts_each_shopper_behind_the_shops_proxy(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    order = order_to_pay(phone="254708374149")
    guesser = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    for _ in range(11):
        client.post(
            reverse("shop:order-find"), {"number": "DTNOPE2345", "phone": "0708374149"}, **guesser
        )
    shopper = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.4"}
    response = client.post(
        reverse("shop:order-find"), {"number": order.number, "phone": "0708374149"}, **shopper
    )
    assert response.status_code == 302 and response["Location"] == detail(order)
