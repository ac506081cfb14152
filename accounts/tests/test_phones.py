"""Kenyan phone normalisation and the form field built on it."""

import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accounts.forms import KenyanPhoneField
from accounts.phones import InvalidPhoneNumber, normalise_kenyan_phone

STORED = re.compile(r"254[17][0-9]{8}", re.ASCII)
FIELD_MESSAGE = "Enter a Safaricom/Airtel number like 0712 345 678."
# No example database: nothing is written into the repository.
PROPERTY = settings(database=None, deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0712345678", "254712345678"),
        ("+254 712 345 678", "254712345678"),
        ("254712345678", "254712345678"),
        ("712345678", "254712345678"),
        ("0110123456", "254110123456"),
        ("0100 123 456", "254100123456"),
        ("0712-345-678", "254712345678"),
        ("(0712) 345.678", "254712345678"),
        (" 0712 345 678\n", "254712345678"),
        ("2540712345678", "254712345678"),
        ("+2540712345678", "254712345678"),
        ("+254 (0) 712 345 678", "254712345678"),
    ],
)
def test_accepts_the_usual_ways_of_writing_a_number(raw, expected):
    assert normalise_kenyan_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "0000",
        "+1 650 253 0000",
        "+255 712 345 678",
        "zero seven one two",
        "07I2345678",
        "0712 345 67",
        "071234567890",
        "25407123456780",
        "2547123456789",
        "254 712 345 678 9",
        "0812345678",
        "0201234567",
        "0199123456",
        "+254712345678+",
        "٠٧١٢٣٤٥٦٧٨",
        "０７１２３４５６７８",
        "0712345678" * 20,
    ],
)
def test_rejects_junk_with_a_message_for_shoppers(raw):
    with pytest.raises(InvalidPhoneNumber) as excinfo:
        normalise_kenyan_phone(raw)
    assert "0712 345 678" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_rejects_non_strings():
    with pytest.raises(InvalidPhoneNumber):
        normalise_kenyan_phone(712345678)


@PROPERTY
@given(st.text())
@example("2540712345678")
@example("+254-0-712-345-678")
def test_any_text_is_normalised_or_refused_with_invalid_phone_number(raw):
    """Only InvalidPhoneNumber ever escapes, and only 254[17]XXXXXXXX comes out."""
    try:
        result = normalise_kenyan_phone(raw)
    except InvalidPhoneNumber:
        return
    assert STORED.fullmatch(result)


@PROPERTY
@given(st.text(alphabet="0123456789+ -.()", max_size=20))
def test_digit_soup_is_normalised_or_refused(raw):
    try:
        result = normalise_kenyan_phone(raw)
    except InvalidPhoneNumber:
        return
    assert STORED.fullmatch(result)
    assert normalise_kenyan_phone(result) == result


# National numbers in the ranges libphonenumber knows as Kenyan mobiles:
# 7xx (Safaricom, Airtel, Telkom) and 10x/11x (Airtel, Safaricom).
subscribers = st.from_regex(r"(7[0-9]{2}|10[0-8]|11[0-9])[0-9]{6}", fullmatch=True)


@st.composite
def written_forms(draw):
    """Return (subscriber, the same number as a shopper might type it)."""
    subscriber = draw(subscribers)
    prefix = draw(st.sampled_from(["0", "+254", "254", "", "2540", "+2540", "+254 "]))
    groups = [subscriber[:3], subscriber[3:6], subscriber[6:]]
    separators = [draw(st.sampled_from(["", " ", "-", ".", "  "])) for _ in groups]
    text = prefix + "".join(group + sep for group, sep in zip(groups, separators, strict=True))
    if draw(st.booleans()):
        text = f" {text} "
    return subscriber, text


@PROPERTY
@given(written_forms())
def test_every_way_of_writing_a_valid_number_gives_the_same_result(case):
    subscriber, text = case
    assert normalise_kenyan_phone(text) == "254" + subscriber


@PROPERTY
@given(subscribers)
def test_normalising_is_idempotent(subscriber):
    once = normalise_kenyan_phone("0" + subscriber)
    assert normalise_kenyan_phone(once) == once


class TestKenyanPhoneField:
    def test_cleans_to_the_normalised_number(self):
        assert KenyanPhoneField().clean("0712 345 678") == "254712345678"

    @pytest.mark.parametrize("raw", ["0000", "+1 650 253 0000", "hello", "0712 345 67"])
    def test_turns_junk_into_one_clear_validation_error(self, raw):
        with pytest.raises(ValidationError) as excinfo:
            KenyanPhoneField().clean(raw)
        assert excinfo.value.messages == [FIELD_MESSAGE]

    def test_optional_field_cleans_blank_to_empty_string(self):
        assert KenyanPhoneField(required=False).clean("  ") == ""

    def test_required_field_refuses_blank(self):
        with pytest.raises(ValidationError) as excinfo:
            KenyanPhoneField().clean("")
        assert excinfo.value.code == "required"

    def test_widget_asks_for_a_phone_keypad(self):
        html = KenyanPhoneField().widget.render("phone", "")
        assert 'inputmode="tel"' in html
        assert 'autocomplete="tel"' in html
