"""Receipts: VAT included in prices, and the PDF tax invoice of a paid order."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.phones import format_local_phone
from accounts.tests.factories import UserFactory
from payments import services as payments
from payments.models import PaymentAttempt
from payments.tests.factories import PAYER, order_to_pay
from payments.tests.simulators import (  # noqa: F401 - the simulator fixtures
    paying_shop,
    wait_for,
)
from shop import receipts, services
from shop.models import Order
from shop.order_access import SESSION_KEY
from shop.tasks import send_order_email
from storefront.money import format_kes, vat_included

pytestmark = pytest.mark.django_db

S = Order.Status
PIN = "P051234567X"


@pytest.fixture(autouse=True)
def seller(settings):
    settings.KRA_PIN = PIN
    settings.VAT_RATE = Decimal("16")
    settings.BUSINESS_NAME = "Duka Tech Ltd"
    settings.BUSINESS_ADDRESS = "Moi Avenue, Nairobi"


def paid_order(*, price="11100", lines=1, receipt="QKA1B2C3D4", user=None) -> Order:
    """Place an order and pay it with one M-Pesa payment carrying *receipt*."""
    order = order_to_pay(price=price, lines=lines)
    if user is not None:
        Order.objects.filter(pk=order.pk).update(user=user)
    PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        status=PaymentAttempt.Status.PAID,
        receipt_number=receipt,
        paid_amount=order.amount_payable,
        counted=True,
        completed_at=timezone.now(),
        resend_after=timezone.now(),
    )
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference=receipt)
    return Order.objects.get(pk=order.pk)


def receipt_url(order: Order) -> str:
    return reverse("shop:order-receipt", kwargs={"number": order.number})


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def open_as_guest(client, order: Order) -> None:
    session = client.session
    session[SESSION_KEY] = [order.number]
    session.save()


# --- VAT arithmetic -----------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "rate", "vat"),
    [
        ("11600", "16", "1600.00"),
        ("12999", "16", "1792.97"),  # 1792.9655...
        ("1734.55", "16", "239.25"),  # 239.2483...
        ("0.01", "100", "0.01"),  # exactly half a cent: up, not to even
        ("0.03", "100", "0.02"),  # 0.015: up
        ("500", "0", "0.00"),
    ],
)
def test_vat_included_is_the_share_of_a_vat_inclusive_total(total, rate, vat):
    assert vat_included(Decimal(total), Decimal(rate)) == Decimal(vat)


def test_receipt_amounts_always_show_cents():
    assert format_kes(Decimal("12999"), cents=True) == "KES 12,999.00"
    assert format_kes(Decimal("12999")) == "KES 12,999"


def test_phones_print_as_shoppers_write_them():
    assert format_local_phone("254712345678") == "0712 345 678"
    assert format_local_phone("254110000001") == "0110 000 001"
    assert format_local_phone("not a phone") == "not a phone"


def test_the_delivery_fee_is_part_of_the_taxable_total():
    order = order_to_pay(price="11100")
    assert order.delivery_fee == Decimal("500") and order.total == Decimal("11600")
    assert receipts.order_vat(order) == Decimal("1600.00")


# --- The PDF ------------------------------------------------------------------


def test_a_paid_order_downloads_its_tax_invoice(client):
    user = UserFactory()
    client.force_login(user)
    order = paid_order(price="11100", user=user)
    response = client.get(receipt_url(order))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="receipt-{order.number}.pdf"'
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    for expected in (
        "Duka Tech Ltd",
        "Moi Avenue, Nairobi",
        f"KRA PIN: {PIN}",
        "Tax invoice / Receipt",
        order.number,
        "Amina Wanjiru",
        format_local_phone(order.phone),
        "Westlands",
        "Nairobi County",
        "KES 11,100.00",  # unit price and line total
        "KES 500.00",  # delivery
        "Total",
        "KES 11,600.00",
        "VAT included at 16%",
        "KES 1,600.00",
        "M-Pesa receipt: QKA1B2C3D4",
        "Method: M-Pesa",
        timezone.localtime(order.paid_at).strftime("%Y"),
    ):
        assert expected in text, expected
    line = order.lines.get()
    assert line.product_name in text and line.variant_name in text


def test_a_total_with_cents_rounds_the_vat_once(client):
    order = paid_order(price="1234.55")
    open_as_guest(client, order)
    text = pdf_text(client.get(receipt_url(order)).content)
    assert "KES 1,734.55" in text
    assert "KES 239.25" in text
    # M-Pesa took whole shillings, rounded up.
    assert "KES 1,735.00" in text


def test_every_line_is_on_the_receipt(client):
    order = paid_order(price="2000", lines=8)
    open_as_guest(client, order)
    text = pdf_text(client.get(receipt_url(order)).content)
    for line in order.lines.all():
        assert line.product_name in text and line.variant_name in text
    assert "KES 16,500.00" in text  # 8 x 2,000 + 500
    assert format_kes(vat_included(Decimal("16500"), 16), cents=True) in text


def test_names_outside_latin1_do_not_break_the_receipt(client):
    order = paid_order(price="1500")
    order.lines.update(product_name="Redmi Note 13 \u2014 \u0160koda \u2605 edition")
    Order.objects.filter(pk=order.pk).update(recipient_name="Zo\u00eb \u0141uka")
    open_as_guest(client, order)
    response = client.get(receipt_url(order))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Redmi Note 13 - Skoda ? edition" in text and "Zo\u00eb Luka" in text


def test_a_refunded_order_shows_the_refund(client):
    order = paid_order(price="1500")
    services.cancel_order(order_id=order.pk, reason="Changed my mind")
    services.record_refund(
        order_id=order.pk,
        amount=Decimal("2000"),
        method="mpesa_reversal",
        reference="RFX123",
    )
    assert Order.objects.get(pk=order.pk).status == S.REFUNDED
    open_as_guest(client, order)
    text = pdf_text(client.get(receipt_url(order)).content)
    assert "Status: refunded" in text
    assert "Refunded KES 2,000.00 by M-Pesa reversal" in text and "RFX123" in text


def test_a_kiswahili_order_gets_its_receipt_in_kiswahili(client):
    """The receipt is written in the order's language, whatever the browser asks for."""
    order = paid_order(price="11100")
    Order.objects.filter(pk=order.pk).update(language="sw")
    open_as_guest(client, order)
    response = client.get(receipt_url(order), HTTP_ACCEPT_LANGUAGE="en-GB,en")
    text = pdf_text(response.content)
    for expected in (
        "Ankara ya kodi / Risiti",
        f"Nambari ya oda: {order.number}",
        "Tarehe ya malipo:",
        "Jumla ndogo",
        "Usafirishaji hadi",
        "VAT imejumuishwa kwa 16%",
        "Njia: M-Pesa",
        "Risiti ya M-Pesa: QKA1B2C3D4",
        "Asante kwa kununua kwetu.",
        "KES 11,600.00",
    ):
        assert expected in text, expected
    for english in ("Tax invoice", "Order number", "Subtotal", "Thank you"):
        assert english not in text, english


def test_an_english_order_keeps_an_english_receipt_in_a_kiswahili_browser(client, settings):
    order = paid_order(price="11100")
    assert order.language == "en-gb"
    open_as_guest(client, order)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sw"
    text = pdf_text(client.get(receipt_url(order)).content)
    assert "Tax invoice / Receipt" in text and f"Order number: {order.number}" in text
    assert "Ankara" not in text and "Nambari ya oda" not in text


def test_the_receipt_costs_the_same_queries_for_1_and_8_lines(client):
    counts = []
    for lines in (1, 8):
        order = paid_order(price="2000", lines=lines, receipt=f"QKLINES{lines}")
        open_as_guest(client, order)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(receipt_url(order)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 6  # session, order, lines, payments, refunds (+ session save)


# --- Who gets one -------------------------------------------------------------


def test_another_shopper_gets_no_receipt(client):
    order = paid_order(user=UserFactory())
    client.force_login(UserFactory())
    response = client.get(receipt_url(order))
    assert response.status_code == 404
    assert response["Content-Type"] != "application/pdf"


def test_a_visitor_without_the_order_gets_no_receipt(client):
    order = paid_order()
    response = client.get(receipt_url(order))
    assert response.status_code == 404 and not response.content.startswith(b"%PDF")
    assert client.get(receipt_url(order) + "?key=forged").status_code == 404
    missing = reverse("shop:order-receipt", kwargs={"number": "DT\x00NOPE"})
    assert client.get(missing).status_code in (400, 404)  # never a 500


def test_the_emailed_key_opens_the_receipt_in_another_browser(client):
    order = paid_order()
    response = client.get(receipts.receipt_link(order))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


@pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.CANCELLED, S.EXPIRED])
def test_an_unpaid_order_has_no_receipt(client, status):
    order = order_to_pay()
    if status == S.CANCELLED:
        services.cancel_order(order_id=order.pk)
    elif status == S.EXPIRED:
        services.expire_order(order_id=order.pk, now=timezone.now() + timedelta(days=1))
    assert Order.objects.get(pk=order.pk).status == status
    open_as_guest(client, order)
    response = client.get(receipt_url(order), follow=True)
    assert response.redirect_chain[-1][0] == order.get_absolute_url()
    assert "has no receipt yet" in response.content.decode()
    assert 'data-testid="receipt-download"' not in response.content.decode()
    with pytest.raises(ValueError, match="no receipt"):
        receipts.render_receipt(Order.objects.get(pk=order.pk))


# --- Order page and emails ----------------------------------------------------


def test_the_order_page_shows_the_vat_and_the_receipt_link(client):
    order = paid_order(price="11100")
    open_as_guest(client, order)
    html = client.get(order.get_absolute_url()).content.decode()
    assert "Includes VAT at 16%" in html and "KES 1,600" in html
    assert f'href="{receipt_url(order)}"' in html
    assert "Download receipt (PDF)" in html


def test_an_unpaid_order_page_shows_the_vat_but_no_receipt_link(client):
    order = order_to_pay(price="11100")
    open_as_guest(client, order)
    html = client.get(order.get_absolute_url()).content.decode()
    assert "Includes VAT at 16%" in html
    assert "receipt.pdf" not in html


def test_the_paid_email_shows_the_vat_and_links_the_receipt(client):
    order = paid_order(price="11100")
    mail.outbox.clear()
    send_order_email.call(order.pk, "paid")
    message = mail.outbox[-1]
    html = message.alternatives[0][0]
    assert "Includes VAT at 16%: KES 1,600" in message.body
    assert "Includes VAT at 16%" in html and "KES 1,600" in html
    link = next(w for w in message.body.split() if "receipt.pdf?key=" in w)
    assert link in html.replace("&amp;", "&")
    # The link opens the PDF in a browser that never saw the order.
    path = link[link.index("/orders/") :]
    response = client.get(path)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_the_received_email_shows_the_vat_and_no_receipt():
    order = order_to_pay(price="11100")
    mail.outbox.clear()
    send_order_email.call(order.pk, "received")
    assert "Includes VAT at 16%: KES 1,600" in mail.outbox[-1].body
    assert "receipt.pdf" not in mail.outbox[-1].body


# --- Paid in parts, end to end through the Daraja simulator --------------------


@pytest.mark.django_db(transaction=True)
def test_an_order_paid_in_parts_lists_each_receipt(paying_shop, client):  # noqa: F811
    paying_shop()
    order = order_to_pay(price="300000")
    first = payments.request_stk_push(order_id=order.pk, phone=PAYER)
    first = wait_for(lambda: PaymentAttempt.objects.filter(pk=first.pk, status="paid").first())
    second = payments.resend_stk_push(
        order_id=order.pk, phone=PAYER, now=first.resend_after + timedelta(seconds=1)
    )
    second = wait_for(lambda: PaymentAttempt.objects.filter(pk=second.pk, status="paid").first())
    order = Order.objects.get(pk=order.pk)
    assert order.status == S.PAID
    open_as_guest(client, order)
    text = pdf_text(client.get(receipt_url(order)).content)
    assert f"M-Pesa receipts: {first.receipt_number}, {second.receipt_number}" in text
    assert "KES 300,500.00" in text
    assert format_kes(vat_included(Decimal("300500"), 16), cents=True) in text
