"""One writer of state: the allowed changes of intents, attempts, batches and batch rows.

The rule: `Intent.state`, `Attempt.local_state`, `Batch.state` and `BatchRow.state` change only
here. Every change is checked against the table below, sets the column and the times that go with
it (`updated_at`; an attempt that ends also gets `final_at` and is no longer polled), and adds its
`LedgerEvent` to the caller's session, so the change and its event commit or roll back together.
The caller commits. Approvals have no table of their own: an approval is the intent's or the
batch's move out of AWAITING_APPROVAL, so it is in these tables too.

A pair not in the table raises `IllegalTransition`: a fault in our code, never a refusal to show
to a person (the callers check what a person may do before they move anything).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar, overload

from sqlalchemy import ColumnElement, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel

from dollr_core.ledger import statements
from dollr_core.ledger.columns import as_loaded, blank_row, utcnow, with_defaults
from dollr_core.ledger.tables import (
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

__all__ = [
    "INITIAL",
    "TRANSITIONS",
    "IllegalTransition",
    "allowed",
    "created",
    "insert",
    "move",
    "move_each",
    "move_unread",
    "move_where",
]

Stateful = Intent | Attempt | Batch | BatchRow

_I, _A, _B, _R = IntentState, AttemptState, BatchState, BatchRowState

#: The form's own edits: while nothing was sent, an intent follows its form between these states.
_EDITABLE = {_I.OPEN, _I.READY, _I.AWAITING_APPROVAL}
#: Dollr's word on a reference wins over whatever we thought while it was open.
_DOLLR_SAYS = {_A.ACCEPTED, _A.COMPLETED, _A.FAILED}

INTENT_TRANSITIONS: Mapping[IntentState, frozenset[IntentState]] = {
    _I.OPEN: frozenset(_EDITABLE | {_I.CANCELED}),
    # to itself: the first of two approvals, or an edit while waiting
    _I.AWAITING_APPROVAL: frozenset(_EDITABLE | {_I.REJECTED, _I.CANCELED}),
    _I.READY: frozenset(_EDITABLE | {_I.EXECUTING, _I.CANCELED}),
    # back to READY only when the attempt provably never landed
    _I.EXECUTING: frozenset({_I.READY, _I.COMPLETED, _I.FAILED}),
    _I.COMPLETED: frozenset(),
    _I.FAILED: frozenset(),
    _I.REJECTED: frozenset(),
    _I.CANCELED: frozenset(),
}

ATTEMPT_TRANSITIONS: Mapping[AttemptState, frozenset[AttemptState]] = {
    _A.PREPARING: frozenset(_DOLLR_SAYS | {_A.SENDING, _A.UNKNOWN, _A.REFUSED, _A.ABANDONED}),
    _A.SENDING: frozenset(_DOLLR_SAYS | {_A.UNKNOWN, _A.REFUSED, _A.ABANDONED}),
    # back to PREPARING only when no session was ever opened, so nothing was sent
    _A.UNKNOWN: frozenset(_DOLLR_SAYS | {_A.PREPARING, _A.ABANDONED}),
    _A.ACCEPTED: frozenset({_A.COMPLETED, _A.FAILED}),
    _A.COMPLETED: frozenset(),
    _A.FAILED: frozenset(),
    _A.REFUSED: frozenset(),
    _A.ABANDONED: frozenset(),
}

BATCH_TRANSITIONS: Mapping[BatchState, frozenset[BatchState]] = {
    _B.DRAFT: frozenset({_B.AWAITING_APPROVAL, _B.CANCELED}),
    _B.AWAITING_APPROVAL: frozenset({_B.DRAFT, _B.APPROVED, _B.REJECTED, _B.CANCELED}),
    _B.APPROVED: frozenset({_B.RUNNING, _B.CANCELED}),
    # to itself: started again with the passcode after its worker stopped
    _B.RUNNING: frozenset({_B.RUNNING, _B.PAUSED, _B.FINISHED, _B.CANCELED}),
    _B.PAUSED: frozenset({_B.RUNNING, _B.FINISHED, _B.CANCELED}),
    _B.FINISHED: frozenset(),
    _B.CANCELED: frozenset(),
    _B.REJECTED: frozenset(),
}

BATCH_ROW_TRANSITIONS: Mapping[BatchRowState, frozenset[BatchRowState]] = {
    _R.VALID: frozenset({_R.INVALID, _R.EXCLUDED, _R.QUEUED, _R.CANCELED}),
    _R.INVALID: frozenset({_R.VALID, _R.EXCLUDED}),
    _R.EXCLUDED: frozenset({_R.VALID, _R.INVALID}),
    _R.QUEUED: frozenset({_R.SENT, _R.CANCELED}),
    # back to QUEUED only when its payment provably moved no money (the batch had to stop)
    _R.SENT: frozenset({_R.PAID, _R.FAILED, _R.QUEUED, _R.CANCELED}),
    _R.PAID: frozenset(),
    _R.FAILED: frozenset(),
    _R.CANCELED: frozenset(),
}

#: Every table's allowed (from, to) pairs, keyed by the table's model.
TRANSITIONS: Mapping[type[SQLModel], Mapping[Any, frozenset[Any]]] = {
    Intent: INTENT_TRANSITIONS,
    Attempt: ATTEMPT_TRANSITIONS,
    Batch: BATCH_TRANSITIONS,
    BatchRow: BATCH_ROW_TRANSITIONS,
}

#: The states a row may be created in (`created`). A payment booked from Dollr's own page starts
#: COMPLETED: it happened before the ledger heard of it.
INITIAL: Mapping[type[SQLModel], frozenset[Any]] = {
    Intent: frozenset(_EDITABLE | {_I.COMPLETED}),
    Attempt: frozenset({_A.PREPARING, _A.COMPLETED}),
    Batch: frozenset({_B.DRAFT}),
    BatchRow: frozenset({_R.VALID, _R.INVALID, _R.EXCLUDED}),
}

_STATE_ENUM: Mapping[type[SQLModel], type[StrEnum]] = {
    Intent: IntentState,
    Attempt: AttemptState,
    Batch: BatchState,
    BatchRow: BatchRowState,
}
_COLUMN: Mapping[type[SQLModel], str] = {
    Intent: "state",
    Attempt: "local_state",
    Batch: "state",
    BatchRow: "state",
}
_DEFAULT_ACTION: Mapping[type[SQLModel], str] = {
    Intent: "intent_state",
    Attempt: "attempt_state",
    Batch: "batch_state",
    BatchRow: "batch_row_state",
}

#: The event's columns naming the row and what it belongs to, and the row's columns they take.
_EVENT_NAMES: Mapping[type[SQLModel], Mapping[str, str]] = {
    Intent: {"intent_id": "id"},
    Attempt: {"attempt_id": "id", "intent_id": "intent_id"},
    Batch: {"batch_id": "id"},
    BatchRow: {"batch_row_id": "id", "batch_id": "batch_id"},
}
_ROW_ID: Mapping[type[SQLModel], str] = {
    Intent: "intent_id",
    Attempt: "attempt_id",
    Batch: "batch_id",
    BatchRow: "batch_row_id",
}


class IllegalTransition(RuntimeError):
    """A state change the table does not allow: a fault in our code, never a person's mistake."""

    def __init__(self, model: type[SQLModel], row_id: int | None, frm: str, to: str) -> None:
        super().__init__(
            f"Fault in the console: {model.__name__} {row_id} may not go from {frm} to {to}"
            " (dollr_core/ledger/transitions.py)."
        )
        self.model, self.row_id, self.frm, self.to = model, row_id, frm, to


def allowed(model: type[SQLModel], frm: str, to: str) -> bool:
    """Whether the table lets a row of `model` go from `frm` to `to`."""
    states = _STATE_ENUM[model]
    try:
        return states(to) in TRANSITIONS[model][states(frm)]
    except ValueError:
        return False


def _check(model: type[SQLModel], row_id: int | None, frm: str, to: str) -> None:
    if not allowed(model, frm, to):
        raise IllegalTransition(model, row_id, frm, to)


@overload
def move(
    db: Session,
    row: Intent,
    to: IntentState,
    *,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> None: ...
@overload
def move(
    db: Session,
    row: Attempt,
    to: AttemptState,
    *,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> None: ...
@overload
def move(
    db: Session,
    row: Batch,
    to: BatchState,
    *,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> None: ...
@overload
def move(
    db: Session,
    row: BatchRow,
    to: BatchRowState,
    *,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> None: ...
def move(
    db: Session,
    row: Stateful,
    to: StrEnum,
    *,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> None:
    """Move a loaded row (locked by the caller) to `to`, and add the change's event to `db`.

    `action` names the event (default "<table>_state"); `detail` says why. Nothing is committed.
    """
    model = type(row)
    column = _COLUMN[model]
    frm = str(getattr(row, column))
    _check(model, row.id, frm, to)
    now = utcnow()
    setattr(row, column, to)
    row.updated_at = now
    if isinstance(row, Attempt) and AttemptState(to).is_final:
        row.final_at, row.next_poll_at = now, None
    db.add(row)
    _record(
        db, [_ids_of(row)], frm, str(to), actor=actor, action=action or _DEFAULT_ACTION[model], detail=detail
    )


@overload
def move_where(
    db: Session,
    model: type[Intent],
    frm: IntentState,
    to: IntentState,
    *,
    match: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    values: Mapping[str, Any] | None = None,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> list[int]: ...
@overload
def move_where(
    db: Session,
    model: type[Attempt],
    frm: AttemptState,
    to: AttemptState,
    *,
    match: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    values: Mapping[str, Any] | None = None,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> list[int]: ...
@overload
def move_where(
    db: Session,
    model: type[Batch],
    frm: BatchState,
    to: BatchState,
    *,
    match: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    values: Mapping[str, Any] | None = None,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> list[int]: ...
@overload
def move_where(
    db: Session,
    model: type[BatchRow],
    frm: BatchRowState,
    to: BatchRowState,
    *,
    match: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    values: Mapping[str, Any] | None = None,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> list[int]: ...
def move_where(
    db: Session,
    model: type[Stateful],
    frm: StrEnum,
    to: StrEnum,
    *,
    match: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    values: Mapping[str, Any] | None = None,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> list[int]:
    """Move every row in state `frm` that matches `match` and `where` to `to`, in one UPDATE
    statement.

    The compare-and-set form: no other transaction can change a row between the check and the
    change (a claim, or cancelling rows a worker might take). `match` names columns and the
    values they must hold (a statement built once per shape); `where` adds any other condition.
    `values` are the other columns the same statement sets. Adds one event per row moved to
    `db`; returns the ids moved.
    """
    _check(model, None, frm, to)
    return _compare_and_set(
        db,
        model,
        frm,
        to,
        dict(match or {}),
        where,
        _with_times(model, to, values),
        actor=actor,
        action=action,
        detail=detail,
    )


def move_unread(
    db: Session,
    row: Attempt | Intent,
    to: AttemptState | IntentState,
    *,
    match: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    actor: str,
    action: str | None = None,
    detail: str | None = None,
) -> bool:
    """Move `row` as this worker last wrote it (or as it holds it locked) to `to`: one
    compare-and-set UPDATE on its id, its state and `match` (columns and the values they must
    hold), setting `values` too, and the event, in `db`; no unit of work flushes the row.

    True: moved, and `row` now holds the state and values as stored. False: the ledger's row is
    no longer in `row`'s state (or fails `match`): nothing is written, and the caller reads it.
    """
    model = type(row)
    frm = _STATE_ENUM[model](getattr(row, _COLUMN[model]))
    _check(model, row.id, frm, to)
    extra = _with_times(model, to, values)
    table = model.__table__  # type: ignore[union-attr]
    matched = {"id": row.id, **(match or {})}
    if not _compare_and_set(
        db, model, frm, to, matched, (), extra, actor=actor, action=action, detail=detail
    ):
        return False
    for name, value in {**extra, _COLUMN[model]: to}.items():
        set_committed_value(row, name, as_loaded(table.c[name].type, value))
    return True


def _with_times(model: type[Stateful], to: StrEnum, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The other columns a move sets: the caller's `values`, `updated_at`, and for an attempt
    that ends its `final_at` (and no more polling)."""
    extra = dict(values or {})
    if _COLUMN[model] in extra:
        raise IllegalTransition(model, None, "?", f"{extra[_COLUMN[model]]} (set through `values`)")
    now = extra.setdefault("updated_at", utcnow())
    if model is Attempt and AttemptState(to).is_final:
        extra.setdefault("final_at", now)
        extra.setdefault("next_poll_at", None)
    return extra


def _compare_and_set(
    db: Session,
    model: type[Stateful],
    frm: StrEnum,
    to: StrEnum,
    match: Mapping[str, Any],
    where: Iterable[ColumnElement[bool]],
    extra: Mapping[str, Any],
    *,
    actor: str,
    action: str | None,
    detail: str | None,
) -> list[int]:
    column = _COLUMN[model]
    table = model.__table__  # type: ignore[union-attr]
    named = _EVENT_NAMES[model]
    changes = {column: to, **extra}
    conditions = list(where)
    if conditions:  # a condition of its own: built for this call
        statement: Any = (
            update(table)
            .where(table.c[column] == frm, *(table.c[n] == v for n, v in match.items()), *conditions)
            .values(changes)
            .returning(*(table.c[name] for name in named.values()))
        )
        params: dict[str, Any] = {}
    else:  # only columns compared with values: the statement of that shape, built once
        statement, params = statements.update_statement(
            table, {column: frm, **match}, changes, tuple(named.values())
        )
    # A table statement, not the ORM's bulk UPDATE (several times the CPU): so the session's own
    # pending changes go first, and rows it holds are kept in step by hand below.
    db.flush()
    found_rows = db.connection().execute(statement, params).all()
    moved = [dict(zip(named, found, strict=True)) for found in found_rows]
    for ids in moved:
        _keep_in_step(db, model, ids[_ROW_ID[model]], changes)
    if moved:
        _record(
            db, moved, str(frm), str(to), actor=actor, action=action or _DEFAULT_ACTION[model], detail=detail
        )
    return [ids[_ROW_ID[model]] for ids in moved]


def move_each(
    db: Session,
    model: type[BatchRow],
    frm: BatchRowState,
    to: BatchRowState,
    rows: Iterable[tuple[int, Mapping[str, Any], str | None]],
    *,
    actor: str,
    action: str | None = None,
) -> list[int]:
    """`move_where` for many rows that each set values of their own: every `(id, values, detail)`
    is one compare-and-set UPDATE on its id and state `frm`, all in `db`'s transaction, and the
    events of the rows moved are one INSERT (each with its own detail). Returns the ids moved."""
    _check(model, None, frm, to)
    column = _COLUMN[model]
    table = model.__table__  # type: ignore[attr-defined]
    named = _EVENT_NAMES[model]
    db.flush()
    connection = db.connection()
    moved: list[dict[str, Any]] = []
    for row_id, values, detail in rows:
        changes = {column: to, **_with_times(model, to, values)}
        statement, params = statements.update_statement(
            table, {"id": row_id, column: frm}, changes, tuple(named.values())
        )
        found = connection.execute(statement, params).first()
        if found is not None:
            _keep_in_step(db, model, row_id, changes)
            moved.append({**dict(zip(named, found, strict=True)), "detail": detail})
    if moved:
        _record(
            db, moved, str(frm), str(to), actor=actor, action=action or _DEFAULT_ACTION[model], detail=None
        )
    return [ids[_ROW_ID[model]] for ids in moved]


def _keep_in_step(db: Session, model: type[Stateful], row_id: int, changes: Mapping[str, Any]) -> None:
    """A row `db` holds gets what a table statement just wrote to it, as if it had been loaded."""
    held = db.identity_map.get(identity_key(model, row_id))
    if held is not None:
        table = model.__table__  # type: ignore[union-attr]
        for name, value in changes.items():
            set_committed_value(held, name, as_loaded(table.c[name].type, value))


def created(db: Session, row: Stateful, *, actor: str, action: str, detail: str | None = None) -> None:
    """The event of a row created in its starting state; flushes first so the event names it."""
    model = type(row)
    state = str(getattr(row, _COLUMN[model]))
    if state not in INITIAL[model]:
        raise IllegalTransition(model, row.id, "(new)", state)
    db.add(row)
    if row.id is None:
        db.flush()
    _record(db, [_ids_of(row)], None, state, actor=actor, action=action, detail=detail)


_New = TypeVar("_New", Intent, Attempt)


def insert(
    db: Session,
    model: type[_New],
    values: Mapping[str, Any],
    *,
    actor: str,
    action: str,
    detail: str | None = None,
    unless_taken: str | None = None,
) -> _New | None:
    """Insert a row of `model` in its starting state, and its event, in `db`'s transaction; the
    row comes back as stored, mapped in `db`. What `created` does for a row built first, without
    building a model object and flushing it through a unit of work, which cost more CPU than the
    statements themselves.

    Every column takes its model's default unless `values` names it. `unless_taken`: a unique
    column; when a row already holds that value, nothing is written and None comes back.
    """
    row_values = with_defaults(model, values)
    state = str(row_values[_COLUMN[model]])
    if state not in INITIAL[model]:
        raise IllegalTransition(model, None, "(new)", state)
    table = model.__table__  # type: ignore[attr-defined]
    statement = statements.insert_returning_id(table, db.get_bind().dialect.name, unless_taken)
    db.flush()  # the session's own pending rows go first, as the ORM's INSERT would send them
    new_id = db.connection().execute(statement, row_values).scalar_one_or_none()
    if new_id is None:
        return None
    row = _mapped_as_stored(db, model, table, row_values, new_id)
    _record(db, [_ids_of(row)], None, state, actor=actor, action=action, detail=detail)
    return row


def _mapped_as_stored(
    db: Session, model: type[_New], table: Any, values: Mapping[str, Any], new_id: int
) -> _New:
    """The row just inserted, held by `db` as if it had been loaded: each column as reading it
    back would give it (`as_loaded`). What the ORM's INSERT … RETURNING gives, without mapping a
    result through its loader, which cost more CPU than the statement itself."""
    row = blank_row(model)
    loaded = row.__dict__  # the instance's committed state: set here, nothing is pending
    for column in table.columns:
        loaded[column.key] = new_id if column.key == "id" else as_loaded(column.type, values.get(column.key))
    make_transient_to_detached(row)  # it has its identity now, as a loaded row
    db.add(row)  # back in the session as persistent: nothing to write
    return row


def _ids_of(row: Stateful) -> dict[str, Any]:
    return {event: getattr(row, column) for event, column in _EVENT_NAMES[type(row)].items()}


#: Every event names these (None where it does not belong to one), so one statement takes many.
_EVENT_IDS = ("intent_id", "attempt_id", "batch_id", "batch_row_id")


def _record(
    db: Session,
    rows: Iterable[Mapping[str, Any]],
    frm: str | None,
    to: str,
    *,
    actor: str,
    action: str,
    detail: str | None,
) -> None:
    """The one way ledger events are written: one per row (its `_EVENT_NAMES` ids, and its own
    `detail` where it names one), inserted at once in `db`'s transaction, as one statement however
    many rows moved."""
    common = {"actor": actor, "action": action[:64], "from_state": frm, "to_state": to, "detail": detail}
    now = utcnow()
    events = [{**dict.fromkeys(_EVENT_IDS), **common, **ids, "at": now} for ids in rows]
    # One event goes as one row's parameters: a list, even of one, takes the many-rows path.
    db.connection().execute(_INSERT_EVENT, events[0] if len(events) == 1 else events)


#: Built once: every event is this statement with its own values.
_INSERT_EVENT = sql_insert(LedgerEvent.__table__)  # type: ignore[attr-defined]
