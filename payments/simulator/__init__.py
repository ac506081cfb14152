r"""A local Daraja (M-Pesa STK Push) simulator for development and tests.

A separate, small WSGI app on the standard library's threaded server. It has no
access to the shop's database or Django and keeps its state in memory. The
shop's client (``payments.daraja``) talks to it exactly as it talks to
Safaricom: only ``MPESA_BASE_URL`` and the credentials differ.

Run it with ``python -m payments.simulator --host 127.0.0.1 --port 8001``
(``scripts/dev.py`` does), or in tests with
``server, base_url = start_simulator(callback_delay=0.2)`` and ``server.stop()``.

Daraja endpoints (docs/mpesa.md §1-§4):

- ``GET /oauth/v1/generate?grant_type=client_credentials`` with Basic auth:
  ``{"access_token", "expires_in": "3599"}``; a non-Basic header or bad
  credentials give ``400.008.01``, another grant type ``400.008.02``. Each new
  token invalidates the previous one, as Daraja's FAQ says.
- ``POST /mpesa/stkpush/v1/processrequest`` with a Bearer token: a missing
  header gives ``404.001.04``, an unknown or expired token ``404.001.03``, a
  missing JSON Content-Type ``400.002.02 Invalid BusinessShortCode`` (Daraja's
  FAQ), an unknown shortcode ``500.001.1001 Merchant does not exist``, a
  Password other than base64(BusinessShortCode+Passkey+Timestamp)
  ``500.001.1001 Wrong credentials``, and ``400.002.02 Bad Request - Invalid X``
  for a bad Timestamp, TransactionType, Amount (whole number 1-250,000),
  PartyA/PhoneNumber (``^254[17]\d{8}$``), PartyB, CallBackURL (absolute
  http(s), no spaces), AccountReference (1-12 characters) or TransactionDesc
  (at most 13). A TransactionType/PartyB pair that doesn't match is accepted
  and then fails with ResultCode 2028 "The request is not permitted according
  to product assignment" (callback and query), as Daraja does (mpesa.md §2,
  §5): a ``CustomerPayBillOnline`` push whose PartyB isn't the shortcode
  (``paybill_mismatch``), or a ``CustomerBuyGoodsOnline`` push whose PartyB
  isn't one of ``SimulatorConfig.till_numbers`` (``till_mismatch``; default
  ``{"600100"}``, ``--till-number`` on the command line; for a till the
  BusinessShortCode is the store number, ``shortcode``, and PartyB the till).
- ``POST /mpesa/stkpushquery/v1/query``: HTTP 500 ``500.001.1001 The
  transaction is being processed`` until the customer "acts" (``callback_delay``
  seconds after the push), then ResultCode/ResultDesc as strings.

After ``callback_delay`` seconds the simulator POSTs the STK callback to the
CallBackURL with ``requests``: success with CallbackMetadata (Amount,
MpesaReceiptNumber, Balance without a Value, TransactionDate, PhoneNumber),
failures without it (and the ``…0066`` success without it too).

The ``…0999`` push is accepted only after ``slow_seconds``, whether or not the
client is still waiting: a client that timed out never learns its
CheckoutRequestID, but the phone is "paid", the callback arrives and the query
answers for it, as when Daraja's answer is lost on the way.

Not Daraja: ``GET /simulator/transactions`` lists the tokens issued, every
accepted push and each callback delivery (status or error), for tests and
humans.

The outcome is chosen by the payer's number (PartyA), by its last four digits
(``outcome_table()`` returns this table for the README):

| Payer number (PartyA) | Outcome | What happens |
|---|---|---|
| `2547xxxx0001` | `insufficient_funds` | Callback and query: ResultCode 1, balance too low. |
| `2547xxxx0017` | `rule_limited` | Callback and query: ResultCode 17, rule limited. |
| `2547xxxx1019` | `expired` | Callback and query: ResultCode 1019, transaction expired. |
| `2547xxxx1032` | `cancelled` | Callback and query: ResultCode 1032, cancelled by the user. |
| `2547xxxx1037` | `timeout` | Callback and query: ResultCode 1037, phone unreachable. |
| `2547xxxx2001` | `wrong_pin` | Callback and query: ResultCode 2001, wrong PIN. |
| `2547xxxx0404` | `no_callback` | Paid, but no callback is sent; the query says ResultCode 0. |
| `2547xxxx0202` | `duplicate_callback` | Paid; the same success callback is POSTed twice. |
| `2547xxxx0500` | `push_http_500` | Push fails: HTTP 500, empty body; nothing is recorded. |
| `2547xxxx0429` | `spike_arrest` | Push fails: HTTP 500, 500.003.02 Spike Arrest Violation. |
| `2547xxxx1001` | `locked` | Push fails: HTTP 500, 500.001.1001 Unable to lock subscriber. |
| `2547xxxx0999` | `slow_push` | Answers after `slow_seconds`; paid even if the client gave up. |
| `2547xxxx0066` | `success_without_metadata` | Paid; callback without CallbackMetadata; query: 0. |
| anything else | `success` | Paid: callback with a receipt; query says ResultCode 0. |
"""

from .app import Simulator, SimulatorConfig
from .outcomes import Outcome, outcome_for_phone, outcome_table, outcomes
from .server import SimulatorServer, make_server, start_simulator

__all__ = [
    "Outcome",
    "Simulator",
    "SimulatorConfig",
    "SimulatorServer",
    "make_server",
    "outcome_for_phone",
    "outcome_table",
    "outcomes",
    "start_simulator",
]
