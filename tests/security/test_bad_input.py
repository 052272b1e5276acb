"""Bad input gets a sentence naming the field, row or file, and nothing is stored or sent; a
database fault is shown as a fault with a reference, never as SQL. The same on both databases."""

from __future__ import annotations

import codecs
import logging

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from dollr_core.basics import validation
from dollr_core.basics.access import Actor, Role
from dollr_core.basics.money import parse_amount
from dollr_core.bulk import drafts, recipient_file
from dollr_core.bulk.states import BulkError
from dollr_core.explain import explain
from dollr_core.flows import documents
from dollr_core.flows.payouts import prepare_payout
from dollr_core.ledger.tables import BatchRow, BatchRowState, Customer, Intent
from dollr_core.services import Services
from dollr_core.team import sign_in, users
from dollr_sandbox import Sandbox

HEADING = "name,phone,amount,currency,note,reference\n"


def _count(svc: Services, table: type[Intent] | type[Customer]) -> int:
    with Session(svc.engine) as db:
        return int(db.exec(select(func.count()).select_from(table)).one())


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"note": "x" * 501}, "The note can have at most 500 characters; this one has 501."),
        ({"note": "thanks\x00"}, "The note contains a control character (U+0000); remove it."),
        ({"name": "Musa\x00Kollie"}, "The name contains a control character (U+0000); remove it."),
        ({"amount": "1" * 20}, "The amount can be at most 1,000,000,000,000 USD."),
        ({"amount": "1e15"}, "The amount can be at most 1,000,000,000,000 USD."),
    ],
)
def test_a_payout_with_bad_input_is_refused_before_anything_is_stored_or_sent(
    services: Services, fresh_sandbox: Sandbox, operator: Actor, fields: dict[str, str], says: str
) -> None:
    typed = {"name": "Musa Kollie", "phone": "231880001234", "amount": "25", "currency": "USD"} | fields
    with pytest.raises(ValueError) as refused:
        prepare_payout(services, operator, "bad-input", **typed)
    assert str(refused.value) == says
    assert explain(refused.value).headline == says
    assert _count(services, Intent) == 0 and _count(services, Customer) == 0
    assert fresh_sandbox.executions() == []


def test_a_database_fault_shows_a_reference_never_sql(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Exception) as fault, Session(services.engine) as db:
        db.exec(
            text("SELECT phone FROM no_such_table WHERE phone = :phone"), params={"phone": "231880001234"}
        )  # type: ignore[call-overload]
    with caplog.at_level(logging.ERROR, logger="dollr_core.faults"):
        said = explain(fault.value)
        again = explain(fault.value)
    shown = " ".join((said.headline, said.advice, said.details))
    assert "SELECT" not in shown and "no_such_table" not in shown and "231880001234" not in shown
    assert "Correct" not in said.advice  # a fault is not the person's to correct
    reference = said.headline.split("fault ")[1].rstrip(").")
    assert again.headline == said.headline  # the same fault keeps its reference across reruns
    [logged] = [r for r in caplog.records if r.name == "dollr_core.faults"]
    assert reference in logged.getMessage() and "no_such_table" in logged.getMessage()


def test_other_typed_text_is_checked_too(services: Services, admin: Actor, finance: Actor) -> None:
    with pytest.raises(ValueError, match="The item name contains a control character"):
        documents.LineItem.checked("Report\x07", 1, "5", "USD")
    with pytest.raises(users.UserError, match="The name can have at most 200 characters"):
        users.add_user(
            services.engine, email="new@example.com", role=Role.OPERATOR, password=None, name="n" * 201
        )
    with pytest.raises(users.UserError, match="valid e-mail"):
        users.add_user(services.engine, email="new\x00@example.com", role=Role.OPERATOR, password=None)
    with pytest.raises(BulkError, match="The batch name contains a control character"):
        drafts.create_batch(
            services, finance, "March\x00", [recipient_file.RowInput("Musa", "231880001234", "5", "USD")]
        )
    with pytest.raises(sign_in.SignInError):  # a NUL in the typed e-mail is recorded, not a crash
        sign_in.sign_in(services.engine, "who\x00@example.com", "whatever", client="t", sleep=lambda _s: None)


def test_bulk_rows_with_bad_cells_are_refused_on_their_row(services: Services, finance: Actor) -> None:
    data = (
        HEADING
        + "Huge Amount,231880001234,1000000000000000,USD,,R-1\n"
        + "Twenty Digits,231880001235,12345678901234567890,USD,,R-2\n"
        + '"Musa\nKollie",231880001236,5,USD,,R-3\n'
        + "Aline\u2028Uwase,231880001237,5,USD,,R-4\n"
        + "Nul\x00Name,231880001238,5,USD,,R-5\n"
        + "Good Row,231880001239,5,USD,,R-6\n"
    )
    rows = recipient_file.parse_rows(data)  # pasted; an uploaded file with a NUL byte is refused as a whole
    assert len(recipient_file.parse_rows(data.replace("\x00", "").encode())) == 6
    assert [r.own_reference for r in rows] == ["R-1", "R-2", "R-3", "R-4", "R-5", "R-6"]  # no row split
    batch = drafts.create_batch(services, finance, "Bad cells", rows)
    with Session(services.engine) as db:
        stored = {r.own_reference: r for r in db.exec(select(BatchRow).where(BatchRow.batch_id == batch.id))}
    too_big = "The amount can be at most 1,000,000,000,000 USD."
    assert too_big in (stored["R-1"].problems or "") and too_big in (stored["R-2"].problems or "")
    assert stored["R-1"].amount is None
    line_break = "The name must fit on one line (it contains a line break)."
    for reference in ("R-3", "R-4"):
        assert line_break in (stored[reference].problems or ""), reference
    assert "MusaKollie" not in stored["R-3"].name  # never silently joined
    assert "The name contains a control character (U+0000)" in (stored["R-5"].problems or "")
    assert "\x00" not in stored["R-5"].name
    assert {r.state for k, r in stored.items() if k != "R-6"} == {BatchRowState.INVALID}
    assert stored["R-6"].state == BatchRowState.VALID


def test_utf16_files_are_read_by_their_byte_order_mark() -> None:
    content = "name,phone,amount,currency\nJosé Ané 李,231880001234,5,USD\n"
    for encoded in (codecs.BOM_UTF16_LE + content.encode("utf-16-le"), content.encode("utf-16")):
        assert recipient_file.parse_rows(encoded)[0].name == "José Ané 李"
    with pytest.raises(BulkError, match="UTF-16 files without a byte-order mark"):
        recipient_file.parse_rows(content.encode("utf-16-le"))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (HEADING.encode() + b"x" * 50_000_000, r"The file is too large \(50\.0 MB\)"),
        (HEADING + "x" * 200_000 + ",231880001234,5,USD\n", "Line 2 of the file is too long"),
        (HEADING + "Musa,231880001234,5,USD," + "n" * 10_001 + "\n", "Line 2 of the file is too long"),
        ("x" * 10_001 + "\nMusa,231880001234,5,USD\n", "Line 1 of the file is too long"),
    ],
)
def test_files_too_large_or_with_too_long_lines_say_so(data: bytes | str, says: str) -> None:
    with pytest.raises(BulkError, match=says):
        recipient_file.parse_rows(data)


def test_amounts_and_links_have_limits() -> None:
    assert parse_amount("1,000,000,000,000", "USD") == 10**12
    with pytest.raises(ValueError, match="at most 1,000,000,000,000 RWF"):
        parse_amount("1000000000001", "RWF")
    assert validation.link_id(" 42 ", "batch") == 42
    for bad in ("²", "1" * 23, "0", "-1", "4e3", "", "2147483648"):
        with pytest.raises(ValueError, match="This link is not valid"):
            validation.link_id(bad, "batch")


def test_searches_with_a_nul_find_nothing_instead_of_failing(services: Services, admin: Actor) -> None:
    from dollr_core.flows import directory
    from dollr_core.ledger import audit
    from dollr_core.reports import history

    assert audit.search(services.engine, audit.AuditFilter(actor="a\x00", text="b\x00")) == []
    assert directory.search_customers(services.engine, "Musa\x00") == []
    assert documents.search_documents(services.engine, text="INV\x00") == []
    assert history.page(services, admin, history.HistoryFilter(text="x\x00"), 1, 10).rows == []


@pytest.mark.parametrize("typed", ["²", "1" * 23, "INV\x00"])
def test_a_malformed_document_number_is_not_found_instead_of_failing(
    services: Services, finance: Actor, typed: str
) -> None:
    assert documents.find_document(services, finance, typed) is None
