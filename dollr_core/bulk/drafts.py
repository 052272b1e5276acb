"""Drafts: a batch made from rows, edited and checked again, sent for approval or withdrawn, and
retries of failed rows as a new draft."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from dollr_core.basics import validation
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.bulk.recipient_file import MAX_ROWS, RowInput
from dollr_core.bulk.records import all_rows, get_batch, move_batch
from dollr_core.bulk.row_checks import check_rows, fill_row
from dollr_core.bulk.states import BATCH_STATUS, BulkError
from dollr_core.ledger import audit, transitions
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import (
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
)
from dollr_core.services import Services
from dollr_core.team import approval_rules


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
        notes.append(fill_row(row, values))
        rows.append(row)
    wanted = _add_notes(rows, notes, check_rows(svc, rows, ask=None, batch_id=None, left_out=set()))
    return [_new_row(row, state) for row, state in zip(rows, wanted, strict=True)]


def _new_row(row: BatchRow, state: BatchRowState) -> BatchRow:
    """A row not yet stored, created in the state its checks gave it."""
    return BatchRow(**row.model_dump(exclude={"id", "state"}), state=state)


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


def _add_notes(
    rows: list[BatchRow], notes: list[list[str]], wanted: list[BatchRowState]
) -> list[BatchRowState]:
    """What did not fit in a cell is a problem of its row too: a ready row then needs fixing."""
    states = list(wanted)
    for i, (row, extra) in enumerate(zip(rows, notes, strict=True)):
        if extra:
            row.problems = " ".join([*extra, row.problems]).strip()[:1000]
            if states[i] == BatchRowState.VALID:
                states[i] = BatchRowState.INVALID
    return states


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
    left_out: set[int] = set()
    for edit in edited:
        row = current.pop(edit.row_id, None) if edit.row_id is not None else None
        if row is None:
            row, next_number = BatchRow(batch_id=batch_id, row_number=next_number), next_number + 1
        before = (row.phone, row.amount_text, row.currency)
        notes.append(fill_row(row, edit.values))
        if row.id is None or before != (row.phone, row.amount_text, row.currency):
            changed.add(len(rows))
        if edit.excluded:
            left_out.add(len(rows))
        rows.append(row)
    wanted = _add_notes(rows, notes, check_rows(svc, rows, ask=changed, batch_id=batch_id, left_out=left_out))
    removed = [r.id for r in current.values() if r.id is not None]
    _store_draft(svc.engine, actor, batch_id, rows, wanted, removed=removed)
    audit.record(
        svc.engine, actor.email, "batch_edited", target=f"batch {batch_id}", detail=f"{len(rows)} rows"
    )
    return all_rows(svc.engine, batch_id)


def recheck(svc: Services, actor: Actor, batch_id: int) -> list[BatchRow]:
    """Check every row again, asking Dollr afresh (after it could not answer, or days later)."""
    require(actor, Permission.BULK_PAYOUTS)
    rows = _load_draft(svc.engine, batch_id)
    wanted = check_rows(svc, rows, ask=set(range(len(rows))), batch_id=batch_id, left_out=_left_out(rows))
    _store_draft(svc.engine, actor, batch_id, rows, wanted)
    return all_rows(svc.engine, batch_id)


def exclude_rows(
    svc: Services, actor: Actor, batch_id: int, row_ids: Iterable[int] | None = None, *, excluded: bool = True
) -> int:
    """Leave rows out of the draft (None: every row that needs fixing), or take them back in."""
    require(actor, Permission.BULK_PAYOUTS)
    chosen = None if row_ids is None else set(row_ids)
    rows = _load_draft(svc.engine, batch_id)
    left_out = _left_out(rows)
    count = 0
    for i, row in enumerate(rows):
        if (chosen is None and row.state == BatchRowState.INVALID) or (
            chosen is not None and row.id in chosen
        ):
            if excluded:
                left_out.add(i)
            else:
                left_out.discard(i)
            count += 1
    # Leaving a row out can clear another's "same as row N"; taking it back can add one.
    wanted = check_rows(svc, rows, ask=set(), batch_id=batch_id, left_out=left_out)
    _store_draft(svc.engine, actor, batch_id, rows, wanted)
    return count


def _left_out(rows: list[BatchRow]) -> set[int]:
    return {i for i, row in enumerate(rows) if row.state == BatchRowState.EXCLUDED}


def _load_draft(engine: Engine, batch_id: int) -> list[BatchRow]:
    """The draft's rows, detached: checks run with no transaction open (they may ask Dollr)."""
    with Session(engine) as db:
        _draft(db, batch_id)
        return list(
            db.exec(
                select(BatchRow).where(BatchRow.batch_id == batch_id).order_by(col(BatchRow.row_number))
            ).all()
        )


def _store_draft(
    engine: Engine,
    actor: Actor,
    batch_id: int,
    rows: list[BatchRow],
    wanted: list[BatchRowState],
    *,
    removed: Sequence[int] = (),
) -> None:
    """Store the checked rows; each row whose state changed moves through `ledger.transitions`."""
    with Session(engine) as db:
        batch = _draft(db, batch_id)  # still a draft: nobody sent it for approval meanwhile
        if removed:
            db.exec(delete(BatchRow).where(col(BatchRow.id).in_(removed)))
        for row, state in zip(rows, wanted, strict=True):
            if row.id is None:
                db.add(_new_row(row, state))
            elif row.state != state:
                transitions.move(db, row, state, actor=actor.email)
            else:
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
    # References may have been paid meanwhile.
    wanted = check_rows(svc, rows, ask=set(), batch_id=batch_id, left_out=_left_out(rows))
    invalid = wanted.count(BatchRowState.INVALID)
    ready = wanted.count(BatchRowState.VALID)
    totals: dict[str, Decimal] = {}  # what the rows pay per currency: one or two managers approve
    for row, state in zip(rows, wanted, strict=True):
        if state == BatchRowState.VALID and row.amount is not None:
            totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.amount
    _store_draft(svc.engine, actor, batch_id, rows, wanted)
    if invalid:
        raise BulkError(f"Fix or leave out the {invalid} row(s) that need fixing first.")
    if not ready:
        raise BulkError("There is nobody to pay: every row is left out.")
    rules = approval_rules.current(svc.engine, svc.settings)
    needed = max([1, *(rules.approvers_needed(c, total) for c, total in totals.items())])
    with Session(svc.engine) as db:
        batch = _draft(db, batch_id)
        batch.decided_by = batch.decided_at = batch.decision_reason = None
        batch.approvals_needed, batch.first_approved_by, batch.first_approved_at = needed, None, None
        transitions.move(db, batch, BatchState.AWAITING_APPROVAL, actor=actor.email, detail=f"{ready} rows")
        db.commit()
        db.refresh(batch)
    audit.record(
        svc.engine, actor.email, "batch_submitted", target=f"batch {batch_id}", detail=f"{ready} rows"
    )
    return batch


def withdraw(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Take a batch back from approval to change it (the approval is asked for again)."""
    require(actor, Permission.BULK_PAYOUTS)
    batch = move_batch(svc.engine, actor, batch_id, (BatchState.AWAITING_APPROVAL,), BatchState.DRAFT)
    audit.record(svc.engine, actor.email, "batch_withdrawn", target=f"batch {batch_id}")
    return batch


def retry_failed(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """A new draft holding the failed rows of a batch (never rows still in progress), checked afresh.

    One retry per batch at a time, so the same failed rows can never sit in two batches that both
    get paid.
    """
    require(actor, Permission.BULK_PAYOUTS)
    source = get_batch(svc, actor, batch_id)
    failed = [r for r in all_rows(svc.engine, batch_id) if r.state == BatchRowState.FAILED]
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
