"""Business rules of M-Pesa payments: push, record results, reconcile.

The flow (docs/mpesa.md §10):

1. ``request_stk_push`` creates a ``PaymentAttempt`` (committed) *before*
   Daraja is called, then calls Daraja with no row locked and stores the
   ``CheckoutRequestID``.
2. Daraja's callback (``receive_callback``) is stored raw first, then
   processed; an STK query (``reconcile_attempt``) reaches the same
   ``record_result``.
3. ``record_result`` locks the order, then the attempt (the shop's lock
   order: orders before payment attempts before variants), applies the
   result one way only (``pending → paid | failed``) and asks the shop to
   mark the order paid through ``shop.services.mark_order_paid``. A repeat
   changes nothing; anything odd is flagged for staff, never dropped.

The shop is imported inside functions: ``shop`` imports ``payments``, never
the other way round at import time.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import daraja
from .exceptions import (
    DarajaError,
    OrderNotPayable,
    PreviousPushPending,
    ResendTooSoon,
)
from .models import Callback, PaymentAttempt
from .results import describe_result

logger = logging.getLogger(__name__)

Status = PaymentAttempt.Status
Flag = PaymentAttempt.Flag
Outcome = Callback.Outcome

#: What the shopper's prompt says (TransactionDesc: at most 13 characters).
TRANSACTION_DESC = "Order payment"
#: Seconds between STK queries of a pending push after the first one.
QUERY_BACKOFF = (30, 60, 120, 300)


def callback_url() -> str:
    """Return the public URL Daraja calls back on, with its secret token."""
    path = reverse("payments:callback", kwargs={"token": settings.MPESA_CALLBACK_TOKEN or "-"})
    return f"{settings.MPESA_CALLBACK_BASE_URL}{path}"


def latest_attempt(order_id: int) -> PaymentAttempt | None:
    """Return the order's most recent payment attempt, if any."""
    return PaymentAttempt.objects.filter(order_id=order_id).order_by("-created", "-id").first()


# Pushing --------------------------------------------------------------------


def _refuse_unless_payable(order, now: datetime) -> None:
    Order = type(order)
    if order.status == Order.Status.AWAITING_PAYMENT and (
        order.expires_at is None or order.expires_at > now
    ):
        return
    if order.status in (Order.Status.EXPIRED, Order.Status.AWAITING_PAYMENT):
        raise OrderNotPayable(
            f"Order {order.number} expired because it wasn't paid in time, and its items went "
            "back on sale. Please place the order again."
        )
    if order.status == Order.Status.CANCELLED:
        raise OrderNotPayable(f"Order {order.number} was cancelled.")
    raise OrderNotPayable(f"Order {order.number} is already paid.")


def _refuse_if_too_soon(previous: PaymentAttempt, now: datetime) -> None:
    """Raise ResendTooSoon while the previous push's wait is not over."""
    if previous.resend_after > now:
        raise ResendTooSoon(math.ceil((previous.resend_after - now).total_seconds()))


@transaction.atomic
def _create_attempt(
    *, order_id: int, phone: str, now: datetime, supersede_pending: bool
) -> PaymentAttempt:
    """Lock the order, check it may be pushed for now, create the attempt."""
    from shop import locks

    order = locks.lock_order(order_id)
    _refuse_unless_payable(order, now)
    previous = latest_attempt(order.pk)
    if previous is not None:
        _refuse_if_too_soon(previous, now)
        if (
            previous.status == Status.PENDING
            and previous.checkout_request_id
            and not supersede_pending
        ):
            raise PreviousPushPending
    return PaymentAttempt.objects.create(
        order=order,
        phone=phone,
        amount=order.amount_payable,
        resend_after=now + timedelta(seconds=settings.MPESA_RESEND_SECONDS),
    )


def request_stk_push(
    *, order_id: int, phone: str, now: datetime | None = None, supersede_pending: bool = False
) -> PaymentAttempt:
    """Ask Daraja to prompt *phone* (normalised) to pay the order; return the attempt.

    Locks the order only to create the attempt, which is committed before
    Daraja is called. Raise ``OrderNotPayable`` when the order is no longer
    waiting for payment, ``ResendTooSoon`` within ``MPESA_RESEND_SECONDS`` of
    the previous push, ``PreviousPushPending`` while the previous push waits
    for a PIN (unless *supersede_pending*), and the ``DarajaError`` Daraja's
    refusal became, after recording it on the attempt (its
    ``shopper_message`` is safe to show).
    """
    now = now or timezone.now()
    attempt = _create_attempt(
        order_id=order_id, phone=phone, now=now, supersede_pending=supersede_pending
    )
    try:
        accepted = daraja.stk_push(
            phone=phone,
            amount=attempt.amount,
            account_reference=attempt.order.number,
            description=TRANSACTION_DESC,
            callback_url=callback_url(),
            now=now,
        )
    except DarajaError as error:
        PaymentAttempt.objects.filter(pk=attempt.pk, status=Status.PENDING).update(
            status=Status.FAILED,
            result_code=(error.code or type(error).__name__)[:32],
            result_desc=(error.message or str(error))[:300],
            message=error.shopper_message[:300],
            completed_at=now,
            resend_after=now + timedelta(seconds=error.retry_after_seconds),
            updated=now,
        )
        attempt.refresh_from_db()
        logger.warning("STK push for order %s refused: %s", attempt.order.number, error)
        raise
    next_query_at = now + timedelta(seconds=settings.MPESA_RECONCILE_AFTER_SECONDS)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        checkout_request_id=accepted.checkout_request_id,
        merchant_request_id=accepted.merchant_request_id[:64],
        next_query_at=next_query_at,
        updated=now,
    )
    _schedule_reconciliation(attempt.pk, next_query_at)
    _replay_early_callbacks(accepted.checkout_request_id)
    attempt.refresh_from_db()
    return attempt


def _schedule_reconciliation(attempt_id: int, when: datetime) -> None:
    from .tasks import reconcile_attempt_task

    transaction.on_commit(lambda: reconcile_attempt_task.using(run_after=when).enqueue(attempt_id))


def _replay_early_callbacks(checkout_request_id: str) -> None:
    """Process callbacks that arrived before the CheckoutRequestID was stored."""
    for record in Callback.objects.filter(
        checkout_request_id=checkout_request_id, outcome=Outcome.UNKNOWN
    ):
        process_callback(record)


def resend_stk_push(*, order_id: int, phone: str, now: datetime | None = None) -> PaymentAttempt:
    """Send a new push after a failure or a silence, asking about the last one first.

    The shopper may have paid the previous prompt without us hearing of it,
    so a pending previous push is STK-queried first: if it was paid, that
    attempt is returned and nothing is sent; if Daraja says it is still being
    processed, ``PreviousPushPending`` is raised. Otherwise as
    ``request_stk_push``.
    """
    now = now or timezone.now()
    previous = latest_attempt(order_id)
    supersede = False
    if previous is not None and previous.status == Status.PENDING and previous.checkout_request_id:
        _refuse_if_too_soon(previous, now)  # before asking Daraja anything
        answer = _query(previous, now=now)
        previous.refresh_from_db()
        if previous.status == Status.PAID:
            return previous
        if answer is not None and answer.pending:
            raise PreviousPushPending
        supersede = True
    return request_stk_push(order_id=order_id, phone=phone, now=now, supersede_pending=supersede)


# Results --------------------------------------------------------------------


class MalformedCallback(ValueError):
    """The body is not an STK callback."""


@dataclass(frozen=True)
class StkResult:
    """The final result of one push, from a callback or a query."""

    checkout_request_id: str
    result_code: int | str
    result_desc: str = ""
    source: str = "callback"
    receipt: str = ""
    amount: Decimal | None = None
    phone: str = ""

    @property
    def paid(self) -> bool:
        return self.result_code == 0


def parse_callback(payload: Any) -> StkResult:
    """Return the result in an STK callback body (docs/mpesa.md §3).

    Items are read by name, a ``Balance`` without a value is fine and the
    amount is a Decimal. Raise ``MalformedCallback`` for anything else.
    """
    try:
        callback = payload["Body"]["stkCallback"]
        checkout_request_id = str(callback["CheckoutRequestID"]).strip()
        code = daraja.parse_result_code(callback["ResultCode"])
    except (KeyError, TypeError) as error:
        raise MalformedCallback(f"missing {error}") from error
    if not checkout_request_id or len(checkout_request_id) > 64:
        raise MalformedCallback("bad CheckoutRequestID")
    items: dict[str, Any] = {}
    metadata = callback.get("CallbackMetadata") or {}
    for item in metadata.get("Item") or [] if isinstance(metadata, dict) else []:
        if isinstance(item, dict) and "Name" in item:
            items[str(item["Name"])] = item.get("Value")
    amount = None
    if items.get("Amount") is not None:
        try:
            amount = Decimal(str(items["Amount"]))
        except InvalidOperation as error:
            raise MalformedCallback("bad Amount") from error
        if not amount.is_finite():
            raise MalformedCallback("bad Amount")
    return StkResult(
        checkout_request_id=checkout_request_id,
        result_code=code,
        result_desc=str(callback.get("ResultDesc", ""))[:300],
        source="callback",
        receipt=str(items.get("MpesaReceiptNumber") or "").strip()[:20],
        amount=amount,
        phone=str(items.get("PhoneNumber") or "")[:16],
    )


def record_result(
    *, result: StkResult, raw: Any = None, now: datetime | None = None
) -> tuple[str, PaymentAttempt | None]:
    """Apply a push's final result; return (a ``Callback.Outcome``, the attempt).

    Locks the order, then the attempt. Idempotent: a result already applied
    returns ``duplicate`` and changes nothing. Returns ``unknown`` (and no
    attempt) for a CheckoutRequestID the shop never stored.
    """
    from shop import locks

    now = now or timezone.now()
    ref = (
        PaymentAttempt.objects.filter(checkout_request_id=result.checkout_request_id)
        .values("pk", "order_id")
        .first()
    )
    if ref is None:
        return Outcome.UNKNOWN, None
    with transaction.atomic():
        locks.lock_order(ref["order_id"])
        attempt = PaymentAttempt.objects.select_for_update().get(pk=ref["pk"])
        outcome = _apply(attempt, result, raw=raw, now=now)
        attempt.save()
    return outcome, attempt


def _flag(attempt: PaymentAttempt, flag: str, note: str) -> str:
    attempt.flag = flag
    attempt.flag_note = note[:300]
    attempt.reviewed_at = None
    logger.warning("Payment %s flagged %s: %s", attempt, flag, note)
    return Outcome.FLAGGED


def _receipt_taken(attempt: PaymentAttempt, receipt: str) -> bool:
    return (
        bool(receipt)
        and PaymentAttempt.objects.filter(receipt_number=receipt).exclude(pk=attempt.pk).exists()
    )


def _apply(attempt: PaymentAttempt, result: StkResult, *, raw: Any, now: datetime) -> str:
    """Apply *result* to the locked *attempt* (saved by the caller)."""
    from shop import services as shop_services

    if result.source == "callback":
        attempt.callbacks_received += 1
        if attempt.raw_callback is None:
            attempt.raw_callback = raw
    if attempt.status == Status.FAILED:
        if result.paid:
            return _flag(
                attempt,
                Flag.RESULT_CONFLICT,
                f"A {result.source} reports payment (receipt {result.receipt or 'none'}, "
                f"KES {result.amount or attempt.amount}) after the push was recorded as "
                f"failed ({attempt.result_code}).",
            )
        return Outcome.DUPLICATE
    if attempt.status == Status.PAID:
        if result.paid and result.receipt and not attempt.receipt_number:
            if _receipt_taken(attempt, result.receipt):
                return _flag(
                    attempt,
                    Flag.DUPLICATE_RECEIPT,
                    f"Receipt {result.receipt} is already recorded on another payment.",
                )
            attempt.receipt_number = result.receipt
            attempt.paid_phone = result.phone
            if attempt.flag == Flag.NO_RECEIPT:
                attempt.flag, attempt.flag_note = Flag.NONE, ""
            return Outcome.RECEIPT_ADDED
        if not result.paid:
            return _flag(
                attempt,
                Flag.RESULT_CONFLICT,
                f"A {result.source} reports failure ({result.result_code} "
                f"{result.result_desc}) for a payment recorded as paid.",
            )
        return Outcome.DUPLICATE

    # Pending: this is the result.
    attempt.result_code = str(result.result_code)[:32]
    attempt.result_desc = result.result_desc[:300]
    attempt.next_query_at = None
    advice = describe_result(code=result.result_code, receipt=result.receipt)
    attempt.message = advice.shopper_message[:300]
    if not result.paid:
        attempt.status = Status.FAILED
        attempt.completed_at = now
        logger.info("Payment %s failed: %s %s", attempt, result.result_code, result.result_desc)
        return Outcome.FAILED
    if _receipt_taken(attempt, result.receipt):
        # Left pending: the query will tell what really happened.
        return _flag(
            attempt,
            Flag.DUPLICATE_RECEIPT,
            f"Receipt {result.receipt} is already recorded on another payment.",
        )
    attempt.status = Status.PAID
    attempt.completed_at = now
    attempt.receipt_number = result.receipt or None
    attempt.paid_phone = result.phone
    attempt.paid_amount = result.amount if result.amount is not None else Decimal(attempt.amount)
    if attempt.paid_amount != Decimal(attempt.amount):
        return _flag(
            attempt,
            Flag.AMOUNT_MISMATCH,
            f"M-Pesa says KES {attempt.paid_amount} was paid; the push asked for "
            f"KES {attempt.amount}. The order was not marked paid.",
        )
    order_outcome = shop_services.mark_order_paid(
        order_id=attempt.order_id,
        amount=attempt.paid_amount,
        reference=result.receipt,
        paid_at=now,
    )
    if order_outcome == "already_paid":
        return _flag(
            attempt,
            Flag.ORDER_ALREADY_PAID,
            "The order was already paid by another payment: this one needs a refund.",
        )
    if order_outcome == "not_open":
        return _flag(
            attempt,
            Flag.ORDER_NOT_OPEN,
            "Paid after the order expired or was cancelled: refund it or fulfil by hand.",
        )
    if order_outcome == "amount_mismatch":
        return _flag(
            attempt, Flag.AMOUNT_MISMATCH, "The payment doesn't match the order's amount due."
        )
    if not attempt.receipt_number:
        _flag(
            attempt,
            Flag.NO_RECEIPT,
            "An STK query proved the payment but no callback brought the receipt; "
            "find it in the M-Pesa portal.",
        )
    logger.info("Payment %s paid order %s", attempt, attempt.order_id)
    return Outcome.PAID


# Callbacks ------------------------------------------------------------------


def receive_callback(
    *, body: bytes, remote_addr: str | None = None, ip_allowed: bool | None = None
) -> Callback:
    """Store a callback's raw body (committed first), then process it.

    Never raises for what was POSTed: a body that isn't a callback, an
    unknown CheckoutRequestID or a failure while processing each end up as
    the record's outcome, logged, for staff to read.
    """
    record = Callback.objects.create(
        body=body.decode("utf-8", errors="replace"),
        remote_addr=remote_addr or None,
        ip_allowed=ip_allowed,
    )
    return process_callback(record)


def process_callback(record: Callback, *, now: datetime | None = None) -> Callback:
    """Process a stored callback and record its outcome on it."""
    try:
        raw = json.loads(record.body)
        result = parse_callback(raw)
    except (ValueError, MalformedCallback) as error:
        record.outcome, record.note = Outcome.MALFORMED, str(error)[:300]
        record.save(update_fields=["outcome", "note"])
        logger.warning("Callback %s is not an STK callback: %s", record.pk, error)
        return record
    record.checkout_request_id = result.checkout_request_id
    try:
        outcome, attempt = record_result(result=result, raw=raw, now=now)
    except Exception:
        logger.exception("Processing callback %s failed; it is kept for staff", record.pk)
        record.outcome, record.note = Outcome.ERROR, "Processing failed; see the logs."
        record.save(update_fields=["checkout_request_id", "outcome", "note"])
        return record
    record.attempt, record.outcome = attempt, outcome
    if outcome == Outcome.UNKNOWN:
        record.note = (
            f"Successful payment (receipt {result.receipt}, KES {result.amount}) for a push the "
            "shop has no record of: match it by hand."
            if result.paid
            else "No payment attempt has this CheckoutRequestID."
        )[:300]
        logger.warning("Callback for unknown CheckoutRequestID %s", result.checkout_request_id)
    elif attempt is not None and outcome == Outcome.FLAGGED:
        record.note = attempt.flag_note
    record.save(update_fields=["checkout_request_id", "attempt", "outcome", "note"])
    return record


# Reconciliation -------------------------------------------------------------


def _query(attempt: PaymentAttempt, *, now: datetime) -> daraja.StkQueryResult | None:
    """STK-query *attempt* and record a final answer; None if Daraja failed."""
    try:
        answer = daraja.stk_query(checkout_request_id=attempt.checkout_request_id, now=now)
    except DarajaError as error:
        logger.warning("STK query for %s failed: %s", attempt, error)
        return None
    if not answer.pending:
        record_result(
            result=StkResult(
                checkout_request_id=attempt.checkout_request_id,
                result_code=answer.result_code,
                result_desc=answer.result_desc,
                source="query",
            ),
            now=now,
        )
    return answer


def reconcile_attempt(*, attempt_id: int, now: datetime | None = None) -> datetime | None:
    """STK-query a pending attempt; return when to ask again, or None when done.

    "Being processed" stays pending and is asked again with backoff until
    the order's payment window closes; an attempt still pending then is
    flagged for staff.
    """
    from shop import locks

    now = now or timezone.now()
    attempt = PaymentAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None or attempt.status != Status.PENDING or not attempt.checkout_request_id:
        return None
    _query(attempt, now=now)
    with transaction.atomic():
        order = locks.lock_order(attempt.order_id)
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.status != Status.PENDING:
            return None
        attempt.queries_made += 1
        closes = order.expires_at if order.is_open_for_payment else now
        if closes is None or closes <= now:
            attempt.next_query_at = None
            if not attempt.flag:
                _flag(
                    attempt,
                    Flag.PENDING_AT_EXPIRY,
                    "Still pending when the order's payment window closed; check the "
                    "M-Pesa portal before refunding or releasing.",
                )
        else:
            step = QUERY_BACKOFF[min(attempt.queries_made - 1, len(QUERY_BACKOFF) - 1)]
            attempt.next_query_at = min(now + timedelta(seconds=step), closes)
        attempt.save()
        return attempt.next_query_at


def reconcile_due_attempts(*, now: datetime | None = None, limit: int = 200) -> int:
    """Reconcile every pending attempt whose next query is due; return how many."""
    now = now or timezone.now()
    due = PaymentAttempt.objects.filter(
        status=Status.PENDING,
        checkout_request_id__isnull=False,
        next_query_at__lte=now,
    ).values_list("pk", flat=True)[:limit]
    ids = list(due)
    for attempt_id in ids:
        reconcile_attempt(attempt_id=attempt_id, now=now)
    return len(ids)


# What the shopper sees ------------------------------------------------------


@dataclass(frozen=True)
class PaymentState:
    """The order's payment as the status page shows it."""

    state: str  # paid | pending | failed | not_started | review | closed
    message: str
    attempt: PaymentAttempt | None
    receipt: str = ""
    resend_in: int = 0

    @property
    def polling(self) -> bool:
        return self.state == "pending"

    @property
    def can_pay(self) -> bool:
        """Whether the shopper may ask for a (new) prompt now."""
        return self.state in ("pending", "failed", "not_started") and self.resend_in == 0


def payment_state(order, *, now: datetime | None = None) -> PaymentState:
    """Return what the shopper should read about *order*'s payment."""
    now = now or timezone.now()
    Order = type(order)
    attempts = list(PaymentAttempt.objects.filter(order=order).order_by("-created", "-id")[:20])
    latest = attempts[0] if attempts else None
    paid = next((a for a in attempts if a.status == Status.PAID), None)
    receipt = paid.receipt_number or "" if paid else ""
    window_closed = (
        order.is_open_for_payment and order.expires_at is not None and order.expires_at <= now
    )
    if window_closed or order.status in (Order.Status.EXPIRED, Order.Status.CANCELLED):
        if paid is not None:
            return PaymentState(
                "review",
                "We received your M-Pesa payment after this order had closed. Our team will "
                "contact you to deliver it or refund you.",
                paid,
                receipt,
            )
        closed = "was cancelled" if order.status == Order.Status.CANCELLED else "expired unpaid"
        return PaymentState(
            "closed",
            f"This order {closed}, and its items went back on sale. Please order again.",
            latest,
        )
    if not order.is_open_for_payment:
        return PaymentState(
            "paid", describe_result(code=0, receipt=receipt).shopper_message, paid, receipt
        )
    resend_in = 0
    if latest is not None and latest.resend_after > now:
        resend_in = math.ceil((latest.resend_after - now).total_seconds())
    if paid is not None:
        return PaymentState(
            "review",
            "We received an M-Pesa payment that doesn't match this order's total. Our team "
            "will contact you to sort it out.",
            paid,
            receipt,
        )
    if latest is None:
        return PaymentState("not_started", "Pay with M-Pesa to complete your order.", None)
    if latest.status == Status.PENDING:
        return PaymentState(
            "pending",
            f"Enter your M-Pesa PIN on your phone to pay KES {latest.amount:,}.",
            latest,
            resend_in=resend_in,
        )
    return PaymentState(
        "failed",
        latest.message or describe_result(code=latest.result_code).shopper_message,
        latest,
        resend_in=resend_in,
    )
