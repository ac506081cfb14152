from decimal import Decimal

import pytest

from shop.templatetags.shop_tags import kes
from storefront.money import format_kes, quantize, whole_shillings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("2.675", "2.68"),  # a float would give 2.67
        ("-0.005", "-0.01"),
        ("12999", "12999.00"),
        (1.005, "1.01"),
    ],
)
def test_quantize_rounds_half_up_to_cents(value, expected):
    assert quantize(value) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12999"), "KES 12,999"),
        (Decimal("12999.00"), "KES 12,999"),
        (Decimal("12999.5"), "KES 12,999.50"),
        (Decimal("1234567.891"), "KES 1,234,567.89"),
        (Decimal("0"), "KES 0"),
        (Decimal("-200"), "KES -200"),
    ],
)
def test_format_kes_shows_cents_only_when_non_zero(value, expected):
    assert format_kes(value) == expected
    assert kes(value) == expected


def test_kes_filter_is_empty_for_missing_amounts():
    assert kes(None) == ""
    assert kes("") == ""


@pytest.mark.parametrize(
    ("value", "expected"), [("100", 100), ("100.00", 100), ("100.01", 101), ("99.995", 100)]
)
def test_whole_shillings_never_charges_less_than_the_total(value, expected):
    assert whole_shillings(Decimal(value)) == expected
