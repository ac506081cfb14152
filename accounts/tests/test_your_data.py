"""Your data: a shopper downloads what the shop keeps and deletes the account."""

import io
import json
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts import services
from accounts.models import Address, User
from payments.models import Callback, PaymentAttempt
from payments.tests.factories import order_to_pay
from shop import services as shop_services
from shop.models import Cart, CartLine, Order, Review, WishlistItem
from shop.models.catalogue import Product
from shop.receipts import render_receipt
from shop.tests.factories import make_product

from .factories import PASSWORD, AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

S = Order.Status
RECEIPT = "QK71ABCD23"
PAYER = "254708374149"
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def paid_order(user, *, receipt=RECEIPT) -> Order:
    """An order of *user*'s, paid by M-Pesa with *receipt* (its callback stored)."""
    order = order_to_pay(price="2500", phone=PAYER)
    Order.objects.filter(pk=order.pk).update(user=user)
    body = {
        "Body": {
            "stkCallback": {
                "ResultCode": 0,
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "PhoneNumber", "Value": int(PAYER)},
                    ]
                },
            }
        }
    }
    attempt = PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        status="paid",
        checkout_request_id=f"ws_CO_{receipt}",
        receipt_number=receipt,
        paid_amount=Decimal(order.amount_payable),
        paid_phone=PAYER,
        counted=True,
        raw_callback=body,
        resend_after=timezone.now(),
        completed_at=timezone.now(),
    )
    Callback.objects.create(body=json.dumps(body), attempt=attempt, outcome="paid")
    shop_services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference=receipt)
    return Order.objects.get(pk=order.pk)


def delivered_order(user, *, receipt=RECEIPT) -> Order:
    order = paid_order(user, receipt=receipt)
    shop_services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G4S-1")
    shop_services.mark_delivered(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def with_shopping(user) -> Product:
    """Give *user* a saved address, a wishlist item, a cart line and a review."""
    AddressFactory(user=user, recipient_name="Wanjiku Kamau", street="Ngong Road 12")
    product = make_product(name="Tecno Spark 20", image=False)
    WishlistItem.objects.create(user=user, product=product)
    cart = Cart.objects.create(user=user)
    CartLine.objects.create(
        cart=cart, variant=product.variants.get(), quantity=2, price_when_added=Decimal("10000")
    )
    Review.objects.create(
        product=product,
        user=user,
        rating=5,
        title="Great phone",
        body="Battery lasts.",
        status=Review.Status.APPROVED,
    )
    shop_services.refresh_product_rating(product_id=product.pk)
    return product


@pytest.fixture
def shopper():
    user = UserFactory(
        email="wanjiku@example.com", first_name="Wanjiku", last_name="Kamau", phone="254711000111"
    )
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


@pytest.fixture
def shopper_client(client, shopper):
    client.force_login(shopper)
    return client


# Download -------------------------------------------------------------------


def test_the_download_holds_the_shoppers_data_and_nobody_elses(shopper_client, shopper):
    with_shopping(shopper)
    mine = delivered_order(shopper)
    other = UserFactory(email="otieno@example.com", first_name="Otieno")
    AddressFactory(user=other, recipient_name="Otieno Ouma", street="Kisumu Lane")
    make_product(name="Samsung A15", image=False)
    WishlistItem.objects.create(user=other, product=Product.objects.get(name="Samsung A15"))
    paid_order(other, receipt="QK99ZZZZ99")

    response = shopper_client.get(reverse("accounts:your-data-download"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    data = json.loads(response.content)
    assert data["profile"]["email"] == "wanjiku@example.com"
    assert data["profile"]["phone"] == "254711000111"
    assert [a["street"] for a in data["addresses"]] == ["Ngong Road 12"]
    [order] = data["orders"]
    assert order["number"] == mine.number
    assert Decimal(order["total"]) == mine.total
    assert Decimal(order["subtotal"]) == Decimal("2500")
    assert order["lines"][0]["quantity"] == 1
    assert order["payments"][0]["mpesa_receipt"] == RECEIPT
    assert order["status"] == S.DELIVERED
    assert [w["product"] for w in data["wishlist"]] == ["Tecno Spark 20"]
    assert data["cart"][0]["quantity"] == 2
    assert data["reviews"][0]["title"] == "Great phone"
    text = response.content.decode()
    for foreign in ("otieno", "Otieno", "Kisumu Lane", "Samsung A15", "QK99ZZZZ99"):
        assert foreign not in text


def test_the_download_is_private_and_never_stored(shopper_client):
    response = shopper_client.get(reverse("accounts:your-data-download"))
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]


def test_a_visitor_must_sign_in_to_download(client):
    response = client.get(reverse("accounts:your-data-download"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_the_account_pages_link_to_your_data(shopper_client):
    html = shopper_client.get(reverse("accounts:overview")).content.decode()
    assert f'href="{reverse("accounts:your-data")}"' in html
    page = shopper_client.get(reverse("accounts:your-data")).content.decode()
    assert f'href="{reverse("accounts:your-data-download")}"' in page
    assert f'href="{reverse("accounts:account-delete")}"' in page


# Deletion -------------------------------------------------------------------


def test_deletion_anonymises_the_shopper_and_keeps_the_orders(
    shopper_client, shopper, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE_TASKS
    product = with_shopping(shopper)
    order = delivered_order(shopper)

    with django_capture_on_commit_callbacks(execute=True):
        response = shopper_client.post(reverse("accounts:account-delete"), {"password": PASSWORD})

    assert response.status_code == 302
    user = User.objects.get(pk=shopper.pk)
    assert (user.email, user.first_name, user.last_name, user.phone) == ("", "", "", "")
    assert not user.avatar
    assert not user.is_active
    assert not user.has_usable_password()
    assert "wanjiku" not in user.username.lower()
    assert not Address.objects.filter(user=user).exists()
    assert not WishlistItem.objects.filter(user=user).exists()
    assert not Cart.objects.filter(user=user).exists()
    assert not Review.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert Product.objects.get(pk=product.pk).rating_count == 0

    kept = Order.objects.get(pk=order.pk)  # kept for the tax records...
    assert kept.user is None
    assert (kept.total, kept.subtotal, kept.delivery_fee) == (
        order.total,
        order.subtotal,
        order.delivery_fee,
    )
    assert kept.lines.count() == 1 and kept.lines.get().line_total == order.lines.get().line_total
    assert kept.payment_attempts.receipts() == RECEIPT
    assert kept.county == "Nairobi"
    # ...detached from the person.
    assert (kept.email, kept.phone, kept.recipient_name, kept.recipient_phone) == ("", "", "", "")
    assert (kept.street, kept.town, kept.placed_from) == ("", "", None)
    attempt = kept.payment_attempts.get()
    assert (attempt.phone, attempt.paid_phone) == ("", "")
    assert PAYER not in json.dumps(attempt.raw_callback)
    assert RECEIPT in json.dumps(attempt.raw_callback)
    assert PAYER not in Callback.objects.get(attempt=attempt).body

    [message] = mail.outbox[-1:]
    assert message.to == ["wanjiku@example.com"]
    assert "deleted" in message.subject


def test_a_kept_order_still_has_its_tax_invoice_without_the_person(shopper):
    order = delivered_order(shopper)
    services.delete_account(user=shopper)

    pdf = render_receipt(Order.objects.get(pk=order.pk))

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert order.number in text and RECEIPT in text
    for personal in ("Amina", "wanjiku", "amina@example.com", "Mpaka Road", "0708 374 149"):
        assert personal not in text


def test_deletion_signs_the_shopper_out_everywhere(client, shopper):
    elsewhere = type(client)()
    elsewhere.force_login(shopper)
    client.force_login(shopper)
    assert elsewhere.get(reverse("accounts:overview")).status_code == 200

    client.post(reverse("accounts:account-delete"), {"password": PASSWORD})

    assert "_auth_user_id" not in client.session
    assert elsewhere.get(reverse("accounts:overview")).status_code == 302


def test_the_deleted_shopper_cannot_sign_in(client, shopper):
    services.delete_account(user=shopper)
    response = client.post(
        reverse("account_login"), {"login": "wanjiku@example.com", "password": PASSWORD}
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200  # the form again, with its error
    assert authenticate(username="wanjiku@example.com", password=PASSWORD) is None


@pytest.mark.parametrize(
    "status", [S.AWAITING_PAYMENT, S.PAID, S.SHIPPED, S.CANCELLATION_REQUESTED]
)
def test_an_order_in_progress_blocks_the_deletion(shopper_client, shopper, status):
    AddressFactory(user=shopper)
    order = order_to_pay()
    Order.objects.filter(pk=order.pk).update(user=shopper, status=status)

    page = shopper_client.get(reverse("accounts:your-data")).content.decode()
    assert order.number in page and 'data-testid="deletion-blockers"' in page
    response = shopper_client.post(reverse("accounts:account-delete"), {"password": PASSWORD})

    assert response.status_code == 200
    assert order.number in response.content.decode()
    shopper.refresh_from_db()
    assert shopper.is_active and shopper.email == "wanjiku@example.com"
    assert Address.objects.filter(user=shopper).exists()
    assert Order.objects.get(pk=order.pk).user_id == shopper.pk
    with pytest.raises(services.AccountNotDeletable):
        services.delete_account(user=shopper)


def test_finished_orders_do_not_block_the_deletion(shopper):
    for status in (S.EXPIRED, S.CANCELLED, S.REFUNDED):
        order = order_to_pay()
        Order.objects.filter(pk=order.pk).update(user=shopper, status=status)
    assert services.deletion_blockers(user=shopper) == []
    services.delete_account(user=shopper)
    assert Order.objects.filter(status__in=[S.EXPIRED, S.CANCELLED, S.REFUNDED]).count() == 3


def test_a_wrong_password_deletes_nothing(shopper_client, shopper):
    response = shopper_client.post(reverse("accounts:account-delete"), {"password": "wrong"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    shopper.refresh_from_db()
    assert shopper.is_active and shopper.email


def test_wrong_passwords_are_limited(shopper_client, shopper):
    for _ in range(5):
        shopper_client.post(reverse("accounts:account-delete"), {"password": "wrong"})
    response = shopper_client.post(reverse("accounts:account-delete"), {"password": PASSWORD})
    assert response.status_code == 429
    shopper.refresh_from_db()
    assert shopper.is_active


def test_staff_accounts_are_not_deleted_here(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    client.post(reverse("accounts:account-delete"), {"password": PASSWORD})
    staff.refresh_from_db()
    assert staff.is_active


def test_the_delete_page_needs_a_post(shopper_client, shopper):
    response = shopper_client.get(reverse("accounts:account-delete"))
    assert response.status_code == 200
    shopper.refresh_from_db()
    assert shopper.is_active
