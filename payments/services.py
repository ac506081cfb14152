"""Business rules of M-Pesa payments: parts, push, record results, reconcile.

The flow (docs/mpesa.md §10):

1. ``request_stk_push`` creates a ``PaymentAttempt`` (committed) *before*
   Daraja is called, then calls Daraja with no row locked and stores the
   ``CheckoutRequestID``. A push whose answer never came is ``unknown``,
   not failed: the prompt may be on the phone.
2. Daraja's callback (``receive_callback``) is stored raw first, then
   processed; an STK query (``reconcile_attempt``) reaches the same
   ``record_result``.
3. ``record_result`` locks the order, then the attempt (``storefront.locks``
   holds the lock order), applies the result one way only and, once the
   paid parts cover the order, asks the shop to mark it paid through
   ``shop.services.mark_order_paid``. A repeat changes nothing; anything odd
   is flagged for staff, never dropped.

Whether an order can still take money is decided in one place,
``payability``: the status page, push, resend, callback, query and the
shop's expiry all ask it.

The apps meet at a small interface. The shop calls ``part_amounts``,
``amount_refusal``, ``request_stk_push``, ``resend_stk_push``,
``payment_state``, ``payability`` and ``hold_for_staff``. Payments needs
one thing back, "this order is paid": the shop hands it ``mark_order_paid``
through ``when_order_paid`` at start-up, so payments imports nothing of the
shop.
Row locks go through ``storefront.locks`` (the one lock order); shared web
helpers (htmx, client address, money, emails, SMS) live in ``storefront``
too.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from storefront import locks

from . import daraja
from .exceptions import (
    DarajaError,
    OrderNotPayable,
    PreviousPushPending,
    PushOutcomeUnknown,
    ResendTooSoon,
    TooManyPrompts,
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
#: Daraja refuses the same amount from the same payer within two minutes
#: (result 17, "rule limited"): equal parts of one order wait this long.
SAME_AMOUNT_GAP_SECONDS = 120
#: How far back a callback for a CheckoutRequestID the shop never heard of
#: is matched to a push whose answer never came.
UNKNOWN_MATCH_MINUTES = 30
#: Attempts of one order read to work out its state (parts and retries).
ATTEMPTS_READ = 50


#: The shop's "this order is now paid" (``shop.services.mark_order_paid``),
#: handed over by ``when_order_paid`` when the shop's app starts.
_order_paid: Callable[..., Any] | None = None


def when_order_paid(handler: Callable[..., Any]) -> None:
    """Have *handler*(order_id=, amount=, reference=, paid_at=) run once an
    order's paid parts cover it, inside the transaction that records it."""
    global _order_paid
    _order_paid = handler


def callback_url() -> str:
    """Return the public URL Daraja calls back on, with its secret token."""
    path = reverse("payments:callback", kwargs={"token": settings.MPESA_CALLBACK_TOKEN or "-"})
    return f"{settings.MPESA_CALLBACK_BASE_URL}{path}"


def latest_attempt(order_id: int) -> PaymentAttempt | None:
    """Return the order's most recent payment attempt, if any."""
    return PaymentAttempt.objects.filter(order_id=order_id).newest()


def _attempts(order_id: int) -> list[PaymentAttempt]:
    return list(PaymentAttempt.objects.filter(order_id=order_id).newest_first()[:ATTEMPTS_READ])


def _in_english(message) -> str:
    """Return a shopper *message* as an attempt stores it: in English, as staff
    read it (``_shown`` translates it again for the shopper)."""
    with translation.override(None):
        return str(message)


def _shown(message: str) -> str:
    """Return a shopper message stored in English in the active language."""
    return translation.gettext(message) if message else ""


# Parts ----------------------------------------------------------------------


def part_amounts(amount: int) -> list[int]:
    """Split *amount* whole shillings into M-Pesa payments, largest first.

    Each part is at most ``MPESA_MAX_PER_PAYMENT``; the last takes the rest.
    """
    ceiling = settings.MPESA_MAX_PER_PAYMENT
    full, rest = divmod(int(amount), ceiling)
    return [ceiling] * full + ([rest] if rest else [])


def amount_refusal(amount: int) -> str:
    """Return why M-Pesa can't take an order of *amount*, or "" when it can."""
    if amount > settings.MPESA_MAX_PER_ORDER:
        return _(
            "M-Pesa takes at most KES %(limit)s a day from one payer, and this order comes "
            "to KES %(amount)s. Please split it into smaller orders, or contact us to pay "
            "by bank transfer."
        ) % {"limit": f"{settings.MPESA_MAX_PER_ORDER:,}", "amount": f"{amount:,}"}
    return ""


# Can this order still be paid? ----------------------------------------------


class Verdict(enum.StrEnum):
    """What ``payability`` decides about an order's money."""

    OPEN = "open"  # within its window: takes money and new prompts
    WAITING = "waiting"  # window closed, a prompt may still be answered
    PART_PAID = "part_paid"  # window closed with parts paid: held for staff
    PAID = "paid"  # paid (and on its way, or done)
    CLOSED = "closed"  # expired or cancelled, or due to expire now


@dataclass(frozen=True)
class Payability:
    """The one answer to "can this order still be paid?"."""

    verdict: Verdict
    amount: int
    paid: int
    live_until: datetime | None = None

    @property
    def takes_money(self) -> bool:
        """Whether a payment that arrives now is applied to the order."""
        return self.verdict in (Verdict.OPEN, Verdict.WAITING, Verdict.PART_PAID)

    @property
    def takes_new_push(self) -> bool:
        """Whether a new prompt may be sent for the order now."""
        return self.verdict in (Verdict.OPEN, Verdict.PART_PAID) and self.balance > 0

    @property
    def balance(self) -> int:
        return max(self.amount - self.paid, 0)


def _live_until(attempt: PaymentAttempt) -> datetime | None:
    """Return until when *attempt*'s prompt may still be answered, if it may."""
    if attempt.status not in (Status.PENDING, Status.UNKNOWN):
        return None
    return attempt.created + timedelta(seconds=settings.MPESA_PROMPT_SECONDS)


def payability(
    order, *, now: datetime | None = None, attempts: list[PaymentAttempt] | None = None
) -> Payability:
    """Decide whether *order* can still be paid (the shop's one rule).

    - An order that is no longer awaiting payment takes nothing more.
    - Within its window (``expires_at``) it takes money and new prompts.
    - Once some money is in it is never expired: it stays payable (the
      balance) and is held for staff to complete or refund.
    - Past its window, a prompt sent before the close may still be answered
      for ``MPESA_PROMPT_SECONDS``: its result is applied, and the order
      expires only after that.
    - Otherwise it is closed, and expires.

    *attempts* (newest first) saves a query when the caller has them.
    """
    now = now or timezone.now()
    Order = type(order)
    if attempts is None:
        attempts = _attempts(order.pk)
    paid = sum(a.amount for a in attempts if a.counted)
    amount = order.amount_payable
    if order.status != Order.Status.AWAITING_PAYMENT:
        closed = order.status in (Order.Status.EXPIRED, Order.Status.CANCELLED)
        return Payability(Verdict.CLOSED if closed else Verdict.PAID, amount, paid)
    in_window = order.expires_at is None or now < order.expires_at
    if in_window:
        return Payability(Verdict.OPEN, amount, paid)
    if paid:
        return Payability(Verdict.PART_PAID, amount, paid)
    live = [t for t in (_live_until(a) for a in attempts) if t is not None and t > now]
    if live:
        return Payability(Verdict.WAITING, amount, paid, live_until=max(live))
    return Payability(Verdict.CLOSED, amount, paid)


def hold_for_staff(*, order_id: int, now: datetime | None = None) -> bool:
    """Flag a part-paid order whose window closed for staff; return True if flagged now.

    Called by the shop's expiry instead of expiring: the stock stays held
    until staff complete the order or cancel and refund it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = locks.lock_order(order_id)
        attempts = _attempts(order.pk)
        verdict = payability(order, now=now, attempts=attempts)
        if verdict.verdict != Verdict.PART_PAID:
            return False
        counted = [a for a in attempts if a.counted]
        if any(a.flag == Flag.PART_PAID for a in counted):
            return False
        attempt = locks.lock_attempt(counted[0].pk)
        _flag(
            attempt,
            Flag.PART_PAID,
            f"Order {order.number} is part paid (KES {verdict.paid:,} of "
            f"{verdict.amount:,}) and its payment window closed. Its stock is still held: "
            "ask the shopper to pay the balance, or cancel the order and refund the parts.",
        )
        attempt.save()
        return True


# Pushing --------------------------------------------------------------------


def _refuse_unless_pushable(order, verdict: Payability) -> None:
    if verdict.takes_new_push:
        return
    Order = type(order)
    if verdict.verdict == Verdict.WAITING:
        raise PreviousPushPending
    if verdict.verdict == Verdict.PAID or (
        verdict.verdict == Verdict.OPEN and verdict.balance == 0
    ):
        raise OrderNotPayable(_("Order %(number)s is already paid.") % {"number": order.number})
    if order.status == Order.Status.CANCELLED:
        raise OrderNotPayable(_("Order %(number)s was cancelled.") % {"number": order.number})
    raise OrderNotPayable(
        _(
            "Order %(number)s expired because it wasn't paid in time, and its items went "
            "back on sale. Please place the order again."
        )
        % {"number": order.number}
    )


def _wait_seconds(attempts: list[PaymentAttempt], *, phone: str, amount: int, now) -> int:
    """Return how long a new push must wait after the order's previous ones."""
    if not attempts:
        return 0
    previous = attempts[0]
    waits = [previous.resend_after]
    for attempt in attempts:
        # Daraja refuses the same amount from the same payer within 2 minutes.
        if attempt.status == Status.PAID and attempt.phone == phone and attempt.amount == amount:
            waits.append(attempt.created + timedelta(seconds=SAME_AMOUNT_GAP_SECONDS))
            break
    until = max(waits)
    return math.ceil((until - now).total_seconds()) if until > now else 0


def _refuse_if_too_soon(attempts: list[PaymentAttempt], *, phone: str, amount: int, now) -> None:
    """Raise ResendTooSoon while the previous push's wait is not over."""
    seconds = _wait_seconds(attempts, phone=phone, amount=amount, now=now)
    if seconds:
        raise ResendTooSoon(seconds)


def recent_pushes(*, phone: str, now: datetime):
    """Return the prompts sent to *phone* in the hour before *now* (its hourly limit)."""
    return PaymentAttempt.objects.filter(phone=phone, created__gt=now - timedelta(hours=1))


def _refuse_if_phone_flooded(*, phone: str, now: datetime, count: int | None = None) -> None:
    """Raise TooManyPrompts past ``MPESA_MAX_PUSHES_PER_PHONE_HOUR`` for *phone*.

    *count* (``recent_pushes``, read by the caller) saves the query.
    """
    limit = settings.MPESA_MAX_PUSHES_PER_PHONE_HOUR
    if count is None:
        count = recent_pushes(phone=phone, now=now).count()
    if count >= limit:
        raise TooManyPrompts(limit)


@transaction.atomic
def _create_attempt(
    *, order_id: int, phone: str, now: datetime, supersede_pending: bool
) -> PaymentAttempt:
    """Lock the order, check it may be pushed for now, create the attempt."""
    order = locks.lock_order(order_id)
    attempts = _attempts(order.pk)
    verdict = payability(order, now=now, attempts=attempts)
    _refuse_unless_pushable(order, verdict)
    amount = part_amounts(verdict.balance)[0]
    previous = attempts[0] if attempts else None
    if previous is not None:
        _refuse_if_too_soon(attempts, phone=phone, amount=amount, now=now)
        in_flight = previous.checkout_request_id or (_live_until(previous) or now) > now
        if previous.status == Status.PENDING and in_flight and not supersede_pending:
            raise PreviousPushPending
    _refuse_if_phone_flooded(phone=phone, now=now)
    return PaymentAttempt.objects.create(
        order=order,
        phone=phone,
        amount=amount,
        resend_after=now + timedelta(seconds=settings.MPESA_RESEND_SECONDS),
    )


def request_stk_push(
    *, order_id: int, phone: str, now: datetime | None = None, supersede_pending: bool = False
) -> PaymentAttempt:
    """Ask Daraja to prompt *phone* (normalised) to pay the order's next part.

    The part is the order's balance, or ``MPESA_MAX_PER_PAYMENT`` of it.
    Locks the order only to create the attempt, which is committed before
    Daraja is called. Raise ``OrderNotPayable`` when ``payability`` says no
    new prompt, ``ResendTooSoon`` within ``MPESA_RESEND_SECONDS`` of the
    previous push, ``PreviousPushPending`` while the previous push waits for
    a PIN (unless *supersede_pending*), ``TooManyPrompts`` past the phone's
    hourly limit, and the ``DarajaError`` Daraja's refusal became, after
    recording it on the attempt (its ``shopper_message`` is safe to show).
    ``PushOutcomeUnknown`` leaves the attempt ``unknown``, blocking another
    prompt for ``MPESA_PROMPT_SECONDS``.
    """
    now = now or timezone.now()
    attempt = _create_attempt(
        order_id=order_id, phone=phone, now=now, supersede_pending=supersede_pending
    )
    return _push(attempt, phone=phone, now=now)


def open_first_attempt(
    *, order, phone: str, now: datetime | None = None, pushes: int | None = None
) -> PaymentAttempt | None:
    """Create the first payment attempt of *order*, placed in this transaction.

    The checkout's Pay (``shop.services.place_order_to_pay``): the order
    was inserted by the current transaction, so nobody else sees it until
    it commits, it is open and has no attempt. Only the phone's hourly
    prompt limit is checked (*pushes*: ``recent_pushes`` counted by the
    caller): None when it is reached (nothing is created, as
    ``request_stk_push`` would refuse). The caller queues ``first_query``
    with the transaction, and calls ``send_first_push`` after the commit.
    """
    now = now or timezone.now()
    verdict = payability(order, now=now, attempts=[])
    if not verdict.takes_new_push:
        return None
    try:
        _refuse_if_phone_flooded(phone=phone, now=now, count=pushes)
    except TooManyPrompts:
        return None
    return PaymentAttempt.objects.create(
        order=order,
        phone=phone,
        amount=part_amounts(verdict.balance)[0],
        resend_after=now + timedelta(seconds=settings.MPESA_RESEND_SECONDS),
    )


def first_query(attempt: PaymentAttempt, *, now: datetime) -> tuple[Any, tuple]:
    """Return the STK query task of a first push sent at *now*, and its arguments.

    It runs ``MPESA_RECONCILE_AFTER_SECONDS`` after *now*, as after any
    push; for a push Daraja never accepted it does nothing.
    """
    from .tasks import reconcile_attempt_task

    when = now + timedelta(seconds=settings.MPESA_RECONCILE_AFTER_SECONDS)
    return reconcile_attempt_task.using(run_after=when), (attempt.pk,)


def send_first_push(attempt: PaymentAttempt, *, now: datetime | None = None) -> PaymentAttempt:
    """Ask Daraja for *attempt* (from ``open_first_attempt``, committed).

    As ``request_stk_push`` after its attempt is made: raises the
    ``DarajaError`` a refusal became, recorded on the attempt.
    """
    return _push(attempt, phone=attempt.phone, now=now or timezone.now(), scheduled=True)


def _push(
    attempt: PaymentAttempt, *, phone: str, now: datetime, scheduled: bool = False
) -> PaymentAttempt:
    """Call Daraja for a committed *attempt*, with no row locked; store the answer.

    The CheckoutRequestID is stored in one statement that also tells
    whether Daraja's callback came first (stored as unknown): only then are
    such callbacks replayed and the attempt read again. *scheduled*: its
    STK query is already queued.
    """
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
        unknown = isinstance(error, PushOutcomeUnknown)
        wait = settings.MPESA_PROMPT_SECONDS if unknown else error.retry_after_seconds
        PaymentAttempt.objects.filter(pk=attempt.pk, status=Status.PENDING).update(
            status=Status.UNKNOWN if unknown else Status.FAILED,
            result_code=(error.code or type(error).__name__)[:32],
            result_desc=(error.message or str(error))[:300],
            message=_in_english(error.shopper_message)[:300],
            completed_at=None if unknown else now,
            resend_after=max(attempt.resend_after, now + timedelta(seconds=wait)),
            updated=now,
        )
        attempt.refresh_from_db()
        logger.warning("STK push for order %s: %s", attempt.order.number, error)
        raise
    next_query_at = now + timedelta(seconds=settings.MPESA_RECONCILE_AFTER_SECONDS)
    answer = {
        "checkout_request_id": accepted.checkout_request_id,
        "merchant_request_id": accepted.merchant_request_id[:64],
        "next_query_at": next_query_at,
        "updated": now,
    }
    early = Callback.objects.filter(
        checkout_request_id=accepted.checkout_request_id, outcome=Outcome.UNKNOWN
    )
    rows = PaymentAttempt.objects.filter(pk=attempt.pk)
    if not scheduled:
        _schedule_reconciliation(attempt.pk, next_query_at)
    if rows.filter(~Exists(early)).update(**answer):
        for name, value in answer.items():
            setattr(attempt, name, value)
        return attempt
    # Daraja's callback came before its answer was stored (or the attempt is gone).
    rows.update(**answer)
    _replay_early_callbacks(accepted.checkout_request_id)
    attempt.refresh_from_db()
    return attempt


def _schedule_reconciliation(attempt_id: int, when: datetime | None = None) -> None:
    from .tasks import reconcile_attempt_task

    task = reconcile_attempt_task.using(run_after=when) if when else reconcile_attempt_task
    transaction.on_commit(lambda: task.enqueue(attempt_id))


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
    attempts = _attempts(order_id)
    previous = attempts[0] if attempts else None
    supersede = False
    if previous is not None and previous.status == Status.PENDING and previous.checkout_request_id:
        if previous.resend_after > now:  # before asking Daraja anything
            raise ResendTooSoon(math.ceil((previous.resend_after - now).total_seconds()))
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

    @property
    def has_details(self) -> bool:
        """Whether a success carries what proves it (an amount or a receipt)."""
        return self.amount is not None or bool(self.receipt)


def _result_code(value: Any) -> int | str:
    """Return a callback's ResultCode, or raise MalformedCallback."""
    if isinstance(value, bool) or value is None:
        raise MalformedCallback(f"bad ResultCode {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip() and len(value) <= 32 and value.isprintable():
        return daraja.parse_result_code(value)
    raise MalformedCallback(f"bad ResultCode {str(value)[:40]!r}")


def _text(value: Any, *, limit: int) -> str:
    return str(value if value is not None else "").strip()[:limit]


def parse_callback(payload: Any) -> StkResult:
    """Return the result in an STK callback body (docs/mpesa.md §3).

    Items are read by name, a ``Balance`` without a value is fine and the
    amount is a Decimal. Raise ``MalformedCallback`` for anything else.
    """
    try:
        callback = payload["Body"]["stkCallback"]
        checkout_request_id = callback["CheckoutRequestID"]
        code = _result_code(callback["ResultCode"])
    except (KeyError, TypeError) as error:
        raise MalformedCallback(f"missing {error}") from error
    if not isinstance(checkout_request_id, str):
        raise MalformedCallback("bad CheckoutRequestID")
    checkout_request_id = checkout_request_id.strip()
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
        if not amount.is_finite() or amount < 0 or amount > 10**9:
            raise MalformedCallback("bad Amount")
    return StkResult(
        checkout_request_id=checkout_request_id,
        result_code=code,
        result_desc=_text(callback.get("ResultDesc"), limit=300),
        source="callback",
        receipt=_text(items.get("MpesaReceiptNumber"), limit=20),
        amount=amount,
        phone=_text(items.get("PhoneNumber"), limit=16),
    )


def _match_unknown_push(result: StkResult, now: datetime) -> dict | None:
    """Return the push whose answer never came that *result* is about, if one fits.

    Only a success says who paid and how much: it matches the oldest
    unanswered push to that phone for that amount in the last
    ``UNKNOWN_MATCH_MINUTES``.
    """
    if not (result.paid and result.phone and result.amount is not None):
        return None
    if result.amount != result.amount.to_integral_value():
        return None
    return (
        PaymentAttempt.objects.filter(
            status=Status.UNKNOWN,
            checkout_request_id__isnull=True,
            phone=result.phone,
            amount=int(result.amount),
            created__gte=now - timedelta(minutes=UNKNOWN_MATCH_MINUTES),
        )
        .order_by("created", "id")
        .values("pk", "order_id")
        .first()
    )


def record_result(
    *, result: StkResult, raw: Any = None, now: datetime | None = None
) -> tuple[str, PaymentAttempt | None]:
    """Apply a push's final result; return (a ``Callback.Outcome``, the attempt).

    Locks the order, then the attempt. Idempotent: a result already applied
    returns ``duplicate`` and changes nothing. A success for a
    CheckoutRequestID the shop never stored is matched to a push whose
    answer never came (same phone and amount); otherwise returns
    ``unknown`` and no attempt.
    """
    now = now or timezone.now()
    ref = (
        PaymentAttempt.objects.filter(checkout_request_id=result.checkout_request_id)
        .values("pk", "order_id")
        .first()
    )
    matched = False
    if ref is None:
        ref = _match_unknown_push(result, now)
        matched = ref is not None
    if ref is None:
        return Outcome.UNKNOWN, None
    with transaction.atomic():
        order = locks.lock_order(ref["order_id"])
        attempt = locks.lock_attempt(ref["pk"])
        if matched:
            if attempt.checkout_request_id:  # matched by another result meanwhile
                return Outcome.UNKNOWN, None
            attempt.checkout_request_id = result.checkout_request_id
            logger.info("Matched %s to the unanswered push %s", result.checkout_request_id, ref)
        outcome = _apply(order, attempt, result, raw=raw, now=now)
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


def _apply_to_settled(attempt: PaymentAttempt, result: StkResult) -> str:
    """Apply a result to an attempt that already has one (failed or paid)."""
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


def _apply(order, attempt: PaymentAttempt, result: StkResult, *, raw: Any, now: datetime) -> str:
    """Apply *result* to the locked *attempt* of the locked *order* (saved by the caller)."""
    if result.source == "callback":
        attempt.callbacks_received += 1
        if attempt.raw_callback is None:
            attempt.raw_callback = raw
    if attempt.status in (Status.FAILED, Status.PAID):
        return _apply_to_settled(attempt, result)

    # Pending or unknown: this is the result. Whether the order takes the
    # money is decided as things stood before it (this prompt still live).
    attempts = _attempts(order.pk)
    verdict = payability(order, now=now, attempts=attempts)
    if result.paid and result.source == "callback" and not result.has_details:
        # A "success" with no amount and no receipt proves nothing by itself:
        # an STK query confirms it first.
        attempt.next_query_at = now
        _schedule_reconciliation(attempt.pk)
        logger.warning("Callback for %s claims success without details; querying", attempt)
        return Outcome.UNCONFIRMED
    if result.paid and _receipt_taken(attempt, result.receipt):
        # Not applied and not shown as paid: the STK query goes on and tells
        # what really happened.
        if attempt.next_query_at is None and attempt.checkout_request_id:
            attempt.next_query_at = now + timedelta(seconds=settings.MPESA_RECONCILE_AFTER_SECONDS)
            _schedule_reconciliation(attempt.pk, attempt.next_query_at)
        return _flag(
            attempt,
            Flag.DUPLICATE_RECEIPT,
            f"Receipt {result.receipt} is already recorded on another payment.",
        )
    attempt.result_code = str(result.result_code)[:32]
    attempt.result_desc = result.result_desc[:300]
    attempt.next_query_at = None
    attempt.completed_at = now
    if not result.paid:
        attempt.status = Status.FAILED
        advice = describe_result(code=result.result_code)
        attempt.message = _in_english(advice.shopper_message)[:300]
        logger.info("Payment %s failed: %s %s", attempt, result.result_code, result.result_desc)
        return Outcome.FAILED
    attempt.status = Status.PAID
    with translation.override(None):  # stored in English, as ``_in_english``
        attempt.message = describe_result(code=0, receipt=result.receipt).shopper_message[:300]
    attempt.receipt_number = result.receipt or None
    attempt.paid_phone = result.phone
    attempt.paid_amount = result.amount if result.amount is not None else Decimal(attempt.amount)
    if attempt.paid_amount != Decimal(attempt.amount):
        return _flag(
            attempt,
            Flag.AMOUNT_MISMATCH,
            f"M-Pesa says KES {attempt.paid_amount} was paid; the push asked for "
            f"KES {attempt.amount}. It was not counted towards the order.",
        )
    if not verdict.takes_money:
        if verdict.verdict == Verdict.PAID:
            return _flag(
                attempt,
                Flag.ORDER_ALREADY_PAID,
                "The order was already paid by another payment: this one needs a refund.",
            )
        return _flag(
            attempt,
            Flag.ORDER_NOT_OPEN,
            "Paid after the order expired or was cancelled: refund it or fulfil by hand.",
        )
    if verdict.balance <= 0:
        return _flag(
            attempt,
            Flag.ORDER_ALREADY_PAID,
            "The order's parts were already paid: this payment needs a refund.",
        )
    attempt.counted = True
    paid = verdict.paid + attempt.amount
    if paid >= verdict.amount:
        receipts = [a.receipt_number for a in attempts if a.counted and a.pk != attempt.pk]
        receipts.append(result.receipt)
        if _order_paid is None:
            raise RuntimeError("No handler for paid orders: the shop app is not installed.")
        _order_paid(
            order_id=order.pk,
            amount=Decimal(paid),
            reference=", ".join(r for r in receipts if r),
            paid_at=now,
        )
        logger.info("Payment %s paid order %s", attempt, order.pk)
    else:
        logger.info(
            "Payment %s paid a part of order %s (%s of %s)", attempt, order.pk, paid, verdict.amount
        )
    if not attempt.receipt_number:
        _flag(
            attempt,
            Flag.NO_RECEIPT,
            "An STK query proved the payment but no callback brought the receipt; "
            "find it in the M-Pesa portal.",
        )
    return Outcome.PAID


# Callbacks ------------------------------------------------------------------

#: Deeper JSON than this is not a callback (a real one is 5 levels deep).
MAX_JSON_DEPTH = 32


def _depth(value: Any, limit: int) -> int:
    """Return the nesting depth of *value*, stopping past *limit*."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        stack.extend((child, level + 1) for child in children)
    return deepest


def _load_body(text: str) -> Any:
    """Return the JSON in a callback body, or raise MalformedCallback."""
    if "\x00" in text or "\\u0000" in text.lower():
        raise MalformedCallback("NUL in the body")
    # Nesting is counted before parsing: a deep body would exhaust the stack.
    if text.count("[") + text.count("{") > 10_000:
        raise MalformedCallback("too many nested values")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise MalformedCallback(f"not JSON: {str(error)[:80]}") from error
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise MalformedCallback("too deeply nested")
    return data


def receive_callback(
    *, body: bytes, remote_addr: str | None = None, ip_allowed: bool | None = None
) -> Callback:
    """Store a callback's raw body (committed first), then process it.

    Never raises for what was POSTed: a body that isn't a callback, an
    unknown CheckoutRequestID or a failure while processing each end up as
    the record's outcome, logged, for staff to read. NUL bytes (which
    PostgreSQL can't store) are kept as the text ``\\x00``.
    """
    text = body.decode("utf-8", errors="replace")
    record = Callback.objects.create(
        body=text.replace("\x00", "\\x00"),
        remote_addr=remote_addr or None,
        ip_allowed=ip_allowed,
    )
    if "\x00" in text:
        return _mark(record, Outcome.MALFORMED, "NUL in the body")
    return process_callback(record)


def _mark(record: Callback, outcome: str, note: str) -> Callback:
    record.outcome, record.note = outcome, note[:300]
    record.save(update_fields=["outcome", "note"])
    logger.warning("Callback %s: %s (%s)", record.pk, outcome, note)
    return record


def process_callback(record: Callback, *, now: datetime | None = None) -> Callback:
    """Process a stored callback and record its outcome on it."""
    try:
        raw = _load_body(record.body)
        result = parse_callback(raw)
    except MalformedCallback as error:
        return _mark(record, Outcome.MALFORMED, f"Not an STK callback: {error}")
    record.checkout_request_id = result.checkout_request_id
    record.reports_payment = result.paid
    try:
        outcome, attempt = record_result(result=result, raw=raw, now=now)
    except Exception:
        logger.exception("Processing callback %s failed; it is kept for staff", record.pk)
        record.outcome, record.note = Outcome.ERROR, "Processing failed; see the logs."
        record.save(update_fields=["checkout_request_id", "reports_payment", "outcome", "note"])
        return record
    record.attempt, record.outcome = attempt, outcome
    if outcome == Outcome.UNKNOWN:
        record.note = (
            f"Successful payment (receipt {result.receipt or 'none'}, KES {result.amount}) for a "
            "push the shop has no record of: match it by hand."
            if result.paid
            else "No payment attempt has this CheckoutRequestID."
        )[:300]
        logger.warning("Callback for unknown CheckoutRequestID %s", result.checkout_request_id)
    elif attempt is not None and outcome == Outcome.FLAGGED:
        record.note = attempt.flag_note
    elif outcome == Outcome.UNCONFIRMED:
        record.note = "Success without amount or receipt: confirming with an STK query."
    record.save(
        update_fields=["checkout_request_id", "reports_payment", "attempt", "outcome", "note"]
    )
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

    "Being processed" stays pending and is asked again with backoff for as
    long as ``payability`` lets the order take money from it; an attempt
    still pending then is flagged for staff.
    """
    now = now or timezone.now()
    attempt = PaymentAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None or attempt.status != Status.PENDING or not attempt.checkout_request_id:
        return None
    _query(attempt, now=now)
    with transaction.atomic():
        order = locks.lock_order(attempt.order_id)
        attempt = locks.lock_attempt(attempt_id)
        if attempt.status != Status.PENDING:
            return None
        attempt.queries_made += 1
        closes = None
        if order.is_open_for_payment:
            live = _live_until(attempt)
            closes = max(t for t in (order.expires_at, live) if t is not None)
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
class Part:
    """One payment of an order paid in parts, as the status page lists it."""

    number: int
    amount: int
    state: str  # paid | pending | failed | to_pay
    receipt: str = ""


@dataclass(frozen=True)
class PaymentState:
    """The order's payment as the status page shows it."""

    state: str  # paid | pending | failed | not_started | next_part | review | closed | held
    message: str
    attempt: PaymentAttempt | None
    receipt: str = ""
    resend_in: int = 0
    pushable: bool = False
    amount: int = 0
    paid: int = 0
    next_amount: int = 0
    parts: list[Part] = field(default_factory=list)

    @property
    def polling(self) -> bool:
        return self.state == "pending"

    @property
    def can_pay(self) -> bool:
        """Whether the shopper may ask for a (new) prompt now."""
        return self.pushable and self.resend_in == 0

    @property
    def balance(self) -> int:
        return max(self.amount - self.paid, 0)

    @property
    def in_parts(self) -> bool:
        return len(self.parts) > 1

    @property
    def next_part(self) -> Part | None:
        return next((p for p in self.parts if p.state != "paid"), None)

    @property
    def paybill_amounts(self) -> list[int]:
        """Return the amounts still to pay by Paybill, one payment each."""
        return part_amounts(self.balance)


def _parts(attempts: list[PaymentAttempt], verdict: Payability) -> list[Part]:
    counted = sorted((a for a in attempts if a.counted), key=lambda a: (a.completed_at, a.pk))
    parts = [
        Part(i, a.amount, "paid", a.receipt_number or "") for i, a in enumerate(counted, start=1)
    ]
    latest = attempts[0] if attempts else None
    for amount in part_amounts(verdict.balance):
        state = "to_pay"
        if not any(p.state != "paid" for p in parts) and latest is not None and not latest.counted:
            if latest.status in (Status.PENDING, Status.UNKNOWN) and latest.amount == amount:
                state = "pending"
            elif latest.status == Status.FAILED and latest.amount == amount:
                state = "failed"
        parts.append(Part(len(parts) + 1, amount, state))
    return parts


def _pending_message(attempt: PaymentAttempt, live: bool) -> str:
    amount = f"{attempt.amount:,}"
    if attempt.status == Status.UNKNOWN:
        if live:
            return _(
                "We sent the M-Pesa prompt but M-Pesa hasn't answered us yet. If a prompt "
                "for KES %(amount)s appears on your phone, enter your PIN."
            ) % {"amount": amount}
        return _(
            "We never heard back from M-Pesa about that prompt. If you paid, this page "
            "will say so as soon as M-Pesa tells us; if no prompt came, send a new one."
        )
    return _("Enter your M-Pesa PIN on your phone to pay KES %(amount)s.") % {"amount": amount}


def payment_state(order, *, now: datetime | None = None) -> PaymentState:
    """Return what the shopper should read about *order*'s payment."""
    now = now or timezone.now()
    attempts = _attempts(order.pk)
    verdict = payability(order, now=now, attempts=attempts)
    latest = attempts[0] if attempts else None
    counted = [a for a in attempts if a.counted]
    receipt = ", ".join(a.receipt_number for a in reversed(counted) if a.receipt_number)
    uncounted_paid = next((a for a in attempts if a.status == Status.PAID and not a.counted), None)
    base = {
        "amount": verdict.amount,
        "paid": verdict.paid,
        "parts": _parts(attempts, verdict),
        "receipt": receipt,
    }
    Order = type(order)
    if order.status in (Order.Status.CANCELLATION_REQUESTED, Order.Status.REFUNDED):
        asked = order.status == Order.Status.CANCELLATION_REQUESTED
        return PaymentState(
            "review",
            _("You asked to cancel this order: our team will refund what you paid to your M-Pesa.")
            if asked
            else _("This order was cancelled and refunded."),
            counted[0] if counted else latest,
            **base,
        )
    if verdict.verdict == Verdict.PAID:
        paid = counted or [a for a in attempts if a.status == Status.PAID]
        receipt = ", ".join(a.receipt_number for a in reversed(paid) if a.receipt_number)
        message = describe_result(code=0, receipt=receipt).shopper_message
        return PaymentState(
            "paid", message, paid[0] if paid else latest, **{**base, "receipt": receipt}
        )
    if verdict.verdict == Verdict.CLOSED:
        if counted or uncounted_paid is not None:
            return PaymentState(
                "review",
                _(
                    "We received your M-Pesa payment after this order had closed. Our team will "
                    "contact you to deliver it or refund you."
                ),
                uncounted_paid or counted[0],
                **base,
            )
        closed = (
            _("This order was cancelled, and its items went back on sale. Please order again.")
            if order.status == Order.Status.CANCELLED
            else _(
                "This order expired unpaid, and its items went back on sale. Please order again."
            )
        )
        return PaymentState(
            "closed",
            closed,
            latest,
            **base,
        )
    pushable = verdict.takes_new_push
    next_amount = part_amounts(verdict.balance)[0] if verdict.balance else 0
    phone = latest.phone if latest is not None else order.phone
    wait = _wait_seconds(attempts, phone=phone, amount=next_amount, now=now) if pushable else 0
    state = {"pushable": pushable, "next_amount": next_amount, "resend_in": wait, **base}
    if uncounted_paid is not None and uncounted_paid.flag == Flag.AMOUNT_MISMATCH:
        return PaymentState(
            "review",
            _(
                "We received an M-Pesa payment that doesn't match what we asked for. Our team "
                "will contact you to sort it out."
            ),
            uncounted_paid,
            **{**state, "pushable": False},
        )
    if verdict.verdict == Verdict.PART_PAID:
        return PaymentState(
            "held",
            _(
                "You have paid KES %(paid)s of KES %(amount)s, and the time to pay has passed. "
                "We are still holding your items: pay the balance below, or our team will "
                "contact you to complete your order or refund you."
            )
            % {"paid": f"{verdict.paid:,}", "amount": f"{verdict.amount:,}"},
            latest,
            **state,
        )
    if latest is None:
        return PaymentState(
            "not_started", _("Pay with M-Pesa to complete your order."), None, **state
        )
    live = (_live_until(latest) or now) > now
    if latest.status == Status.PENDING or (latest.status == Status.UNKNOWN and live):
        return PaymentState("pending", _pending_message(latest, live), latest, **state)
    if latest.counted:
        part = next((p for p in base["parts"] if p.state != "paid"), None)
        number = part.number if part else len(base["parts"])
        values = {
            "paid_part": number - 1,
            "receipt": latest.receipt_number,
            "part": number,
            "parts": len(base["parts"]),
            "amount": f"{next_amount:,}",
        }
        message = (
            _(
                "Part %(paid_part)s is paid (receipt %(receipt)s). "
                "Now pay part %(part)s of %(parts)s: KES %(amount)s."
            )
            if latest.receipt_number
            else _(
                "Part %(paid_part)s is paid (receipt to follow). "
                "Now pay part %(part)s of %(parts)s: KES %(amount)s."
            )
        )
        return PaymentState(
            "next_part",
            message % values,
            latest,
            **state,
        )
    if latest.status == Status.UNKNOWN:
        return PaymentState("failed", _pending_message(latest, False), latest, **state)
    return PaymentState(
        "failed",
        _shown(latest.message) or describe_result(code=latest.result_code).shopper_message,
        latest,
        **state,
    )
