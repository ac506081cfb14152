"""After the sale: packing, shipping, delivery, cancelling, refunds, reorder, news."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts.tests.factories import UserFactory
from payments.tests.factories import order_to_pay
from shop import services
from shop.exceptions import FulfilmentError, IllegalTransition
from shop.models import (
    Cart,
    Order,
    OrderEvent,
    ProductVariant,
    Refund,
    Shipment,
    ShipmentUpdate,
)
from shop.tasks import send_order_email, send_order_sms
from storefront import sms

pytestmark = pytest.mark.django_db

S = Order.Status


def paid_order(**kwargs) -> Order:
    order = order_to_pay(**kwargs)
    assert services.mark_order_paid(
        order_id=order.pk, amount=order.amount_payable, reference="QK1"
    ) == ("paid")
    return Order.objects.get(pk=order.pk)


def stock(order) -> list[tuple[int, int]]:
    return list(
        ProductVariant.objects.filter(order_lines__order=order)
        .order_by("pk")
        .values_list("stock_on_hand", "stock_allocated")
    )


def history(order) -> list[tuple[str, str]]:
    return list(order.events.order_by("id").values_list("to_status", "actor__email"))


@pytest.fixture
def staff():
    return UserFactory(email="packer@duka.test", is_staff=True)


def test_a_paid_order_is_packed_shipped_and_delivered_with_its_history(staff):
    order = paid_order(stock=5, quantity=2)
    services.mark_packed(order_id=order.pk, actor=staff)
    shipment = services.ship_order(
        order_id=order.pk, courier="g4s", tracking_number=" G4S-123 ", actor=staff
    )
    assert (shipment.courier, shipment.tracking_number) == ("g4s", "G4S-123")
    assert stock(order) == [(3, 0)]  # the parcel left the shelf
    services.update_shipment(
        shipment_id=shipment.pk, status="in_transit", note="Left Nairobi hub", actor=staff
    )
    assert Order.objects.get(pk=order.pk).status == S.SHIPPED
    services.update_shipment(shipment_id=shipment.pk, status="out_for_delivery", actor=staff)
    assert Order.objects.get(pk=order.pk).status == S.OUT_FOR_DELIVERY
    services.mark_delivered(order_id=order.pk, note="Signed by Amina", actor=staff)
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    assert history(order)[1:] == [
        (S.PAID, None),
        (S.PACKED, "packer@duka.test"),
        (S.SHIPPED, "packer@duka.test"),
        (S.OUT_FOR_DELIVERY, "packer@duka.test"),
        (S.DELIVERED, "packer@duka.test"),
    ]
    assert list(shipment.updates.values_list("status", flat=True)) == [
        "handed_over",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert stock(order) == [(3, 0)]
    with pytest.raises(FulfilmentError, match="already delivered"):
        services.update_shipment(shipment_id=shipment.pk, status="delivered")


def test_shipping_a_paid_order_packs_it_on_the_way(staff):
    order = paid_order()
    services.ship_order(order_id=order.pk, courier="own_rider", tracking_number="R-1", actor=staff)
    assert history(Order.objects.get(pk=order.pk))[-2:] == [
        (S.PACKED, "packer@duka.test"),
        (S.SHIPPED, "packer@duka.test"),
    ]


@pytest.mark.parametrize(
    ("courier", "tracking", "message"),
    [
        ("g4s", "  ", "tracking number"),
        ("dhl-moon", "X1", "Choose the courier"),
        ("g4s", "X" * 65, "tracking number"),
    ],
)
def test_shipping_needs_a_courier_and_a_tracking_number(courier, tracking, message):
    order = paid_order()
    with pytest.raises(FulfilmentError, match=message):
        services.ship_order(order_id=order.pk, courier=courier, tracking_number=tracking)
    assert Order.objects.get(pk=order.pk).status == S.PAID
    assert not Shipment.objects.exists() and stock(order) == [(5, 1)]


def test_an_unpaid_order_cannot_ship():
    order = order_to_pay()
    with pytest.raises(IllegalTransition):
        services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-1")
    assert not Shipment.objects.exists() and stock(order) == [(5, 1)]


def test_delivery_needs_a_shipment():
    order = paid_order()
    with pytest.raises(FulfilmentError, match="hasn't been shipped"):
        services.mark_delivered(order_id=order.pk)


def test_cancelling_an_unpaid_order_releases_its_stock_once():
    order = order_to_pay(stock=4, quantity=3)
    services.cancel_order(order_id=order.pk, reason="Changed my mind")
    order.refresh_from_db()
    assert order.status == S.CANCELLED and stock(order) == [(4, 0)]
    with pytest.raises(IllegalTransition, match="can't be cancelled"):
        services.cancel_order(order_id=order.pk)
    assert stock(order) == [(4, 0)]
    assert order.events.last().note == "Changed my mind"


def test_cancelling_a_paid_order_asks_staff_for_a_refund_then_the_refund_closes_it(staff):
    order = paid_order(stock=4, quantity=1)
    services.cancel_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == S.CANCELLATION_REQUESTED
    assert stock(order) == [(4, 1)]  # held until the refund
    with pytest.raises(FulfilmentError, match="what was paid"):
        services.record_refund(
            order_id=order.pk,
            amount=order.amount_payable + 1,
            method="mpesa_reversal",
            reference="QK2",
            actor=staff,
        )
    refund = services.record_refund(
        order_id=order.pk,
        amount=str(order.amount_payable),
        method="mpesa_reversal",
        reference="QK2",
        actor=staff,
    )
    assert refund.amount == Decimal(order.amount_payable)
    order.refresh_from_db()
    assert order.status == S.REFUNDED and stock(order) == [(4, 0)]
    assert history(order)[-1] == (S.REFUNDED, "packer@duka.test")
    assert services.refunded_amount(order) == Decimal(order.amount_payable)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "0", "Refund between"),
        ("amount", "abc", "amount refunded"),
        ("method", "gold", "how the money was refunded"),
        ("reference", " ", "reference"),
    ],
)
def test_a_bad_refund_is_refused_and_changes_nothing(staff, field, value, message):
    order = paid_order()
    services.cancel_order(order_id=order.pk)
    data = {"amount": "100", "method": "mpesa_b2c", "reference": "QK3", field: value}
    with pytest.raises(FulfilmentError, match=message):
        services.record_refund(order_id=order.pk, actor=staff, **data)
    assert Order.objects.get(pk=order.pk).status == S.CANCELLATION_REQUESTED
    assert not Refund.objects.exists()


def test_a_declined_cancellation_goes_back_to_paid(staff):
    order = paid_order()
    services.cancel_order(order_id=order.pk)
    services.decline_cancellation(order_id=order.pk, actor=staff, note="Already packed and sent")
    assert Order.objects.get(pk=order.pk).status == S.PAID
    with pytest.raises(IllegalTransition, match="no cancellation request"):
        services.decline_cancellation(order_id=order.pk)


def test_a_dispatched_order_cannot_be_cancelled():
    order = paid_order()
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-9")
    with pytest.raises(IllegalTransition, match="has left our shop"):
        services.cancel_order(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).status == S.SHIPPED


def test_reorder_puts_the_lines_back_as_far_as_stock_allows():
    order = order_to_pay(stock=5, quantity=2, lines=3)
    variants = list(ProductVariant.objects.filter(order_lines__order=order).order_by("pk"))
    services.cancel_order(order_id=order.pk)
    ProductVariant.objects.filter(pk=variants[1].pk).update(stock_on_hand=1)
    ProductVariant.objects.filter(pk=variants[2].pk).update(is_active=False)
    added, problems = services.reorder(order=order, cart=None)
    cart = added[0].cart
    assert Cart.objects.filter(pk=cart.pk, user=None).exists()
    assert sorted(cart.lines.values_list("variant_id", "quantity")) == [
        (variants[0].pk, 2),
        (variants[1].pk, 1),
    ]
    assert len(added) == 2 and len(problems) == 2
    assert "only 1 added" in problems[0]
    assert problems[1].startswith(f"{variants[2].product.name}: ")
    assert "isn't sold any more" in problems[1]


def test_every_change_of_an_order_is_written_down():
    order = paid_order()
    before = OrderEvent.objects.count()
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-7")
    assert OrderEvent.objects.count() == before + 2  # packed, shipped
    assert ShipmentUpdate.objects.count() == 1


# News to the shopper -----------------------------------------------------------


def email_for(order, kind):
    mail.outbox.clear()
    send_order_email.call(order.pk, kind)
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    return message, html


def test_the_shipped_email_and_text_carry_the_courier_and_tracking(settings):
    settings.SMS_BACKEND = "storefront.sms.LocmemBackend"
    sms.outbox.clear()
    order = paid_order(price="1500")
    services.ship_order(order_id=order.pk, courier="wells_fargo", tracking_number="WF-88")
    message, html = email_for(order, "shipped")
    assert message.subject == f"Your order {order.number} is on its way"
    assert "Wells Fargo" in message.body and "WF-88" in message.body
    assert "Wells Fargo" in html and "WF-88" in html and "KES 2,000" in html
    assert f"/orders/{order.number}/?key=" in message.body
    send_order_sms.call(order.pk, "shipped")
    assert sms.outbox == [
        (
            order.phone,
            f"Duka Tech: order {order.number} is on its way with Wells Fargo, "
            "tracking WF-88. The rider will call you.",
        )
    ]


def test_the_delivered_email_asks_for_a_review_of_each_product():
    order = paid_order(lines=2)
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-1")
    services.mark_delivered(order_id=order.pk)
    message, html = email_for(order, "delivered")
    assert message.subject == f"Your order {order.number} was delivered"
    for line in order.lines.select_related("variant__product"):
        url = reverse("shop:product-reviews", args=[line.variant.product.slug]) + "#write-review"
        assert url in message.body and url in html


@pytest.mark.parametrize(
    ("kind", "subject", "words"),
    [
        ("received", "We received your order {n}", "Approve the M-Pesa prompt"),
        ("paid", "Payment received for order {n}", "M-Pesa payment of KES 2,000"),
        ("cancelled", "Your order {n} was cancelled", "Nothing was charged"),
        ("cancellation_requested", "We're cancelling your order {n}", "refund your payment"),
    ],
)
def test_order_emails_have_a_subject_text_and_html(kind, subject, words):
    order = paid_order(price="1500")
    message, html = email_for(order, kind)
    assert message.subject == subject.format(n=order.number)
    assert words in message.body
    assert "<html" in html and "KES 2,000" in html and order.number in html


def test_the_refund_email_says_how_much_and_how():
    order = paid_order(price="1500")
    services.cancel_order(order_id=order.pk)
    services.record_refund(
        order_id=order.pk, amount="2000", method="mpesa_reversal", reference="QK9"
    )
    message, html = email_for(order, "refunded")
    assert "We refunded KES 2,000" in message.body and "M-Pesa reversal" in message.body
    assert "QK9" in html


def test_state_changes_queue_their_news_in_their_transaction(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    order = paid_order()
    before = list(DBTaskResult.objects.values_list("pk", flat=True))
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-2")
    queued = DBTaskResult.objects.exclude(pk__in=before)
    assert sorted(queued.values_list("task_path", "args_kwargs")) == [
        ("shop.tasks.send_order_email", {"args": [order.pk, "shipped"], "kwargs": {}}),
        ("shop.tasks.send_order_sms", {"args": [order.pk, "shipped"], "kwargs": {}}),
    ]


def test_the_africas_talking_backend_sends_through_the_official_sdk(settings, monkeypatch):
    import africastalking

    settings.AFRICASTALKING_USERNAME = "duka"
    settings.AFRICASTALKING_API_KEY = "key"
    settings.SMS_SENDER_ID = "DUKATECH"
    settings.SMS_BACKEND = "storefront.sms.AfricasTalkingBackend"
    sent = []

    def fake_send(message, recipients, sender_id=None, **kwargs):
        sent.append((message, recipients, sender_id))
        return {"SMSMessageData": {"Recipients": [{"status": "Success", "number": recipients[0]}]}}

    # Africa's Talking itself can't be reached from here: stand in for its API.
    monkeypatch.setattr(africastalking.SMSService, "send", lambda self, *a, **k: fake_send(*a, **k))
    sms.send_sms(to="254712345678", message="Hello")
    assert sent == [("Hello", ["+254712345678"], "DUKATECH")]

    def refuse(*args, **kwargs):
        return {"SMSMessageData": {"Recipients": [{"status": "InvalidPhoneNumber"}]}}

    monkeypatch.setattr(africastalking.SMSService, "send", lambda self, *a, **k: refuse())
    with pytest.raises(sms.SmsError, match="did not accept"):
        sms.send_sms(to="254712345678", message="Hello")
