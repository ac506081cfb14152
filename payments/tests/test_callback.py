"""The callback URL: forged, unknown, odd and repeated callbacks.

These post straight to the view with the test client, as anyone on the
internet could; the happy path over real HTTP is in test_services.py.
"""

import json
import logging
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import Callback, PaymentAttempt
from shop import services as shop_services
from shop.models import Order, OrderEvent

from .factories import PAYER, allocated, order_to_pay

pytestmark = pytest.mark.django_db

A = PaymentAttempt.Status
F = PaymentAttempt.Flag
S = Order.Status
OK = {"ResultCode": 0, "ResultDesc": "Accepted"}


def pending_attempt(order, *, checkout_id="ws_CO_011220261200001234") -> PaymentAttempt:
    """An attempt as request_stk_push leaves it once Daraja accepted the push."""
    return PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        checkout_request_id=checkout_id,
        merchant_request_id="29115-34620561-1",
        resend_after=timezone.now(),
    )


def body(checkout_id, *, code=0, amount=None, receipt="NLJ7RT61SV", balance=True) -> dict:
    callback = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": checkout_id,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully." if code == 0 else "Failed",
    }
    if code == 0:
        items = [
            {"Name": "Amount", "Value": amount},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
        ]
        if balance:
            items.append({"Name": "Balance"})
        items += [
            {"Name": "TransactionDate", "Value": 20261201120115},
            {"Name": "PhoneNumber", "Value": int(PAYER)},
        ]
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}


def post(client, payload, *, token="test-callback-token", **extra):
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(
        reverse("payments:callback", kwargs={"token": token}),
        data=data,
        content_type="application/json",
        **extra,
    )


def status_path(order) -> str:
    return reverse("shop:order-payment", kwargs={"number": order.number})


@pytest.fixture
def order():
    return order_to_pay(price="1500")


def test_the_callback_path_has_a_secret_and_no_mpesa_words(settings):
    url = services.callback_url()
    assert url.endswith("/pay/stk/callback/test-callback-token/")
    assert "mpesa" not in url.lower() and "safaricom" not in url.lower()


def test_a_callback_pays_the_order(client, order):
    attempt = pending_attempt(order)
    response = post(client, body(attempt.checkout_request_id, amount=2000.0))
    assert response.status_code == 200 and response.json() == OK
    attempt.refresh_from_db()
    assert (attempt.status, attempt.receipt_number, attempt.paid_amount) == (
        A.PAID,
        "NLJ7RT61SV",
        Decimal("2000"),
    )
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_a_wrong_path_token_changes_nothing_and_is_logged(client, order, caplog):
    attempt = pending_attempt(order)
    with caplog.at_level(logging.WARNING, logger="payments.views"):
        response = post(client, body(attempt.checkout_request_id, amount=2000), token="guess")
    assert response.status_code == 404
    assert "wrong path token" in caplog.text
    assert not Callback.objects.exists()
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PENDING
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_the_callback_refuses_everything_without_a_configured_token(client, order, settings):
    settings.MPESA_CALLBACK_TOKEN = None
    attempt = pending_attempt(order)
    assert post(client, body(attempt.checkout_request_id, amount=2000)).status_code == 404
    assert (
        post(client, body(attempt.checkout_request_id, amount=2000), token="-").status_code == 404
    )
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PENDING


def test_the_callback_is_post_only(client):
    url = reverse("payments:callback", kwargs={"token": "test-callback-token"})
    assert client.get(url).status_code == 405


def test_an_unknown_checkout_request_id_is_acknowledged_and_logged(client, order, caplog):
    with caplog.at_level(logging.WARNING, logger="payments.services"):
        response = post(client, body("ws_CO_unknown", amount=2000))
    assert response.status_code == 200 and response.json() == OK
    record = Callback.objects.get()
    assert (record.outcome, record.checkout_request_id) == ("unknown", "ws_CO_unknown")
    assert "match it by hand" in record.note
    assert "unknown CheckoutRequestID" in caplog.text
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"",
        b"[]",
        b'{"Body": {}}',
        b'{"Body": {"stkCallback": {"ResultCode": 0}}}',
        json.dumps(body("ws_CO_x", amount="NaN")).encode(),
        b'{"Body": {"stkCallback": null}}',
    ],
)
def test_junk_is_stored_and_acknowledged_never_a_500(client, payload):
    response = post(client, payload)
    assert response.status_code == 200
    record = Callback.objects.get()
    assert record.outcome == "malformed" and record.body == payload.decode()


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


@pytest.mark.parametrize(
    "payload",
    [
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_\x00", "ResultCode": 0}}}',
        b"\x00\x00\x00",
        json.dumps(body("ws_CO_\u0000nul", amount=2000)).encode(),
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0, '
        b'"ResultDesc": "\\u0000"}}}',
        _nested(5000),
        _nested(40),
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        json.dumps(
            {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": None}}}
        ).encode(),
        json.dumps(
            {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": [0]}}}
        ).encode(),
        json.dumps(
            {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": True}}}
        ).encode(),
        json.dumps(
            {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0.0}}}
        ).encode(),
        json.dumps(
            {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": {}}}}
        ).encode(),
        json.dumps(
            {"Body": {"stkCallback": {"CheckoutRequestID": 12345, "ResultCode": 0}}}
        ).encode(),
    ],
    ids=[
        "raw-nul",
        "only-nul",
        "escaped-nul",
        "escaped-nul-in-desc",
        "deep-5000",
        "deep-40",
        "deep-objects",
        "null-code",
        "list-code",
        "bool-code",
        "float-code",
        "dict-code",
        "numeric-id",
    ],
)
def test_hostile_bodies_are_stored_as_malformed_never_a_500(client, order, payload):
    attempt = pending_attempt(order, checkout_id="ws_CO_1")
    response = post(client, payload)
    assert response.status_code == 200 and response.json() == OK
    record = Callback.objects.get()
    assert record.outcome == Callback.Outcome.MALFORMED
    assert not Callback.objects.filter(outcome=Callback.Outcome.RECEIVED).exists()
    attempt.refresh_from_db()
    assert attempt.status == A.PENDING
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_a_success_without_metadata_pays_nothing_until_a_query_confirms_it(
    client, order, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    attempt = pending_attempt(order)
    payload = body(attempt.checkout_request_id)
    del payload["Body"]["stkCallback"]["CallbackMetadata"]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, payload).status_code == 200
    record = Callback.objects.get()
    assert record.outcome == Callback.Outcome.UNCONFIRMED and record.reports_payment
    attempt.refresh_from_db()
    assert attempt.status == A.PENDING and attempt.next_query_at is not None
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT
    assert services.payment_state(order).state == "pending"
    assert DBTaskResult.objects.filter(task_path__endswith="reconcile_attempt_task").exists()


def test_an_oversized_body_is_refused(client):
    response = post(client, b"{" + b" " * 70_000 + b"}")
    assert response.status_code == 413 and not Callback.objects.exists()


def test_a_duplicate_callback_changes_nothing(client, order):
    attempt = pending_attempt(order)
    payload = body(attempt.checkout_request_id, amount=2000)
    post(client, payload)
    paid = Order.objects.get(pk=order.pk)
    assert post(client, payload).json() == OK
    assert list(Callback.objects.order_by("id").values_list("outcome", flat=True)) == [
        "paid",
        "duplicate",
    ]
    again = Order.objects.get(pk=order.pk)
    assert (again.status, again.paid_at, again.updated) == (S.PAID, paid.paid_at, paid.updated)
    assert OrderEvent.objects.filter(order=order, to_status=S.PAID).count() == 1
    assert PaymentAttempt.objects.get(pk=attempt.pk).callbacks_received == 2


def test_an_amount_that_does_not_match_is_flagged_not_accepted(client, order):
    attempt = pending_attempt(order)
    post(client, body(attempt.checkout_request_id, amount=1.0))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.flag) == (A.PAID, F.AMOUNT_MISMATCH)
    assert "KES 1.0" in attempt.flag_note
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT
    assert Callback.objects.get().outcome == "flagged"
    assert services.payment_state(order).state == "review"


def test_amounts_compare_as_decimals(client, order):
    attempt = pending_attempt(order)
    post(client, body(attempt.checkout_request_id, amount="2000.00"))
    assert PaymentAttempt.objects.get(pk=attempt.pk).flag == ""
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_a_replay_after_expiry_pays_nothing_and_is_flagged(client, order):
    attempt = pending_attempt(order)
    shop_services.expire_order(order_id=order.pk, now=order.expires_at)
    post(client, body(attempt.checkout_request_id, amount=2000))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.flag) == (A.PAID, F.ORDER_NOT_OPEN)
    assert Order.objects.get(pk=order.pk).status == S.EXPIRED
    assert allocated(order) == [0]


def test_a_receipt_already_used_is_flagged_and_pays_nothing(client, order):
    first = pending_attempt(order)
    post(client, body(first.checkout_request_id, amount=2000))
    other = order_to_pay(price="1500")
    second = pending_attempt(other, checkout_id="ws_CO_011220261200009999")
    post(client, body(second.checkout_request_id, amount=2000))  # same receipt
    second.refresh_from_db()
    assert (second.status, second.flag, second.receipt_number) == (
        A.PENDING,
        F.DUPLICATE_RECEIPT,
        None,
    )
    assert Order.objects.get(pk=other.pk).status == S.AWAITING_PAYMENT
    # Consistent: not shown as paid, flagged, and still reconciled by query.
    assert second.next_query_at is not None and not second.counted
    assert services.payment_state(other).state == "pending"
    assert "NLJ7RT61SV" not in client.get(status_path(other)).content.decode()


def test_a_second_successful_payment_of_a_paid_order_is_flagged_for_refund(client, order):
    first = pending_attempt(order)
    second = pending_attempt(order, checkout_id="ws_CO_011220261200005555")
    post(client, body(first.checkout_request_id, amount=2000))
    post(client, body(second.checkout_request_id, amount=2000, receipt="NLJ7RT61XX"))
    second.refresh_from_db()
    assert (second.status, second.flag) == (A.PAID, F.ORDER_ALREADY_PAID)


def test_a_failure_callback_fails_the_attempt(client, order):
    attempt = pending_attempt(order)
    post(client, body(attempt.checkout_request_id, code=1032))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.result_code) == (A.FAILED, "1032")
    assert attempt.message == "You cancelled the M-Pesa request. Try again?"
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_success_after_a_recorded_failure_is_flagged_not_applied(client, order):
    attempt = pending_attempt(order)
    post(client, body(attempt.checkout_request_id, code=1037))
    post(client, body(attempt.checkout_request_id, amount=2000))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.flag) == (A.FAILED, F.RESULT_CONFLICT)
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_a_late_callback_brings_the_receipt_for_a_payment_proven_by_query(client, order):
    attempt = pending_attempt(order)
    services.record_result(
        result=services.StkResult(attempt.checkout_request_id, 0, source="query")
    )
    attempt.refresh_from_db()
    assert (attempt.status, attempt.flag) == (A.PAID, F.NO_RECEIPT)
    post(client, body(attempt.checkout_request_id, amount=2000))
    attempt.refresh_from_db()
    assert (attempt.receipt_number, attempt.flag) == ("NLJ7RT61SV", "")
    assert Callback.objects.get().outcome == "receipt_added"


def test_a_callback_that_arrives_before_the_push_answer_is_replayed(client, order):
    """Daraja may call back before our push request has stored the ID."""
    post(client, body("ws_CO_early", amount=2000))
    assert Callback.objects.get().outcome == "unknown"
    attempt = pending_attempt(order, checkout_id="ws_CO_early")
    services._replay_early_callbacks("ws_CO_early")
    attempt.refresh_from_db()
    assert attempt.status == A.PAID
    assert Callback.objects.get().outcome == "paid"


def test_a_callback_that_fails_to_process_is_kept(client, order, monkeypatch):
    attempt = pending_attempt(order)

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services, "_order_paid", broken)
    response = post(client, body(attempt.checkout_request_id, amount=2000))
    assert response.status_code == 200
    record = Callback.objects.get()
    assert record.outcome == "error"
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PENDING
    monkeypatch.undo()
    services.process_callback(record)
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PAID


# Source addresses --------------------------------------------------------------


def test_a_logged_allow_list_notes_an_unlisted_address_and_accepts(client, order, caplog, settings):
    settings.MPESA_CALLBACK_IP_POLICY = "log"  # the default with Safaricom
    attempt = pending_attempt(order)
    with caplog.at_level(logging.INFO, logger="payments.views"):
        post(client, body(attempt.checkout_request_id, amount=2000), REMOTE_ADDR="203.0.113.9")
    assert "not on the allow-list" in caplog.text
    record = Callback.objects.get()
    assert (record.remote_addr, record.ip_allowed, record.outcome) == ("203.0.113.9", False, "paid")


def test_an_enforced_allow_list_refuses_other_addresses(client, order, settings):
    settings.MPESA_CALLBACK_IP_POLICY = "enforce"
    attempt = pending_attempt(order)
    payload = body(attempt.checkout_request_id, amount=2000)
    assert post(client, payload, REMOTE_ADDR="203.0.113.9").status_code == 403
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PENDING
    assert post(client, payload, REMOTE_ADDR="196.201.214.200").status_code == 200
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PAID


def test_forwarded_for_is_believed_only_from_trusted_proxies(client, order, settings):
    settings.MPESA_CALLBACK_IP_POLICY = "enforce"
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    attempt = pending_attempt(order)
    payload = body(attempt.checkout_request_id, amount=2000)
    forged = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "196.201.214.200"}
    assert post(client, payload, **forged).status_code == 403
    proxied = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 196.201.214.200"}
    assert post(client, payload, **proxied).status_code == 200
    assert Callback.objects.get().remote_addr == "196.201.214.200"


# Query bounds ------------------------------------------------------------------


def callback_queries(client, lines: int) -> int:
    order = order_to_pay(price="100", lines=lines)
    attempt = pending_attempt(order, checkout_id=f"ws_CO_lines{lines}")
    with CaptureQueriesContext(connection) as queries:
        post(
            client,
            body(attempt.checkout_request_id, amount=order.amount_payable, receipt=f"R{lines}"),
        )
    assert Order.objects.get(pk=order.pk).status == S.PAID
    return len(queries)


def test_a_callback_runs_the_same_queries_whatever_the_order_size(client):
    assert callback_queries(client, 1) == callback_queries(client, 8) <= 17


@pytest.mark.django_db(transaction=True)  # the worker closes its connection
def test_the_receipt_email_goes_out_once_with_the_receipt_and_a_link(
    client, order, django_capture_on_commit_callbacks, mailoutbox
):
    attempt = pending_attempt(order)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, body(attempt.checkout_request_id, amount=2000))
        post(client, body(attempt.checkout_request_id, amount=2000))  # duplicate
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    (receipt,) = [m for m in mailoutbox if m.subject.startswith("Payment received")]
    assert receipt.subject == f"Payment received for order {order.number}"
    assert receipt.to == ["amina@example.com"]
    assert "M-Pesa payment of KES 2,000" in receipt.body
    assert "(M-Pesa receipt NLJ7RT61SV)" in receipt.body
    link = re.search(r"Your order: (\S+)", receipt.body).group(1)
    assert link.startswith(f"{settings.SITE_URL}/orders/{order.number}/?key=")
    stranger = Client()
    path = link.removeprefix(settings.SITE_URL)
    assert stranger.get(path).status_code == 200  # the key opens it in any browser
    assert stranger.get(status_path(order)).status_code == 200  # and the session keeps it
    assert Client().get(path.replace(order.number, order_to_pay().number)).status_code == 404
