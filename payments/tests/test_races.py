"""Payments under concurrent requests (PostgreSQL: row locks and parallel writers)."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from payments import services
from payments.models import Callback, PaymentAttempt
from shop import services as shop_services
from shop.models import Order, OrderEvent, ProductVariant
from shop.tests.threads import run_in_threads

from .factories import PAYER, order_to_pay
from .test_callback import body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Row locks and concurrent writers need PostgreSQL; SQLite serialises writers.",
    ),
]

A = PaymentAttempt.Status
S = Order.Status


def overdue_order_with_attempt(index: int):
    order = order_to_pay(price="1000", stock=3, quantity=2)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    attempt = PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        checkout_request_id=f"ws_CO_race{index}",
        resend_after=timezone.now(),
    )
    return order, attempt


def callback(attempt, receipt):
    payload = body(attempt.checkout_request_id, amount=attempt.amount, receipt=receipt)
    return services.receive_callback(body=json.dumps(payload).encode())


def test_expiry_racing_a_late_callback_releases_stock_once_and_loses_no_money():
    for index in range(8):
        order, attempt = overdue_order_with_attempt(index)
        variant = ProductVariant.objects.get(order_lines__order=order)
        expired, record = run_in_threads(
            lambda pk=order.pk: shop_services.expire_order(order_id=pk),
            lambda a=attempt, i=index: callback(a, f"RACE{i:06d}"),
        )
        order.refresh_from_db()
        attempt.refresh_from_db()
        variant.refresh_from_db()
        assert attempt.status == A.PAID and attempt.receipt_number == f"RACE{index:06d}"
        if expired is True:  # the expiry won: the payment is kept and flagged
            assert order.status == S.EXPIRED and attempt.flag == "order_not_open"
            assert variant.stock_allocated == 0
        else:  # the payment won: the order is paid and keeps its stock
            assert expired is False and order.status == S.PAID and attempt.flag == ""
            assert variant.stock_allocated == 2
        assert variant.stock_on_hand == 3
        assert (
            OrderEvent.objects.filter(order=order).exclude(to_status=S.AWAITING_PAYMENT).count()
            == 1
        )


def test_duplicate_callbacks_at_the_same_moment_pay_once():
    for index in range(6):
        order = order_to_pay(price="1000")
        attempt = PaymentAttempt.objects.create(
            order=order,
            phone=PAYER,
            amount=order.amount_payable,
            checkout_request_id=f"ws_CO_dup{index}",
            resend_after=timezone.now(),
        )
        records = run_in_threads(*[lambda a=attempt, i=index: callback(a, f"DUP{i:07d}")] * 4)
        assert all(isinstance(r, Callback) for r in records), records
        assert sorted(r.outcome for r in records) == ["duplicate"] * 3 + ["paid"]
        assert OrderEvent.objects.filter(order=order, to_status=S.PAID).count() == 1
        attempt.refresh_from_db()
        assert attempt.callbacks_received == 4


def test_two_resends_at_once_send_one_prompt(settings, start_sim):
    from .simulators import point_settings_at

    simulator = start_sim()
    point_settings_at(settings, simulator)
    settings.MPESA_RESEND_SECONDS = 60
    for i in range(4):
        # Each round a different shopper (one M-Pesa number holds only a few unpaid orders).
        order = order_to_pay(price="1000", phone=f"25471000000{i}")
        results = run_in_threads(
            *[lambda pk=order.pk: services.request_stk_push(order_id=pk, phone=PAYER)] * 2
        )
        names = sorted(type(r).__name__ for r in results)
        assert names == ["PaymentAttempt", "ResendTooSoon"], results
        assert PaymentAttempt.objects.filter(order=order).count() == 1
