"""The real Daraja client against the real simulator, over real HTTP."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.utils import timezone

from payments import daraja
from payments.exceptions import (
    DarajaAuthError,
    DarajaBadRequest,
    DarajaBusy,
    DarajaError,
    DarajaUnavailable,
    InvalidAccessToken,
    PushOutcomeUnknown,
    SubscriberLocked,
)
from payments.results import describe_result

from .simulators import CREDENTIALS

PHONE = "254708374149"


def push(receiver_url: str = "https://shop.example.co.ke/pay/stk/cb/t/", **overrides):
    """Send an STK push with sensible defaults, overridden by keyword."""
    arguments = {
        "phone": PHONE,
        "amount": 1500,
        "account_reference": "ORD-1042",
        "description": "Duka order",
        "callback_url": receiver_url,
    }
    arguments.update(overrides)
    return daraja.stk_push(**arguments)


def query_until_final(checkout_request_id: str, *, timeout: float = 3.0):
    """Query until the result is no longer pending (or fail after *timeout*)."""
    deadline = time.monotonic() + timeout
    while True:
        result = daraja.stk_query(checkout_request_id=checkout_request_id)
        if not result.pending or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def items_by_name(callback: dict) -> dict:
    items = callback["CallbackMetadata"]["Item"]
    return {item["Name"]: item for item in items}


# Timestamp and password ------------------------------------------------------


def test_timestamp_is_nairobi_wall_clock_time():
    """21:30:05 UTC on 1 March is 00:30:05 on 2 March in Nairobi (UTC+3)."""
    now = datetime(2025, 3, 1, 21, 30, 5, tzinfo=UTC)

    assert daraja.build_timestamp(now=now) == "20250302003005"


def test_timestamp_refuses_a_naive_datetime():
    """A naive datetime has no zone to convert from, so it is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        daraja.build_timestamp(now=datetime(2025, 3, 1, 21, 30, 5))  # noqa: DTZ001


def test_push_sends_one_nairobi_timestamp_for_body_and_password(sim):
    """The push carries the Nairobi Timestamp of the injected clock, and its Password
    is built from that same Timestamp (the simulator accepts it)."""
    fixed = datetime(2025, 3, 1, 21, 30, 5, tzinfo=UTC)

    response = push(now=fixed)

    [sent] = sim.transactions()
    assert sent["checkout_request_id"] == response.checkout_request_id
    assert sent["request"]["Timestamp"] == "20250302003005"
    assert "Password" not in sent["request"]  # the simulator hides it; it checked it


def test_password_is_base64_of_shortcode_passkey_timestamp():
    """Password is base64(BusinessShortCode + Passkey + Timestamp)."""
    password = daraja.build_password(shortcode="174379", passkey="pk", timestamp="20250302003005")

    assert base64.b64decode(password).decode() == "174379pk20250302003005"


def test_push_passes_a_simulator_that_checks_the_clock(sim_with):
    """With a 2-minute tolerance on the Timestamp, a real-clock push is accepted."""
    sim_with(timestamp_tolerance=120)

    assert push().response_code == "0"


def test_push_from_a_utc_clock_gets_invalid_timestamp(sim_with):
    """A Timestamp three hours behind Nairobi (a UTC server's bug) is refused."""
    sim_with(timestamp_tolerance=120)
    utc_wall_clock_as_if_nairobi = timezone.now() - timedelta(hours=3)

    with pytest.raises(DarajaBadRequest) as caught:
        push(now=utc_wall_clock_as_if_nairobi)

    assert caught.value.code == "400.002.02"
    assert caught.value.field == "Timestamp"


# OAuth token -------------------------------------------------------------------


def test_token_is_fetched_once_and_reused_through_the_cache(sim):
    """Two pushes and a query need one token; it sits in the Django cache."""
    first = push()
    push()
    daraja.stk_query(checkout_request_id=first.checkout_request_id)

    assert sim.tokens_issued() == 1
    entry = cache.get(daraja._token_cache_key())
    assert entry["access_token"] == daraja.get_access_token()
    assert sim.tokens_issued() == 1


def test_cached_token_is_used_by_a_fresh_http_session(sim):
    """Another worker (a new requests.Session) reuses the cached token."""
    push()
    session, daraja._session = daraja._session, None  # as in another worker process
    session.close()

    push()

    assert sim.tokens_issued() == 1


def test_token_is_refreshed_about_five_minutes_before_expiry(sim):
    """A 3599 s token is reused at 3599-301 s and replaced at 3599-299 s."""
    t0 = timezone.now()
    first = daraja.get_access_token(now=t0)

    kept = daraja.get_access_token(now=t0 + timedelta(seconds=3599 - 301))
    assert kept == first
    assert sim.tokens_issued() == 1

    refreshed = daraja.get_access_token(now=t0 + timedelta(seconds=3599 - 299))
    assert refreshed != first
    assert sim.tokens_issued() == 2


def test_string_expires_in_is_parsed_as_a_number(sim_with):
    """A 600 s token ("600" on the wire) is refreshed 300 s early, not kept an hour."""
    sim = sim_with(token_ttl=600)
    t0 = timezone.now()
    first = daraja.get_access_token(now=t0)

    assert daraja.get_access_token(now=t0 + timedelta(seconds=299)) == first
    assert daraja.get_access_token(now=t0 + timedelta(seconds=301)) != first
    assert sim.tokens_issued() == 2


def test_concurrent_workers_fetch_a_single_token(sim):
    """Eight threads needing a token at once fetch it once (the cache lock works);
    without the lock each fetch would invalidate the one before."""
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def worker() -> None:
        barrier.wait()
        tokens.append(daraja.get_access_token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(tokens) == 8
    assert len(set(tokens)) == 1
    assert sim.tokens_issued() == 1


def test_invalid_token_is_refreshed_once_and_the_push_retried(sim):
    """Another token request invalidates ours; the push refreshes once and succeeds."""
    push()
    sim.token()  # someone else asks for a token: ours is now invalid

    response = push()

    assert response.checkout_request_id.startswith("ws_CO_")
    assert sim.tokens_issued() == 3
    assert len(sim.transactions()) == 2


def test_token_refused_twice_raises_auth_error_without_looping(sim_with):
    """Tokens that expire at once: one refresh, then a typed error, no third try."""
    sim = sim_with(token_ttl=0)

    with pytest.raises(InvalidAccessToken) as caught:
        push()

    assert isinstance(caught.value, DarajaAuthError)
    assert caught.value.code == "404.001.03"
    assert sim.tokens_issued() == 2
    assert sim.transactions() == []


def test_wrong_consumer_secret_is_an_auth_error(sim, settings):
    """Daraja refuses the OAuth call; the shopper gets a readable message."""
    settings.MPESA_CONSUMER_SECRET = "not-the-secret"

    with pytest.raises(DarajaAuthError) as caught:
        push()

    assert caught.value.code == "400.008.01"
    assert "M-Pesa" in caught.value.shopper_message
    assert sim.tokens_issued() == 0


def test_missing_consumer_key_fails_before_any_request(sim, settings):
    """Without credentials the client doesn't call Daraja at all."""
    settings.MPESA_CONSUMER_KEY = ""

    with pytest.raises(DarajaAuthError, match="MPESA_CONSUMER_KEY"):
        push()

    assert sim.tokens_issued() == 0


# Successful push, callback and query --------------------------------------------


def test_successful_push_returns_ids_and_posts_a_success_callback(sim, receiver):
    """The push is accepted, then the callback carries the metadata of mpesa.md §3."""
    response = push(receiver.url, amount=1500)

    assert response.response_code == "0"
    assert response.customer_message == "Success. Request accepted for processing"
    assert re.fullmatch(r"ws_CO_\d+", response.checkout_request_id)
    assert response.merchant_request_id

    [request] = receiver.wait_for(1)
    assert request["path"] == "/pay/stk/cb/test-token/"
    assert request["headers"]["Content-Type"] == "application/json"
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["MerchantRequestID"] == response.merchant_request_id
    assert callback["CheckoutRequestID"] == response.checkout_request_id
    assert callback["ResultCode"] == 0
    assert callback["ResultDesc"] == "The service request is processed successfully."
    items = items_by_name(callback)
    assert set(items) == {
        "Amount",
        "MpesaReceiptNumber",
        "Balance",
        "TransactionDate",
        "PhoneNumber",
    }
    assert Decimal(str(items["Amount"]["Value"])) == Decimal("1500")
    assert re.fullmatch(r"[A-Z][A-Z0-9]{9}", items["MpesaReceiptNumber"]["Value"])
    assert "Value" not in items["Balance"]
    assert isinstance(items["TransactionDate"]["Value"], int)
    assert re.fullmatch(r"20\d{12}", str(items["TransactionDate"]["Value"]))
    assert items["PhoneNumber"]["Value"] == int(PHONE)


def test_query_after_success_reports_paid(sim):
    """Once the customer has acted, the query says ResultCode 0."""
    response = push()

    result = query_until_final(response.checkout_request_id)

    assert result.pending is False
    assert result.result_code == 0
    assert result.paid is True
    assert result.merchant_request_id == response.merchant_request_id
    assert result.advice.status == "paid"


def test_query_before_the_customer_acts_is_pending(sim_with):
    """ "The transaction is being processed" (HTTP 500) is a pending result, not an error."""
    sim_with(callback_delay=30)
    response = push()

    result = daraja.stk_query(checkout_request_id=response.checkout_request_id)

    assert result.pending is True
    assert result.result_code is None
    assert result.paid is False
    assert result.result_desc == "The transaction is being processed"
    assert result.advice.status == "pending"


def test_query_for_an_unknown_checkout_request_is_a_bad_request(sim):
    """Daraja doesn't know the ID: a typed error, not a pending result."""
    with pytest.raises(DarajaBadRequest) as caught:
        daraja.stk_query(checkout_request_id="ws_CO_000000000000000000")

    assert caught.value.field == "CheckoutRequestID"


@pytest.mark.parametrize(
    ("suffix", "code", "desc"),
    [
        ("0001", 1, "The balance is insufficient for the transaction."),
        ("1032", 1032, "Request cancelled by user"),
        ("1037", 1037, "DS timeout user cannot be reached"),
        ("2001", 2001, "The initiator information is invalid."),
        ("0017", 17, "Rule limited."),
        ("1019", 1019, "Transaction has expired"),
    ],
)
def test_failure_outcome_arrives_by_callback_and_by_query(sim, receiver, suffix, code, desc):
    """Each scripted failure comes as a callback without metadata and as a query result."""
    phone = f"25471234{suffix}"
    response = push(receiver.url, phone=phone)

    [request] = receiver.wait_for(1)
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["CheckoutRequestID"] == response.checkout_request_id
    assert callback["ResultCode"] == code
    assert callback["ResultDesc"] == desc
    assert "CallbackMetadata" not in callback

    result = query_until_final(response.checkout_request_id)
    assert result.result_code == code
    assert result.result_desc == desc
    assert result.paid is False
    assert result.advice == describe_result(code=code)
    assert result.advice.status == "failed"


def test_no_callback_outcome_is_answered_by_the_query(sim, receiver):
    """For …0404 no callback ever arrives, but the query reports the payment."""
    response = push(receiver.url, phone="254712340404")

    result = query_until_final(response.checkout_request_id)

    assert result.paid is True
    assert receiver.wait_for(1, timeout=0.4) == []
    [sent] = sim.transactions()
    assert sent["callbacks"] == []


def test_duplicate_callback_outcome_posts_the_same_callback_twice(sim, receiver):
    """For …0202 two identical success callbacks arrive (same receipt)."""
    response = push(receiver.url, phone="254712340202")

    first, second = receiver.wait_for(2)

    assert first["body"] == second["body"]
    callback = first["body"]["Body"]["stkCallback"]
    assert callback["CheckoutRequestID"] == response.checkout_request_id
    assert callback["ResultCode"] == 0


def test_paybill_push_to_another_party_b_fails_with_2028(sim, receiver, settings):
    """A paybill push whose PartyB isn't the shortcode is accepted, then fails 2028."""
    settings.MPESA_PARTY_B = "600999"

    push(receiver.url)

    [request] = receiver.wait_for(1)
    assert request["body"]["Body"]["stkCallback"]["ResultCode"] == 2028
    assert describe_result(code=2028).alert_ops is True


def test_till_push_uses_buy_goods_and_the_till_number(sim_with, receiver, settings):
    """CustomerBuyGoodsOnline sends the till as PartyB and succeeds."""
    sim = sim_with(till_numbers={"5123456"})
    settings.MPESA_TRANSACTION_TYPE = "CustomerBuyGoodsOnline"
    settings.MPESA_PARTY_B = "5123456"

    push(receiver.url)

    [sent] = sim.transactions()
    assert sent["request"]["TransactionType"] == "CustomerBuyGoodsOnline"
    assert sent["request"]["PartyB"] == "5123456"
    assert sent["request"]["BusinessShortCode"] == CREDENTIALS["shortcode"]
    [request] = receiver.wait_for(1)
    assert request["body"]["Body"]["stkCallback"]["ResultCode"] == 0


def test_till_push_to_a_number_that_isnt_a_till_fails_with_2028(sim_with, receiver, settings):
    """A Buy Goods push naming the store number (not a till) as PartyB is accepted,
    then fails with 2028, as Daraja does."""
    sim_with(till_numbers={"5123456"})
    settings.MPESA_TRANSACTION_TYPE = "CustomerBuyGoodsOnline"
    settings.MPESA_PARTY_B = CREDENTIALS["shortcode"]

    response = push(receiver.url)

    [request] = receiver.wait_for(1)
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["ResultCode"] == 2028
    assert callback["ResultDesc"] == (
        "The request is not permitted according to product assignment."
    )
    assert "CallbackMetadata" not in callback
    assert query_until_final(response.checkout_request_id).result_code == 2028


def test_success_without_metadata_is_confirmed_by_query(sim, receiver):
    """For …0066 the callback says ResultCode 0 with no CallbackMetadata; the query
    says paid."""
    response = push(receiver.url, phone="254712340066")

    [request] = receiver.wait_for(1)
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["CheckoutRequestID"] == response.checkout_request_id
    assert callback["ResultCode"] == 0
    assert "CallbackMetadata" not in callback
    assert query_until_final(response.checkout_request_id).paid is True


# Refused pushes ------------------------------------------------------------------


def test_http_500_without_a_body_is_unavailable(sim):
    """A bare HTTP 500 becomes DarajaUnavailable with a readable message."""
    with pytest.raises(DarajaUnavailable) as caught:
        push(phone="254712340500")

    assert caught.value.http_status == 500
    assert caught.value.retryable is True
    assert "M-Pesa" in caught.value.shopper_message
    assert sim.transactions() == []


def test_spike_arrest_is_busy_and_retryable(sim):
    """500.003.02 Spike Arrest Violation becomes DarajaBusy."""
    with pytest.raises(DarajaBusy) as caught:
        push(phone="254712340429")

    assert caught.value.code == "500.003.02"
    assert caught.value.message == "Spike Arrest Violation"
    assert caught.value.retryable is True
    assert caught.value.shopper_message == "M-Pesa is busy right now. Please try again in a moment."


def test_locked_subscriber_asks_the_shopper_to_wait_a_minute(sim):
    """500.001.1001 "Unable to lock subscriber" becomes SubscriberLocked."""
    with pytest.raises(SubscriberLocked) as caught:
        push(phone="254712341001")

    assert caught.value.code == "500.001.1001"
    assert caught.value.retry_after_seconds == 60
    assert "open M-Pesa prompt" in caught.value.shopper_message


def test_slow_push_times_out_as_outcome_unknown(sim_with, settings):
    """A push slower than MPESA_TIMEOUT_SECONDS raises PushOutcomeUnknown (a
    DarajaUnavailable) promptly: it went out, so it may have been accepted."""
    sim_with(slow_seconds=3.0)
    settings.MPESA_TIMEOUT_SECONDS = 0.3
    daraja.get_access_token()  # fetch the token first so only the push is timed

    started = time.monotonic()
    with pytest.raises(DarajaUnavailable) as caught:
        push(phone="254712340999")

    assert type(caught.value) is PushOutcomeUnknown
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 2.0
    assert "prompt" in caught.value.shopper_message


def test_unreachable_daraja_is_unavailable(sim, settings):
    """Nothing listening on the base URL: DarajaUnavailable, not a requests error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.MPESA_BASE_URL = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(DarajaUnavailable) as caught:
        push()

    assert type(caught.value) is DarajaUnavailable
    assert caught.value.code == "connection_error"


def test_wrong_passkey_is_an_auth_error(sim, settings):
    """A Password Daraja can't verify ("Wrong credentials") is a configuration error."""
    settings.MPESA_PASSKEY = "not-the-passkey"

    with pytest.raises(DarajaAuthError) as caught:
        push()

    assert caught.value.code == "500.001.1001"
    assert caught.value.message == "Wrong credentials"
    assert caught.value.http_status == 500


def test_unknown_shortcode_is_an_auth_error(sim, settings):
    """Another shortcode: "Merchant does not exist"."""
    settings.MPESA_SHORTCODE = "600000"

    with pytest.raises(DarajaAuthError, match="Merchant does not exist"):
        push()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 0}, "Amount"),
        ({"amount": 250_001}, "Amount"),
        ({"amount": -5}, "Amount"),
        ({"phone": "0712345678"}, "PartyA"),
        ({"phone": "254812345678"}, "PartyA"),
        ({"phone": "2547123456789"}, "PartyA"),
        ({"account_reference": "A" * 13}, "AccountReference"),
        ({"account_reference": ""}, "AccountReference"),
        ({"description": "D" * 14}, "TransactionDesc"),
        ({"callback_url": "https://shop.example.co.ke/pay/stk/cb/t /"}, "CallBackURL"),
        ({"callback_url": " https://shop.example.co.ke/pay/stk/cb/t/"}, "CallBackURL"),
        ({"callback_url": "shop.example.co.ke/pay/stk/cb/t/"}, "CallBackURL"),
        ({"callback_url": "ftp://shop.example.co.ke/cb/"}, "CallBackURL"),
    ],
)
def test_invalid_field_is_a_bad_request(sim, overrides, field):
    """The simulator refuses the field with 400.002.02; the client raises DarajaBadRequest."""
    with pytest.raises(DarajaBadRequest) as caught:
        push(**overrides)

    assert caught.value.code == "400.002.02"
    assert caught.value.message == f"Bad Request - Invalid {field}"
    assert caught.value.field == field
    assert caught.value.http_status == 400
    assert caught.value.shopper_message
    assert sim.transactions() == []


def test_bad_phone_gets_a_shopper_message_about_the_number(sim):
    """An invalid number tells the shopper the number can't receive prompts."""
    with pytest.raises(DarajaBadRequest) as caught:
        push(phone="0712345678")

    assert caught.value.shopper_message.startswith("This number can't receive M-Pesa prompts")


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": 1},
        {"amount": 250_000},
        {"account_reference": "A" * 12},
        {"description": "D" * 13},
        {"description": ""},
        {"phone": "254112345678"},
    ],
)
def test_boundary_values_are_accepted(sim, overrides):
    """The limits themselves (KES 1 and 250,000, 12 and 13 characters, 2541…) pass."""
    assert push(**overrides).response_code == "0"


@pytest.mark.parametrize("amount", [10.5, 100.0, Decimal("100"), "100", True])
def test_non_int_amount_is_refused_before_calling_daraja(sim, amount):
    """Amounts are int whole shillings; anything else is a bug and never leaves the shop."""
    with pytest.raises(TypeError, match="whole shillings"):
        push(amount=amount)

    assert sim.tokens_issued() == 0


# Result codes -> shopper messages (mpesa.md §5) ---------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "can_retry", "wait", "alert_ops", "phrase"),
    [
        (0, "paid", False, 0, False, "Paid"),
        (1, "failed", True, 0, False, "top up"),
        (2, "failed", False, 0, True, "another way"),
        (3, "failed", False, 0, False, "card"),
        (4, "failed", False, 0, False, "daily"),
        (8, "failed", False, 0, True, "unavailable"),
        (17, "failed", True, 120, False, "2 minutes"),
        (26, "failed", True, 30, False, "busy"),
        (1001, "failed", True, 60, False, "open M-Pesa prompt"),
        (1019, "failed", True, 0, False, "expired"),
        (1025, "failed", True, 0, True, "reach your phone"),
        (1032, "failed", True, 0, False, "cancelled"),
        (1037, "failed", True, 0, False, "*234#"),
        (2001, "failed", True, 0, False, "Wrong M-Pesa PIN"),
        (2028, "failed", False, 0, True, "unavailable"),
        ("SFC_IC0003", "failed", False, 0, True, "unavailable"),
        (8006, "failed", False, 0, False, "100 or 200"),
        (9999, "failed", True, 0, False, "went wrong"),
        (None, "pending", False, 0, False, "PIN"),
        (424242, "failed", True, 0, True, "went wrong"),
    ],
)
def test_result_codes_map_to_shopper_messages_and_retry_advice(
    code, status, can_retry, wait, alert_ops, phrase
):
    """Each §5 code has its message, retry advice and ops flag; unknown codes alert ops."""
    advice = describe_result(code=code)

    assert advice.status == status
    assert advice.can_retry is can_retry
    assert advice.retry_after_seconds == wait
    assert advice.alert_ops is alert_ops
    assert phrase.lower() in advice.shopper_message.lower()


def test_query_string_codes_mean_the_same_as_callback_integers():
    """ "1032" from a query and 1032 from a callback give the same advice."""
    assert describe_result(code="1032") == describe_result(code=1032)
    assert describe_result(code=" 0 ").status == "paid"


def test_success_message_names_the_receipt():
    """The paid message shows the M-Pesa receipt when known."""
    assert describe_result(code=0, receipt="NLJ7RT61SV").shopper_message == (
        "Paid, receipt NLJ7RT61SV."
    )


def test_limited_retries_for_wrong_pin_and_generic_failures():
    """Wrong PIN may be retried a few times; 9999 and 1025 once."""
    assert describe_result(code=2001).max_retries == 3
    assert describe_result(code=9999).max_retries == 1
    assert describe_result(code=1025).max_retries == 1
    assert describe_result(code=1032).max_retries is None


# One deadline per call, and pushes whose outcome is unknown -----------------------
#
# A scripted stand-in for Daraja over real HTTP: each path answers after a
# delay, with a status and body, or hangs up after reading the request.

TIMEOUT = 2.0
MARGIN = 0.6  # thread start-up and a shared CI machine


@dataclass
class Answer:
    """What the scripted Daraja does with one request."""

    delay: float = 0.0
    status: int = 200
    body: dict | None = None
    hang_up: bool = False  # read the request, then close without answering
    half_answer: bool = False  # send the headers, then close mid-body


class ScriptedDaraja:
    """A real HTTP server standing in for Daraja, answering from a script per path."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Answer]] = {}
        self.received: list[tuple[str, float]] = []
        self.tokens = 0
        self.stopping = threading.Event()
        daraja_stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                daraja_stub.received.append((path, time.monotonic()))
                answer = daraja_stub.next_answer(path)
                if daraja_stub.stopping.wait(answer.delay):
                    return
                if answer.hang_up:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = json.dumps(daraja_stub.body_for(path, answer)).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header(
                    "Content-Length", str(len(payload) + (100 if answer.half_answer else 0))
                )
                self.end_headers()
                self.wfile.write(payload)
                if answer.half_answer:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

            def log_message(self, format: str, *args) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # the client gave up first: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def script(self, path: str, *answers: Answer) -> None:
        """Answer requests on *path* with *answers* in turn; the last one repeats."""
        self.scripts[path] = list(answers)

    def next_answer(self, path: str) -> Answer:
        answers = self.scripts.get(path) or [Answer()]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def body_for(self, path: str, answer: Answer) -> dict:
        if answer.body is not None:
            return answer.body
        if path == daraja.OAUTH_PATH:
            self.tokens += 1
            return {"access_token": f"token-{self.tokens}", "expires_in": "3599"}
        if path == daraja.STK_PUSH_PATH:
            return {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": "ws_CO_191220191020363925",
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        return {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successfully",
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": "0",
            "ResultDesc": "The service request is processed successfully.",
        }

    def paths(self) -> list[str]:
        """Return the paths of the requests received, in order."""
        return [path for path, _ in self.received]

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def scripted(settings):
    """Point the shop's Daraja settings at a scripted Daraja with a 2 s deadline."""
    stub = ScriptedDaraja()
    settings.MPESA_ENVIRONMENT = "sandbox"
    settings.MPESA_BASE_URL = stub.base_url
    settings.MPESA_CONSUMER_KEY = CREDENTIALS["consumer_key"]
    settings.MPESA_CONSUMER_SECRET = CREDENTIALS["consumer_secret"]
    settings.MPESA_PASSKEY = CREDENTIALS["passkey"]
    settings.MPESA_SHORTCODE = CREDENTIALS["shortcode"]
    settings.MPESA_PARTY_B = CREDENTIALS["shortcode"]
    settings.MPESA_TRANSACTION_TYPE = "CustomerPayBillOnline"
    settings.MPESA_TIMEOUT_SECONDS = TIMEOUT
    yield stub
    stub.stop()


def cache_a_token() -> None:
    """Store a token for the current MPESA_BASE_URL, so no OAuth call is needed."""
    far = timezone.now().timestamp() + 3000
    cache.set(daraja._token_cache_key(), {"access_token": "cached", "refresh_at": far}, 3599)


def timed(call):
    """Return (the exception *call* raised, the seconds it took)."""
    started = time.monotonic()
    with pytest.raises(DarajaError) as caught:
        call()
    return caught.value, time.monotonic() - started


def test_slow_token_and_slow_push_share_one_deadline(scripted):
    """Token 1.2 s + push 1.2 s with a 2 s deadline: the call ends at about 2 s, not 2.4 s
    or 4 s; the push went out, so its outcome is unknown."""
    scripted.script(daraja.OAUTH_PATH, Answer(delay=1.2))
    scripted.script(daraja.STK_PUSH_PATH, Answer(delay=1.2))

    error, elapsed = timed(push)

    assert type(error) is PushOutcomeUnknown
    assert error.code == "timeout"
    assert elapsed <= TIMEOUT + MARGIN
    assert scripted.paths() == [daraja.OAUTH_PATH, daraja.STK_PUSH_PATH]


def test_slow_token_and_push_within_the_deadline_succeed(scripted):
    """Token 0.6 s + push 0.6 s fit in 2 s: the push is accepted."""
    scripted.script(daraja.OAUTH_PATH, Answer(delay=0.6))
    scripted.script(daraja.STK_PUSH_PATH, Answer(delay=0.6))

    assert push().checkout_request_id == "ws_CO_191220191020363925"


def test_a_token_fetch_that_spends_the_deadline_sends_no_push(scripted):
    """The OAuth call times out: plain DarajaUnavailable (timeout) and no push is sent."""
    scripted.script(daraja.OAUTH_PATH, Answer(delay=3))

    error, elapsed = timed(push)

    assert type(error) is DarajaUnavailable
    assert error.code == "timeout"
    assert elapsed <= TIMEOUT + MARGIN
    assert scripted.paths() == [daraja.OAUTH_PATH]


def test_refresh_and_retry_after_an_invalid_token_share_the_deadline(scripted):
    """404.001.03 after 0.6 s, a new token after 0.6 s, then a push slower than what is
    left: the whole call still ends at about 2 s, the retried push's outcome unknown."""
    invalid = {"requestId": "1", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
    scripted.script(daraja.OAUTH_PATH, Answer(), Answer(delay=0.6))
    scripted.script(
        daraja.STK_PUSH_PATH, Answer(delay=0.6, status=404, body=invalid), Answer(delay=3)
    )

    error, elapsed = timed(push)

    assert type(error) is PushOutcomeUnknown
    assert elapsed <= TIMEOUT + MARGIN
    assert scripted.paths() == [daraja.OAUTH_PATH, daraja.STK_PUSH_PATH] * 2


def test_no_retry_is_sent_once_the_refresh_spends_the_deadline(scripted):
    """When the refreshed token comes too late, the push isn't sent again."""
    invalid = {"requestId": "1", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
    scripted.script(daraja.OAUTH_PATH, Answer(), Answer(delay=3))
    scripted.script(daraja.STK_PUSH_PATH, Answer(delay=0.4, status=404, body=invalid))

    error, elapsed = timed(push)

    assert type(error) is DarajaUnavailable
    assert error.code == "timeout"
    assert elapsed <= TIMEOUT + MARGIN
    assert scripted.paths() == [daraja.OAUTH_PATH, daraja.STK_PUSH_PATH, daraja.OAUTH_PATH]


def test_a_held_token_lock_doesnt_keep_a_caller_past_the_deadline(scripted):
    """Another worker holds the token lock and never finishes: the caller gives up at
    the deadline with DarajaUnavailable (timeout), having sent nothing."""
    cache.add(f"{daraja._token_cache_key()}:lock", "locked", timeout=60)

    error, elapsed = timed(push)

    assert type(error) is DarajaUnavailable
    assert error.code == "timeout"
    assert TIMEOUT - 0.1 <= elapsed <= TIMEOUT + MARGIN
    assert scripted.paths() == []

    error, elapsed = timed(daraja.get_access_token)
    assert type(error) is DarajaUnavailable
    assert elapsed <= TIMEOUT + MARGIN


def test_a_token_fetched_by_the_lock_holder_is_picked_up(scripted):
    """While another worker holds the lock, its token is used as soon as it is cached."""
    lock_key = f"{daraja._token_cache_key()}:lock"
    cache.add(lock_key, "locked", timeout=60)
    threading.Timer(0.3, cache_a_token).start()

    assert push().response_code == "0"
    assert scripted.paths() == [daraja.STK_PUSH_PATH]


def test_nothing_is_sent_when_the_deadline_is_spent(scripted):
    """A spent deadline raises before the request: plain DarajaUnavailable, even for a push."""
    with pytest.raises(DarajaUnavailable) as caught:
        daraja._request(
            "POST", daraja.STK_PUSH_PATH, deadline=daraja.Deadline(0), push=True, json={}
        )

    assert type(caught.value) is DarajaUnavailable
    assert caught.value.code == "timeout"
    assert scripted.paths() == []


def test_a_push_sent_and_never_answered_is_unknown(scripted):
    """A read timeout after the push went out: PushOutcomeUnknown, code timeout."""
    cache_a_token()
    scripted.script(daraja.STK_PUSH_PATH, Answer(delay=3))

    error, elapsed = timed(push)

    assert type(error) is PushOutcomeUnknown
    assert isinstance(error, DarajaUnavailable)
    assert error.code == "timeout"
    assert "may have been accepted" in error.message
    assert "prompt" in error.shopper_message
    assert elapsed <= TIMEOUT + MARGIN
    assert scripted.paths() == [daraja.STK_PUSH_PATH]


@pytest.mark.parametrize(
    "answer", [Answer(hang_up=True), Answer(half_answer=True)], ids=["hang-up", "half-answer"]
)
def test_a_push_whose_connection_drops_after_sending_is_unknown(scripted, answer):
    """Daraja read the push and closed the connection (or broke off its answer):
    PushOutcomeUnknown, code no_answer, at once and without a second push."""
    cache_a_token()
    scripted.script(daraja.STK_PUSH_PATH, answer)

    error, elapsed = timed(push)

    assert type(error) is PushOutcomeUnknown
    assert error.code == "no_answer"
    assert elapsed < TIMEOUT
    assert scripted.paths() == [daraja.STK_PUSH_PATH]


def test_a_refused_connection_fails_fast_and_is_not_unknown(scripted, settings):
    """A closed port: DarajaUnavailable (connection_error) at once, with or without a
    cached token; the push was certainly not sent."""
    settings.MPESA_TIMEOUT_SECONDS = 5
    scripted.stop()  # the port is closed now
    error, elapsed = timed(push)
    assert type(error) is DarajaUnavailable
    assert error.code == "connection_error"
    assert elapsed < 1

    cache_a_token()
    error, elapsed = timed(push)
    assert type(error) is DarajaUnavailable
    assert error.code == "connection_error"
    assert elapsed < 1


def test_a_connect_timeout_is_not_unknown(settings, scripted):
    """A host that never completes the TCP handshake (a full accept queue): the push
    never went out, so plain DarajaUnavailable (timeout) at the deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):  # fill the accept queue; further connections wait forever
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        queued.append(filler)
    try:
        settings.MPESA_BASE_URL = f"http://127.0.0.1:{port}"
        cache_a_token()

        error, elapsed = timed(push)
    finally:
        for sock in [*queued, listener]:
            sock.close()

    assert type(error) is DarajaUnavailable
    assert error.code == "timeout"
    assert elapsed <= TIMEOUT + MARGIN


def test_a_dns_failure_is_not_unknown(settings, scripted):
    """A name that doesn't resolve: the push was never sent."""
    settings.MPESA_BASE_URL = "http://daraja.invalid"
    cache_a_token()

    error, _ = timed(push)

    assert type(error) is DarajaUnavailable
    assert error.code == "connection_error"


def test_a_token_fetch_cut_off_is_not_unknown(scripted):
    """The OAuth call hangs up: DarajaUnavailable, and no push is sent."""
    scripted.script(daraja.OAUTH_PATH, Answer(hang_up=True))

    error, _ = timed(push)

    assert type(error) is DarajaUnavailable
    assert error.code == "connection_error"
    assert scripted.paths() == [daraja.OAUTH_PATH]


def test_a_bare_5xx_push_answer_is_unavailable_not_unknown(scripted):
    """HTTP 503 without a Daraja body is an answer: plain DarajaUnavailable."""
    cache_a_token()
    scripted.script(daraja.STK_PUSH_PATH, Answer(status=503, body={}))

    error, _ = timed(push)

    assert type(error) is DarajaUnavailable
    assert error.http_status == 503


@pytest.mark.parametrize(
    "answer", [Answer(delay=3), Answer(hang_up=True)], ids=["read-timeout", "hang-up"]
)
def test_a_query_never_raises_push_outcome_unknown(scripted, answer):
    """A query that times out or is cut off is plain DarajaUnavailable, within the deadline."""
    cache_a_token()
    scripted.script(daraja.STK_QUERY_PATH, answer)

    error, elapsed = timed(lambda: daraja.stk_query(checkout_request_id="ws_CO_1"))

    assert type(error) is DarajaUnavailable
    assert elapsed <= TIMEOUT + MARGIN


def test_a_slow_push_the_client_gave_up_on_is_still_paid(sim_with, settings, receiver):
    """The simulator's …0999 push answers after the client gave up (PushOutcomeUnknown),
    yet it is accepted: the success callback arrives and the query reports it paid."""
    sim = sim_with(slow_seconds=0.6)
    settings.MPESA_TIMEOUT_SECONDS = 0.3
    daraja.get_access_token()

    with pytest.raises(PushOutcomeUnknown):
        push(receiver.url, phone="254712340999")

    [request] = receiver.wait_for(1)
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["ResultCode"] == 0
    assert {"Amount", "MpesaReceiptNumber", "PhoneNumber"} <= set(items_by_name(callback))
    [sent] = sim.transactions()
    assert sent["checkout_request_id"] == callback["CheckoutRequestID"]
    settings.MPESA_TIMEOUT_SECONDS = 5
    assert daraja.stk_query(checkout_request_id=callback["CheckoutRequestID"]).paid is True
