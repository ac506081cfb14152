"""Money: Decimal KES amounts and the shop's one rounding rule."""

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SHILLING = Decimal("1")
#: The one rounding rule for money in the shop: half away from zero, as
#: shoppers and receipts expect (12.345 -> 12.35), never banker's rounding.
ROUNDING = ROUND_HALF_UP


def to_decimal(value) -> Decimal:
    """Return *value* as a Decimal; floats go through ``str`` to avoid noise."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    return Decimal(value)


def quantize(value) -> Decimal:
    """Round *value* to cents with the shop's rounding rule."""
    return to_decimal(value).quantize(CENT, rounding=ROUNDING)


def whole_shillings(value) -> int:
    """Return *value* as whole shillings (M-Pesa takes no cents).

    Cents are rounded up: a shopper never pays less than the order total,
    and the difference is at most 99 cents.
    """
    return int(quantize(value).quantize(SHILLING, rounding=ROUND_CEILING))


def format_kes(value, *, cents: bool = False) -> str:
    """Format *value* as ``KES 12,999`` (cents shown only when non-zero).

    With *cents*, always as ``KES 12,999.00`` (receipts and tax invoices).
    """
    if value is None or value == "":
        return ""
    amount = quantize(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if not cents and amount == amount.to_integral_value():
        return f"KES {sign}{int(amount):,}"
    return f"KES {sign}{amount:,.2f}"


def vat_included(amount, rate) -> Decimal:
    """Return the VAT included in the VAT-inclusive *amount* at *rate* percent.

    Prices are shown with VAT in them, so the VAT is ``amount × rate / (100 +
    rate)`` (KES 11,600 at 16% includes KES 1,600), rounded once by the
    shop's rule.
    """
    rate = to_decimal(rate)
    return quantize(to_decimal(amount) * rate / (100 + rate))
