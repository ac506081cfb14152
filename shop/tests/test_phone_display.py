"""Phone numbers are stored as 2547XXXXXXXX and shown as shoppers write them: 07XX XXX XXX."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from payments.models import PaymentAttempt
from payments.tests.factories import order_to_pay
from shop import services
from shop.order_access import order_link
from shop.tasks import send_order_email

pytestmark = pytest.mark.django_db

STORED, SHOWN = "254712345678", "0712 345 678"  # the factories' delivery phone
PAYER_STORED, PAYER_SHOWN = "254708374149", "0708 374 149"


def test_the_payment_and_order_pages_show_local_numbers(client):
    order = order_to_pay()
    PaymentAttempt.objects.create(
        order=order, phone=PAYER_STORED, amount=order.amount_payable, resend_after=timezone.now()
    )
    client.get(order_link(order))  # the key opens the order for this browser
    for url in (reverse("shop:order-payment", args=[order.number]), order.get_absolute_url()):
        html = client.get(url).content.decode()
        assert SHOWN in html, url
        assert STORED not in html and PAYER_STORED not in html, url
    payment = client.get(reverse("shop:order-payment", args=[order.number])).content.decode()
    assert PAYER_SHOWN in payment


def test_the_shipped_email_gives_the_riders_number_locally():
    order = order_to_pay()
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK1")
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-1")
    mail.outbox.clear()
    send_order_email.call(order.pk, "shipped")
    (message,) = mail.outbox
    assert SHOWN in message.body and SHOWN in message.alternatives[0][0]
    assert STORED not in message.body


def test_forms_show_a_saved_number_locally_and_store_it_normalised(client):
    user = UserFactory(phone=STORED)
    client.force_login(user)
    profile = client.get(reverse("accounts:profile")).content.decode()
    assert f'value="{SHOWN}"' in profile and STORED not in profile
