"""Orders M-Pesa can't take in one payment, and the one "can it still be paid?" rule.

End to end: the real Daraja client, the simulator over HTTP and its
callbacks to the live shop.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.exceptions import (
    OrderNotPayable,
    PreviousPushPending,
    ResendTooSoon,
    TooManyPrompts,
)
from payments.models import Callback, PaymentAttempt
from shop import services as shop_services
from shop.exceptions import FulfilmentError, OrderTooLarge
from shop.models import Cart, CartLine, Order, ProductVariant
from shop.tests.factories import make_product

from .factories import ADDRESS, PAYER, allocated, order_to_pay, payer
from .simulators import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

A = PaymentAttempt.Status
F = PaymentAttempt.Flag
S = Order.Status
V = services.Verdict


def paid(attempt: PaymentAttempt) -> PaymentAttempt:
    """Wait until the simulator's callback settled *attempt*; return it fresh."""
    return wait_for(
        lambda: PaymentAttempt.objects.exclude(status=A.PENDING).filter(pk=attempt.pk).first()
    )


def test_part_amounts_split_by_the_ceiling_largest_first(settings):
    settings.MPESA_MAX_PER_PAYMENT = 250_000
    assert services.part_amounts(1) == [1]
    assert services.part_amounts(250_000) == [250_000]
    assert services.part_amounts(300_500) == [250_000, 50_500]
    assert services.part_amounts(500_000) == [250_000, 250_000]
    assert sum(services.part_amounts(499_999)) == 499_999


def test_an_order_above_the_per_order_ceiling_is_refused_before_anything_is_held(settings):
    settings.MPESA_MAX_PER_ORDER = 500_000
    variant = make_product(prices=("260000",), stock=5, image=False).variants.get()
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=2, price_when_added=variant.price)
    with pytest.raises(OrderTooLarge) as refused:
        shop_services.place_order(cart=cart, email="a@example.com", phone=PAYER, address=ADDRESS)
    assert "KES 500,000" in refused.value.message and "bank transfer" in refused.value.message
    assert not Order.objects.exists()
    assert ProductVariant.objects.get(pk=variant.pk).stock_allocated == 0
    assert cart.lines.count() == 1


def test_checkout_says_how_many_prompts_to_expect_and_refuses_too_much(client, settings):
    variant = make_product(prices=("150000",), stock=9, image=False).variants.get()
    client.post(reverse("shop:cart-add"), {"variant": variant.pk, "quantity": 2})
    page = client.get(reverse("shop:checkout"))
    assert page.status_code == 200
    # Before a county is chosen the subtotal decides (300,000: two prompts).
    assert 'data-testid="mpesa-parts"' in page.content.decode()
    assert "2 M-Pesa prompts" in page.content.decode()
    settings.MPESA_MAX_PER_ORDER = 200_000
    page = client.get(reverse("shop:checkout"))
    assert 'data-testid="mpesa-refusal"' in page.content.decode()


def test_a_large_order_is_paid_in_parts_one_prompt_each(paying_shop, client):
    simulator = paying_shop()
    order = order_to_pay(price="300000")
    assert order.amount_payable == 300_500  # 500 delivery
    first = services.request_stk_push(order_id=order.pk, phone=PAYER)
    assert first.amount == 250_000
    first = paid(first)
    assert first.status == A.PAID and first.counted and not first.flag
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT  # one part in, the balance to go
    state = services.payment_state(order)
    assert state.state == "next_part" and state.balance == 50_500
    assert [(p.number, p.amount, p.state) for p in state.parts] == [
        (1, 250_000, "paid"),
        (2, 50_500, "to_pay"),
    ]
    assert state.paybill_amounts == [50_500]
    # The next part is its own push, for the balance.
    second = services.resend_stk_push(
        order_id=order.pk, phone=PAYER, now=first.resend_after + timedelta(seconds=1)
    )
    assert second.amount == 50_500
    second = paid(second)
    order.refresh_from_db()
    assert order.status == S.PAID
    receipts = {first.receipt_number, second.receipt_number}
    assert len(receipts) == 2 and None not in receipts
    assert [t["request"]["Amount"] for t in simulator.transactions()] == [250_000, 50_500]
    state = services.payment_state(order)
    assert state.state == "paid" and all(p.state == "paid" for p in state.parts)
    assert all(r in state.receipt for r in receipts)
    assert order.events.filter(to_status=S.PAID).count() == 1


def test_a_failed_part_is_retried_alone(paying_shop):
    paying_shop()
    order = order_to_pay(price="300000")
    first = paid(services.request_stk_push(order_id=order.pk, phone=PAYER))
    later = first.resend_after + timedelta(seconds=1)
    failed = paid(services.resend_stk_push(order_id=order.pk, phone=payer("1032"), now=later))
    assert failed.status == A.FAILED and failed.amount == 50_500
    state = services.payment_state(order, now=later)
    assert [p.state for p in state.parts] == ["paid", "failed"]
    retry = services.resend_stk_push(
        order_id=order.pk, phone=PAYER, now=failed.resend_after + timedelta(seconds=1)
    )
    assert retry.amount == 50_500
    paid(retry)
    assert Order.objects.get(pk=order.pk).status == S.PAID
    assert PaymentAttempt.objects.filter(order=order, counted=True).count() == 2


def test_equal_parts_wait_out_darajas_two_minute_rule(paying_shop, settings):
    paying_shop()
    settings.MPESA_MAX_PER_PAYMENT = 1000
    order = order_to_pay(price="1500")  # 2,000 with delivery: 1,000 + 1,000
    first = paid(services.request_stk_push(order_id=order.pk, phone=PAYER))
    with pytest.raises(ResendTooSoon) as too_soon:
        services.resend_stk_push(
            order_id=order.pk, phone=PAYER, now=first.resend_after + timedelta(seconds=1)
        )
    assert too_soon.value.seconds > 0
    after = first.created + timedelta(seconds=services.SAME_AMOUNT_GAP_SECONDS + 1)
    second = services.resend_stk_push(order_id=order.pk, phone=PAYER, now=after)
    assert second.amount == 1000


def test_a_callback_is_checked_against_the_part_it_asked_for(client, settings):
    settings.MPESA_MAX_PER_PAYMENT = 1000
    order = order_to_pay(price="1500")
    attempt = PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=1000,
        checkout_request_id="ws_CO_PART1",
        resend_after=timezone.now(),
    )
    body = {
        "Body": {
            "stkCallback": {
                "CheckoutRequestID": "ws_CO_PART1",
                "ResultCode": 0,
                "ResultDesc": "ok",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 2000},
                        {"Name": "MpesaReceiptNumber", "Value": "RPART1X"},
                        {"Name": "PhoneNumber", "Value": int(PAYER)},
                    ]
                },
            }
        }
    }
    url = reverse("payments:callback", kwargs={"token": "test-callback-token"})
    assert client.post(url, body, content_type="application/json").status_code == 200
    attempt.refresh_from_db()
    assert attempt.flag == F.AMOUNT_MISMATCH and not attempt.counted
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_a_part_paid_order_is_held_for_staff_never_expired(paying_shop):
    paying_shop()
    order = order_to_pay(price="300000")
    held = allocated(order)
    paid(services.request_stk_push(order_id=order.pk, phone=PAYER))
    late = order.expires_at + timedelta(minutes=5)
    assert services.payability(order, now=late).verdict == V.PART_PAID
    assert shop_services.expire_order(order_id=order.pk, now=late) is False
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT and allocated(order) == held
    flagged = PaymentAttempt.objects.needing_review().get()
    assert flagged.flag == F.PART_PAID and "KES 250,000 of 300,500" in flagged.flag_note
    # Once only, however often expiry runs.
    shop_services.expire_overdue_orders(now=late)
    assert PaymentAttempt.objects.needing_review().count() == 1
    state = services.payment_state(order, now=late)
    assert state.state == "held" and state.can_pay
    assert "still holding your items" in state.message
    # The shopper can still pay the balance.
    second = services.resend_stk_push(order_id=order.pk, phone=PAYER, now=late)
    assert second.amount == 50_500
    paid(second)
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_past_its_window_an_order_waits_for_a_live_prompt_then_closes(paying_shop, settings):
    paying_shop(callback_delay=60)  # the shopper hasn't answered yet
    order = order_to_pay()
    attempt = services.request_stk_push(order_id=order.pk, phone=PAYER)
    just_after = order.expires_at + timedelta(seconds=1)
    attempt.created = order.expires_at - timedelta(seconds=30)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created=attempt.created)
    verdict = services.payability(order, now=just_after)
    assert verdict.verdict == V.WAITING and verdict.takes_money and not verdict.takes_new_push
    # The page, the expiry and the money agree: still waiting for the PIN.
    assert services.payment_state(order, now=just_after).state == "pending"
    assert shop_services.expire_order(order_id=order.pk, now=just_after) is False
    with pytest.raises(PreviousPushPending):
        services.request_stk_push(order_id=order.pk, phone=PAYER, now=just_after)
    # Once the prompt can't be answered any more, the order closes for good.
    closed = attempt.created + timedelta(seconds=settings.MPESA_PROMPT_SECONDS + 1)
    assert services.payability(order, now=closed).verdict == V.CLOSED
    assert services.payment_state(order, now=closed).state == "closed"
    with pytest.raises(OrderNotPayable):
        services.request_stk_push(order_id=order.pk, phone=PAYER, now=closed)
    assert shop_services.expire_order(order_id=order.pk, now=closed) is True


def test_a_payment_after_the_close_is_flagged_and_the_page_says_so(client, settings):
    order = order_to_pay()
    attempt = PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        checkout_request_id="ws_CO_LATE1",
        resend_after=timezone.now(),
    )
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        created=timezone.now() - timedelta(seconds=settings.MPESA_PROMPT_SECONDS + 60)
    )
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    order.refresh_from_db()
    # The expiry task hasn't run yet; the page already says closed.
    assert services.payment_state(order).state == "closed"
    result = services.StkResult(
        checkout_request_id="ws_CO_LATE1",
        result_code=0,
        receipt="RLATE01",
        amount=Decimal(order.amount_payable),
    )
    outcome, attempt = services.record_result(result=result)
    assert outcome == Callback.Outcome.FLAGGED and attempt.flag == F.ORDER_NOT_OPEN
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT  # not paid: it closed first
    assert services.payment_state(order).state == "review"
    assert shop_services.expire_order(order_id=order.pk) is True


def test_one_phone_gets_only_so_many_prompts_an_hour_across_orders(client, settings):
    settings.MPESA_MAX_PUSHES_PER_PHONE_HOUR = 2
    now = timezone.now()
    for i in range(2):
        other = order_to_pay(phone=f"25471100000{i}")
        PaymentAttempt.objects.create(
            order=other, phone=PAYER, amount=other.amount_payable, resend_after=now
        )
    order = order_to_pay(phone="254711999999")
    with pytest.raises(TooManyPrompts) as refused:
        services.request_stk_push(order_id=order.pk, phone=PAYER)
    assert "2 M-Pesa prompts in the last hour" in refused.value.shopper_message
    assert not PaymentAttempt.objects.filter(order=order).exists()
    # Another phone is not caught, and an hour later this one isn't either.
    assert services._refuse_if_phone_flooded(phone="254722000000", now=now) is None
    later = now + timedelta(hours=1, seconds=1)
    assert services._refuse_if_phone_flooded(phone=PAYER, now=later) is None


def test_a_part_paid_order_cancelled_waits_for_a_refund_of_what_was_paid(paying_shop):
    paying_shop()
    order = order_to_pay(price="300000")
    held = allocated(order)
    paid(services.request_stk_push(order_id=order.pk, phone=PAYER))
    # The shopper cancels: money is in, so staff must refund it first.
    shop_services.cancel_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == S.CANCELLATION_REQUESTED and allocated(order) == held
    state = services.payment_state(order)
    assert state.state == "review" and "refund" in state.message and not state.can_pay
    # Staff can't refund more than the parts paid, then refund them.
    with pytest.raises(FulfilmentError):
        shop_services.record_refund(
            order_id=order.pk, amount="300500", method="mpesa_reversal", reference="RREF1"
        )
    shop_services.record_refund(
        order_id=order.pk, amount="250000", method="mpesa_reversal", reference="RREF1"
    )
    order.refresh_from_db()
    assert order.status == S.REFUNDED and allocated(order) == [0]


def test_a_declined_cancellation_of_a_part_paid_order_awaits_the_rest(paying_shop):
    paying_shop()
    order = order_to_pay(price="300000")
    paid(services.request_stk_push(order_id=order.pk, phone=PAYER))
    shop_services.cancel_order(order_id=order.pk)
    shop_services.decline_cancellation(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT and order.paid_at is None
    assert services.payment_state(order).state == "next_part"
