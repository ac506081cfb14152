"""Staff pages of payments: read-only lists, review and re-processing actions."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from payments.models import Callback, PaymentAttempt
from shop.models import Order

from .factories import PAYER, order_to_pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return user


@pytest.fixture
def flagged():
    order = order_to_pay()
    return PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        status=PaymentAttempt.Status.PAID,
        checkout_request_id="ws_CO_admin",
        receipt_number="NLJ7RT61SV",
        flag=PaymentAttempt.Flag.AMOUNT_MISMATCH,
        resend_after=timezone.now(),
    )


def test_payments_are_listed_searchable_and_read_only(client, staff, flagged):
    listing = client.get(reverse("admin:payments_paymentattempt_changelist") + "?review=yes")
    assert listing.status_code == 200 and "NLJ7RT61SV" in listing.content.decode()
    found = client.get(reverse("admin:payments_paymentattempt_changelist") + "?q=NLJ7RT61SV")
    assert list(found.context["cl"].result_list) == [flagged]
    change = reverse("admin:payments_paymentattempt_change", args=[flagged.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="status"' not in page.content.decode()
    assert client.post(change, {"status": "failed"}).status_code == 403
    assert client.get(reverse("admin:payments_paymentattempt_add")).status_code == 403
    assert PaymentAttempt.objects.get(pk=flagged.pk).status == PaymentAttempt.Status.PAID


def test_the_order_page_shows_its_payment_attempts(client, staff, flagged):
    page = client.get(reverse("admin:shop_order_change", args=[flagged.order_id]))
    assert page.status_code == 200 and "NLJ7RT61SV" in page.content.decode()


def test_staff_mark_a_flag_reviewed(client, staff, flagged):
    client.post(
        reverse("admin:payments_paymentattempt_changelist"),
        {"action": "mark_reviewed", "_selected_action": [flagged.pk]},
    )
    flagged.refresh_from_db()
    assert flagged.reviewed_by == staff and flagged.reviewed_at is not None
    assert not flagged.needs_review


def test_staff_process_a_kept_callback_again(client, staff):
    order = order_to_pay()
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1",
                "CheckoutRequestID": "ws_CO_later",
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    record = Callback.objects.create(body=json.dumps(body), outcome=Callback.Outcome.UNKNOWN)
    PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        checkout_request_id="ws_CO_later",
        resend_after=timezone.now(),
    )
    listing = reverse("admin:payments_callback_changelist")
    assert client.get(listing).status_code == 200
    client.post(listing, {"action": "process_again", "_selected_action": [record.pk]})
    record.refresh_from_db()
    assert record.outcome == Callback.Outcome.FAILED
    assert PaymentAttempt.objects.get().status == PaymentAttempt.Status.FAILED


def test_the_cron_commands_expire_and_reconcile(capsys):
    order = order_to_pay()
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now())
    call_command("expire_orders")
    call_command("reconcile_payments")
    out = capsys.readouterr().out
    assert "Expired 1 unpaid order(s)." in out and "Reconciled 0 pending payment(s)." in out
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED
