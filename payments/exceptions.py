"""Typed errors for the payments app.

Daraja answers a refused request with ``{"requestId", "errorCode", "errorMessage"}``
(docs/mpesa.md §2). ``payments.daraja`` turns each such answer, and each network
failure, into one of the classes below so that callers branch on the type, show
``shopper_message`` to the shopper and log ``code``/``message`` for staff.

- ``DarajaError``: base; anything Daraja refused that has no better class.
- ``DarajaAuthError``: our credentials or configuration are wrong (OAuth refused,
  "Wrong credentials", "Merchant does not exist", a token refused twice). Alert ops.
- ``InvalidAccessToken``: ``404.001.03``; the client refreshes once and retries,
  so callers only see it through its parent, ``DarajaAuthError``.
- ``DarajaBadRequest``: ``400.002.02`` "Bad Request - Invalid X"; don't retry as is.
- ``DarajaBusy``: ``500.003.02`` spike arrest / system busy, ``500.003.03`` quota;
  retryable with backoff.
- ``SubscriberLocked``: ``500.001.1001`` "Unable to lock subscriber"; another
  M-Pesa session is open on the phone; retry after a minute.
- ``DarajaUnavailable``: no usable answer (connection error, timeout, HTTP 5xx
  without a Daraja body, ``500.003.1001`` internal error). After a timeout the
  push may still have been accepted: query or wait before sending another.
"""

from __future__ import annotations

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _


class PaymentError(Exception):
    """Base for the payments app's errors; ``shopper_message`` is safe to show."""

    shopper_message = _("We couldn't take this payment. Please try again or pay another way.")


class DarajaError(PaymentError):
    """Daraja refused a request or could not be reached."""

    default_shopper_message = _(
        "M-Pesa couldn't take this payment right now. Please try again or pay another way."
    )
    retryable = False
    retry_after_seconds = 0

    def __init__(
        self,
        *,
        code: str = "",
        message: str = "",
        http_status: int | None = None,
        request_id: str = "",
        shopper_message: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        self.request_id = request_id
        self.shopper_message = shopper_message or self.default_shopper_message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.code, self.message]
        if self.http_status is not None:
            parts.append(f"(HTTP {self.http_status})")
        return " ".join(part for part in parts if part) or type(self).__name__


class DarajaAuthError(DarajaError):
    """Daraja rejected our credentials or configuration; staff must fix settings."""

    default_shopper_message = _(
        "M-Pesa payments are unavailable right now. Please pay another way or try again later."
    )


class InvalidAccessToken(DarajaAuthError):
    """Daraja refused the bearer token (``404.001.03``)."""


class DarajaBadRequest(DarajaError):
    """Daraja rejected a field of the request (``400.002.02`` "Bad Request - Invalid X")."""

    default_shopper_message = _(
        "We couldn't send the M-Pesa request. Please check your details and try again."
    )
    field_messages = {
        "PhoneNumber": _("This number can't receive M-Pesa prompts. Check it and try again."),
        "PartyA": _("This number can't receive M-Pesa prompts. Check it and try again."),
        "Amount": _("This amount can't be paid with M-Pesa (KES 1 to KES 250,000 per payment)."),
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.field = _invalid_field(self.message)
        if kwargs.get("shopper_message") is None and self.field in self.field_messages:
            self.shopper_message = self.field_messages[self.field]


class DarajaBusy(DarajaError):
    """Daraja is over its rate limit or quota (``500.003.02``, ``500.003.03``); back off."""

    default_shopper_message = _("M-Pesa is busy right now. Please try again in a moment.")
    retryable = True
    retry_after_seconds = 30


class SubscriberLocked(DarajaError):
    """Another M-Pesa session is open on the payer's phone (``500.001.1001``)."""

    default_shopper_message = _(
        "Close any open M-Pesa prompt on your phone, then try again in a minute."
    )
    retryable = True
    retry_after_seconds = 60


class DarajaUnavailable(DarajaError):
    """Daraja gave no usable answer: connection error, timeout or a bare 5xx.

    After a timeout the push may have been accepted anyway, so check for a
    prompt (or query) before sending another one.
    """

    default_shopper_message = _(
        "We couldn't reach M-Pesa. If a prompt appears on your phone, enter your PIN; "
        "otherwise please try again in a minute."
    )
    retryable = True
    retry_after_seconds = 60


class PushOutcomeUnknown(DarajaUnavailable):
    """The push was sent but no answer came back (a read timeout, a dropped
    connection after the request went out): Daraja may have accepted it and
    the shopper may be looking at a prompt. Never treat this as a failure.
    """

    default_shopper_message = _(
        "We sent the M-Pesa prompt but haven't heard back from M-Pesa yet. If a prompt "
        "appears on your phone, enter your PIN."
    )


def _invalid_field(message: str) -> str:
    """Return X from Daraja's "Bad Request - Invalid X", or an empty string."""
    marker = "Invalid "
    index = message.find(marker)
    if index == -1:
        return ""
    return message[index + len(marker) :].strip().split(" ")[0]


class OrderNotPayable(PaymentError):
    """The order is no longer waiting for payment (paid, expired or cancelled)."""

    def __init__(self, shopper_message: str) -> None:
        super().__init__(shopper_message)
        self.shopper_message = shopper_message


class ResendTooSoon(PaymentError):
    """A new push for the order came too soon after the previous one."""

    def __init__(self, seconds: int) -> None:
        self.seconds = max(int(seconds), 1)
        self.shopper_message = ngettext(
            "We just sent a prompt to your phone. You can ask for a new one in %(seconds)s second.",
            "We just sent a prompt to your phone. You can ask for a new one in "
            "%(seconds)s seconds.",
            self.seconds,
        ) % {"seconds": self.seconds}
        super().__init__(self.shopper_message)


class PreviousPushPending(PaymentError):
    """The previous push is still waiting for the shopper's PIN."""

    shopper_message = _(
        "Your previous M-Pesa prompt is still waiting for your PIN. Enter it on your phone, "
        "or wait for it to time out before asking for a new one."
    )


class TooManyPrompts(PaymentError):
    """The payer's phone had too many prompts in the last hour, across all orders."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.shopper_message = gettext(
            "This phone has had %(limit)s M-Pesa prompts in the last hour, the most we send. "
            "Please wait a while before asking for another, or pay by Paybill (below)."
        ) % {"limit": limit}
        super().__init__(self.shopper_message)
