"""Limits on what people type or link to, checked in dollr_core before anything is stored or sent.

The limits are the ledger's column sizes, checked here so both databases behave the same: SQLite
would store an over-long note whole where PostgreSQL refuses it with an error full of SQL.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from dollr_core.errors import InputRefused

#: Notes on payments and documents (the ledger's `note` columns).
NOTE_LENGTH = 500
#: The largest key of a ledger row (PostgreSQL `integer`).
MAX_ROW_ID = 2**31 - 1
# Line and paragraph separators (and NEL) end a line in Python's splitlines and some readers.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


#: The longest e-mail address (RFC 5321 path limit; the ledger's e-mail columns).
EMAIL_LENGTH = 254


def email_address(text: str, label: str = "e-mail address") -> str:
    """The address in lower case, or ValueError naming the field and what is wrong with it.

    email-validator applies RFC 5321/5322 syntax (one @, a dotted domain, no spaces, length limits,
    internationalised names) without looking the domain up, so it works offline and in tests.
    """
    value = text.strip()
    problem = character_problem(value, label)
    if problem:
        raise InputRefused(problem)
    if len(value) > EMAIL_LENGTH:
        raise InputRefused(f"The {label} is too long: at most {EMAIL_LENGTH} characters.")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputRefused(f"Enter a valid {label}, such as amara@example.com ({exc})") from None
    return checked.normalized.lower()


def link_id(text: str, what: str) -> int:
    """The row number in a link (`?batch=12`), or ValueError saying the link is not valid."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ROW_ID)):
        raise InputRefused(f"This link is not valid: it does not name a {what}.")
    number = int(value)
    if not 1 <= number <= MAX_ROW_ID:
        raise InputRefused(f"This link is not valid: it does not name a {what}.")
    return number


def character_problem(value: str, label: str, *, multiline: bool = False) -> str | None:
    """A sentence naming `label` when the text holds characters that cannot be stored or shown
    safely: NUL and other control characters, or a line break (Unicode ones included) in a
    one-line field."""
    for char in value:
        if multiline and char in "\n\t":
            continue
        if not multiline and char in _LINE_BREAKS:
            return f"The {label} must fit on one line (it contains a line break)."
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char == "\ufeff":
            return f"The {label} contains a control character ({_code_point(char)}); remove it."
    return None


def text_problem(value: str, label: str, *, max_length: int, multiline: bool = False) -> str | None:
    """`character_problem`, or a sentence naming `label` when the text is longer than `max_length`."""
    if len(value) > max_length:
        return f"The {label} can have at most {max_length:,} characters; this one has {len(value):,}."
    return character_problem(value, label, multiline=multiline)


def check_text(value: str, label: str, *, max_length: int, multiline: bool = False) -> str:
    """`value` when `text_problem` finds nothing; otherwise ValueError with its sentence."""
    problem = text_problem(value, label, max_length=max_length, multiline=multiline)
    if problem:
        raise InputRefused(problem)
    return value


def printable(value: str) -> str:
    """The text with every character `character_problem` refuses shown as U+FFFD, for storing a
    refused draft row that a person then corrects."""
    return "".join("\ufffd" if character_problem(char, "text") else char for char in value)


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"
