"""Which outcome the simulator plays for a payer, chosen by the number's last four digits."""

from __future__ import annotations

from dataclasses import dataclass

SUCCESS_DESC = "The service request is processed successfully."


@dataclass(frozen=True)
class Outcome:
    """One scripted behaviour of the simulator.

    ``push_status``/``push_error`` make the push itself fail (``push_error`` of
    ``None`` with a status means a bare body, as from a gateway). Otherwise the
    push is accepted, ``result_code``/``result_desc`` become the result after the
    callback delay, and ``callbacks`` copies of the callback are POSTed; a
    success callback carries ``CallbackMetadata`` unless ``metadata`` is false.
    ``slow`` keeps the push waiting ``slow_seconds`` before it is accepted and
    answered; it is accepted (and its callback sent) even when the client has
    stopped waiting.
    """

    suffix: str
    name: str
    summary: str
    result_code: int = 0
    result_desc: str = SUCCESS_DESC
    callbacks: int = 1
    push_status: int | None = None
    push_error: tuple[str, str] | None = None
    slow: bool = False
    metadata: bool = True


DEFAULT = Outcome("", "success", "Paid: callback with a receipt; query says ResultCode 0.")

OUTCOMES: tuple[Outcome, ...] = (
    Outcome(
        "0001",
        "insufficient_funds",
        "Callback and query: ResultCode 1, balance too low.",
        result_code=1,
        result_desc="The balance is insufficient for the transaction.",
    ),
    Outcome(
        "0017",
        "rule_limited",
        "Callback and query: ResultCode 17, rule limited.",
        result_code=17,
        result_desc="Rule limited.",
    ),
    Outcome(
        "1019",
        "expired",
        "Callback and query: ResultCode 1019, transaction expired.",
        result_code=1019,
        result_desc="Transaction has expired",
    ),
    Outcome(
        "1032",
        "cancelled",
        "Callback and query: ResultCode 1032, cancelled by the user.",
        result_code=1032,
        result_desc="Request cancelled by user",
    ),
    Outcome(
        "1037",
        "timeout",
        "Callback and query: ResultCode 1037, phone unreachable.",
        result_code=1037,
        result_desc="DS timeout user cannot be reached",
    ),
    Outcome(
        "2001",
        "wrong_pin",
        "Callback and query: ResultCode 2001, wrong PIN.",
        result_code=2001,
        result_desc="The initiator information is invalid.",
    ),
    Outcome(
        "0404",
        "no_callback",
        "Paid, but no callback is sent; the query says ResultCode 0.",
        callbacks=0,
    ),
    Outcome(
        "0202",
        "duplicate_callback",
        "Paid; the same success callback is POSTed twice.",
        callbacks=2,
    ),
    Outcome(
        "0500",
        "push_http_500",
        "Push fails: HTTP 500, empty body; nothing is recorded.",
        push_status=500,
    ),
    Outcome(
        "0429",
        "spike_arrest",
        "Push fails: HTTP 500, 500.003.02 Spike Arrest Violation.",
        push_status=500,
        push_error=("500.003.02", "Spike Arrest Violation"),
    ),
    Outcome(
        "1001",
        "locked",
        "Push fails: HTTP 500, 500.001.1001 Unable to lock subscriber.",
        push_status=500,
        push_error=(
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the "
            "current subscriber",
        ),
    ),
    Outcome(
        "0999",
        "slow_push",
        "Answers after `slow_seconds`; paid even if the client gave up.",
        slow=True,
    ),
    Outcome(
        "0066",
        "success_without_metadata",
        "Paid; callback without CallbackMetadata; query: 0.",
        metadata=False,
    ),
)

_BY_SUFFIX = {outcome.suffix: outcome for outcome in OUTCOMES}

NOT_PERMITTED = "The request is not permitted according to product assignment."

# Not chosen by the payer's number: a TransactionType/PartyB pair that doesn't
# match (docs/mpesa.md §2, §5) is accepted, then fails with ResultCode 2028.
PAYBILL_MISMATCH = Outcome(
    "",
    "paybill_mismatch",
    "CustomerPayBillOnline with PartyB other than the shortcode: ResultCode 2028.",
    result_code=2028,
    result_desc=NOT_PERMITTED,
)
TILL_MISMATCH = Outcome(
    "",
    "till_mismatch",
    "CustomerBuyGoodsOnline with PartyB that isn't one of the till numbers: ResultCode 2028.",
    result_code=2028,
    result_desc=NOT_PERMITTED,
)


def outcome_for_phone(*, phone: str) -> Outcome:
    """Return the outcome scripted for the payer's number (its last four digits)."""
    return _BY_SUFFIX.get(str(phone)[-4:], DEFAULT)


def outcomes() -> tuple[Outcome, ...]:
    """Return every scripted outcome, the default success last."""
    return (*OUTCOMES, DEFAULT)


def outcome_table() -> str:
    """Return the phone-suffix → outcome table as Markdown, for the README and docs."""
    lines = ["| Payer number (PartyA) | Outcome | What happens |", "|---|---|---|"]
    for outcome in OUTCOMES:
        lines.append(f"| `2547xxxx{outcome.suffix}` | `{outcome.name}` | {outcome.summary} |")
    lines.append(f"| anything else | `{DEFAULT.name}` | {DEFAULT.summary} |")
    return "\n".join(lines)
