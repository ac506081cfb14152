"""The checkout page: delivery fee by county, guests and shoppers, bad input, paying."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Address
from accounts.tests.factories import AddressFactory, UserFactory
from payments.models import PaymentAttempt
from shop.models import Cart, CartLine, DeliveryZone, Order, ProductVariant

from .factories import make_product

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("shop:checkout")
HTMX_QUOTE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "order-summary"}
GUEST = {
    "email": "amina@example.com",
    "new-recipient_name": "Amina Wanjiru",
    "new-phone": "0712 345 678",
    "new-county": "47",  # Nairobi
    "new-town": "Westlands",
    "new-street": "Mpaka Road, Apple Court",
    "new-notes": "Blue gate",
    "mpesa_phone": "0708 374 149",
    "action": "pay",
}


@pytest.fixture(autouse=True)
def zones():
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200, free_over=10000)
    DeliveryZone.objects.create(name="Rest of Kenya", fee=500, is_fallback=True)


def fill_cart(client, *prices, stock=5, quantity=1) -> list[ProductVariant]:
    variants = []
    for price in prices:
        variant = make_product(prices=(price,), stock=stock, image=False).variants.get()
        response = client.post(
            reverse("shop:cart-add"), {"variant": variant.pk, "quantity": quantity}
        )
        assert response.status_code == 302
        variants.append(variant)
    return variants


def address_choices(html: str) -> list[str]:
    radios = re.findall(r'<input[^>]*name="address"[^>]*>', html)
    return [re.search(r'value="([^"]*)"', radio).group(1) for radio in radios]


def test_an_empty_cart_goes_back_to_the_cart(client):
    response = client.get(CHECKOUT)
    assert response.status_code == 302 and response["Location"] == reverse("shop:cart")


def test_a_guest_sees_the_order_and_is_asked_for_email_and_address(client):
    fill_cart(client, "1500")
    html = client.get(CHECKOUT).content.decode()
    assert 'name="email"' in html and 'name="new-county"' in html
    assert 'name="mpesa_phone"' in html
    assert "Choose a county" in html


@pytest.mark.parametrize(
    ("county", "fee", "total"),
    [("47", "KES 200", "KES 1,700"), ("1", "KES 500", "KES 2,000")],
)
def test_the_county_sets_the_delivery_fee(client, county, fee, total):
    fill_cart(client, "1500")
    data = {**GUEST, "new-county": county, "action": "quote"}
    fragment = client.post(CHECKOUT, data, **HTMX_QUOTE)
    html = fragment.content.decode()
    assert html.lstrip().startswith('<aside id="order-summary"')
    assert fee in html and total in html
    assert not Order.objects.exists()
    page = client.post(CHECKOUT, data).content.decode()  # the same without JavaScript
    assert "<html" in page and fee in page and total in page
    assert 'value="Amina Wanjiru"' in page  # what was typed stays
    assert "This field is required" not in page


def test_delivery_is_free_above_the_threshold(client):
    fill_cart(client, "12000")
    html = client.post(CHECKOUT, {**GUEST, "action": "quote"}, **HTMX_QUOTE).content.decode()
    assert "Free" in html and "KES 12,000" in html


def test_a_guest_pays_and_lands_on_the_status_page(client, sim):
    (variant,) = fill_cart(client, "1500", quantity=2)
    response = client.post(CHECKOUT, GUEST)
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:order-payment", kwargs={"number": order.number})
    assert (order.email, order.phone, order.county, order.total) == (
        "amina@example.com",
        "254708374149",
        "Nairobi",
        Decimal("3200.00"),
    )
    assert (order.recipient_phone, order.landmark) == ("254712345678", "Blue gate")
    assert ProductVariant.objects.get(pk=variant.pk).stock_allocated == 2
    assert not CartLine.objects.exists()
    attempt = PaymentAttempt.objects.get()
    assert (attempt.order_id, attempt.phone, attempt.amount) == (order.pk, "254708374149", 3200)
    assert sim.transactions()[0]["request"]["AccountReference"] == order.number
    page = client.get(response["Location"]).content.decode()
    assert "Check your phone" in page


def test_a_second_submit_of_the_same_checkout_places_nothing_more(client, sim):
    fill_cart(client, "1500")
    first = client.post(CHECKOUT, GUEST)
    second = client.post(CHECKOUT, GUEST)
    assert second.status_code == 302 and second["Location"] == first["Location"]
    assert Order.objects.count() == 1 and PaymentAttempt.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mpesa_phone", "0712", "Enter a Safaricom/Airtel number like 0712 345 678."),
        ("mpesa_phone", "", "This field is required."),
        ("new-phone", "12345678901234567890", "Enter a Safaricom/Airtel number"),
        ("new-county", "99", "Choose your county from the list."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("new-town", "", "This field is required."),
    ],
)
def test_bad_input_gets_a_clear_message_and_places_nothing(client, field, value, message):
    (variant,) = fill_cart(client, "1500")
    response = client.post(CHECKOUT, {**GUEST, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists() and not PaymentAttempt.objects.exists()
    assert ProductVariant.objects.get(pk=variant.pk).stock_allocated == 0
    assert CartLine.objects.count() == 1


def test_out_of_stock_at_checkout_lists_the_short_lines_and_places_nothing(client):
    first, second = fill_cart(client, "1500", "2500", stock=2, quantity=2)
    ProductVariant.objects.filter(pk__in=[first.pk, second.pk]).update(stock_allocated=1)
    response = client.post(CHECKOUT, GUEST)
    html = response.content.decode()
    assert response.status_code == 400
    assert f"{first}: only 1 left (you asked for 2)" in html
    assert f"{second}: only 1 left (you asked for 2)" in html
    assert not Order.objects.exists()


def test_a_shopper_pays_to_a_saved_address_and_never_anothers(client, sim):
    user = UserFactory(phone="254708374149")
    mine = AddressFactory(user=user, county=1, is_default=True)  # Mombasa
    theirs = AddressFactory(county=47)
    client.force_login(user)
    fill_cart(client, "1500")
    html = client.get(CHECKOUT).content.decode()
    assert 'name="email"' not in html and user.email in html
    assert 'value="0708 374 149"' in html  # prefilled, as shoppers write it
    assert address_choices(html) == [str(mine.pk), "new"]
    tampered = client.post(CHECKOUT, {"address": str(theirs.pk), "mpesa_phone": "0708374149"})
    assert tampered.status_code == 400
    assert "Choose one of your saved addresses." in tampered.content.decode()
    assert not Order.objects.exists()
    client.post(CHECKOUT, {"address": str(mine.pk), "mpesa_phone": "0708374149"})
    order = Order.objects.get()
    assert (order.user, order.email, order.county, order.delivery_fee) == (
        user,
        user.email,
        "Mombasa",
        Decimal("500.00"),
    )


def test_a_shopper_can_save_a_new_address_at_checkout(client, sim):
    user = UserFactory()
    AddressFactory(user=user, is_default=True)
    client.force_login(user)
    fill_cart(client, "1500")
    data = {key: value for key, value in GUEST.items() if key != "email"}
    client.post(CHECKOUT, {**data, "address": "new", "save_address": "on"})
    assert Order.objects.get().street == "Mpaka Road, Apple Court"
    assert Address.objects.filter(user=user).count() == 2


def test_a_failed_push_keeps_the_order_and_says_why(client, sim):
    fill_cart(client, "1500")
    response = client.post(CHECKOUT, {**GUEST, "mpesa_phone": "0708 300 500"}, follow=True)
    order = Order.objects.get()
    assert order.status == Order.Status.AWAITING_PAYMENT
    html = response.content.decode()
    assert "We couldn&#x27;t reach M-Pesa." in html and 'data-state="failed"' in html


def checkout_queries(client, lines: int) -> int:
    Cart.objects.all().delete()
    fill_cart(client, *["1500"] * lines)
    with CaptureQueriesContext(connection) as page:
        assert client.get(CHECKOUT).status_code == 200
    with CaptureQueriesContext(connection) as quote:
        client.post(CHECKOUT, {**GUEST, "action": "quote"}, **HTMX_QUOTE)
    return len(page), len(quote)


def test_checkout_runs_a_bounded_number_of_queries(client):
    small, large = checkout_queries(client, 1), checkout_queries(client, 8)
    assert small == large
    assert small[0] <= 10 and small[1] <= 10


def pay_queries(client, lines: int) -> int:
    Cart.objects.all().delete()
    client.cookies.clear()  # a new visitor each time (the unpaid-orders limit)
    fill_cart(client, *["1500"] * lines)
    with CaptureQueriesContext(connection) as pay:
        response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 302, response.content[:300]
    return len(pay)


def test_pay_with_mpesa_runs_a_bounded_number_of_queries(client, sim):
    """Placing the order and sending the push: the same for 1 and 8 lines
    (14 on SQLite, 15 on PostgreSQL with its advisory locks; see also
    test_checkout_queries, which counts them as production runs them)."""
    small, large = pay_queries(client, 1), pay_queries(client, 8)
    assert small == large
    assert small <= 15, small


def test_a_quote_with_htmx_has_the_pay_button_show_the_new_total(client):
    """The pay button, outside the swapped summary, asks for its amount after a quote."""
    fill_cart(client, "1500")
    data = {**GUEST, "new-county": "1", "action": "quote"}
    summary = client.post(CHECKOUT, data, **HTMX_QUOTE)
    assert "checkout:quoted" in summary["HX-Trigger"]
    page = client.get(CHECKOUT).content.decode()
    assert re.search(r'<span id="pay-amount"[^>]*hx-trigger="checkout:quoted from:body"', page)
    amount = client.post(CHECKOUT, data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="pay-amount")
    html = amount.content.decode()
    assert amount.status_code == 200
    assert html.lstrip().startswith('<span id="pay-amount"') and "KES 2,000" in html
    assert "HX-Trigger" not in amount
    assert not Order.objects.exists()
