"""HTTP client for Safaricom Daraja's M-Pesa Express (STK Push) API.

The shop calls ``stk_push`` and ``stk_query``; nothing here knows about the
simulator: ``settings.MPESA_BASE_URL`` and the ``MPESA_*`` credentials decide
whether requests go to ``payments.simulator``, the sandbox or production.

- OAuth: one token per environment and app, shared through the Django cache
  (Redis in production) and refreshed about five minutes before it expires,
  under a cache lock, because every new token invalidates the previous one
  (Daraja FAQ). On ``404.001.03`` the client refreshes once and retries.
- ``Timestamp`` is built once per call in Africa/Nairobi time and reused for
  ``Password``; amounts are ``int`` whole shillings.
- Each public call (``stk_push``, ``stk_query``, ``get_access_token``) runs
  under one deadline of ``settings.MPESA_TIMEOUT_SECONDS`` in total: the token
  fetch, the wait for another worker's token fetch (the cache lock), the
  request and the refresh-and-retry after ``404.001.03`` all share it. Each
  HTTP request gets what is left as its connect and read timeout; once it is
  spent (or too little is left to start a request: ``Deadline``) the call
  raises ``DarajaUnavailable`` (code ``timeout``) and sends nothing more.
- A push that was sent but never answered (read timeout, connection dropped
  after the request went out) raises ``PushOutcomeUnknown``: Daraja may have
  accepted it. A push that certainly wasn't sent (connection refused or timed
  out while connecting, DNS failure, no token, deadline spent first) raises
  plain ``DarajaUnavailable``.
- Daraja's error bodies become the typed errors of ``payments.exceptions``; a
  query answering "The transaction is being processed" is a *pending* result.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
import urllib3
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .exceptions import (
    DarajaAuthError,
    DarajaBadRequest,
    DarajaBusy,
    DarajaError,
    DarajaUnavailable,
    InvalidAccessToken,
    PushOutcomeUnknown,
    SubscriberLocked,
)
from .results import ResultAdvice, describe_result

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")
OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
TOKEN_REFRESH_MARGIN_SECONDS = 300
BEING_PROCESSED = "being processed"
# Don't start a request with less than this left of the deadline (or a tenth
# of the deadline when that is shorter): it could only time out.
MIN_REQUEST_SECONDS = 1.0

_session: requests.Session | None = None


@dataclass(frozen=True)
class StkPushResponse:
    """Daraja accepted an STK push; the outcome arrives by callback or query."""

    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    customer_message: str
    response_description: str = ""


@dataclass(frozen=True)
class StkQueryResult:
    """The state of an STK push as the query reports it.

    ``pending`` is true while the customer hasn't acted; otherwise
    ``result_code`` holds the final code (``int``; a non-numeric code such as
    ``SFC_IC0003`` stays a ``str``). The query carries no receipt.
    """

    checkout_request_id: str
    pending: bool
    result_code: int | str | None = None
    result_desc: str = ""
    merchant_request_id: str = ""

    @property
    def paid(self) -> bool:
        """Return whether the payment succeeded."""
        return not self.pending and self.result_code == 0

    @property
    def advice(self) -> ResultAdvice:
        """Return the shopper message and retry advice for this result."""
        return describe_result(code=None if self.pending else self.result_code)


# Building blocks -----------------------------------------------------------


def build_timestamp(*, now: datetime) -> str:
    """Return Daraja's ``YYYYMMDDHHmmss`` Timestamp for *now* in Nairobi time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (use django.utils.timezone.now())")
    return now.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def build_password(*, shortcode: str, passkey: str, timestamp: str) -> str:
    """Return ``base64(BusinessShortCode + Passkey + Timestamp)``."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def mask_phone(phone: str) -> str:
    """Return *phone* with its middle digits hidden, for logs."""
    return f"{phone[:4]}{'*' * (len(phone) - 7)}{phone[-3:]}" if len(phone) > 7 else "***"


def _get_session() -> requests.Session:
    global _session
    if _session is None:
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": "storefront-daraja"})
        _session = session
    return _session


class Deadline:
    """The time one public call may spend talking to Daraja, in total."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.expires_at = time.monotonic() + self.seconds

    @classmethod
    def from_settings(cls) -> Deadline:
        """Return a deadline of ``settings.MPESA_TIMEOUT_SECONDS`` from now."""
        return cls(float(settings.MPESA_TIMEOUT_SECONDS))

    def remaining(self) -> float:
        """Return the seconds left (never negative)."""
        return max(0.0, self.expires_at - time.monotonic())

    def too_little_left(self) -> bool:
        """Return whether too little is left to start another request.

        A request started in the last moments can only time out, and a push
        that times out after it went out leaves its outcome unknown: better
        not to send it. The floor is a tenth of the deadline, at most 1 s.
        """
        remaining = self.remaining()
        return remaining <= 0 or remaining < min(MIN_REQUEST_SECONDS, self.seconds / 10)

    def spent(self, what: str) -> DarajaUnavailable:
        """Return the error for a deadline spent before *what* could be done."""
        return DarajaUnavailable(
            code="timeout",
            message=f"No answer from Daraja within {self.seconds:g} s ({what})",
        )


def _request(
    method: str, path: str, *, deadline: Deadline, push: bool = False, **kwargs: Any
) -> requests.Response:
    """Send one request to Daraja within what is left of *deadline*.

    Raise ``DarajaUnavailable`` (code ``timeout``) without sending anything
    when the deadline is (almost) spent, and on a timeout or connection
    failure. With *push*, a failure after the request went out raises
    ``PushOutcomeUnknown`` instead: Daraja may have accepted the push.
    """
    remaining = deadline.remaining()
    if deadline.too_little_left():
        logger.warning(
            "Daraja %s %s not sent: the %g s deadline is spent", method, path, deadline.seconds
        )
        raise deadline.spent(f"{path} not sent")
    url = f"{settings.MPESA_BASE_URL}{path}"
    # total: the read timeout is what the connection left of *remaining*.
    timeout = urllib3.Timeout(total=remaining, connect=remaining, read=remaining)
    try:
        return _get_session().request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as error:
        sent = _sent_before_failing(error)
        timed_out = _timed_out(error)
        logger.warning(
            "Daraja %s %s failed (%s): %s",
            method,
            path,
            "after sending" if sent else "before sending",
            error,
        )
        if push and sent:
            raise PushOutcomeUnknown(
                code="timeout" if timed_out else "no_answer",
                message=(
                    f"The push was sent but Daraja's answer never came ({path}); "
                    "it may have been accepted"
                ),
            ) from error
        if timed_out:
            raise DarajaUnavailable(
                code="timeout", message=f"No answer from Daraja ({path})"
            ) from error
        raise DarajaUnavailable(
            code="connection_error", message=f"Could not reach Daraja ({path})"
        ) from error


def _causes(error: BaseException) -> list[BaseException]:
    """Return *error* and everything behind it (causes, contexts, wrapped reasons)."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        behind = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        behind += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [item for item in behind if isinstance(item, BaseException)]
    return seen


def _caused_by(error: BaseException, kinds: type | tuple[type, ...]) -> bool:
    return any(isinstance(item, kinds) for item in _causes(error))


def _timed_out(error: requests.RequestException) -> bool:
    """Return whether *error* is a timeout (urllib3 counts a refused connection as one)."""
    if isinstance(error, requests.Timeout):
        return True
    return any(
        isinstance(item, (urllib3.exceptions.TimeoutError, TimeoutError))
        and not isinstance(item, urllib3.exceptions.NewConnectionError)
        for item in _causes(error)
    )


# Failures that happen before a single byte of the request leaves: no TCP
# connection (refused, unreachable, timed out), no address (DNS), or a TLS
# certificate refused during the handshake.
_NOT_SENT = (
    urllib3.exceptions.NewConnectionError,  # includes NameResolutionError
    urllib3.exceptions.ConnectTimeoutError,
    ConnectionRefusedError,
    ssl.SSLCertVerificationError,
    urllib3.exceptions.LocationParseError,
)


def _sent_before_failing(error: requests.RequestException) -> bool:
    """Return whether the request may have reached Daraja before *error*.

    Certainly not sent: a connect timeout, a refused or unreachable
    connection, a DNS failure, a refused certificate, a malformed URL.
    Sent: a read timeout, a connection dropped or reset while waiting for
    the answer, a broken answer. Anything else counts as sent, the safe
    side for a push (it makes the shop check before prompting again).
    """
    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.ReadTimeout):
        return True
    if isinstance(
        error,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.ProxyError,
        ),
    ):
        return False
    return not _caused_by(error, _NOT_SENT)


def _json(response: requests.Response) -> dict[str, Any] | None:
    """Return the response's JSON object, or ``None`` for anything else."""
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def error_from_response(response: requests.Response) -> DarajaError:
    """Return the typed error for a Daraja answer that isn't a success."""
    body = _json(response) or {}
    code = str(body.get("errorCode") or "")
    message = str(body.get("errorMessage") or "")
    fields = {
        "code": code,
        "message": message,
        "http_status": response.status_code,
        "request_id": str(body.get("requestId") or ""),
    }
    if not code:
        if response.status_code >= 500:
            fields["message"] = "Daraja answered without an error body"
            return DarajaUnavailable(**fields)
        if response.status_code in (401, 403):
            return DarajaAuthError(**fields)
        fields["message"] = message or f"Unexpected answer from Daraja: {response.text[:200]!r}"
        return DarajaError(**fields)
    return _error_class(code=code, message=message)(**fields)


def _error_class(*, code: str, message: str) -> type[DarajaError]:
    """Return the exception class for Daraja's *code* and *message* (mpesa.md §2)."""
    lowered = message.lower()
    if code == "404.001.03":
        return InvalidAccessToken
    if code.startswith(("400.008.", "401.")) or code == "404.001.04":
        return DarajaAuthError
    if code.startswith("400."):
        return DarajaBadRequest
    if code in ("500.003.02", "500.003.03"):
        return DarajaBusy
    if code == "500.003.1001":
        return DarajaUnavailable
    if code == "500.001.1001":
        if "lock subscriber" in lowered:
            return SubscriberLocked
        if "wrong credentials" in lowered or "merchant does not exist" in lowered:
            return DarajaAuthError
    return DarajaError


# OAuth ---------------------------------------------------------------------


def _token_cache_key() -> str:
    identity = f"{settings.MPESA_BASE_URL}|{settings.MPESA_CONSUMER_KEY}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"payments:daraja:token:{settings.MPESA_ENVIRONMENT}:{digest}"


def _cached_token(*, key: str, moment: float, stale_token: str) -> str | None:
    entry = cache.get(key)
    if not isinstance(entry, dict):
        return None
    token = entry.get("access_token")
    if not token or token == stale_token or entry.get("refresh_at", 0) <= moment:
        return None
    return token


def _fetch_token(*, deadline: Deadline) -> tuple[str, int]:
    """Ask Daraja for a new token; return it and its lifetime in seconds."""
    key, secret = settings.MPESA_CONSUMER_KEY, settings.MPESA_CONSUMER_SECRET
    if not key or not secret:
        raise DarajaAuthError(
            code="not_configured", message="MPESA_CONSUMER_KEY or MPESA_CONSUMER_SECRET is unset"
        )
    response = _request(
        "GET",
        OAUTH_PATH,
        deadline=deadline,
        params={"grant_type": "client_credentials"},
        auth=(key, secret),
    )
    data = _json(response)
    if response.status_code != 200 or data is None:
        error = error_from_response(response)
        if not isinstance(error, DarajaUnavailable):
            error = DarajaAuthError(
                code=error.code,
                message=error.message or "Daraja refused the OAuth request",
                http_status=error.http_status,
                request_id=error.request_id,
            )
        logger.error("Daraja OAuth failed: %s", error)
        raise error
    try:
        token = str(data["access_token"])
        expires_in = int(data["expires_in"])  # Daraja sends "3599" as a string.
    except (KeyError, TypeError, ValueError) as problem:
        raise DarajaUnavailable(
            code="bad_response", message="Daraja's OAuth answer had no usable token"
        ) from problem
    logger.info("Fetched a new Daraja access token (expires in %s s)", expires_in)
    return token, expires_in


def get_access_token(*, now: datetime | None = None, stale_token: str = "") -> str:
    """Return a Daraja access token, fetching a new one when needed.

    The token is shared through the Django cache and refreshed about
    ``TOKEN_REFRESH_MARGIN_SECONDS`` before it expires. *stale_token* is a
    token Daraja just refused: it is never returned, so the call refreshes
    unless another process already has. Fetching happens under a cache lock
    so concurrent workers don't invalidate each other's tokens. Waiting for
    the lock and fetching share one ``MPESA_TIMEOUT_SECONDS`` deadline;
    raise ``DarajaUnavailable`` (code ``timeout``) when it is spent.
    """
    return _access_token(deadline=Deadline.from_settings(), now=now, stale_token=stale_token)


def _access_token(*, deadline: Deadline, now: datetime | None, stale_token: str = "") -> str:
    moment = (now or timezone.now()).timestamp()
    key = _token_cache_key()
    token = _cached_token(key=key, moment=moment, stale_token=stale_token)
    if token:
        return token
    lock_key = f"{key}:lock"
    # A holder never needs the lock longer than its own deadline; the expiry
    # only matters when a holder dies without releasing it.
    lock_timeout = math.ceil(float(settings.MPESA_TIMEOUT_SECONDS)) + 1
    locked = cache.add(lock_key, "locked", timeout=lock_timeout)
    while not locked:
        remaining = deadline.remaining()
        if remaining <= 0:
            logger.warning("Gave up waiting for another worker's Daraja token")
            raise deadline.spent("waiting for another worker's token")
        time.sleep(min(0.05, remaining))
        token = _cached_token(key=key, moment=moment, stale_token=stale_token)
        if token:
            return token
        locked = cache.add(lock_key, "locked", timeout=lock_timeout)
    try:
        token = _cached_token(key=key, moment=moment, stale_token=stale_token)
        if token:
            return token
        token, expires_in = _fetch_token(deadline=deadline)
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, expires_in // 2)
        cache.set(
            key,
            {"access_token": token, "refresh_at": moment + expires_in - margin},
            timeout=max(expires_in, 1),
        )
        return token
    finally:
        cache.delete(lock_key)


def _post(
    path: str, body: dict[str, Any], *, now: datetime, deadline: Deadline, push: bool = False
) -> requests.Response:
    """POST *body* with a bearer token; on ``404.001.03`` refresh once and retry.

    Everything, the retry included, happens within *deadline*.
    """
    token = _access_token(deadline=deadline, now=now)
    headers = {"Authorization": f"Bearer {token}"}
    response = _request("POST", path, deadline=deadline, push=push, json=body, headers=headers)
    if not _is_invalid_token(response):
        return response
    logger.warning("Daraja refused the access token on %s; refreshing it once", path)
    token = _access_token(deadline=deadline, now=now, stale_token=token)
    headers = {"Authorization": f"Bearer {token}"}
    response = _request("POST", path, deadline=deadline, push=push, json=body, headers=headers)
    if _is_invalid_token(response):
        error = error_from_response(response)
        logger.error("Daraja refused a freshly fetched token on %s: %s", path, error)
        raise error
    return response


def _is_invalid_token(response: requests.Response) -> bool:
    return (_json(response) or {}).get("errorCode") == "404.001.03"


# STK Push and query --------------------------------------------------------


def stk_push(
    *,
    phone: str,
    amount: int,
    account_reference: str,
    description: str,
    callback_url: str,
    now: datetime | None = None,
) -> StkPushResponse:
    """Ask Daraja to prompt *phone* to pay *amount* whole shillings.

    *phone* must already be normalised to ``2547XXXXXXXX``/``2541XXXXXXXX``.
    Return the accepted request's IDs; store ``checkout_request_id`` before
    anything else. Raise a ``DarajaError`` subclass when Daraja refuses or
    can't be reached, all within one ``MPESA_TIMEOUT_SECONDS`` deadline:

    - ``PushOutcomeUnknown`` (a ``DarajaUnavailable``; code ``timeout`` or
      ``no_answer``): the push went out but no answer came back. Daraja may
      have accepted it; query or wait for the callback before prompting again.
    - ``DarajaUnavailable`` (code ``timeout``, ``connection_error`` or a bare
      HTTP 5xx): the push was certainly not sent, or Daraja answered that it
      failed.

    *now* fixes the clock (tests).
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be an int of whole shillings, not {amount!r}")
    deadline = Deadline.from_settings()
    moment = now or timezone.now()
    timestamp = build_timestamp(now=moment)
    body = {
        "BusinessShortCode": settings.MPESA_SHORTCODE,
        "Password": build_password(
            shortcode=settings.MPESA_SHORTCODE, passkey=settings.MPESA_PASSKEY, timestamp=timestamp
        ),
        "Timestamp": timestamp,
        "TransactionType": settings.MPESA_TRANSACTION_TYPE,
        "Amount": amount,
        "PartyA": phone,
        "PartyB": settings.MPESA_PARTY_B,
        "PhoneNumber": phone,
        "CallBackURL": callback_url,
        "AccountReference": account_reference,
        "TransactionDesc": description,
    }
    response = _post(STK_PUSH_PATH, body, now=moment, deadline=deadline, push=True)
    data = _json(response)
    if response.status_code != 200 or data is None:
        error = error_from_response(response)
        logger.warning("STK push to %s refused: %s", mask_phone(phone), error)
        raise error
    if str(data.get("ResponseCode")) != "0" or not data.get("CheckoutRequestID"):
        error = DarajaError(
            code=str(data.get("ResponseCode") or data.get("errorCode") or ""),
            message=str(data.get("ResponseDescription") or data.get("errorMessage") or ""),
            http_status=response.status_code,
        )
        logger.warning("STK push to %s not accepted: %s", mask_phone(phone), error)
        raise error
    result = StkPushResponse(
        merchant_request_id=str(data.get("MerchantRequestID", "")),
        checkout_request_id=str(data["CheckoutRequestID"]),
        response_code=str(data["ResponseCode"]),
        customer_message=str(data.get("CustomerMessage", "")),
        response_description=str(data.get("ResponseDescription", "")),
    )
    logger.info(
        "STK push %s accepted for %s, KES %s", result.checkout_request_id, mask_phone(phone), amount
    )
    return result


def stk_query(*, checkout_request_id: str, now: datetime | None = None) -> StkQueryResult:
    """Ask Daraja for the state of an STK push.

    Return a pending result while the customer hasn't acted ("The
    transaction is being processed"), otherwise the final result code.
    Raise a ``DarajaError`` subclass for any other refusal, and
    ``DarajaUnavailable`` (never ``PushOutcomeUnknown``) when Daraja can't be
    reached within one ``MPESA_TIMEOUT_SECONDS`` deadline.
    """
    deadline = Deadline.from_settings()
    moment = now or timezone.now()
    timestamp = build_timestamp(now=moment)
    body = {
        "BusinessShortCode": settings.MPESA_SHORTCODE,
        "Password": build_password(
            shortcode=settings.MPESA_SHORTCODE, passkey=settings.MPESA_PASSKEY, timestamp=timestamp
        ),
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_request_id,
    }
    response = _post(STK_QUERY_PATH, body, now=moment, deadline=deadline)
    data = _json(response) or {}
    message = str(data.get("errorMessage") or "")
    if data.get("errorCode") == "500.001.1001" and BEING_PROCESSED in message.lower():
        return StkQueryResult(
            checkout_request_id=checkout_request_id, pending=True, result_desc=message
        )
    if response.status_code != 200 or "ResultCode" not in data:
        error = error_from_response(response)
        logger.warning("STK query for %s failed: %s", checkout_request_id, error)
        raise error
    return StkQueryResult(
        checkout_request_id=str(data.get("CheckoutRequestID") or checkout_request_id),
        pending=False,
        result_code=parse_result_code(data["ResultCode"]),
        result_desc=str(data.get("ResultDesc", "")),
        merchant_request_id=str(data.get("MerchantRequestID", "")),
    )


def parse_result_code(value: Any) -> int | str:
    """Return a ResultCode as ``int`` (callbacks send ints, queries strings)."""
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text
