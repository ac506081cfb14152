"""The simulator on its own, spoken to with raw HTTP as Daraja would be."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

import payments.simulator as simulator_package
from payments.simulator import outcome_for_phone, outcome_table, outcomes

from .simulators import CREDENTIALS

NAIROBI = ZoneInfo("Africa/Nairobi")
ROOT = Path(__file__).resolve().parents[2]


def nairobi_timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def password(timestamp: str, *, passkey: str = CREDENTIALS["passkey"]) -> str:
    raw = f"{CREDENTIALS['shortcode']}{passkey}{timestamp}"
    return base64.b64encode(raw.encode()).decode()


def get_token(base_url: str) -> str:
    response = requests.get(
        f"{base_url}/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        auth=(CREDENTIALS["consumer_key"], CREDENTIALS["consumer_secret"]),
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["access_token"]


def push_body(**overrides) -> dict:
    timestamp = overrides.pop("Timestamp") if "Timestamp" in overrides else nairobi_timestamp()
    body = {
        "BusinessShortCode": CREDENTIALS["shortcode"],
        "Password": password(timestamp),
        "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 10,
        "PartyA": "254708374149",
        "PartyB": CREDENTIALS["shortcode"],
        "PhoneNumber": "254708374149",
        "CallBackURL": "https://shop.example.co.ke/pay/stk/cb/t/",
        "AccountReference": "ORD-1",
        "TransactionDesc": "Order",
    }
    body.update(overrides)
    return body


def post(base_url: str, path: str, body: dict, *, token: str, **kwargs) -> requests.Response:
    return requests.post(
        f"{base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        timeout=5,
        **kwargs,
    )


def stk_push(simulator, body: dict, token: str | None = None) -> requests.Response:
    token = token or get_token(simulator.base_url)
    return post(simulator.base_url, "/mpesa/stkpush/v1/processrequest", body, token=token)


def assert_daraja_error(response: requests.Response, status: int, code: str, message: str):
    assert response.status_code == status
    body = response.json()
    assert body["errorCode"] == code
    assert body["errorMessage"] == message
    assert body["requestId"]


# Outcome table ----------------------------------------------------------------------


def test_outcome_table_is_the_one_in_the_module_docstring():
    """The documented table and outcome_table() can't drift apart."""
    assert outcome_table() in simulator_package.__doc__


def test_outcome_suffixes_are_unique_four_digit_strings():
    """Every scripted suffix is four digits and used once."""
    suffixes = [outcome.suffix for outcome in outcomes() if outcome.suffix]

    assert len(suffixes) == len(set(suffixes))
    assert all(re.fullmatch(r"\d{4}", suffix) for suffix in suffixes)


@pytest.mark.parametrize(
    ("phone", "name"),
    [
        ("254712340001", "insufficient_funds"),
        ("254712341032", "cancelled"),
        ("254712341037", "timeout"),
        ("254712342001", "wrong_pin"),
        ("254712340404", "no_callback"),
        ("254712340202", "duplicate_callback"),
        ("254712340500", "push_http_500"),
        ("254712340429", "spike_arrest"),
        ("254712341001", "locked"),
        ("254712340999", "slow_push"),
        ("254712340066", "success_without_metadata"),
        ("254708374149", "success"),
        ("254712340000", "success"),
        ("254712349001", "success"),
    ],
)
def test_outcome_is_chosen_by_the_last_four_digits(phone, name):
    """The payer's last four digits pick the outcome; anything else succeeds."""
    assert outcome_for_phone(phone=phone).name == name


# OAuth ------------------------------------------------------------------------------


def test_oauth_returns_a_token_with_string_expires_in(simulator):
    """Daraja's shape: access_token and expires_in "3599" (a string)."""
    response = requests.get(
        f"{simulator.base_url}/oauth/v1/generate?grant_type=client_credentials",
        auth=(CREDENTIALS["consumer_key"], CREDENTIALS["consumer_secret"]),
        timeout=5,
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == "3599"
    assert re.fullmatch(r"[A-Za-z0-9]{28}", body["access_token"])


@pytest.mark.parametrize(
    ("headers", "query", "code", "message"),
    [
        ({}, "grant_type=client_credentials", "400.008.01", "Invalid Authentication passed"),
        (
            {"Authorization": "Bearer abc"},
            "grant_type=client_credentials",
            "400.008.01",
            "Invalid Authentication passed",
        ),
        (None, "grant_type=password", "400.008.02", "Invalid grant type passed"),
        (None, "", "400.008.02", "Invalid grant type passed"),
        ("wrong", "grant_type=client_credentials", "400.008.01", "Invalid Authentication passed"),
        (
            {"Authorization": "Basic !!!not-base64"},
            "grant_type=client_credentials",
            "400.008.01",
            "Invalid Authentication passed",
        ),
    ],
)
def test_oauth_errors_have_daraja_codes(simulator, headers, query, code, message):
    """Non-Basic auth, bad credentials and another grant type get Daraja's error bodies."""
    auth = None
    if headers is None:
        headers, auth = {}, (CREDENTIALS["consumer_key"], CREDENTIALS["consumer_secret"])
    elif headers == "wrong":
        headers, auth = {}, (CREDENTIALS["consumer_key"], "wrong-secret")

    response = requests.get(
        f"{simulator.base_url}/oauth/v1/generate?{query}", headers=headers, auth=auth, timeout=5
    )

    assert_daraja_error(response, 400, code, message)


def test_new_token_invalidates_the_previous_one(simulator):
    """Daraja's FAQ: each token request invalidates the previous token."""
    old = get_token(simulator.base_url)
    new = get_token(simulator.base_url)

    refused = stk_push(simulator, push_body(), token=old)
    accepted = stk_push(simulator, push_body(), token=new)

    assert_daraja_error(refused, 404, "404.001.03", "Invalid Access Token")
    assert accepted.status_code == 200


def test_tokens_can_coexist_when_invalidation_is_off(start_sim):
    """With invalidate_previous_tokens=False, older tokens stay valid."""
    simulator = start_sim(invalidate_previous_tokens=False)
    old = get_token(simulator.base_url)
    get_token(simulator.base_url)

    assert stk_push(simulator, push_body(), token=old).status_code == 200


def test_expired_token_is_invalid(start_sim):
    """A token past its lifetime gets 404.001.03."""
    simulator = start_sim(token_ttl=0)

    response = stk_push(simulator, push_body())

    assert_daraja_error(response, 404, "404.001.03", "Invalid Access Token")


def test_push_without_bearer_header_is_refused(simulator):
    """No Authorization header: 404.001.04."""
    response = requests.post(
        f"{simulator.base_url}/mpesa/stkpush/v1/processrequest", json=push_body(), timeout=5
    )

    assert_daraja_error(response, 404, "404.001.04", "Invalid Authentication Header")


# STK push validation ----------------------------------------------------------------


def test_push_success_body_and_unique_ids(simulator):
    """The sync success body of mpesa.md §2, with fresh IDs on every push."""
    token = get_token(simulator.base_url)

    first = stk_push(simulator, push_body(), token).json()
    second = stk_push(simulator, push_body(), token).json()

    assert set(first) == {
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    }
    assert first["ResponseCode"] == "0"
    assert first["ResponseDescription"] == "Success. Request accepted for processing"
    assert first["CustomerMessage"] == "Success. Request accepted for processing"
    assert re.fullmatch(r"ws_CO_\d{20}", first["CheckoutRequestID"])
    assert re.fullmatch(r"\d{5}-\d+-1", first["MerchantRequestID"])
    assert first["CheckoutRequestID"] != second["CheckoutRequestID"]
    assert first["MerchantRequestID"] != second["MerchantRequestID"]


def test_wrong_password_is_wrong_credentials(simulator):
    """A Password not built from shortcode+passkey+timestamp: 500.001.1001."""
    timestamp = nairobi_timestamp()
    body = push_body(Timestamp=timestamp, Password=password(timestamp, passkey="other"))

    assert_daraja_error(stk_push(simulator, body), 500, "500.001.1001", "Wrong credentials")


def test_password_for_another_timestamp_is_wrong_credentials(simulator):
    """The Password must use the body's own Timestamp."""
    body = push_body(Timestamp="20250302003005", Password=password("20250302003006"))

    assert_daraja_error(stk_push(simulator, body), 500, "500.001.1001", "Wrong credentials")


@pytest.mark.parametrize(
    "timestamp",
    ["2025-03-02 00:30:05", "20251302003005", "20250230003005", "2025030200300", "abc", ""],
)
def test_bad_timestamp_is_refused(simulator, timestamp):
    """Anything but a real YYYYMMDDHHmmss gets Invalid Timestamp (before the password)."""
    body = push_body(Timestamp=timestamp, Password=password(timestamp))

    response = stk_push(simulator, body)

    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid Timestamp")


def test_utc_timestamp_is_refused_when_the_clock_is_checked(start_sim):
    """With timestamp_tolerance set, a UTC wall-clock Timestamp (3 h behind) is refused."""
    simulator = start_sim(timestamp_tolerance=600)
    utc_wall_clock = datetime.now(UTC).strftime("%Y%m%d%H%M%S")

    refused = stk_push(simulator, push_body(Timestamp=utc_wall_clock))
    accepted = stk_push(simulator, push_body(Timestamp=nairobi_timestamp()))

    assert_daraja_error(refused, 400, "400.002.02", "Bad Request - Invalid Timestamp")
    assert accepted.status_code == 200


def test_any_valid_timestamp_passes_without_tolerance(simulator):
    """By default only the format is checked (Daraja documents no tolerance)."""
    old = nairobi_timestamp(datetime.now(UTC) - timedelta(days=400))

    assert stk_push(simulator, push_body(Timestamp=old)).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"Amount": 0}, "Amount"),
        ({"Amount": 250_001}, "Amount"),
        ({"Amount": 10.5}, "Amount"),
        ({"Amount": "10.5"}, "Amount"),
        ({"Amount": True}, "Amount"),
        ({"Amount": None}, "Amount"),
        ({"PartyA": "0712345678"}, "PartyA"),
        ({"PartyA": "254912345678"}, "PartyA"),
        ({"PhoneNumber": "25470837414"}, "PhoneNumber"),
        ({"PartyB": "12"}, "PartyB"),
        ({"TransactionType": "CustomerPayBill"}, "TransactionType"),
        ({"AccountReference": "A" * 13}, "AccountReference"),
        ({"AccountReference": 12345}, "AccountReference"),
        ({"TransactionDesc": "D" * 14}, "TransactionDesc"),
        ({"CallBackURL": "https://shop.example.co.ke/cb /"}, "CallBackURL"),
        ({"CallBackURL": "https://shop.example.co.ke/cb/\n"}, "CallBackURL"),
        ({"CallBackURL": "/pay/stk/cb/t/"}, "CallBackURL"),
        ({"CallBackURL": "https://shop.example.co.ke:99999/cb/"}, "CallBackURL"),
        ({"BusinessShortCode": "12"}, "BusinessShortCode"),
    ],
)
def test_invalid_field_gets_400_002_02(simulator, overrides, field):
    """Each field rule of mpesa.md §2 answers "Bad Request - Invalid <field>"."""
    response = stk_push(simulator, push_body(**overrides))

    assert_daraja_error(response, 400, "400.002.02", f"Bad Request - Invalid {field}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"Amount": 1},
        {"Amount": 250_000},
        {"Amount": "100"},
        {"Amount": 100.0},
        {"PartyA": "254112345678", "PhoneNumber": "254112345678"},
        {"PartyA": 254708374149, "PhoneNumber": 254708374149},
        {"AccountReference": "A" * 12},
        {"TransactionDesc": "D" * 13},
        {"CallBackURL": "http://127.0.0.1:8000/pay/stk/cb/t/"},
    ],
)
def test_valid_edge_values_are_accepted(simulator, overrides):
    """Limits, numeric strings, integral floats and numeric phones pass, as on Daraja."""
    assert stk_push(simulator, push_body(**overrides)).status_code == 200


def test_unknown_shortcode_is_merchant_does_not_exist(simulator):
    """A well-formed shortcode other than ours: 500.001.1001 Merchant does not exist."""
    timestamp = nairobi_timestamp()
    encoded = base64.b64encode(f"600999{CREDENTIALS['passkey']}{timestamp}".encode()).decode()
    body = push_body(BusinessShortCode="600999", Timestamp=timestamp, Password=encoded)

    assert_daraja_error(stk_push(simulator, body), 500, "500.001.1001", "Merchant does not exist")


def test_missing_content_type_is_invalid_business_short_code(simulator):
    """Daraja's FAQ quirk: without a JSON Content-Type, "Invalid BusinessShortCode"."""
    response = requests.post(
        f"{simulator.base_url}/mpesa/stkpush/v1/processrequest",
        data=json.dumps(push_body()),
        headers={"Authorization": f"Bearer {get_token(simulator.base_url)}"},
        timeout=5,
    )

    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode")


def test_wrong_method_and_unknown_path(simulator):
    """GET on the push endpoint is 405.001; an unknown path is 404.001.01."""
    wrong_method = requests.get(f"{simulator.base_url}/mpesa/stkpush/v1/processrequest", timeout=5)
    unknown = requests.get(f"{simulator.base_url}/mpesa/nothing", timeout=5)

    assert_daraja_error(wrong_method, 405, "405.001", "Method Not Allowed")
    assert_daraja_error(unknown, 404, "404.001.01", "Resource not found")


# Push outcomes that fail synchronously ------------------------------------------------


def test_http_500_outcome_has_an_empty_body(simulator):
    """…0500: HTTP 500 with no body, and nothing recorded."""
    response = stk_push(simulator, push_body(PartyA="254712340500", PhoneNumber="254712340500"))

    assert response.status_code == 500
    assert response.content == b""
    assert simulator.transactions() == []


def test_spike_arrest_outcome(simulator):
    """…0429: HTTP 500, 500.003.02 Spike Arrest Violation."""
    response = stk_push(simulator, push_body(PartyA="254712340429", PhoneNumber="254712340429"))

    assert_daraja_error(response, 500, "500.003.02", "Spike Arrest Violation")


def test_slow_push_answers_after_slow_seconds_and_is_accepted(start_sim):
    """…0999: the push waits slow_seconds, then is accepted (as a real slow Daraja may)."""
    simulator = start_sim(slow_seconds=0.4)
    token = get_token(simulator.base_url)
    started = time.monotonic()

    response = stk_push(
        simulator, push_body(PartyA="254712340999", PhoneNumber="254712340999"), token
    )

    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200
    assert len(simulator.transactions()) == 1


def test_slow_push_is_accepted_and_paid_after_the_client_gave_up(start_sim, receiver):
    """…0999: a client that stops waiting doesn't stop the push. It is accepted after
    slow_seconds, the success callback (with metadata) arrives, and the query answers
    for its CheckoutRequestID."""
    simulator = start_sim(slow_seconds=0.4)
    token = get_token(simulator.base_url)
    body = push_body(
        PartyA="254712340999", PhoneNumber="254712340999", Amount=1500, CallBackURL=receiver.url
    )
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{simulator.base_url}/mpesa/stkpush/v1/processrequest",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.1,
        )

    [request] = receiver.wait_for(1, timeout=3)
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["ResultCode"] == 0
    items = {item["Name"]: item.get("Value") for item in callback["CallbackMetadata"]["Item"]}
    assert items["Amount"] == 1500
    assert re.fullmatch(r"[A-Z][A-Z0-9]{9}", items["MpesaReceiptNumber"])
    assert items["PhoneNumber"] == 254712340999
    [transaction] = simulator.transactions()
    assert transaction["checkout_request_id"] == callback["CheckoutRequestID"]
    answer = query(simulator, callback["CheckoutRequestID"], token)
    assert answer.status_code == 200
    assert answer.json()["ResultCode"] == "0"


def test_validation_comes_before_the_scripted_outcome(simulator):
    """A scripted number still gets field validation first."""
    body = push_body(PartyA="254712340429", PhoneNumber="254712340429", Amount=0)
    response = stk_push(simulator, body)

    assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid Amount")


# Success without metadata, and PartyB checks ------------------------------------------


def test_success_without_metadata_has_no_callback_metadata_but_the_query_says_paid(
    start_sim, receiver
):
    """…0066: the callback has ResultCode 0 and no CallbackMetadata (no Item list);
    the query says ResultCode "0"."""
    simulator = start_sim()
    token = get_token(simulator.base_url)
    body = push_body(PartyA="254712340066", PhoneNumber="254712340066", CallBackURL=receiver.url)
    checkout = stk_push(simulator, body, token).json()["CheckoutRequestID"]

    [request] = receiver.wait_for(1)
    assert request["body"] == {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": request["body"]["Body"]["stkCallback"]["MerchantRequestID"],
                "CheckoutRequestID": checkout,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
            }
        }
    }
    answer = query(simulator, checkout, token)
    assert answer.json()["ResultCode"] == "0"


NOT_PERMITTED = "The request is not permitted according to product assignment."


def till_push(**overrides) -> dict:
    return push_body(TransactionType="CustomerBuyGoodsOnline", **overrides)


def result_of(simulator, body: dict, receiver) -> dict:
    """Push *body*, then return its callback (it must be accepted first)."""
    response = stk_push(simulator, {**body, "CallBackURL": receiver.url})
    assert response.status_code == 200
    [request] = receiver.wait_for(1)
    return request["body"]["Body"]["stkCallback"]


def test_buy_goods_push_to_a_till_number_is_paid(start_sim, receiver):
    """A Buy Goods push with the store number as BusinessShortCode and the default
    demo till (600100) as PartyB succeeds."""
    simulator = start_sim()

    callback = result_of(simulator, till_push(PartyB="600100"), receiver)

    assert callback["ResultCode"] == 0
    assert "CallbackMetadata" in callback


@pytest.mark.parametrize("party_b", [CREDENTIALS["shortcode"], "600999"])
def test_buy_goods_push_to_a_number_that_isnt_a_till_fails_with_2028(start_sim, receiver, party_b):
    """PartyB the store number, or any number not among the tills: accepted, then
    ResultCode 2028 in the callback (no metadata) and the query."""
    simulator = start_sim()
    token = get_token(simulator.base_url)
    response = stk_push(simulator, till_push(PartyB=party_b, CallBackURL=receiver.url), token)
    assert response.status_code == 200

    [request] = receiver.wait_for(1)
    callback = request["body"]["Body"]["stkCallback"]
    assert callback["ResultCode"] == 2028
    assert callback["ResultDesc"] == NOT_PERMITTED
    assert "CallbackMetadata" not in callback
    [transaction] = simulator.transactions()
    assert transaction["outcome"] == "till_mismatch"
    answer = query(simulator, response.json()["CheckoutRequestID"], token).json()
    assert (answer["ResultCode"], answer["ResultDesc"]) == ("2028", NOT_PERMITTED)


def test_till_numbers_are_configurable(start_sim, receiver):
    """SimulatorConfig.till_numbers replaces the demo till."""
    simulator = start_sim(till_numbers={"5123456"})

    assert result_of(simulator, till_push(PartyB="5123456"), receiver)["ResultCode"] == 0


def test_paybill_push_to_a_till_number_fails_with_2028(start_sim, receiver):
    """A Paybill push must name the shortcode as PartyB, even if PartyB is a till."""
    simulator = start_sim()

    callback = result_of(simulator, push_body(PartyB="600100"), receiver)

    assert callback["ResultCode"] == 2028


def test_command_line_till_numbers(monkeypatch):
    """--till-number (repeatable) sets the tills; without it the shop's Buy Goods
    MPESA_PARTY_B is the till, else the demo till."""
    from payments.simulator.__main__ import parse_args

    monkeypatch.delenv("MPESA_TRANSACTION_TYPE", raising=False)
    monkeypatch.delenv("MPESA_PARTY_B", raising=False)
    assert parse_args([]).till_numbers == ["600100"]
    assert parse_args(["--till-number", "5123456", "--till-number", "7654321"]).till_numbers == [
        "5123456",
        "7654321",
    ]
    monkeypatch.setenv("MPESA_TRANSACTION_TYPE", "CustomerBuyGoodsOnline")
    monkeypatch.setenv("MPESA_PARTY_B", "5123456")
    assert parse_args([]).till_numbers == ["5123456"]


# Query ------------------------------------------------------------------------------


def query(simulator, checkout_request_id: str, token: str) -> requests.Response:
    timestamp = nairobi_timestamp()
    body = {
        "BusinessShortCode": CREDENTIALS["shortcode"],
        "Password": password(timestamp),
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_request_id,
    }
    return post(simulator.base_url, "/mpesa/stkpushquery/v1/query", body, token=token)


def test_query_is_being_processed_then_reports_string_codes(start_sim):
    """HTTP 500 "being processed" until the customer acts; then ResultCode as a string."""
    simulator = start_sim(callback_delay=0.3)
    token = get_token(simulator.base_url)
    body = push_body(PartyA="254712341032", PhoneNumber="254712341032")
    checkout = stk_push(simulator, body, token).json()

    waiting = query(simulator, checkout["CheckoutRequestID"], token)
    time.sleep(0.4)
    done = query(simulator, checkout["CheckoutRequestID"], token)

    assert_daraja_error(waiting, 500, "500.001.1001", "The transaction is being processed")
    assert done.status_code == 200
    assert done.json() == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": checkout["MerchantRequestID"],
        "CheckoutRequestID": checkout["CheckoutRequestID"],
        "ResultCode": "1032",
        "ResultDesc": "Request cancelled by user",
    }


def test_query_checks_the_password_too(simulator):
    """The query's Password is validated like the push's."""
    token = get_token(simulator.base_url)
    checkout = stk_push(simulator, push_body(), token).json()["CheckoutRequestID"]
    timestamp = nairobi_timestamp()
    body = {
        "BusinessShortCode": CREDENTIALS["shortcode"],
        "Password": password(timestamp, passkey="other"),
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout,
    }

    response = post(simulator.base_url, "/mpesa/stkpushquery/v1/query", body, token=token)

    assert_daraja_error(response, 500, "500.001.1001", "Wrong credentials")


# Callbacks and introspection ----------------------------------------------------------


def test_introspection_lists_pushes_and_callback_deliveries(simulator, receiver):
    """GET /simulator/transactions shows each push and each callback's delivery."""
    token = get_token(simulator.base_url)
    ok = stk_push(simulator, push_body(CallBackURL=receiver.url), token).json()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    failed = stk_push(
        simulator, push_body(CallBackURL=f"http://127.0.0.1:{closed}/cb/"), token
    ).json()
    receiver.wait_for(1)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        snapshot = simulator.snapshot()
        if all(t["callbacks"] for t in snapshot["transactions"]):
            break
        time.sleep(0.05)

    by_id = {t["checkout_request_id"]: t for t in snapshot["transactions"]}
    assert snapshot["tokens_issued"] == 1
    assert by_id[ok["CheckoutRequestID"]]["callbacks"][0]["status_code"] == 200
    assert by_id[ok["CheckoutRequestID"]]["status"] == "decided"
    assert "Password" not in by_id[ok["CheckoutRequestID"]]["request"]
    assert "ConnectionError" in by_id[failed["CheckoutRequestID"]]["callbacks"][0]["error"]


def test_stopping_cancels_pending_callbacks(start_sim, receiver):
    """A simulator stopped before the delay sends nothing afterwards."""
    simulator = start_sim(callback_delay=0.3)
    stk_push(simulator, push_body(CallBackURL=receiver.url))

    simulator.server.stop()

    assert receiver.wait_for(1, timeout=0.6) == []


def test_stop_interrupts_a_sleeping_slow_push(start_sim):
    """Stopping doesn't wait out slow_seconds."""
    simulator = start_sim(slow_seconds=30)
    token = get_token(simulator.base_url)
    body = push_body(PartyA="254712340999", PhoneNumber="254712340999")
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{simulator.base_url}/mpesa/stkpush/v1/processrequest",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.2,
        )

    started = time.monotonic()
    simulator.server.stop()

    assert time.monotonic() - started < 2


# Running it as a program --------------------------------------------------------------


def test_runs_as_python_dash_m_and_stops_on_ctrl_c():
    """``python -m payments.simulator`` serves Daraja and exits cleanly on SIGINT."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "MPESA_CONSUMER_KEY": "cli-key", "MPESA_CONSUMER_SECRET": "cli"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "payments.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--callback-delay",
            "0.1",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        response = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/oauth/v1/generate?grant_type=client_credentials",
                    auth=("cli-key", "cli"),
                    timeout=1,
                )
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert response is not None
        assert response.status_code == 200
        assert response.json()["expires_in"] == "3599"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert b"Daraja simulator on http://127.0.0.1:" in output
    assert b"2547xxxx1032" in output
