"""Every row is checked before anything is sent; drafts are fixed in place; a manager approves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.bulk import drafts, recipient_file, records, running
from dollr_core.bulk.drafts import EditedRow
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.bulk.states import BulkError
from dollr_core.ledger.tables import BatchRow, BatchRowState, BatchState
from dollr_core.services import Services
from dollr_core.team import approvals
from dollr_sandbox import Sandbox

from .helpers import rows_text


def _by_number(svc: Services, actor: Actor, batch_id: int) -> dict[int, BatchRow]:
    return {r.row_number: r for r in records.batch_rows(svc, actor, batch_id)}


def test_each_row_is_checked_and_problems_are_reported_per_row(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    text = rows_text(
        "Musa Kollie,+231 88 000 1234,25,USD,stipend,S-1",  # fine (spaces and + are tidied)
        "Amara Kamara,231770005678,1500.5,lrd,,S-2",  # fine: lower-case currency is accepted
        "Aline Uwase,250780005678,15000,RWF,,",  # fine
        ",231880004321,5,USD,,",  # no name
        "Too Short,12345,5,USD,,",  # number format
        "Unknown Net,231990001234,5,USD,,",  # no operator serves it
        "Wrong Money,250780001111,5,USD,,",  # Rwandan wallets take RWF only
        "Half Franc,250780002222,100.5,RWF,,",  # RWF has no decimals
        "Nothing,231880005555,0,USD,,",  # amount must be positive
        "Odd Money,231880006666,5,EUR,,",  # currency not supported
        "Musa Kollie,231880001234,25,USD,stipend,S-1",  # a copy of row 1
        "Other Person,231880007777,9,USD,,S-2",  # reference already on row 2
    )
    batch = drafts.create_batch(services, finance, "March stipends", recipient_file.parse_rows(text))
    assert batch.id is not None and batch.state == BatchState.DRAFT
    rows = _by_number(services, finance, batch.id)
    assert [n for n, r in rows.items() if r.state == BatchRowState.VALID] == [1, 2, 3]
    assert rows[1].phone == "231880001234" and rows[1].carrier == "MTN"
    assert rows[2].currency == "LRD" and rows[2].carrier == "Orange"
    assert rows[1].amount == Decimal("25") and rows[1].predicted_fees == Decimal("0.51")  # 0.38 + 0.13
    assert rows[1].predicted_debit == Decimal("25.51")
    problems = {n: r.problems for n, r in rows.items()}
    assert "name" in problems[4]
    assert "8 to 15 digits" in problems[5]
    assert "No mobile network serves" in problems[6]
    assert "receive RWF, not USD" in problems[7]
    assert "whole numbers" in problems[8]
    assert "greater than zero" in problems[9]
    assert "USD, LRD, RWF" in problems[10]
    assert "Same recipient, amount, currency and reference as row 1" in problems[11]
    assert "Reference S-2 is also on row 2" in problems[12]


def test_dollr_is_asked_once_per_distinct_number_and_quote(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    lines = [f"Person {i},23188000{i % 5}999,{10 + i % 2},USD,,R{i}" for i in range(40)]
    before = fresh_sandbox.requests_by_path()
    batch = drafts.create_batch(sqlite_services, finance, "", recipient_file.parse_rows(rows_text(*lines)))
    after = fresh_sandbox.requests_by_path()

    def asked(path: str) -> int:
        return after.get(path, 0) - before.get(path, 0)

    assert asked("/v1/predictions/mmo-provider-info") == 5  # 5 distinct numbers
    assert asked("/v1/predictions/amount-and-fees") == 2  # 2 distinct amounts on one operator
    assert batch.name.startswith("Bulk payout ")
    assert all(
        r.state == BatchRowState.VALID for r in records.batch_rows(sqlite_services, finance, batch.id or 0)
    )


def test_reference_paid_in_an_earlier_batch_is_flagged(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    first = drafts.create_batch(
        sqlite_services, finance, "", recipient_file.parse_rows(rows_text("A,231880001234,5,USD,,PAY-1"))
    )
    assert first.id is not None
    with Session(sqlite_services.engine) as db:  # as if batch `first` had paid its row
        row = records.batch_rows(sqlite_services, finance, first.id)[0]
        row.state = BatchRowState.PAID
        db.add(row)
        db.commit()
    second = drafts.create_batch(
        sqlite_services,
        finance,
        "",
        recipient_file.parse_rows(rows_text("A,231880001234,5,USD,,pay-1", "B,231880005678,5,USD,,")),
    )
    rows = _by_number(sqlite_services, finance, second.id or 0)
    assert rows[1].state == BatchRowState.INVALID
    assert f"was already paid in batch {first.id}" in rows[1].problems
    assert rows[2].state == BatchRowState.VALID


def test_fixing_rows_in_place_asks_dollr_only_about_changed_rows(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    text = rows_text("A,231880001234,5,USD,,", "B,12345,5,USD,,", "C,231880005678,7,USD,,")
    batch = drafts.create_batch(sqlite_services, finance, "", recipient_file.parse_rows(text))
    batch_id = batch.id or 0
    rows = _by_number(sqlite_services, finance, batch_id)
    assert rows[2].state == BatchRowState.INVALID
    before = fresh_sandbox.requests_by_path().get("/v1/predictions/mmo-provider-info", 0)
    edited = [
        EditedRow(rows[1].id, RowInput("A", rows[1].phone, "5", "USD")),
        EditedRow(rows[2].id, RowInput("B fixed", "231880009876", "5", "USD", "fixed")),
        # row C removed; a new row added at the end
        EditedRow(None, RowInput("D", "250780001234", "2000", "RWF")),
    ]
    saved = {r.row_number: r for r in drafts.save_rows(sqlite_services, finance, batch_id, edited)}
    assert sorted(saved) == [1, 2, 4]
    assert all(r.state == BatchRowState.VALID for r in saved.values())
    assert saved[2].name == "B fixed" and saved[2].carrier == "MTN" and saved[2].note == "fixed"
    assert saved[4].currency == "RWF" and saved[4].predicted_debit == Decimal("2040")
    asked = fresh_sandbox.requests_by_path().get("/v1/predictions/mmo-provider-info", 0) - before
    assert asked == 2  # the fixed number and the new one; row A was not asked about again


def test_problem_rows_are_left_out_and_copies_resolve(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    text = rows_text("A,231880001234,5,USD,,", "A again,231880001234,5,USD,,", "Bad,123,5,USD,,")
    batch_id = drafts.create_batch(sqlite_services, finance, "", recipient_file.parse_rows(text)).id or 0
    with pytest.raises(BulkError, match="Fix or leave out the 2 row"):
        drafts.submit_for_approval(sqlite_services, finance, batch_id)
    assert drafts.exclude_rows(sqlite_services, finance, batch_id) == 2
    rows = _by_number(sqlite_services, finance, batch_id)
    assert [rows[n].state for n in (1, 2, 3)] == [
        BatchRowState.VALID,
        BatchRowState.EXCLUDED,
        BatchRowState.EXCLUDED,
    ]
    assert "as row 1" in rows[2].problems  # a row left out still says why
    # Taking the copy back in makes it a copy again.
    drafts.exclude_rows(sqlite_services, finance, batch_id, [rows[2].id or 0], excluded=False)
    assert _by_number(sqlite_services, finance, batch_id)[2].state == BatchRowState.INVALID


def test_submit_and_approval_by_a_different_manager(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    batch_id = (
        drafts.create_batch(
            sqlite_services, finance, "", recipient_file.parse_rows(rows_text("A,231880001234,5,USD,,"))
        ).id
        or 0
    )
    with pytest.raises(AccessDenied):
        drafts.submit_for_approval(sqlite_services, manager, batch_id)
    assert (
        drafts.submit_for_approval(sqlite_services, finance, batch_id).state == BatchState.AWAITING_APPROVAL
    )
    with pytest.raises(BulkError, match="Only a draft"):
        drafts.save_rows(
            sqlite_services, finance, batch_id, [EditedRow(None, RowInput("X", "231880001234", "9", "USD"))]
        )
    # A manager who also made it may not approve it (maker-checker), nor may a finance person.
    own = Actor(finance.email, Role.MANAGER)
    shown = approvals.batch_totals(sqlite_services, manager, batch_id).fingerprint
    with pytest.raises(approvals.ApprovalError, match="someone else"):
        approvals.decide_batch(sqlite_services, own, batch_id, approvals.Decision(True, "", shown))
    with pytest.raises(AccessDenied):
        approvals.decide_batch(sqlite_services, finance, batch_id, approvals.Decision(True, "", shown))
    assert [b.id for b in approvals.pending_batches(sqlite_services, manager)] == [batch_id]
    with pytest.raises(BulkError, match="cannot be started"):
        running.start_batch(sqlite_services, finance, batch_id, "123456")
    decided = approvals.decide_batch(
        sqlite_services, manager, batch_id, approvals.Decision(True, "ok", shown)
    )
    assert decided.state == BatchState.APPROVED and decided.decided_by == manager.email


def test_withdrawn_batch_can_be_edited_and_must_be_approved_again(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    batch_id = (
        drafts.create_batch(
            sqlite_services, finance, "", recipient_file.parse_rows(rows_text("A,231880001234,5,USD,,"))
        ).id
        or 0
    )
    drafts.submit_for_approval(sqlite_services, finance, batch_id)
    assert drafts.withdraw(sqlite_services, finance, batch_id).state == BatchState.DRAFT
    drafts.save_rows(
        sqlite_services, finance, batch_id, [EditedRow(None, RowInput("B", "231880005678", "6", "USD"))]
    )
    assert [r.name for r in records.batch_rows(sqlite_services, finance, batch_id)] == ["B"]


def test_operators_may_not_make_batches(sqlite_services: Services, operator: Actor) -> None:
    with pytest.raises(AccessDenied):
        drafts.create_batch(sqlite_services, operator, "", [RowInput("A", "231880001234", "5", "USD")])
