"""Map STK Push result codes to what the shopper reads and whether to retry.

The table follows docs/mpesa.md §5. A failure code is final for its
``CheckoutRequestID``: "retry" always means a *new* push, which gets a new ID.
``describe_result`` is pure (no I/O, no settings) so views, tasks and the
callback handler can all use it. Shopper messages are translated: they read
in the language active when they are shown (``payments.services`` stores
them on an attempt in English and translates them again when it shows them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

Status = Literal["paid", "failed", "pending"]


@dataclass(frozen=True)
class ResultAdvice:
    """What an STK result means for the shopper and for staff."""

    code: int | str | None
    status: Status
    shopper_message: str
    can_retry: bool
    retry_after_seconds: int = 0
    max_retries: int | None = None
    alert_ops: bool = False
    meaning: str = ""


def _failed(
    code: int | str,
    meaning: str,
    shopper_message: str,
    *,
    can_retry: bool,
    retry_after_seconds: int = 0,
    max_retries: int | None = None,
    alert_ops: bool = False,
) -> ResultAdvice:
    return ResultAdvice(
        code=code,
        status="failed",
        shopper_message=shopper_message,
        can_retry=can_retry,
        retry_after_seconds=retry_after_seconds,
        max_retries=max_retries,
        alert_ops=alert_ops,
        meaning=meaning,
    )


_UNAVAILABLE = _("M-Pesa payments are unavailable right now. Please pay another way.")
_CANCELLED = _("You cancelled the M-Pesa request. Try again?")

_FAILURES: dict[int | str, ResultAdvice] = {
    1: _failed(
        1,
        "Insufficient balance",
        _("Your M-Pesa balance is too low. Top up, then try again."),
        can_retry=True,
    ),
    2: _failed(
        2,
        "Amount below the M-Pesa minimum (KES 1)",
        _("Something went wrong on our side. Please pay another way."),
        can_retry=False,
        alert_ops=True,
    ),
    3: _failed(
        3,
        "Amount above the per-transaction maximum",
        _("This amount is too large for M-Pesa. Please pay by card."),
        can_retry=False,
    ),
    4: _failed(
        4,
        "Customer's daily limit exceeded",
        _("You've reached your daily M-Pesa limit. Please use another payment method."),
        can_retry=False,
    ),
    8: _failed(
        8,
        "Payee account balance limit exceeded",
        _UNAVAILABLE,
        can_retry=False,
        alert_ops=True,
    ),
    17: _failed(
        17,
        "Rule limited: same amount from the same customer within 2 minutes",
        _("Please wait 2 minutes, then try again."),
        can_retry=True,
        retry_after_seconds=120,
    ),
    26: _failed(
        26,
        "System busy / traffic blocking",
        _("M-Pesa is busy right now. Please try again shortly."),
        can_retry=True,
        retry_after_seconds=30,
    ),
    1001: _failed(
        1001,
        "Subscriber locked: another M-Pesa session is open",
        _("Close any open M-Pesa prompt on your phone, then try again in a minute."),
        can_retry=True,
        retry_after_seconds=60,
    ),
    1019: _failed(
        1019,
        "Transaction expired",
        _("The M-Pesa request expired. Tap to send it again."),
        can_retry=True,
    ),
    1025: _failed(
        1025,
        "Push failed (prompt over 182 characters?)",
        _("We couldn't reach your phone. Please try again."),
        can_retry=True,
        max_retries=1,
        alert_ops=True,
    ),
    1031: _failed(1031, "Cancelled by user (aggregator code)", _CANCELLED, can_retry=True),
    1032: _failed(1032, "Cancelled by user", _CANCELLED, can_retry=True),
    1037: _failed(
        1037,
        "DS timeout: phone off, busy or unreachable",
        _(
            "We couldn't reach your phone. Keep it on and unlocked, then try again. "
            "If it keeps happening, dial *234# to refresh your SIM menu."
        ),
        can_retry=True,
    ),
    2001: _failed(
        2001,
        "Wrong PIN (initiator information is invalid)",
        _("Wrong M-Pesa PIN. Please try again."),
        can_retry=True,
        max_retries=3,
    ),
    2028: _failed(
        2028,
        "TransactionType and PartyB don't match (configuration)",
        _UNAVAILABLE,
        can_retry=False,
        alert_ops=True,
    ),
    8006: _failed(
        8006,
        "Security credential (PIN) locked",
        _("Your M-Pesa PIN is locked. Call Safaricom on 100 or 200."),
        can_retry=False,
    ),
    9999: _failed(
        9999,
        "Could not send the prompt (generic)",
        _("Something went wrong with M-Pesa. Please try again."),
        can_retry=True,
        max_retries=1,
    ),
}
_FAILURES["SFC_IC0003"] = _failed(
    "SFC_IC0003",
    "TransactionType and PartyB don't match (configuration)",
    _UNAVAILABLE,
    can_retry=False,
    alert_ops=True,
)

PENDING = ResultAdvice(
    code=None,
    status="pending",
    shopper_message=_("Waiting for you to enter your M-Pesa PIN…"),
    can_retry=False,
    meaning="The customer hasn't acted yet (query answered 'being processed')",
)


def describe_result(*, code: int | str | None, receipt: str = "") -> ResultAdvice:
    """Return the shopper message and retry advice for an STK result code.

    *code* is the callback's integer ``ResultCode``, the query's string one,
    or ``None`` while the payment is pending. *receipt* is the
    ``MpesaReceiptNumber`` shown in the success message when known.
    """
    if code is None:
        return PENDING
    normalised: int | str = code.strip() if isinstance(code, str) else code
    if isinstance(normalised, str) and normalised.lstrip("-").isdigit():
        normalised = int(normalised)
    if normalised == 0:
        message = (
            gettext("Paid, receipt %(receipt)s.") % {"receipt": receipt}
            if receipt
            else gettext("Paid.")
        )
        return ResultAdvice(
            code=0, status="paid", shopper_message=message, can_retry=False, meaning="Success"
        )
    known = _FAILURES.get(normalised)
    if known is not None:
        return known
    return _failed(
        normalised,
        "Unknown result code",
        _("Something went wrong with M-Pesa. Please try again."),
        can_retry=True,
        max_retries=1,
        alert_ops=True,
    )


def known_result_codes() -> list[int | str]:
    """Return every result code with a specific entry (success included)."""
    return [0, *_FAILURES]
