"""CSV files people open in Excel or LibreOffice: the one writer every export goes through.

Every cell is neutralised against formula injection (OWASP "CSV Injection"): text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by spreadsheets, so it
gets a leading apostrophe and stays text. Files start with a UTF-8 byte-order mark, without which
Excel reads them in the local code page and breaks accented names.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

BYTE_ORDER_MARK = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A negative amount ("-12.50") stays a number: a bare numeric literal cannot call a function or
# refer to anything, and an apostrophe would turn refunds and fees into text that no sum counts.
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")


def safe_cell(value: object) -> str:
    """The cell as text a spreadsheet shows, never runs."""
    text = "" if value is None else str(value)
    if text[:1] in _FORMULA_STARTS and not _NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return text


def lines(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV lines (RFC 4180: CRLF, quoted when needed), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def heading(columns: Sequence[str]) -> str:
    """The start of a file: the byte-order mark and the heading line."""
    return BYTE_ORDER_MARK + lines([columns])


def document(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV file."""
    return heading(columns) + lines(rows)
