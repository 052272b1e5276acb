"""Phone numbers as Dollr wants them: E.164 digits without `+`, 8–15 digits (contract §1.2).

Lengths per country come from libphonenumber's data (the `phonenumbers` package): a number too
short or too long for its country code is refused. Its stricter "valid number" test (known number
ranges) is deliberately not applied: new ranges and the sandbox's numbers are real to Dollr before
they are in that data, and Dollr's operator look-up is the authority on who serves a number.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

from dollr_core.errors import InputRefused

__all__ = [
    "E164_DIGITS",
    "SPREADSHEET_NUMBER_ADVICE",
    "is_e164_digits",
    "looks_like_spreadsheet_number",
    "mask_phone",
    "normalize_phone",
]

#: What Dollr accepts on the wire: 8 to 15 digits, no `+`, country code first (never a 0).
E164_DIGITS = re.compile(r"[1-9][0-9]{7,14}")

_SEPARATORS = re.compile(r"[\s\-().\u00a0]")
# What a spreadsheet makes of a long number it took for a quantity: 2.31771E+11 (digits lost) or
# 231771234567.0 (a float written back). Dots as separators ("231.77.123.4567") are not this.
_SPREADSHEET_NUMBER = re.compile(r"\+?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+|\+?[0-9]+[.,]0+")

#: How to fix a file whose phone column a spreadsheet turned into numbers.
SPREADSHEET_NUMBER_ADVICE = (
    "In Excel or LibreOffice, format the phone column as Text (select the column, Format Cells →"
    " Text), type the numbers again, save the file and upload it again."
)


def looks_like_spreadsheet_number(text: str) -> bool:
    """True for `2.31771E+11` or `231771234567.0`: a phone number a spreadsheet stored as a quantity."""
    return _SPREADSHEET_NUMBER.fullmatch(text.strip()) is not None


def is_e164_digits(value: str) -> bool:
    """True when `value` is already in Dollr's wire format."""
    return isinstance(value, str) and E164_DIGITS.fullmatch(value) is not None


def normalize_phone(text: str) -> str:
    """Turn what a person typed into Dollr's format: `"+231 (77) 123-4567"` → `"231771234567"`.

    Accepts spaces, dashes, dots, parentheses and a leading `+` or `00`. Raises ValueError with
    a plain sentence when the result is not a full international number.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputRefused("Enter a phone number with its country code, e.g. 231771234567.")
    if looks_like_spreadsheet_number(text):
        raise InputRefused(
            f"The phone number {text.strip()} was turned into a number by a spreadsheet, so its digits"
            f" cannot be trusted. {SPREADSHEET_NUMBER_ADVICE}"
        )
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("+"):
        compact = compact[1:]
    elif compact.startswith("00"):
        compact = compact[2:]
    if not compact.isdigit() or not compact.isascii():
        raise InputRefused(
            "A phone number may contain only digits, spaces, dashes, parentheses and a leading + or 00."
        )
    if compact.startswith("0"):
        raise InputRefused(
            "Start the phone number with its country code (for example 231 for Liberia, 250 for Rwanda),"
            " not with 0."
        )
    if not 8 <= len(compact) <= 15:
        raise InputRefused(
            f"A phone number needs 8 to 15 digits including the country code; this one has {len(compact)}."
        )
    _check_length_for_country(compact)
    return compact


_WRONG_LENGTH = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "not a possible length",
}


def _check_length_for_country(digits: str) -> None:
    """Refuse a number whose length its country never uses; an unknown country code is left to Dollr."""
    problem = _length_problem(digits)
    if problem is not None:
        raise InputRefused(problem)


@functools.lru_cache(maxsize=4096)
def _length_problem(digits: str) -> str | None:
    """What is wrong with the length of `digits` for its country, if anything. Kept per number:
    a payment checks its phone at several steps, and libphonenumber's parse is the costly part."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except NumberParseException:
        return None
    problem = _WRONG_LENGTH.get(phonenumbers.is_possible_number_with_reason(number))
    if problem is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    national = len(str(number.national_number))
    return (
        f"This phone number is {problem} for country code +{number.country_code}"
        f"{f' ({region})' if region and region != 'ZZ' else ''}: {national} digits follow the country"
        " code. Check the number."
    )


def mask_phone(phone: str) -> str:
    """Hide all but the last four digits: `"231771234567"` → `"••••4567"`."""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    return "••••" + digits[-4:] if len(digits) > 4 else "••••"
