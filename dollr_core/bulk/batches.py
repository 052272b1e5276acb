"""Bulk payouts: pay many people from one spreadsheet, with one approval and one passcode.

A batch goes DRAFT → AWAITING_APPROVAL → APPROVED → RUNNING (⇄ PAUSED) → FINISHED, or ends
REJECTED or CANCELED. While it is a draft its rows are checked (number format, operator, amount and
currency rules, copies within the file, references paid before) and may be fixed or left out. A
manager who did not create it approves it (`approvals.decide_batch`); a finance person starts it
with the merchant passcode, which only the worker (`bulk_worker`) holds, in memory.

Every row is paid through the execution protocol with an intent key of its own, stored on the row
before anything is sent, so a restart resumes the batch without paying any row twice.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import openpyxl
from sqlalchemy import Engine, delete, exists, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError, InvalidRequestError, NotFoundError
from dollr_core.api.models import AmountAndFeePrediction, AmountAndFeesQuery, MmoProviderInfo
from dollr_core.basics import spreadsheet, validation
from dollr_core.basics.access import Actor, Permission, require, require_any
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod, Provider
from dollr_core.basics.money import SUPPORTED_CURRENCIES, check_currency, parse_amount, quantize
from dollr_core.basics.phone import SPREADSHEET_NUMBER_ADVICE, looks_like_spreadsheet_number, normalize_phone
from dollr_core.errors import InputRefused
from dollr_core.explain import explain, failure_reason
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import (
    HELD_REFERENCE_INDEX,
    REFERENCE_HOLDING_ROWS,
    Attempt,
    AttemptState,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
    IntentState,
    LedgerEvent,
)
from dollr_core.reports import dashboard
from dollr_core.services import Services
from dollr_core.team import approval_rules

log = logging.getLogger("dollr_core.bulk.batches")

#: The most rows one batch may hold (pawaPay's dashboard takes 1,000; we allow a little more).
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

#: Rows that are (or may be) money on its way.
_IN_FLIGHT_ROWS = (BatchRowState.QUEUED, BatchRowState.SENT)
_FINAL_ROWS = (BatchRowState.PAID, BatchRowState.FAILED, BatchRowState.CANCELED)
#: Starts of one batch that lose a reference race before giving up (each loss settles one race).
_QUEUE_TRIES = 3
#: Batch states in which rows may still be sent.
_ACTIVE_BATCHES = (BatchState.RUNNING, BatchState.PAUSED)

#: How a row's state reads on screen and in the results file.
ROW_STATUS = {
    BatchRowState.VALID: "ready",
    BatchRowState.INVALID: "needs fixing",
    BatchRowState.EXCLUDED: "left out",
    BatchRowState.QUEUED: "waiting",
    BatchRowState.SENT: "in progress",
    BatchRowState.PAID: "paid",
    BatchRowState.FAILED: "failed",
    BatchRowState.CANCELED: "canceled (not sent)",
}

#: What each batch state means, for the screen.
BATCH_STATUS = {
    BatchState.DRAFT: "draft: rows can be fixed",
    BatchState.AWAITING_APPROVAL: "waiting for a manager's approval",
    BatchState.APPROVED: "approved: ready to start",
    BatchState.RUNNING: "paying",
    BatchState.PAUSED: "paused",
    BatchState.FINISHED: "finished",
    BatchState.CANCELED: "canceled",
    BatchState.REJECTED: "rejected",
}


class BulkError(InputRefused):
    """The batch cannot do what was asked; the message says why in plain words."""


# --------------------------------------------------------------------------- the file


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


def template_csv() -> str:
    """The file people fill in: the columns, and two example rows (sandbox wallet numbers)."""
    return spreadsheet.document(TEMPLATE_COLUMNS, _TEMPLATE_EXAMPLES)


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


# --------------------------------------------------------------------------- checks


@dataclass
class _Check:
    """What the checks found out about one row."""

    problems: list[str] = field(default_factory=list)
    phone: str | None = None  # normalized, when the number is well formed
    amount: Decimal | None = None
    currency: str | None = None  # when supported
    info: MmoProviderInfo | None = None


def _own_checks(row: BatchRow) -> _Check:
    """Everything that needs no call to Dollr: name, number format, currency, amount, lengths."""
    check = _Check()
    if not row.name:
        check.problems.append("Enter the recipient's name.")
    try:
        check.phone = normalize_phone(row.phone)
    except ValueError as exc:
        check.problems.append(str(exc))
    try:
        check.currency = check_currency(row.currency)
    except ValueError:
        check.problems.append(f"Currency: write one of {', '.join(SUPPORTED_CURRENCIES)}.")
    try:
        check.amount = parse_amount(row.amount_text, check.currency or "USD")
    except ValueError as exc:
        check.problems.append(str(exc))
    return check


def _fill(row: BatchRow, values: RowInput) -> list[str]:
    """Copy what was typed onto the row, trimmed to the column sizes; say what did not fit.

    A line break or control character in a cell makes the row invalid, naming the cell (a quoted
    line break is never silently joined, a Unicode line separator never splits the row); the row
    keeps a printable copy (U+FFFD where the character was) for the person to correct.
    """
    problems = []
    typed = (
        ("name", values.name),
        ("phone number", values.phone),
        ("amount", values.amount),
        ("currency", values.currency),
        ("note", values.note),
        ("reference", values.own_reference),
    )
    for label, text in typed:
        if problem := validation.character_problem(text, label):
            problems.append(problem)
    name = " ".join(validation.printable(values.name).split())
    note = validation.printable(values.note).strip()
    reference = validation.printable(values.own_reference).strip()
    for label, text, limit in (("name", name, 200), ("note", note, 500), ("reference", reference, 100)):
        if len(text) > limit:
            problems.append(f"The {label} is too long ({limit} characters at most); it was cut.")
    row.name = name[:200]
    row.phone = validation.printable(values.phone).strip()[:32]
    row.amount_text = validation.printable(values.amount).strip()[:40]
    row.currency = validation.printable(values.currency).strip().upper()[:8]
    row.note = note[:500]
    row.own_reference = reference[:100] or None
    return problems


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


def _ask_all(svc: Services, keys: Iterable[_K], ask: Callable[[_K], _V]) -> dict[_K, _V | DollrError]:
    """Ask Dollr once per distinct key, a few at a time (`bulk_concurrency`); errors are answers too."""
    distinct = list(dict.fromkeys(keys))

    def one(key: _K) -> _V | DollrError:
        try:
            return ask(key)
        except DollrError as exc:
            return exc

    if not distinct:
        return {}
    with ThreadPoolExecutor(max_workers=min(svc.settings.bulk_concurrency, len(distinct))) as pool:
        return dict(zip(distinct, pool.map(one, distinct), strict=True))


def _operator_problem(exc: DollrError) -> str:
    if isinstance(exc, InvalidRequestError | NotFoundError):
        return "No mobile-money operator serves this number; check it."
    return "Dollr could not check this number just now; press “Check again” in a moment."


_QuoteKey = tuple[PaymentMethod, Provider, Decimal, str]


def _check_rows(svc: Services, rows: list[BatchRow], *, ask: set[int] | None, batch_id: int | None) -> None:
    """Check every row and set its state, problems, operator and predicted fees (in place).

    Dollr is asked only for rows in `ask` (indexes into `rows`; None: all) and for rows never
    checked successfully, once per distinct number and once per distinct quote.
    """
    checks = [_own_checks(row) for row in rows]
    needs_dollr = [
        i
        for i, (row, check) in enumerate(zip(rows, checks, strict=True))
        if check.phone
        and check.currency
        and (ask is None or i in ask or row.carrier is None or row.predicted_debit is None)
    ]
    operators = _ask_all(
        svc,
        (checks[i].phone or "" for i in needs_dollr),
        lambda phone: svc.lookups.operator(phone, OperationType.PAYOUT),
    )
    quotes: dict[int, _QuoteKey] = {}
    for i in needs_dollr:
        check, answer = checks[i], operators[checks[i].phone or ""]
        if isinstance(answer, DollrError):
            check.problems.append(_operator_problem(answer))
        elif answer.payment_method is None:
            check.problems.append("Dollr could not tell which operator serves this number.")
        elif check.currency not in (answer.currencies or []):
            check.problems.append(
                f"{answer.carrier} wallets in {answer.country} receive {', '.join(answer.currencies or [])},"
                f" not {check.currency}."
            )
        else:
            check.info = answer
            method = PaymentMethod(answer.payment_method)
            if check.amount is not None and check.currency is not None:
                provider = Provider(answer.gateway_provider or method.provider)
                quotes[i] = (method, provider, check.amount, check.currency)
    predictions = _ask_all(svc, quotes.values(), lambda key: svc.lookups.prediction(_fee_query(*key)))

    for i, (row, check) in enumerate(zip(rows, checks, strict=True)):
        row.phone = check.phone or row.phone
        row.amount = check.amount
        if i in quotes:
            prediction = predictions[quotes[i]]
            if isinstance(prediction, DollrError):
                row.predicted_fees = row.predicted_debit = None
                check.problems.append(f"Dollr could not quote the fees: {explain(prediction).headline}")
            else:
                row.predicted_fees, row.predicted_debit = _fees(prediction), prediction.payer_amount
        elif i in needs_dollr or not check.phone or not check.currency:
            row.predicted_fees = row.predicted_debit = None
        if check.info is not None:
            row.carrier = check.info.carrier or str(check.info.payment_method)
        elif i in needs_dollr or not check.phone:
            row.carrier = None
    _file_checks(svc.engine, rows, checks, batch_id=batch_id)
    for row, check in zip(rows, checks, strict=True):
        row.problems = " ".join(check.problems)[:1000]
        if row.state != BatchRowState.EXCLUDED:
            row.state = BatchRowState.INVALID if check.problems else BatchRowState.VALID
        row.updated_at = utcnow()


def _fee_query(
    method: PaymentMethod, provider: Provider, amount: Decimal, currency: str
) -> AmountAndFeesQuery:
    return AmountAndFeesQuery(
        base_amount=amount,
        base_currency=currency,
        target_currency=currency,
        payment_method=method,
        operation_type=OperationType.PAYOUT,
        provider=provider,
        fee_bearer=FeeBearer.PAYER,
    )


def _fees(prediction: AmountAndFeePrediction) -> Decimal:
    zero = Decimal(0)
    return (prediction.platform_fee or zero) + (prediction.gateway_fee or zero) + (prediction.fx_fee or zero)


def _file_checks(engine: Engine, rows: list[BatchRow], checks: list[_Check], *, batch_id: int | None) -> None:
    """Copies within the file, and references another batch has paid or is paying.

    The first of several copies is the one kept; a row left out still says which row it copies.
    """
    first_copy: dict[tuple[str, Decimal, str, str], int] = {}
    first_reference: dict[str, int] = {}
    included = [(r, c) for r, c in zip(rows, checks, strict=True) if r.state != BatchRowState.EXCLUDED]
    left_out = [(r, c) for r, c in zip(rows, checks, strict=True) if r.state == BatchRowState.EXCLUDED]
    for remember, pairs in ((True, included), (False, left_out)):
        for row, check in pairs:
            if check.phone and check.amount is not None and check.currency:
                key = (check.phone, check.amount, check.currency, (row.own_reference or "").lower())
                if key in first_copy:
                    check.problems.append(
                        f"Same recipient, amount, currency and reference as row {first_copy[key]}:"
                        " leave one out, or give each payment its own reference."
                    )
                elif remember:
                    first_copy[key] = row.row_number
            reference = (row.own_reference or "").lower()
            if reference and reference in first_reference:
                check.problems.append(
                    f"Reference {row.own_reference} is also on row {first_reference[reference]};"
                    " each payment needs its own reference."
                )
            elif reference and remember:
                first_reference[reference] = row.row_number
    with Session(engine) as db:
        elsewhere = _references_elsewhere(db, [r.own_reference for r in rows if r.own_reference], batch_id)
    for row, check in zip(rows, checks, strict=True):
        if row.own_reference and row.own_reference.lower() in elsewhere:
            check.problems.append(elsewhere[row.own_reference.lower()])


def _references_elsewhere(db: Session, references: list[str], batch_id: int | None) -> dict[str, str]:
    """Reference (lower-case) → why another batch already used it (paid, or being paid)."""
    if not references:
        return {}
    wanted = {r.lower() for r in references}
    found: dict[str, str] = {}
    query = select(BatchRow.own_reference, BatchRow.batch_id, BatchRow.state).where(
        func.lower(BatchRow.own_reference).in_(wanted),
        col(BatchRow.state).in_(REFERENCE_HOLDING_ROWS),
    )
    if batch_id is not None:
        query = query.where(BatchRow.batch_id != batch_id)
    for reference, other, state in db.exec(query).all():
        if reference is None:
            continue
        verb = "was already paid" if state == BatchRowState.PAID else "is being paid"
        found.setdefault(reference.lower(), f"Reference {reference} {verb} in batch {other}.")
    return found


# --------------------------------------------------------------------------- drafts


def create_batch(svc: Services, actor: Actor, name: str, rows: Sequence[RowInput]) -> Batch:
    """A new draft batch with every row checked (see `parse_rows` for reading a file)."""
    require(actor, Permission.BULK_PAYOUTS)
    if problem := validation.text_problem(" ".join(name.split()), "batch name", max_length=200):
        raise BulkError(problem)
    checked = _checked(svc, rows)
    with Session(svc.engine) as db:
        batch = _insert(db, actor, name, checked)
        db.commit()
        db.refresh(batch)
    audit.record(
        svc.engine, actor.email, "batch_created", target=f"batch {batch.id}", detail=f"{len(rows)} rows"
    )
    return batch


def _checked(svc: Services, inputs: Sequence[RowInput]) -> list[BatchRow]:
    if not inputs:
        raise BulkError("Add at least one recipient.")
    if len(inputs) > MAX_ROWS:
        raise BulkError(f"A batch can hold at most {MAX_ROWS:,} recipients; split the file.")
    rows: list[BatchRow] = []
    notes: list[list[str]] = []
    for number, values in enumerate(inputs, start=1):
        row = BatchRow(batch_id=0, row_number=number)
        notes.append(_fill(row, values))
        rows.append(row)
    _check_rows(svc, rows, ask=None, batch_id=None)
    _add_notes(rows, notes)
    return rows


def _insert(
    db: Session, actor: Actor, name: str, rows: list[BatchRow], *, retry_of: int | None = None
) -> Batch:
    title = " ".join(name.split())[:200] or f"Bulk payout {datetime.now(UTC):%Y-%m-%d %H:%M}"
    batch = Batch(name=title, created_by=actor.email, retry_of=retry_of)
    db.add(batch)
    db.flush()
    assert batch.id is not None
    for row in rows:
        row.batch_id = batch.id
        db.add(row)
    return batch


def _add_notes(rows: list[BatchRow], notes: list[list[str]]) -> None:
    for row, extra in zip(rows, notes, strict=True):
        if extra:
            row.problems = " ".join([*extra, row.problems]).strip()[:1000]
            if row.state == BatchRowState.VALID:
                row.state = BatchRowState.INVALID


def list_batches(svc: Services, actor: Actor, *, limit: int = 50) -> list[Batch]:
    """The newest batches first."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    with Session(svc.engine) as db:
        return list(db.exec(select(Batch).order_by(col(Batch.id).desc()).limit(limit)).all())


def get_batch(svc: Services, actor: Actor, batch_id: int) -> Batch:
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    with Session(svc.engine) as db:
        batch = db.get(Batch, batch_id)
    if batch is None:
        raise BulkError(f"There is no batch {batch_id}.")
    return batch


def batch_rows(svc: Services, actor: Actor, batch_id: int) -> list[BatchRow]:
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    return _rows(svc.engine, batch_id)


def _rows(engine: Engine, batch_id: int) -> list[BatchRow]:
    with Session(engine) as db:
        return list(
            db.exec(
                select(BatchRow).where(BatchRow.batch_id == batch_id).order_by(col(BatchRow.row_number))
            ).all()
        )


@dataclass(frozen=True)
class EditedRow:
    """A row of the edit table: `row_id` None for a row added in the table."""

    row_id: int | None
    values: RowInput
    excluded: bool = False


def save_rows(svc: Services, actor: Actor, batch_id: int, edited: Sequence[EditedRow]) -> list[BatchRow]:
    """Store the edit table as the draft's rows (rows missing from it are removed) and check again.

    Dollr is asked again only about rows whose number, amount or currency changed.
    """
    require(actor, Permission.BULK_PAYOUTS)
    if not edited:
        raise BulkError("A batch needs at least one recipient; cancel it instead.")
    if len(edited) > MAX_ROWS:
        raise BulkError(f"A batch can hold at most {MAX_ROWS:,} recipients; split the file.")
    current = {r.id: r for r in _load_draft(svc.engine, batch_id)}
    next_number = max((r.row_number for r in current.values()), default=0) + 1
    rows: list[BatchRow] = []
    notes: list[list[str]] = []
    changed: set[int] = set()
    for edit in edited:
        row = current.pop(edit.row_id, None) if edit.row_id is not None else None
        if row is None:
            row, next_number = BatchRow(batch_id=batch_id, row_number=next_number), next_number + 1
        before = (row.phone, row.amount_text, row.currency)
        notes.append(_fill(row, edit.values))
        if row.id is None or before != (row.phone, row.amount_text, row.currency):
            changed.add(len(rows))
        row.state = BatchRowState.EXCLUDED if edit.excluded else BatchRowState.VALID
        rows.append(row)
    _check_rows(svc, rows, ask=changed, batch_id=batch_id)
    _add_notes(rows, notes)
    _store_draft(svc.engine, batch_id, rows, removed=[r.id for r in current.values() if r.id is not None])
    audit.record(
        svc.engine, actor.email, "batch_edited", target=f"batch {batch_id}", detail=f"{len(rows)} rows"
    )
    return _rows(svc.engine, batch_id)


def recheck(svc: Services, actor: Actor, batch_id: int) -> list[BatchRow]:
    """Check every row again, asking Dollr afresh (after it could not answer, or days later)."""
    require(actor, Permission.BULK_PAYOUTS)
    rows = _load_draft(svc.engine, batch_id)
    _check_rows(svc, rows, ask=set(range(len(rows))), batch_id=batch_id)
    _store_draft(svc.engine, batch_id, rows)
    return _rows(svc.engine, batch_id)


def exclude_rows(
    svc: Services, actor: Actor, batch_id: int, row_ids: Iterable[int] | None = None, *, excluded: bool = True
) -> int:
    """Leave rows out of the draft (None: every row that needs fixing), or take them back in."""
    require(actor, Permission.BULK_PAYOUTS)
    wanted = None if row_ids is None else set(row_ids)
    rows = _load_draft(svc.engine, batch_id)
    count = 0
    for row in rows:
        if (wanted is None and row.state == BatchRowState.INVALID) or (
            wanted is not None and row.id in wanted
        ):
            row.state = BatchRowState.EXCLUDED if excluded else BatchRowState.VALID
            count += 1
    # Leaving a row out can clear another's "same as row N"; taking it back can add one.
    _check_rows(svc, rows, ask=set(), batch_id=batch_id)
    _store_draft(svc.engine, batch_id, rows)
    return count


def _load_draft(engine: Engine, batch_id: int) -> list[BatchRow]:
    """The draft's rows, detached: checks run with no transaction open (they may ask Dollr)."""
    with Session(engine) as db:
        _draft(db, batch_id)
        return list(
            db.exec(
                select(BatchRow).where(BatchRow.batch_id == batch_id).order_by(col(BatchRow.row_number))
            ).all()
        )


def _store_draft(engine: Engine, batch_id: int, rows: list[BatchRow], *, removed: Sequence[int] = ()) -> None:
    with Session(engine) as db:
        batch = _draft(db, batch_id)  # still a draft: nobody sent it for approval meanwhile
        if removed:
            db.exec(delete(BatchRow).where(col(BatchRow.id).in_(removed)))
        for row in rows:
            db.add(row)
        batch.updated_at = utcnow()
        db.add(batch)
        db.commit()


def _draft(db: Session, batch_id: int) -> Batch:
    batch = db.get(Batch, batch_id, with_for_update=True)
    if batch is None:
        raise BulkError(f"There is no batch {batch_id}.")
    if batch.state != BatchState.DRAFT:
        raise BulkError(
            "Only a draft can be changed; this batch is " + BATCH_STATUS[BatchState(batch.state)] + "."
        )
    return batch


def submit_for_approval(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Hand the draft to the managers. Every row must be ready or left out."""
    require(actor, Permission.BULK_PAYOUTS)
    rows = _load_draft(svc.engine, batch_id)
    _check_rows(svc, rows, ask=set(), batch_id=batch_id)  # references may have been paid meanwhile
    invalid = sum(r.state == BatchRowState.INVALID for r in rows)
    ready = sum(r.state == BatchRowState.VALID for r in rows)
    totals: dict[str, Decimal] = {}  # what the rows pay per currency: one or two managers approve
    for row in rows:
        if row.state == BatchRowState.VALID and row.amount is not None:
            totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.amount
    _store_draft(svc.engine, batch_id, rows)
    if invalid:
        raise BulkError(f"Fix or leave out the {invalid} row(s) that need fixing first.")
    if not ready:
        raise BulkError("There is nobody to pay: every row is left out.")
    rules = approval_rules.current(svc.engine, svc.settings)
    needed = max([1, *(rules.approvers_needed(c, total) for c, total in totals.items())])
    with Session(svc.engine) as db:
        batch = _draft(db, batch_id)
        batch.state = BatchState.AWAITING_APPROVAL
        batch.decided_by = batch.decided_at = batch.decision_reason = None
        batch.approvals_needed, batch.first_approved_by, batch.first_approved_at = needed, None, None
        batch.updated_at = utcnow()
        db.add(batch)
        db.commit()
        db.refresh(batch)
    audit.record(
        svc.engine, actor.email, "batch_submitted", target=f"batch {batch_id}", detail=f"{ready} rows"
    )
    return batch


def withdraw(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Take a batch back from approval to change it (the approval is asked for again)."""
    require(actor, Permission.BULK_PAYOUTS)
    batch = _move(svc.engine, batch_id, (BatchState.AWAITING_APPROVAL,), BatchState.DRAFT)
    audit.record(svc.engine, actor.email, "batch_withdrawn", target=f"batch {batch_id}")
    return batch


# --------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class CurrencyTotal:
    """What one currency of the batch costs, against what the wallet is believed to hold."""

    currency: str
    rows: int
    amount: Decimal  # what the recipients receive
    fees: Decimal
    debit: Decimal  # what leaves our wallet: amount + fees
    estimated_balance: Decimal  # from this console's own records (Dollr has no balance endpoint)
    sandbox_balance: Decimal | None = None  # the sandbox's true balance, in sandbox mode

    @property
    def short_by(self) -> Decimal | None:
        return self.debit - self.estimated_balance if self.debit > self.estimated_balance else None

    @property
    def sandbox_short_by(self) -> Decimal | None:
        if self.sandbox_balance is None or self.debit <= self.sandbox_balance:
            return None
        return self.debit - self.sandbox_balance


@dataclass(frozen=True)
class Preview:
    batch: Batch
    rows: list[BatchRow]  # the rows that will be paid
    totals: list[CurrencyTotal]
    needs_fixing: int
    left_out: int


def preview(svc: Services, actor: Actor, batch_id: int) -> Preview:
    """Per-row fees, totals per currency and the balances they draw from. Reads the ledger only."""
    batch = get_batch(svc, actor, batch_id)
    rows = _rows(svc.engine, batch_id)
    to_pay = [r for r in rows if r.state in (BatchRowState.VALID, BatchRowState.QUEUED)]
    balances = {b.currency: b.estimate for b in dashboard.balance_estimates(svc.engine)}
    sandbox = dashboard.sandbox_balances(svc)
    totals = []
    for currency in sorted({r.currency for r in to_pay}):
        mine = [r for r in to_pay if r.currency == currency]
        zero = Decimal(0)
        totals.append(
            CurrencyTotal(
                currency=currency,
                rows=len(mine),
                amount=sum((r.amount or zero for r in mine), zero),
                fees=sum((r.predicted_fees or zero for r in mine), zero),
                debit=sum((r.predicted_debit or r.amount or zero for r in mine), zero),
                estimated_balance=balances.get(currency, zero),
                sandbox_balance=None if sandbox is None else sandbox.get(currency, zero),
            )
        )
    return Preview(
        batch=batch,
        rows=to_pay,
        totals=totals,
        needs_fixing=sum(r.state == BatchRowState.INVALID for r in rows),
        left_out=sum(r.state == BatchRowState.EXCLUDED for r in rows),
    )


# --------------------------------------------------------------------------- running


def start_batch(svc: Services, actor: Actor, batch_id: int, passcode: str) -> Batch:
    """Start paying an approved batch, or resume a paused or interrupted one, with the passcode.

    The passcode goes to the worker only (held in memory, never stored or logged). Rows whose
    reference another batch paid since the approval are canceled, not sent.
    """
    from dollr_core.bulk import worker  # the worker builds on this module's row functions

    require(actor, Permission.BULK_PAYOUTS)
    if not passcode.strip():
        raise BulkError("Enter the merchant passcode to start paying.")
    for tries_left in reversed(range(_QUEUE_TRIES)):
        try:
            batch, state = _mark_running(svc.engine, batch_id)
            break
        except IntegrityError as exc:
            # Another batch took one of these references at the same instant; its claim is
            # committed now, so looking again cancels our row with the reason.
            if HELD_REFERENCE_INDEX not in str(exc.orig) or not tries_left:
                raise
    action = "batch_started" if state is BatchState.APPROVED else "batch_resumed"
    audit.record(svc.engine, actor.email, action, target=f"batch {batch_id}")
    worker.start(svc, actor, batch_id, passcode)
    return batch


def _mark_running(engine: Engine, batch_id: int) -> tuple[Batch, BatchState]:
    """RUNNING, with an approved batch's rows queued (or canceled); returns the state it was in."""
    with Session(engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise BulkError(f"There is no batch {batch_id}.")
        state = BatchState(batch.state)
        if state not in (BatchState.APPROVED, *_ACTIVE_BATCHES):
            raise BulkError("This batch cannot be started: it is " + BATCH_STATUS[state] + ".")
        if state is BatchState.APPROVED:
            _queue_rows(db, batch_id)
        batch.state = BatchState.RUNNING
        batch.updated_at = utcnow()
        db.add(batch)
        db.commit()
        db.refresh(batch)
        return batch, state


def _queue_rows(db: Session, batch_id: int) -> None:
    """Queue the ready rows; a row whose reference another batch holds is canceled instead.

    The check alone can race with another batch starting at the same instant: the ledger's unique
    index on held references (`HELD_REFERENCE_INDEX`) makes the loser's claim fail. Rows holding
    a reference are claimed one by one in reference order, so two such batches never deadlock.
    """
    rows = list(
        db.exec(
            select(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.state == BatchRowState.VALID)
        ).all()
    )
    elsewhere = _references_elsewhere(db, [r.own_reference for r in rows if r.own_reference], batch_id)
    for row in sorted(rows, key=lambda r: (r.own_reference or "").lower()):
        reason = elsewhere.get((row.own_reference or "").lower())
        row.state = BatchRowState.CANCELED if reason else BatchRowState.QUEUED
        row.failure_reason = f"Not sent: {reason}" if reason else None
        row.updated_at = utcnow()
        db.add(row)
        if row.own_reference and not reason:
            db.flush()


def resume_batch(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Resume a paused batch whose worker still holds the passcode (else use `start_batch`)."""
    from dollr_core.bulk import worker

    require(actor, Permission.BULK_PAYOUTS)
    if not worker.holds_passcode(batch_id):
        raise BulkError("Enter the merchant passcode to resume this batch.")
    batch = _move(svc.engine, batch_id, (BatchState.PAUSED,), BatchState.RUNNING)
    audit.record(svc.engine, actor.email, "batch_resumed", target=f"batch {batch_id}")
    worker.wake(batch_id)
    return batch


def pause_batch(svc: Services, actor: Actor, batch_id: int, *, reason: str = "") -> Batch:
    """Stop sending rows; rows already sent are still followed to their outcome."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    if problem := validation.text_problem(reason, "reason", max_length=500, multiline=True):
        raise BulkError(problem)
    batch = _move(svc.engine, batch_id, (BatchState.RUNNING,), BatchState.PAUSED)
    audit.record(svc.engine, actor.email, "batch_paused", target=f"batch {batch_id}", detail=reason or None)
    return batch


def cancel_batch(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Cancel every row not yet sent. Rows already sent cannot be called back: they finish."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    allowed = (BatchState.DRAFT, BatchState.AWAITING_APPROVAL, BatchState.APPROVED, *_ACTIVE_BATCHES)
    with Session(svc.engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise BulkError(f"There is no batch {batch_id}.")
        if batch.state not in allowed:
            raise BulkError(
                "This batch cannot be canceled: it is " + BATCH_STATUS[BatchState(batch.state)] + "."
            )
        # One statement, so no row can be claimed for sending between the check and the change.
        canceled = db.exec(
            update(BatchRow)
            .where(col(BatchRow.batch_id) == batch_id, col(BatchRow.state) == BatchRowState.QUEUED)
            .values(
                state=BatchRowState.CANCELED,
                failure_reason="Canceled before it was sent.",
                updated_at=utcnow(),
            )
        ).rowcount
        canceled += _drop_unsent(db, batch_id, actor)
        batch.state = BatchState.CANCELED
        batch.updated_at = utcnow()
        db.add(batch)
        db.commit()
        db.refresh(batch)
    audit.record(
        svc.engine,
        actor.email,
        "batch_canceled",
        target=f"batch {batch_id}",
        detail=f"{canceled} rows not sent",
    )
    return batch


def _drop_unsent(db: Session, batch_id: int, actor: Actor) -> int:
    """Rows taken for sending whose payment never reached Dollr (say Dollr could not be reached
    while preparing them) are canceled too. Their intent is withdrawn in the same transaction, so
    no worker can still send it; a row whose intent an attempt holds is left to finish."""
    dropped = 0
    claimed = db.exec(
        select(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.state == BatchRowState.SENT)
    ).all()
    for row in claimed:
        intent = None
        if row.intent_key:
            intent = db.exec(
                select(Intent).where(Intent.intent_key == row.intent_key).with_for_update()
            ).first()
        if intent is not None:
            if intent.current_attempt_id is not None or intent.state not in (
                IntentState.OPEN,
                IntentState.READY,
            ):
                continue
            db.add(
                LedgerEvent(
                    intent_id=intent.id,
                    actor=actor.email,
                    action="intent_state",
                    from_state=intent.state,
                    to_state=IntentState.CANCELED,
                    detail=f"batch {batch_id} canceled before it was sent",
                )
            )
            intent.state = IntentState.CANCELED
            intent.updated_at = utcnow()
            db.add(intent)
        row.state = BatchRowState.CANCELED
        row.failure_reason = "Canceled before it was sent."
        row.updated_at = utcnow()
        db.add(row)
        dropped += 1
    return dropped


def _move(engine: Engine, batch_id: int, allowed: tuple[BatchState, ...], to: BatchState) -> Batch:
    with Session(engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise BulkError(f"There is no batch {batch_id}.")
        if batch.state not in allowed:
            raise BulkError("Not possible now: the batch is " + BATCH_STATUS[BatchState(batch.state)] + ".")
        batch.state = to
        batch.updated_at = utcnow()
        db.add(batch)
        db.commit()
        db.refresh(batch)
        return batch


# --------------------------------------------------------------------------- rows in flight (the worker)


def claim_row(engine: Engine, row_id: int) -> str | None:
    """Take a waiting row for sending: QUEUED → SENT, with its intent key stored before anything
    is sent. None when the row is no longer waiting or its batch is not running (pause, cancel)."""
    key = new_intent_key()
    with Session(engine) as db:
        running = exists().where(col(Batch.id) == BatchRow.batch_id, col(Batch.state) == BatchState.RUNNING)
        claimed = db.exec(
            update(BatchRow)
            .where(col(BatchRow.id) == row_id, col(BatchRow.state) == BatchRowState.QUEUED, running)
            .values(
                state=BatchRowState.SENT,
                intent_key=func.coalesce(BatchRow.intent_key, key),
                failure_reason=None,
                updated_at=utcnow(),
            )
        ).rowcount
        db.commit()
        if claimed != 1:
            return None
        row = db.get(BatchRow, row_id)
        assert row is not None and row.intent_key is not None
        return row.intent_key


def record_outcome(engine: Engine, row_id: int, attempt: Attempt) -> BatchRow | None:
    """Copy where the row's payment stands onto the row (only while the row is in flight)."""
    state = AttemptState(attempt.local_state)
    with Session(engine) as db:
        row = db.get(BatchRow, row_id, with_for_update=True)
        if row is None or row.state != BatchRowState.SENT:
            return row
        row.reference_id = attempt.reference_id
        if state is AttemptState.COMPLETED:
            row.state = BatchRowState.PAID
            row.payer_amount, row.payee_amount = attempt.payer_amount, attempt.payee_amount
            row.failure_reason = None
        elif state in (AttemptState.FAILED, AttemptState.REFUSED):
            row.state = BatchRowState.FAILED
            row.failure_reason = failure_reason(attempt)[:500]
        elif state is AttemptState.ABANDONED:
            row.state = BatchRowState.FAILED
            row.failure_reason = "It never reached Dollr: nothing was paid."
        row.updated_at = utcnow()
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def fail_row(engine: Engine, row_id: int, reason: str) -> None:
    """Nothing was paid and nothing will be: Dollr or the checks refused the row."""
    with Session(engine) as db:
        db.exec(
            update(BatchRow)
            .where(col(BatchRow.id) == row_id, col(BatchRow.state) == BatchRowState.SENT)
            .values(state=BatchRowState.FAILED, failure_reason=reason[:500], updated_at=utcnow())
        )
        db.commit()


def requeue_row(engine: Engine, row_id: int, reason: str) -> None:
    """Put a row whose payment provably moved no money back in the queue, under a fresh intent.

    Used when the whole batch had to stop (wrong passcode, wallet too short): the row is sent
    again on resume. Its failed attempt stays in the ledger.
    """
    with Session(engine) as db:
        db.exec(
            update(BatchRow)
            .where(col(BatchRow.id) == row_id, col(BatchRow.state) == BatchRowState.SENT)
            .values(
                state=BatchRowState.QUEUED,
                intent_key=None,
                reference_id=None,
                failure_reason=f"Not sent yet: {reason}"[:500],
                updated_at=utcnow(),
            )
        )
        db.commit()


def sync_rows(engine: Engine, batch_id: int) -> int:
    """Copy the outcome of every settled payment (the worker's, or the reconciler's) onto its row."""
    with Session(engine) as db:
        settled = db.exec(
            select(BatchRow.id, Attempt)
            .join(Intent, col(Intent.intent_key) == col(BatchRow.intent_key))
            .join(Attempt, col(Attempt.id) == col(Intent.current_attempt_id))
            .where(
                BatchRow.batch_id == batch_id,
                BatchRow.state == BatchRowState.SENT,
                col(Attempt.local_state).in_(
                    (AttemptState.COMPLETED, AttemptState.FAILED, AttemptState.REFUSED)
                ),
            )
        ).all()
    for row_id, attempt in settled:
        if row_id is not None:
            record_outcome(engine, row_id, attempt)
    return len(settled)


def finish_if_done(engine: Engine, batch_id: int) -> Batch | None:
    """A running or paused batch with no row waiting or in flight is finished."""
    with Session(engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.state not in _ACTIVE_BATCHES:
            return batch
        open_rows = db.exec(
            select(func.count())
            .select_from(BatchRow)
            .where(col(BatchRow.batch_id) == batch_id, col(BatchRow.state).in_(_IN_FLIGHT_ROWS))
        ).one()
        if open_rows:
            return batch
        batch.state = BatchState.FINISHED
        batch.updated_at = utcnow()
        db.add(batch)
        db.commit()
        db.refresh(batch)
    audit.record(engine, "system:bulk-worker", "batch_finished", target=f"batch {batch_id}")
    return batch


def stop_for(engine: Engine, batch_id: int, reason: str) -> None:
    """The worker pauses a running batch that cannot go on (passcode refused, wallet short)."""
    with Session(engine) as db:
        paused = db.exec(
            update(Batch)
            .where(col(Batch.id) == batch_id, col(Batch.state) == BatchState.RUNNING)
            .values(state=BatchState.PAUSED, updated_at=utcnow())
        ).rowcount
        db.commit()
    if paused:
        audit.record(engine, "system:bulk-worker", "batch_paused", target=f"batch {batch_id}", detail=reason)


# --------------------------------------------------------------------------- progress and results


@dataclass(frozen=True)
class Progress:
    batch: Batch
    rows: list[BatchRow]  # every row that was (or is to be) sent
    counts: dict[BatchRowState, int]
    received: dict[str, Decimal]  # what the paid recipients received, per currency

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in _FINAL_ROWS)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def failed(self) -> int:
        return self.counts.get(BatchRowState.FAILED, 0)


def progress(svc: Services, actor: Actor, batch_id: int) -> Progress:
    """Where every row stands. Reads the ledger only (never Dollr), so pages may poll it freely."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    sync_rows(svc.engine, batch_id)
    finish_if_done(svc.engine, batch_id)
    batch = get_batch(svc, actor, batch_id)
    rows = [
        r
        for r in _rows(svc.engine, batch_id)
        if r.state not in (BatchRowState.VALID, BatchRowState.INVALID, BatchRowState.EXCLUDED)
    ]
    counts: dict[BatchRowState, int] = {}
    received: dict[str, Decimal] = {}
    for row in rows:
        state = BatchRowState(row.state)
        counts[state] = counts.get(state, 0) + 1
        if state is BatchRowState.PAID:
            received[row.currency] = received.get(row.currency, Decimal(0)) + (
                row.payee_amount or row.amount or 0
            )
    return Progress(batch=batch, rows=rows, counts=counts, received=received)


def row_fees(row: BatchRow) -> Decimal | None:
    """The fees Dollr charged on a paid row (what left the wallet minus what the recipient got)."""
    if row.payer_amount is None or row.payee_amount is None:
        return None
    return row.payer_amount - row.payee_amount


RESULT_COLUMNS = (
    "row", "name", "phone", "amount", "currency", "note", "reference", "status",
    "fees", "debited", "received", "dollr_reference_id", "failure_reason",
)  # fmt: skip


def results_csv(svc: Services, actor: Actor, batch_id: int) -> str:
    """Every row with its final status, Dollr reference, fees and failure reason, as CSV."""
    return spreadsheet.document(RESULT_COLUMNS, _result_lines(svc, actor, batch_id))


def results_xlsx(svc: Services, actor: Actor, batch_id: int) -> bytes:
    """The results as an Excel workbook."""
    return spreadsheet.workbook(RESULT_COLUMNS, _result_lines(svc, actor, batch_id), sheet="Results")


def _result_lines(svc: Services, actor: Actor, batch_id: int) -> list[list[object]]:
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    sync_rows(svc.engine, batch_id)
    return [
        [
            row.row_number,
            row.name,
            row.phone,
            _text(row.amount, row.currency) if row.amount is not None else row.amount_text,
            row.currency,
            row.note,
            row.own_reference,
            ROW_STATUS[BatchRowState(row.state)],
            _text(row_fees(row), row.currency),
            _text(row.payer_amount, row.currency),
            _text(row.payee_amount, row.currency),
            row.reference_id,
            row.failure_reason or row.problems,
        ]
        for row in _rows(svc.engine, batch_id)
    ]


def _text(amount: Decimal | None, currency: str) -> str:
    """The amount to the currency's minor units, without thousands separators (for spreadsheets)."""
    if amount is None:
        return ""
    try:
        return str(quantize(amount, currency))
    except ValueError:
        return str(amount)


def retry_failed(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """A new draft holding the failed rows of a batch (never rows still in progress), checked afresh.

    One retry per batch at a time, so the same failed rows can never sit in two batches that both
    get paid.
    """
    require(actor, Permission.BULK_PAYOUTS)
    source = get_batch(svc, actor, batch_id)
    failed = [r for r in _rows(svc.engine, batch_id) if r.state == BatchRowState.FAILED]
    if not failed:
        raise BulkError("No row of this batch failed, so there is nothing to retry.")
    rows = _checked(
        svc,
        [RowInput(r.name, r.phone, r.amount_text, r.currency, r.note, r.own_reference or "") for r in failed],
    )
    with Session(svc.engine) as db:
        db.get(Batch, batch_id, with_for_update=True)  # one retry at a time, even from two windows
        earlier = db.exec(
            select(Batch).where(
                Batch.retry_of == batch_id,
                col(Batch.state).notin_((BatchState.CANCELED, BatchState.REJECTED)),
            )
        ).first()
        if earlier is not None:
            raise BulkError(
                f"Batch {earlier.id} already retries these rows; cancel it first to make another."
            )
        retry = _insert(db, actor, f"Retry of {source.name}", rows, retry_of=batch_id)
        db.commit()
        db.refresh(retry)
    audit.record(
        svc.engine,
        actor.email,
        "batch_created",
        target=f"batch {retry.id}",
        detail=f"retry of batch {batch_id}",
    )
    return retry
