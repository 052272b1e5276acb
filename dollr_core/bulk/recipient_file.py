"""Reading the recipients' spreadsheet: CSV (any encoding Excel saves), pasted rows, or .xlsx."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import openpyxl

from dollr_core.basics import spreadsheet
from dollr_core.basics.phone import SPREADSHEET_NUMBER_ADVICE, looks_like_spreadsheet_number
from dollr_core.bulk.states import BulkError

MAX_ROWS = 2000
#: The template's columns, in order; `reference` is the person's own reference for the payment.
TEMPLATE_COLUMNS = ("name", "phone", "amount", "currency", "note", "reference")
REQUIRED_COLUMNS = ("name", "phone", "amount", "currency")

#: Other headings people use for the same columns (compared lower-case, without _ and -).
_HEADINGS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "fullname", "recipient", "recipient name", "beneficiary", "payee"),
    "phone": (
        "phone",
        "phone number",
        "mobile",
        "mobile number",
        "number",
        "wallet",
        "wallet number",
        "msisdn",
    ),
    "amount": ("amount", "value", "sum"),
    "currency": ("currency", "ccy", "currency code"),
    "note": ("note", "notes", "description", "narration", "memo"),
    "reference": ("reference", "own reference", "your reference", "ref", "external reference"),
}


@dataclass(frozen=True)
class RowInput:
    """One recipient as typed in the spreadsheet or the table (nothing checked yet)."""

    name: str
    phone: str
    amount: str
    currency: str
    note: str = ""
    own_reference: str = ""


_TEMPLATE_EXAMPLES = (
    ("Musa Kollie", "231880001234", "25.00", "USD", "March stipend", "STIPEND-0001"),
    ("Aline Uwase", "250780005678", "15000", "RWF", "", ""),
)


@cache  # the same file every time; the Bulk page offers it on every rerun
def template_csv() -> str:
    """The file people fill in: the columns, and two example rows (sandbox wallet numbers)."""
    return spreadsheet.document(TEMPLATE_COLUMNS, _TEMPLATE_EXAMPLES)


@cache  # writing a workbook was 4 ms of every rerun of the Bulk page
def template_xlsx() -> bytes:
    """The same template as a workbook whose cells are text, so Excel keeps the phone digits."""
    return spreadsheet.workbook(TEMPLATE_COLUMNS, _TEMPLATE_EXAMPLES, sheet="Recipients")


#: Far more than 2,000 rows need, so a file this large is a mistake (or an attack): refused unread.
MAX_FILE_BYTES = 5_000_000
#: The longest line (one recipient) read; longer is refused before the CSV reader takes it in.
MAX_LINE_CHARS = 10_000


def parse_rows(data: bytes | str) -> list[RowInput]:
    """Read an uploaded CSV or .xlsx file, or rows pasted from a spreadsheet (comma, semicolon or
    tab separated).

    The first line names the columns (any order; see `TEMPLATE_COLUMNS`). Raises BulkError with
    one plain sentence when the file cannot be read as a whole, or when a spreadsheet turned a
    phone number into a quantity (2.31771E+11): its digits are lost, so the file is refused naming
    the row. Problems in single rows (a line break or a control character in a cell, an amount too
    large) are found by the checks and shown on their row.
    """
    if len(data) > MAX_FILE_BYTES:
        raise BulkError(
            f"The file is too large ({len(data) / 1_000_000:.1f} MB): a batch file can be at most"
            f" {MAX_FILE_BYTES // 1_000_000} MB ({MAX_ROWS:,} recipients). Split it."
        )
    if isinstance(data, bytes) and data.startswith(_ZIP_SIGNATURE):
        return _recipients(_xlsx_records(data))
    text = (_decode(data) if isinstance(data, bytes) else data).removeprefix(spreadsheet.BYTE_ORDER_MARK)
    # Only CR and LF end a record; quoted line breaks, and Unicode line separators, stay in their
    # cell, where the row checks refuse them instead of splitting or joining rows.
    heading_line = re.split(r"\r\n|\r|\n", text[: MAX_LINE_CHARS + 1], maxsplit=1)[0]
    if len(heading_line) > MAX_LINE_CHARS:
        raise BulkError(_line_too_long(1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(heading_line))
    return _recipients(_records(reader))


def _recipients(records: Iterator[tuple[int, list[str]]]) -> list[RowInput]:
    """The recipients under the heading record, whichever format the records came from."""
    first = next(records, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise BulkError("The file is empty: it needs a heading line and one line per recipient.")
    columns = _columns(first[1])
    rows: list[RowInput] = []
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == MAX_ROWS:
            raise BulkError(f"A batch can hold at most {MAX_ROWS:,} recipients; split the file.")

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        if looks_like_spreadsheet_number(cell("phone")):
            raise BulkError(_phone_turned_into_number(line, cell("phone")))
        rows.append(
            RowInput(
                name=cell("name"),
                phone=cell("phone"),
                amount=cell("amount"),
                currency=cell("currency"),
                note=cell("note"),
                own_reference=cell("reference"),
            )
        )
    if not rows:
        raise BulkError("The file has a heading line but no recipients under it.")
    return rows


def _phone_turned_into_number(line: int, shown: str) -> str:
    return (
        f"Row {line} of the file: the phone number reads {shown}, so the spreadsheet stored it as a"
        f" number and its digits cannot be trusted; nothing was saved. {SPREADSHEET_NUMBER_ADVICE}"
    )


#: Every .xlsx file is a ZIP archive, and a CSV never starts with these bytes.
_ZIP_SIGNATURE = b"PK\x03\x04"


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows as text, numbered as the spreadsheet numbers them.

    A number in the phone column is read as its digits when Excel kept them all; one that cannot
    have been typed as a phone number is refused naming its row (`_damaged_number`).
    """
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BulkError(
            f"The file looks like an Excel workbook but cannot be opened ({type(exc).__name__});"
            " save it again from your spreadsheet as .xlsx or as “CSV UTF-8”."
        ) from None
    try:
        if not book.worksheets:
            return
        phone_index: int | None = None
        for line, row in enumerate(book.worksheets[0].iter_rows(), start=1):
            values = [getattr(cell, "value", None) for cell in row]
            if line > MAX_ROWS + 1 and any(v is not None for v in values):
                raise BulkError(f"A batch can hold at most {MAX_ROWS:,} recipients; split the file.")
            if line == 1:
                phone_index = _columns([_xlsx_text(v) for v in values]).get("phone")
            elif phone_index is not None and phone_index < len(row):
                shown = _damaged_number(values[phone_index], getattr(row[phone_index], "number_format", ""))
                if shown:
                    raise BulkError(_phone_turned_into_number(line, shown))
            cells = [_xlsx_text(v) for v in values]
            if sum(len(c) for c in cells) > MAX_LINE_CHARS:
                raise BulkError(_line_too_long(line))
            yield line, cells
    finally:
        book.close()


#: A whole number ending in this many zeros came from scientific notation (2.31771E+11 is
#: 231771000000), not from a person typing a phone number.
_LOST_DIGITS_ZEROS = 5


def _damaged_number(value: object, number_format: str) -> str:
    """How Excel shows a phone cell that holds a quantity instead of the typed digits, else ""."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    scientific = f"{value:.6G}"
    if isinstance(value, float) and not value.is_integer():
        return scientific
    digits = str(int(value))
    if "E+" in number_format.upper() or len(digits) - len(digits.rstrip("0")) >= _LOST_DIGITS_ZEROS:
        return scientific
    return ""


def _xlsx_text(value: object) -> str:
    """A cell as the person typed it: whole numbers without ".0", exact decimals, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """The CSV records with their line numbers, each refused when too long to be a recipient."""
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the reader's own limit, or broken quoting
            where = getattr(reader, "line_num", line + 1)
            if "field larger than field limit" in str(exc):
                raise BulkError(_line_too_long(where)) from None
            raise BulkError(f"Line {where} of the file cannot be read as CSV ({exc}).") from None
        line = getattr(reader, "line_num", line + 1)
        if sum(len(c) for c in cells) > MAX_LINE_CHARS:
            raise BulkError(_line_too_long(line))
        yield line, cells


def _line_too_long(line: int) -> str:
    return (
        f"Line {line} of the file is too long: one recipient can take at most {MAX_LINE_CHARS:,}"
        " characters. Check that the file is the filled-in template."
    )


# Byte-order marks, longest first (UTF-32's little-endian mark begins with UTF-16's).
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def _decode(data: bytes) -> str:
    """The file's text: by its byte-order mark (Excel's "Unicode text" is UTF-16), else UTF-8,
    else Windows-1252 (what Excel saves as plain "CSV" on Windows)."""
    for mark, encoding, name in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise BulkError(
                    f"The file says it is {name} text but cannot be read as such; save it from your"
                    " spreadsheet again as “CSV UTF-8”."
                ) from None
    if b"\x00" in data:
        raise BulkError(
            "The file is not plain CSV text (it holds NUL bytes, as UTF-16 files without a"
            " byte-order mark do): save it from your spreadsheet as “CSV UTF-8”."
        )
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _delimiter(heading: str) -> str:
    counts = {sep: heading.count(sep) for sep in ("\t", ";", ",")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _columns(heading: list[str]) -> dict[str, int]:
    names = {
        " ".join(h.strip().lower().replace("_", " ").replace("-", " ").split()): i
        for i, h in enumerate(heading)
    }
    columns: dict[str, int] = {}
    for column, aliases in _HEADINGS.items():
        for alias in aliases:
            if alias in names:
                columns[column] = names[alias]
                break
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise BulkError(
            f"The first line must name the columns {', '.join(REQUIRED_COLUMNS)}"
            f" (missing: {', '.join(missing)}). Download the template to see the layout."
        )
    return columns
