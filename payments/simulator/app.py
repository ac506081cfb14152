"""The simulator's in-memory state and its WSGI application (Daraja's HTTP API)."""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import json
import logging
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests

from .outcomes import PAYBILL_MISMATCH, TILL_MISMATCH, Outcome, outcome_for_phone

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")
PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"
PHONE_RE = re.compile(r"^254[17]\d{8}$")
SHORTCODE_RE = re.compile(r"^\d{5,7}$")
TIMESTAMP_RE = re.compile(r"^\d{14}$")
MAX_AMOUNT = 250_000
BEING_PROCESSED = "The transaction is being processed"
PUSH_ACCEPTED = "Success. Request accepted for processing"
QUERY_ACCEPTED = "The service request has been accepted successsfully"

# A demo till, distinct from the demo store number (shortcode 174379).
DEFAULT_TILL_NUMBERS = frozenset({"600100"})

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass
class SimulatorConfig:
    """What the simulator accepts and how it behaves; defaults match settings.py's."""

    consumer_key: str = "simulator-key"
    consumer_secret: str = "simulator-secret"
    passkey: str = "simulator-passkey"
    shortcode: str = "174379"
    # Till numbers a CustomerBuyGoodsOnline push may name as PartyB (the
    # BusinessShortCode is then the store number, ``shortcode``). Any other
    # PartyB is accepted and fails with ResultCode 2028, as on Daraja.
    till_numbers: frozenset[str] = DEFAULT_TILL_NUMBERS
    # Seconds between an accepted push and the result (callback, query answer).
    callback_delay: float = 2.0
    # How long the `…0999` outcome keeps the push waiting before answering.
    slow_seconds: float = 30.0
    # Token lifetime, returned as the string "3599" like Daraja does.
    token_ttl: int = 3599
    # Daraja's FAQ: "each request invalidates the previous token".
    invalidate_previous_tokens: bool = True
    # Refuse Timestamps further than this many seconds from Nairobi time (None:
    # format check only; Daraja documents no tolerance).
    timestamp_tolerance: float | None = None
    callback_timeout: float = 10.0


@dataclass
class Transaction:
    """One accepted STK push and what the simulator did with it."""

    merchant_request_id: str
    checkout_request_id: str
    request: dict[str, Any]
    outcome: Outcome
    accepted_at: float
    decided_at: float
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, *, now: float) -> dict[str, Any]:
        """Return a JSON-ready view for the introspection endpoint."""
        return {
            "merchant_request_id": self.merchant_request_id,
            "checkout_request_id": self.checkout_request_id,
            "outcome": self.outcome.name,
            "result_code": self.outcome.result_code,
            "result_desc": self.outcome.result_desc,
            "status": "decided" if now >= self.decided_at else "waiting_for_customer",
            "request": {k: v for k, v in self.request.items() if k != "Password"},
            "callbacks_planned": self.outcome.callbacks,
            "callbacks": list(self.callbacks),
        }


class DarajaReply(Exception):
    """An error answer in Daraja's shape, raised inside handlers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.status = status
        self.code = code
        self.message = message


def bad_request(field_name: str) -> DarajaReply:
    """Return Daraja's ``400.002.02 Bad Request - Invalid <field>`` answer."""
    return DarajaReply(400, "400.002.02", f"Bad Request - Invalid {field_name}")


class Simulator:
    """In-memory Daraja: tokens, transactions and the callbacks it owes."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.till_numbers = frozenset(str(number) for number in config.till_numbers)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.transactions: dict[str, Transaction] = {}
        self.timers: set[threading.Timer] = set()
        self._sequence = itertools.count(secrets.randbelow(900_000) + 100_000)

    # Tokens ---------------------------------------------------------------

    def issue_token(self) -> str:
        """Issue a new access token (invalidating older ones if so configured)."""
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(28))
        with self.lock:
            if self.config.invalidate_previous_tokens:
                self.tokens.clear()
            self.tokens[token] = time.time() + self.config.token_ttl
            self.tokens_issued += 1
        return token

    def check_bearer(self, header: str) -> None:
        """Raise Daraja's answer unless *header* carries a valid, unexpired token."""
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.strip():
            raise DarajaReply(404, "404.001.04", "Invalid Authentication Header")
        with self.lock:
            expires_at = self.tokens.get(token.strip())
        if expires_at is None or time.time() >= expires_at:
            raise DarajaReply(404, "404.001.03", "Invalid Access Token")

    # Requests -------------------------------------------------------------

    def next_ids(self) -> tuple[str, str]:
        """Return a fresh (MerchantRequestID, CheckoutRequestID) pair."""
        n = next(self._sequence)
        now = datetime.now(NAIROBI)
        merchant = f"{secrets.randbelow(90_000) + 10_000}-{n}-1"
        checkout = f"ws_CO_{now:%d%m%Y%H%M%S}{n}"
        return merchant, checkout

    def check_password(self, body: dict[str, Any]) -> None:
        """Validate BusinessShortCode, Timestamp and Password like Daraja does."""
        shortcode = str(body.get("BusinessShortCode", ""))
        if not SHORTCODE_RE.match(shortcode):
            raise bad_request("BusinessShortCode")
        if shortcode != self.config.shortcode:
            raise DarajaReply(500, "500.001.1001", "Merchant does not exist")
        timestamp = str(body.get("Timestamp", ""))
        if not valid_timestamp(timestamp, tolerance=self.config.timestamp_tolerance):
            raise bad_request("Timestamp")
        expected = base64.b64encode(
            f"{shortcode}{self.config.passkey}{timestamp}".encode()
        ).decode()
        if not hmac.compare_digest(str(body.get("Password", "")).encode(), expected.encode()):
            raise DarajaReply(500, "500.001.1001", "Wrong credentials")

    def validate_push(self, body: dict[str, Any]) -> Outcome:
        """Validate an STK push body and return the outcome to play."""
        self.check_password(body)
        transaction_type = body.get("TransactionType")
        if transaction_type not in (PAYBILL, BUY_GOODS):
            raise bad_request("TransactionType")
        if not valid_amount(body.get("Amount")):
            raise bad_request("Amount")
        for name in ("PartyA", "PhoneNumber"):
            if not PHONE_RE.match(str(body.get(name, ""))):
                raise bad_request(name)
        if not SHORTCODE_RE.match(str(body.get("PartyB", ""))):
            raise bad_request("PartyB")
        if not valid_callback_url(body.get("CallBackURL")):
            raise bad_request("CallBackURL")
        reference = body.get("AccountReference")
        if not isinstance(reference, str) or not 1 <= len(reference) <= 12:
            raise bad_request("AccountReference")
        description = body.get("TransactionDesc", "")
        if not isinstance(description, str) or len(description) > 13:
            raise bad_request("TransactionDesc")
        outcome = outcome_for_phone(phone=str(body["PartyA"]))
        if outcome.push_status is not None or outcome.slow:
            return outcome
        party_b = str(body["PartyB"])
        if transaction_type == PAYBILL and party_b != self.config.shortcode:
            return PAYBILL_MISMATCH
        if transaction_type == BUY_GOODS and party_b not in self.till_numbers:
            return TILL_MISMATCH
        return outcome

    def accept_push(self, body: dict[str, Any], outcome: Outcome) -> Transaction:
        """Record an accepted push and schedule its callbacks."""
        merchant, checkout = self.next_ids()
        now = time.time()
        transaction = Transaction(
            merchant_request_id=merchant,
            checkout_request_id=checkout,
            request=dict(body),
            outcome=outcome,
            accepted_at=now,
            decided_at=now + self.config.callback_delay,
        )
        with self.lock:
            self.transactions[checkout] = transaction
        if outcome.callbacks:
            timer = threading.Timer(self.config.callback_delay, self.deliver, args=(transaction,))
            timer.daemon = True
            with self.lock:
                self.timers.add(timer)
            timer.start()
        logger.info(
            "STK push %s accepted for %s (KES %s): %s",
            checkout,
            mask(str(body["PhoneNumber"])),
            body["Amount"],
            outcome.name,
        )
        return transaction

    def deliver(self, transaction: Transaction) -> None:
        """POST the transaction's callback (as many times as its outcome says)."""
        with self.lock:
            self.timers = {timer for timer in self.timers if timer.is_alive()}
        payload = callback_body(transaction)
        url = str(transaction.request["CallBackURL"])
        for _ in range(transaction.outcome.callbacks):
            if self.stopping.is_set():
                return
            record: dict[str, Any] = {"sent_at": time.time(), "body": payload}
            try:
                response = requests.post(url, json=payload, timeout=self.config.callback_timeout)
                record["status_code"] = response.status_code
                response.close()
            except requests.RequestException as error:
                record["error"] = f"{type(error).__name__}: {error}"
                logger.warning(
                    "Callback for %s to %s failed: %s", transaction.checkout_request_id, url, error
                )
            else:
                logger.info(
                    "Callback for %s to %s answered HTTP %s",
                    transaction.checkout_request_id,
                    url,
                    record["status_code"],
                )
            with self.lock:
                transaction.callbacks.append(record)

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer an STK query, raising "being processed" until the customer acts."""
        self.check_password(body)
        with self.lock:
            transaction = self.transactions.get(str(body.get("CheckoutRequestID", "")))
        if transaction is None:
            raise bad_request("CheckoutRequestID")
        if time.time() < transaction.decided_at:
            raise DarajaReply(500, "500.001.1001", BEING_PROCESSED)
        return {
            "ResponseCode": "0",
            "ResponseDescription": QUERY_ACCEPTED,
            "MerchantRequestID": transaction.merchant_request_id,
            "CheckoutRequestID": transaction.checkout_request_id,
            "ResultCode": str(transaction.outcome.result_code),
            "ResultDesc": transaction.outcome.result_desc,
        }

    def snapshot(self) -> dict[str, Any]:
        """Return the introspection view: tokens issued and every transaction."""
        now = time.time()
        with self.lock:
            return {
                "tokens_issued": self.tokens_issued,
                "transactions": [t.as_dict(now=now) for t in self.transactions.values()],
            }

    def stop(self) -> None:
        """Cancel pending callbacks and wake sleeping slow pushes."""
        self.stopping.set()
        with self.lock:
            timers, self.timers = self.timers, set()
        for timer in timers:
            timer.cancel()


# Validation helpers -------------------------------------------------------


def valid_timestamp(value: str, *, tolerance: float | None) -> bool:
    """Return whether *value* is ``YYYYMMDDHHmmss`` (and near Nairobi time if asked)."""
    if not TIMESTAMP_RE.match(value):
        return False
    try:
        moment = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    except ValueError:
        return False
    if tolerance is None:
        return True
    return abs(datetime.now(NAIROBI) - moment) <= timedelta(seconds=tolerance)


def valid_amount(value: Any) -> bool:
    """Return whether *value* is a whole number of shillings from 1 to 250,000."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, float):
        if not value.is_integer():
            return False
        value = int(value)
    return isinstance(value, int) and 1 <= value <= MAX_AMOUNT


def valid_callback_url(value: Any) -> bool:
    """Return whether *value* is an absolute http(s) URL without whitespace."""
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def mask(phone: str) -> str:
    """Return *phone* with its middle digits hidden, for logs."""
    return phone[:4] + "*" * max(len(phone) - 7, 0) + phone[-3:] if len(phone) > 7 else "***"


def receipt_number() -> str:
    """Return a random M-Pesa style receipt such as ``NLJ7RT61SV``."""
    alphabet = string.ascii_uppercase + string.digits
    return secrets.choice(string.ascii_uppercase) + "".join(
        secrets.choice(alphabet) for _ in range(9)
    )


def callback_body(transaction: Transaction) -> dict[str, Any]:
    """Return the STK callback Daraja would POST for *transaction* (mpesa.md §3)."""
    callback: dict[str, Any] = {
        "MerchantRequestID": transaction.merchant_request_id,
        "CheckoutRequestID": transaction.checkout_request_id,
        "ResultCode": transaction.outcome.result_code,
        "ResultDesc": transaction.outcome.result_desc,
    }
    if transaction.outcome.result_code == 0 and transaction.outcome.metadata:
        paid_at = datetime.fromtimestamp(transaction.decided_at, NAIROBI)
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(transaction.request["Amount"])},
                {"Name": "MpesaReceiptNumber", "Value": receipt_number()},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(f"{paid_at:%Y%m%d%H%M%S}")},
                {"Name": "PhoneNumber", "Value": int(transaction.request["PhoneNumber"])},
            ]
        }
    return {"Body": {"stkCallback": callback}}


# WSGI ---------------------------------------------------------------------


def make_app(simulator: Simulator) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """Return the WSGI application serving *simulator*."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        try:
            status, body = route(simulator, environ, method, path)
        except DarajaReply as reply:
            status, body = reply.status, error_body(reply.code, reply.message)
            logger.info("%s %s -> %s %s", method, path, reply.code, reply.message)
        except Exception:
            logger.exception("Simulator failed on %s %s", method, path)
            status, body = 500, error_body("500.003.1001", "Internal Server Error")
        return respond(start_response, status, body)

    return app


def route(simulator: Simulator, environ: dict[str, Any], method: str, path: str) -> tuple[int, Any]:
    """Dispatch one request and return (HTTP status, JSON body or None)."""
    path = path.rstrip("/") or "/"
    if path == "/oauth/v1/generate":
        if method != "GET":
            raise DarajaReply(405, "405.001", "Method Not Allowed")
        return 200, generate_token(simulator, environ)
    if path == "/mpesa/stkpush/v1/processrequest":
        return stk_push(simulator, environ, method)
    if path == "/mpesa/stkpushquery/v1/query":
        if method != "POST":
            raise DarajaReply(405, "405.001", "Method Not Allowed")
        simulator.check_bearer(environ.get("HTTP_AUTHORIZATION", ""))
        return 200, simulator.query(json_body(environ))
    if path in ("/simulator", "/simulator/transactions") and method == "GET":
        if path == "/simulator":
            return 200, {
                "about": "Daraja simulator; outcomes are chosen by the payer's last four digits",
                "endpoints": [
                    "/oauth/v1/generate",
                    "/mpesa/stkpush/v1/processrequest",
                    "/mpesa/stkpushquery/v1/query",
                    "/simulator/transactions",
                ],
            }
        return 200, simulator.snapshot()
    raise DarajaReply(404, "404.001.01", "Resource not found")


def generate_token(simulator: Simulator, environ: dict[str, Any]) -> dict[str, str]:
    """Answer ``GET /oauth/v1/generate`` with a token or Daraja's 400.008.0x errors."""
    scheme, _, encoded = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Basic":
        raise DarajaReply(400, "400.008.01", "Invalid Authentication passed")
    grant = parse_qs(environ.get("QUERY_STRING", "")).get("grant_type", [""])[0]
    if grant != "client_credentials":
        raise DarajaReply(400, "400.008.02", "Invalid grant type passed")
    try:
        key, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        key, secret = "", ""
    config = simulator.config
    key_ok = hmac.compare_digest(key.encode(), config.consumer_key.encode())
    secret_ok = hmac.compare_digest(secret.encode(), config.consumer_secret.encode())
    if not (key_ok and secret_ok):
        raise DarajaReply(400, "400.008.01", "Invalid Authentication passed")
    return {"access_token": simulator.issue_token(), "expires_in": str(config.token_ttl)}


def stk_push(simulator: Simulator, environ: dict[str, Any], method: str) -> tuple[int, Any]:
    """Answer ``POST /mpesa/stkpush/v1/processrequest``."""
    if method != "POST":
        raise DarajaReply(405, "405.001", "Method Not Allowed")
    simulator.check_bearer(environ.get("HTTP_AUTHORIZATION", ""))
    body = json_body(environ)
    outcome = simulator.validate_push(body)
    if outcome.slow:
        # Interruptible sleep, so stopping the simulator doesn't wait for it.
        if simulator.stopping.wait(simulator.config.slow_seconds):
            return 503, None
    if outcome.push_status is not None:
        logger.info("STK push refused by outcome %s", outcome.name)
        if outcome.push_error is None:
            return outcome.push_status, None
        raise DarajaReply(outcome.push_status, *outcome.push_error)
    transaction = simulator.accept_push(body, outcome)
    return 200, {
        "MerchantRequestID": transaction.merchant_request_id,
        "CheckoutRequestID": transaction.checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": PUSH_ACCEPTED,
        "CustomerMessage": PUSH_ACCEPTED,
    }


def json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """Return the request's JSON object, refusing what Daraja refuses."""
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        # Daraja's FAQ: a missing Content-Type shows up as "Invalid BusinessShortCode".
        raise bad_request("BusinessShortCode")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Request Body") from None
    if not isinstance(body, dict):
        raise bad_request("Request Body")
    return body


def error_body(code: str, message: str) -> dict[str, str]:
    """Return Daraja's error shape."""
    request_id = f"{secrets.randbelow(90_000) + 10_000}-{secrets.randbelow(10**8):08d}-1"
    return {"requestId": request_id, "errorCode": code, "errorMessage": message}


def respond(start_response: StartResponse, status: int, body: Any) -> list[bytes]:
    """Send *body* as JSON (or an empty body when ``None``) with *status*."""
    reasons = {
        200: "OK",
        400: "Bad Request",
        404: "Not Found",
        405: "Method Not Allowed",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    payload = b"" if body is None else json.dumps(body).encode()
    headers = [("Content-Length", str(len(payload)))]
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [payload]
