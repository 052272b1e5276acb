"""Files people open in Excel or LibreOffice: the one writer (CSV and .xlsx) every export goes through.

Every cell is neutralised against formula injection (OWASP "CSV Injection"): text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by spreadsheets. In a CSV
it gets a leading apostrophe and stays text; in a workbook it is written as a text cell marked
"quote prefix" (what Excel does when a person types the apostrophe), so it is never a formula and
still shows as typed. CSV files start with a UTF-8 byte-order mark, without which Excel reads them
in the local code page and breaks accented names.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

BYTE_ORDER_MARK = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A negative amount ("-12.50") stays a number: a bare numeric literal cannot call a function or
# refer to anything, and an apostrophe would turn refunds and fees into text that no sum counts.
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"


def runs_as_formula(text: str) -> bool:
    """True when a spreadsheet would take this text for a formula (the guard both formats share)."""
    return text[:1] in _FORMULA_STARTS and not _NEGATIVE_NUMBER.fullmatch(text)


def safe_cell(value: object) -> str:
    """The cell as text a spreadsheet shows, never runs."""
    text = "" if value is None else str(value)
    return "'" + text if runs_as_formula(text) else text


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


def workbook(columns: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str = "Sheet1") -> bytes:
    """A whole .xlsx file: one sheet, the heading row, then `rows`, streamed (write-only mode).

    Every cell is text, as in the CSV: phone numbers and references keep their digits, amounts
    their exact decimals. Characters a workbook cannot hold (control characters) become U+FFFD.
    """
    book = Workbook(write_only=True)
    page = book.create_sheet(sheet[:31])
    page.append([_text_cell(page, name) for name in columns])
    for row in rows:
        page.append([_text_cell(page, value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _text_cell(page: object, value: object) -> WriteOnlyCell:
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", "" if value is None else str(value))
    cell = WriteOnlyCell(page, value=text)
    # Assigning a str that starts with "=" makes openpyxl write a formula; force a text cell.
    cell.data_type = "s"
    cell.number_format = "@"  # and a text column, so what a person types there later stays text
    if runs_as_formula(text):
        cell.quotePrefix = True
    return cell
