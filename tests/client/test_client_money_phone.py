"""Money helpers and phone normalisation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dollr_core.basics.money import MAX_AMOUNT, format_money, minor_units, parse_amount, quantize, to_decimal
from dollr_core.basics.phone import is_e164_digits, mask_phone, normalize_phone


def test_minor_units() -> None:
    assert (minor_units("USD"), minor_units("LRD"), minor_units("RWF")) == (2, 2, 0)
    for bad in ("usd", "EUR", ""):
        with pytest.raises(ValueError):
            minor_units(bad)


def test_quantize_half_up() -> None:
    assert quantize(Decimal("2.005"), "USD") == Decimal("2.01")
    assert quantize("2.004", "LRD") == Decimal("2.00")
    assert quantize(Decimal("1500.5"), "RWF") == Decimal("1501")
    assert str(quantize(7, "USD")) == "7.00"


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("250", "USD", "250"),
        ("250.00", "USD", "250.00"),
        (" 1,234.50 ", "USD", "1234.50"),
        ("USD 1,234.5", "USD", "1234.5"),
        ("1 500", "RWF", "1500"),
        ("1500.00", "RWF", "1500"),
        (257.5, "USD", "257.5"),
        (12, "RWF", "12"),
        (Decimal("0.01"), "LRD", "0.01"),
    ],
)
def test_parse_amount(text: str | float | Decimal, currency: str, expected: str) -> None:
    result = parse_amount(text, currency)
    assert isinstance(result, Decimal) and str(result) == expected


@pytest.mark.parametrize(
    ("text", "currency", "fragment"),
    [
        ("", "USD", "Enter an amount"),
        ("abc", "USD", "not an amount"),
        ("0", "USD", "greater than zero"),
        ("-5", "USD", "greater than zero"),
        ("0.001", "USD", "at most 2 decimal places"),
        ("10.5", "RWF", "whole numbers"),
        ("1,23.5", "USD", "not an amount"),
        ("NaN", "USD", "not an amount"),
        ("Infinity", "USD", "not an amount"),
        (0.1 + 0.2, "USD", "at most 2 decimal places"),
        ("5", "usd", "upper-case"),
        ("5", "EUR", "only these currencies"),
    ],
)
def test_parse_amount_refuses_with_a_sentence(text: str | float, currency: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_amount(text, currency)
    message = str(caught.value)
    assert fragment in message and message.endswith(".")


def test_parse_amount_refuses_booleans() -> None:
    with pytest.raises(ValueError):
        parse_amount(True, "USD")


def test_format_money() -> None:
    assert format_money(Decimal("1234.5"), "USD") == "USD 1,234.50"
    assert format_money(Decimal("1500000"), "RWF") == "RWF 1,500,000"
    assert format_money("0.5", "LRD") == "LRD 0.50"


def test_to_decimal_uses_str_for_floats() -> None:
    assert to_decimal(257.5) == Decimal("257.5") and str(to_decimal(0.1)) == "0.1"


@given(
    cents=st.integers(min_value=1, max_value=int(MAX_AMOUNT) * 100), currency=st.sampled_from(["USD", "LRD"])
)
def test_format_then_parse_round_trips(cents: int, currency: str) -> None:
    amount = Decimal(cents).scaleb(-2)
    shown = format_money(amount, currency)
    assert parse_amount(shown, currency) == amount


@given(units=st.integers(min_value=1, max_value=int(MAX_AMOUNT)))
def test_rwf_round_trips(units: int) -> None:
    assert parse_amount(format_money(Decimal(units), "RWF"), "RWF") == Decimal(units)


@pytest.mark.parametrize(
    "text",
    [
        "231771234567",
        "+231771234567",
        "00231771234567",
        "+231 77 123 4567",
        "(231) 77-123-4567",
        " +231-77.123.4567 ",
    ],
)
def test_normalize_phone(text: str) -> None:
    assert normalize_phone(text) == "231771234567"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Enter a phone number"),
        ("0771234567", "country code"),
        ("+1234567", "8 to 15 digits"),
        ("2317712345678901", "8 to 15 digits"),
        ("231-77x-1234", "only digits"),
        ("++231771234567", "only digits"),
        ("２３１７７１２３４５６７", "only digits"),
    ],
)
def test_normalize_phone_refuses(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_phone(text)
    assert fragment in str(caught.value) and str(caught.value).endswith(".")


@given(digits=st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True), style=st.integers(0, 3))
def test_normalized_phones_are_wire_format(digits: str, style: int) -> None:
    written = [digits, "+" + digits, "00" + digits, "+" + " ".join([digits[:3], digits[3:6], digits[6:]])][
        style
    ]
    try:
        result = normalize_phone(written)
    except ValueError as exc:  # a length its country never uses (libphonenumber's data)
        assert "for country code +" in str(exc)
        return
    assert result == digits and is_e164_digits(result)


def test_mask_phone() -> None:
    assert mask_phone("231771234567") == "••••4567"
    assert mask_phone("+231 77 123 4567") == "••••4567"
    assert mask_phone("123") == "••••"
