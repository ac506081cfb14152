"""Paying orders end to end: the real Daraja client, the simulator, the live shop.

Each test places an order through the shop's services, pushes with the real
client over HTTP to the simulator, and lets the simulator POST its callback
to the live server, exactly the path a Safaricom callback takes.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from payments import services
from payments.exceptions import (
    DarajaBusy,
    DarajaUnavailable,
    OrderNotPayable,
    PreviousPushPending,
    PushOutcomeUnknown,
    ResendTooSoon,
    SubscriberLocked,
)
from payments.models import Callback, PaymentAttempt
from payments.results import describe_result
from shop import services as shop_services
from shop.models import Order, OrderEvent, Product

from .factories import PAYER, allocated, order_to_pay, payer
from .simulators import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

A = PaymentAttempt.Status
F = PaymentAttempt.Flag
S = Order.Status


def settled(attempt: PaymentAttempt, *, timeout: float = 5.0) -> PaymentAttempt:
    """Wait until the attempt has a result; return it fresh."""

    def final():
        fresh = PaymentAttempt.objects.get(pk=attempt.pk)
        return fresh if fresh.status != A.PENDING else None

    return wait_for(final, timeout=timeout)


def test_a_paid_push_marks_the_order_paid_with_its_receipt(paying_shop):
    simulator = paying_shop()
    order = order_to_pay(price="2499.50")
    attempt = services.request_stk_push(order_id=order.pk, phone=PAYER)
    assert attempt.checkout_request_id.startswith("ws_CO_")
    assert attempt.amount == 3000  # 2,499.50 + 500 delivery, rounded up
    attempt = settled(attempt)
    # The simulator notes its callback once the shop has answered it.
    sent = wait_for(lambda: next((t for t in simulator.transactions() if t["callbacks"]), None))
    callback = sent["callbacks"][0]["body"]["Body"]["stkCallback"]
    items = {i["Name"]: i.get("Value") for i in callback["CallbackMetadata"]["Item"]}
    receipt = items["MpesaReceiptNumber"]
    assert sent["request"]["AccountReference"] == order.number
    assert sent["request"]["Amount"] == 3000
    assert (attempt.status, attempt.receipt_number, attempt.flag) == (A.PAID, receipt, "")
    assert attempt.paid_amount == Decimal("3000")
    assert attempt.raw_callback == sent["callbacks"][0]["body"]
    order.refresh_from_db()
    assert order.status == S.PAID and order.paid_at is not None
    # The callback's record is marked once its processing committed.
    assert wait_for(lambda: Callback.objects.filter(outcome=Callback.Outcome.PAID).exists())
    assert Callback.objects.count() == 1
    assert services.payment_state(order).message == f"Paid, receipt {receipt}."


@pytest.mark.parametrize("code", [1, 17, 1019, 1032, 1037, 2001])
def test_each_failure_code_fails_the_attempt_and_keeps_the_order(paying_shop, code):
    paying_shop()
    order = order_to_pay(stock=3, quantity=2)
    attempt = settled(services.request_stk_push(order_id=order.pk, phone=payer(str(code))))
    assert (attempt.status, attempt.result_code) == (A.FAILED, str(code))
    assert attempt.message == describe_result(code=code).shopper_message
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT
    assert allocated(order) == [2]  # the stock stays held for a retry
    state = services.payment_state(order, now=attempt.resend_after)
    assert (state.state, state.message, state.can_pay) == ("failed", attempt.message, True)


def test_a_lost_callback_is_reconciled_by_query_and_flagged_for_its_receipt(paying_shop):
    simulator = paying_shop()
    order = order_to_pay()
    attempt = services.request_stk_push(order_id=order.pk, phone=payer("0404"))
    wait_for(lambda: simulator.transactions()[0]["status"] == "decided")
    assert PaymentAttempt.objects.get(pk=attempt.pk).status == A.PENDING
    next_at = services.reconcile_attempt(attempt_id=attempt.pk)
    assert next_at is None
    attempt.refresh_from_db()
    assert (attempt.status, attempt.receipt_number, attempt.flag) == (A.PAID, None, F.NO_RECEIPT)
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_reconciliation_is_queued_for_after_the_push(paying_shop, settings):
    paying_shop()
    settings.MPESA_RECONCILE_AFTER_SECONDS = 60
    order = order_to_pay()
    before = timezone.now()
    attempt = services.request_stk_push(order_id=order.pk, phone=payer("0404"))
    task = DBTaskResult.objects.get(task_path="payments.tasks.reconcile_attempt_task")
    assert task.args_kwargs["args"] == [attempt.pk]
    assert before + timedelta(seconds=59) < task.run_after <= attempt.next_query_at


def test_the_worker_reconciles_a_pending_push(paying_shop, settings):
    """The real db_worker runs the queued query once it is due."""
    simulator = paying_shop()
    settings.MPESA_RECONCILE_AFTER_SECONDS = 0
    order = order_to_pay()
    attempt = services.request_stk_push(order_id=order.pk, phone=payer("0404"))
    wait_for(lambda: simulator.transactions()[0]["status"] == "decided")
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.flag) == (A.PAID, F.NO_RECEIPT)


def test_a_duplicate_callback_pays_once(paying_shop):
    simulator = paying_shop()
    order = order_to_pay(quantity=2)
    sold_before = Product.objects.get(variants__order_lines__order=order).units_sold
    attempt = services.request_stk_push(order_id=order.pk, phone=payer("0202"))
    wait_for(lambda: len(simulator.transactions()[0]["callbacks"]) == 2)
    wait_for(lambda: not Callback.objects.filter(outcome=Callback.Outcome.RECEIVED).exists())
    assert sorted(Callback.objects.values_list("outcome", flat=True)) == ["duplicate", "paid"]
    attempt.refresh_from_db()
    assert (attempt.status, attempt.callbacks_received, attempt.flag) == (A.PAID, 2, "")
    assert OrderEvent.objects.filter(order=order, to_status=S.PAID).count() == 1
    assert Product.objects.get(variants__order_lines__order=order).units_sold == sold_before + 2


@pytest.mark.parametrize(
    ("suffix", "error"),
    [("0500", DarajaUnavailable), ("0429", DarajaBusy), ("1001", SubscriberLocked)],
)
def test_a_refused_push_gives_a_clear_message_and_keeps_the_order(paying_shop, suffix, error):
    paying_shop()
    order = order_to_pay()
    with pytest.raises(error) as refused:
        services.request_stk_push(order_id=order.pk, phone=payer(suffix))
    assert "M-Pesa" in refused.value.shopper_message
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == A.FAILED and attempt.checkout_request_id is None
    assert attempt.message == refused.value.shopper_message
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT
    assert services.payment_state(order).message == refused.value.shopper_message


def test_a_push_whose_answer_never_came_is_unknown_and_its_late_callback_pays(
    paying_shop, settings
):
    paying_shop(slow_seconds=2)
    settings.MPESA_TIMEOUT_SECONDS = 0.5
    order = order_to_pay()
    with pytest.raises(PushOutcomeUnknown) as unanswered:
        services.request_stk_push(order_id=order.pk, phone=payer("0999"))
    assert "enter your PIN" in unanswered.value.shopper_message
    first = PaymentAttempt.objects.get()
    assert first.status == A.UNKNOWN and first.checkout_request_id is None
    state = services.payment_state(order)
    assert state.state == "pending" and state.polling and not state.can_pay
    # While that prompt may still be live, no second one goes out.
    with pytest.raises(ResendTooSoon) as too_soon:
        services.resend_stk_push(order_id=order.pk, phone=payer("0999"))
    assert too_soon.value.seconds > settings.MPESA_RESEND_SECONDS
    # Daraja accepted it after all: its callback is matched by phone and amount.
    paid = wait_for(
        lambda: PaymentAttempt.objects.filter(pk=first.pk, status=A.PAID).first(), timeout=15
    )
    assert paid.checkout_request_id.startswith("ws_CO_") and paid.receipt_number
    assert paid.counted and not paid.flag
    assert Order.objects.get(pk=order.pk).status == S.PAID
    # The callback's record is marked once its processing committed.
    assert wait_for(lambda: Callback.objects.filter(outcome=Callback.Outcome.PAID).exists())
    assert Callback.objects.count() == 1
    assert PaymentAttempt.objects.count() == 1


def test_after_an_unanswered_push_goes_quiet_a_new_prompt_can_be_sent(paying_shop, settings):
    paying_shop(slow_seconds=3)
    settings.MPESA_TIMEOUT_SECONDS = 0.5
    order = order_to_pay()
    with pytest.raises(PushOutcomeUnknown):
        services.request_stk_push(order_id=order.pk, phone=payer("0999"))
    first = PaymentAttempt.objects.get()
    later = first.created + timedelta(seconds=settings.MPESA_PROMPT_SECONDS + 1)
    state = services.payment_state(order, now=later)
    assert state.state == "failed" and state.can_pay
    assert "never heard back" in state.message
    settings.MPESA_TIMEOUT_SECONDS = 5
    second = services.resend_stk_push(order_id=order.pk, phone=payer("0404"), now=later)
    assert second.pk != first.pk and second.status == A.PENDING


def test_resend_after_a_cancelled_prompt_pays(paying_shop, settings):
    simulator = paying_shop()
    settings.MPESA_RESEND_SECONDS = 30
    order = order_to_pay()
    first = settled(services.request_stk_push(order_id=order.pk, phone=payer("1032")))
    assert first.result_code == "1032"
    with pytest.raises(ResendTooSoon) as too_soon:
        services.resend_stk_push(order_id=order.pk, phone=PAYER)
    assert 1 <= too_soon.value.seconds <= 30
    second = services.resend_stk_push(
        order_id=order.pk, phone=PAYER, now=first.resend_after + timedelta(seconds=1)
    )
    assert settled(second).status == A.PAID
    assert [t["request"]["PhoneNumber"] for t in simulator.transactions()] == [
        payer("1032"),
        PAYER,
    ]
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_resend_asks_about_the_previous_push_first_and_finds_it_paid(paying_shop, settings):
    simulator = paying_shop()
    settings.MPESA_RESEND_SECONDS = 0
    order = order_to_pay()
    first = services.request_stk_push(order_id=order.pk, phone=payer("0404"))
    wait_for(lambda: simulator.transactions()[0]["status"] == "decided")
    result = services.resend_stk_push(order_id=order.pk, phone=PAYER)
    assert result.pk == first.pk and result.status == A.PAID
    assert len(simulator.transactions()) == 1  # no second prompt
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_resend_while_the_previous_prompt_waits_for_a_pin_is_refused(paying_shop, settings):
    simulator = paying_shop(callback_delay=30)
    settings.MPESA_RESEND_SECONDS = 0
    order = order_to_pay()
    services.request_stk_push(order_id=order.pk, phone=PAYER)
    with pytest.raises(PreviousPushPending):
        services.resend_stk_push(order_id=order.pk, phone=PAYER)
    assert len(simulator.transactions()) == 1


def test_an_expired_order_cannot_be_pushed(paying_shop):
    simulator = paying_shop()
    order = order_to_pay()
    later = order.expires_at + timedelta(seconds=1)
    with pytest.raises(OrderNotPayable, match="expired"):
        services.request_stk_push(order_id=order.pk, phone=PAYER, now=later)
    shop_services.expire_order(order_id=order.pk, now=later)
    with pytest.raises(OrderNotPayable, match="expired"):
        services.request_stk_push(order_id=order.pk, phone=PAYER)
    assert simulator.transactions() == [] and not PaymentAttempt.objects.exists()


def test_a_payment_after_expiry_is_kept_and_flagged(paying_shop):
    paying_shop(callback_delay=0.5)
    order = order_to_pay(stock=1)
    attempt = services.request_stk_push(order_id=order.pk, phone=PAYER)
    assert shop_services.expire_order(order_id=order.pk, now=order.expires_at)
    attempt = settled(attempt)
    assert (attempt.status, attempt.flag) == (A.PAID, F.ORDER_NOT_OPEN)
    assert attempt.receipt_number
    order.refresh_from_db()
    assert order.status == S.EXPIRED
    assert allocated(order) == [0]  # released once, not taken back
    assert services.payment_state(order).state == "review"


def test_pending_at_expiry_is_flagged_and_querying_stops(paying_shop):
    paying_shop(callback_delay=60)
    order = order_to_pay()
    attempt = services.request_stk_push(order_id=order.pk, phone=PAYER)
    next_at = services.reconcile_attempt(attempt_id=attempt.pk)
    assert next_at is not None and next_at <= order.expires_at
    assert services.reconcile_attempt(attempt_id=attempt.pk, now=order.expires_at) is None
    attempt.refresh_from_db()
    assert (attempt.status, attempt.flag, attempt.next_query_at) == (
        A.PENDING,
        F.PENDING_AT_EXPIRY,
        None,
    )
    assert attempt.queries_made == 2


def test_a_success_callback_without_details_is_confirmed_by_query_first(paying_shop):
    paying_shop()
    order = order_to_pay()
    attempt = services.request_stk_push(order_id=order.pk, phone=payer("0066"))
    record = wait_for(lambda: Callback.objects.filter(outcome=Callback.Outcome.UNCONFIRMED).first())
    assert record.attempt_id == attempt.pk
    attempt.refresh_from_db()
    assert attempt.status == A.PENDING
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT
    services.reconcile_attempt(attempt_id=attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == A.PAID and attempt.flag == F.NO_RECEIPT
    assert Order.objects.get(pk=order.pk).status == S.PAID
