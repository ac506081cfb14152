"""Kenyan mobile numbers: normalise what shoppers type to ``2547XXXXXXXX``.

The rules follow docs/mpesa.md section 6; ``phonenumbers`` then confirms the
result is a valid Kenyan *mobile* number (it rejects unallocated ranges that
the rules alone would let through). The "254 + last 9 digits" shortcut is
deliberately avoided: it turns junk into plausible-looking numbers.
"""

import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

# Longest sensible input once punctuation is stripped: "+2540712345678".
_MAX_DIGITS_INPUT = 16
_STRIP = re.compile(r"[\s\-.()]")
_LOCAL = re.compile(r"0[17][0-9]{8}")
_BARE = re.compile(r"[17][0-9]{8}")
_EXTRA_ZERO = re.compile(r"2540[17][0-9]{8}")
NORMALISED = re.compile(r"254[17][0-9]{8}")
_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}

DEFAULT_MESSAGE = _("Enter a Kenyan mobile number (Safaricom or Airtel), like 0712 345 678.")


class InvalidPhoneNumber(ValueError):
    """The input is not a Kenyan mobile number; the message is safe for shoppers."""

    def __init__(self, message: str = DEFAULT_MESSAGE) -> None:
        super().__init__(message)
        self.message = message


def normalise_kenyan_phone(raw: str) -> str:
    """Return *raw* as ``2547XXXXXXXX`` or ``2541XXXXXXXX``.

    Accept the usual ways of writing a number (``0712 345 678``,
    ``+254 712-345-678``, ``712345678``, ``2540712345678``) and raise
    InvalidPhoneNumber for anything that is not a valid Kenyan mobile number.
    """
    if not isinstance(raw, str):
        raise InvalidPhoneNumber
    number = _STRIP.sub("", raw)
    if not number:
        raise InvalidPhoneNumber(_("Enter your mobile number, like 0712 345 678."))
    if len(number) > _MAX_DIGITS_INPUT:
        raise InvalidPhoneNumber
    if number.startswith("+254"):
        number = number[1:]
    if _LOCAL.fullmatch(number):
        number = "254" + number[1:]
    elif _BARE.fullmatch(number):
        number = "254" + number
    elif _EXTRA_ZERO.fullmatch(number):
        number = "254" + number[4:]
    if not NORMALISED.fullmatch(number):
        raise InvalidPhoneNumber
    try:
        parsed = phonenumbers.parse("+" + number, "KE")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber from exc
    if (
        not phonenumbers.is_valid_number_for_region(parsed, "KE")
        or phonenumbers.number_type(parsed) not in _MOBILE_TYPES
    ):
        raise InvalidPhoneNumber
    return number


def format_local_phone(number: str) -> str:
    """Show a stored ``2547XXXXXXXX`` number as shoppers write it, ``0712 345 678``.

    Anything not in the stored form is returned as it is.
    """
    if not isinstance(number, str) or not NORMALISED.fullmatch(number):
        return number or ""
    local = "0" + number[3:]
    return f"{local[:4]} {local[4:7]} {local[7:]}"
