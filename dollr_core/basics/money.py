"""Money as `Decimal`, never `float`: minor units, rounding, parsing and display.

Dollr moves USD, LRD (2 decimals) and RWF (no minor unit). Every helper here raises `ValueError`
with one plain sentence that can be shown to an operator as is.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from dollr_core.basics.enums import CURRENCY_MINOR_UNITS
from dollr_core.errors import InputRefused

__all__ = [
    "SUPPORTED_CURRENCIES",
    "check_amount",
    "check_currency",
    "format_money",
    "minor_units",
    "parse_amount",
    "quantize",
    "to_decimal",
]

#: The currencies Dollr moves, in the contract's order.
SUPPORTED_CURRENCIES: tuple[str, ...] = tuple(CURRENCY_MINOR_UNITS)

_SUPPORTED_TEXT = ", ".join(SUPPORTED_CURRENCIES)


def check_currency(currency: str) -> str:
    """Return `currency` if it is an upper-case ISO 4217 code Dollr supports, else raise ValueError."""
    if not isinstance(currency, str) or currency not in CURRENCY_MINOR_UNITS:
        if isinstance(currency, str) and currency.strip().upper() in CURRENCY_MINOR_UNITS:
            raise InputRefused(
                f"Write the currency as an upper-case ISO 4217 code such as {currency.strip().upper()}."
            )
        raise InputRefused(f"Dollr supports only these currencies: {_SUPPORTED_TEXT}.")
    return currency


def minor_units(currency: str) -> int:
    """Number of decimals the currency allows: 2 for USD and LRD, 0 for RWF."""
    return CURRENCY_MINOR_UNITS[check_currency(currency)]


def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round to the currency's minor units, half up: `quantize("2.005", "USD") == Decimal("2.01")`."""
    return to_decimal(amount).quantize(_exponent(currency), rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """Exact `Decimal` for a JSON-ish number: floats go through `str()` so 257.5 stays 257.5."""
    if isinstance(value, bool):
        raise InputRefused("An amount must be a number, not true or false.")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InputRefused(f"{value.strip()!r} is not a number.") from None
    else:
        raise InputRefused("An amount must be a number.")
    if not result.is_finite():
        raise InputRefused("An amount must be a finite number.")
    return result


def check_amount(amount: Decimal, currency: str | None) -> Decimal:
    """Validate a positive amount against the currency's minor units; return it with no excess zeros.

    Without a currency only positivity and the widest precision (2 decimals) are checked.
    """
    if amount <= 0:
        raise InputRefused("The amount must be greater than zero.")
    places = minor_units(currency) if currency is not None else max(CURRENCY_MINOR_UNITS.values())
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):
        raise InputRefused("An amount must be a finite number.")
    if -exponent > places:
        with localcontext() as ctx:
            ctx.prec = 80
            trimmed = amount.quantize(Decimal(1).scaleb(-places))
        if trimmed != amount:
            if currency is None:
                raise InputRefused(f"The amount can have at most {places} decimal places.")
            if places == 0:
                raise InputRefused(f"{currency} amounts must be whole numbers (no decimals).")
            raise InputRefused(f"{currency} amounts can have at most {places} decimal places.")
        amount = trimmed
    return amount


#: The largest amount a person may type: far above any real payment, and well inside what the
#: ledger's money columns hold (64-bit integers of 1/10,000ths), on SQLite and PostgreSQL alike.
MAX_AMOUNT = Decimal(1_000_000_000_000)


def parse_amount(value: str | int | float | Decimal, currency: str) -> Decimal:
    """Parse what an operator typed ("1,234.50", "250", 257.5) into a positive Decimal for `currency`.

    Thousands separators and surrounding spaces are accepted; a leading currency code equal to
    `currency` is ignored. Raises ValueError with a plain sentence.
    """
    check_currency(currency)
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", " ")
        if text.upper().startswith(currency):
            text = text[len(currency) :].strip()
        if not text:
            raise InputRefused("Enter an amount.")
        if "," in text:
            whole, _, frac = text.partition(".")
            groups = whole.lstrip("+-").split(",")
            if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
                raise InputRefused(f"{value.strip()!r} is not an amount; write it like 1,234.50 or 1234.50.")
            text = whole.replace(",", "") + ("." + frac if "." in text else "")
        text = text.replace(" ", "")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InputRefused(f"{value.strip()!r} is not an amount; write it like 1234.50.") from None
        if not amount.is_finite():
            raise InputRefused(f"{value.strip()!r} is not an amount; write it like 1234.50.")
    else:
        amount = to_decimal(value)
    if amount > MAX_AMOUNT:
        raise InputRefused(f"The amount can be at most {MAX_AMOUNT:,} {currency}.")
    return check_amount(amount, currency)


def format_money(amount: Decimal | int | str, currency: str) -> str:
    """`format_money(Decimal("1234.5"), "USD") == "USD 1,234.50"`; RWF shows no decimals."""
    value = quantize(amount, currency)
    places = minor_units(currency)
    return f"{currency} {value:,.{places}f}"


def money_text(amount: Decimal | None, currency: str | None) -> str:
    """ "USD 1,234.50" for display, on every screen and document; "" when unknown."""
    if amount is None or not currency:
        return ""
    try:
        return format_money(amount, currency)
    except ValueError:  # a currency Dollr does not support (yet): shown as recorded
        return f"{currency} {amount.normalize():f}"


def amount_text(amount: Decimal | None, currency: str | None) -> str:
    """An exact amount as plain text in the currency's minor units ("25.00", "1400"), for exports."""
    if amount is None:
        return ""
    try:
        return f"{quantize(amount, currency or '')}"
    except ValueError:
        return f"{amount.normalize():f}"
