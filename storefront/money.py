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


def format_kes(value) -> str:
    """Format *value* as ``KES 12,999`` (cents shown only when non-zero)."""
    if value is None or value == "":
        return ""
    amount = quantize(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == amount.to_integral_value():
        return f"KES {sign}{int(amount):,}"
    return f"KES {sign}{amount:,.2f}"
