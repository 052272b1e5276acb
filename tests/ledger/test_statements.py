"""The payment steps' statements built once per shape: the same shape is the same statement,
values keep their column's type, and no state column is set outside `ledger.transitions`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session

from dollr_core.ledger import open_ledger, statements
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState

INTENTS = Intent.__table__  # type: ignore[attr-defined]
ATTEMPTS = Attempt.__table__  # type: ignore[attr-defined]


def test_one_shape_is_built_once() -> None:
    first, _ = statements.update_statement(INTENTS, {"id": 1, "lease_owner": "a"}, {"step": "x"})
    again, params = statements.update_statement(INTENTS, {"id": 2, "lease_owner": "b"}, {"step": "y"})
    assert again is first
    assert params == {"w_id": 2, "w_lease_owner": "b", "s_step": "y"}
    null, params = statements.update_statement(INTENTS, {"id": 2, "lease_owner": None}, {"step": "y"})
    assert null is not first and "w_lease_owner" not in params  # compared with IS NULL


def test_a_state_column_is_refused() -> None:
    with pytest.raises(ValueError, match="transitions"):
        statements.update_where(None, INTENTS, {"id": 1}, {"state": IntentState.READY})  # type: ignore[arg-type]


def test_values_are_stored_as_their_columns_store_them(ledger_url: str) -> None:
    engine = open_ledger(ledger_url)
    with Session(engine) as db:
        intent = Intent(
            intent_key="k", kind="payout", operation_type="PAYOUT", operator="o", state=IntentState.READY
        )
        db.add(intent)
        db.commit()
        intent_id = intent.id
    when = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    with engine.begin() as connection:
        moved = statements.update_where(
            connection,
            INTENTS,
            {"id": intent_id, "lease_owner": None},
            {"amount": Decimal("12.5"), "lease_until": when, "lease_owner": "me"},
            returning=("id",),
        ).all()
    assert [row.id for row in moved] == [intent_id]
    with Session(engine) as db:
        stored = db.get(Intent, intent_id)
        assert stored is not None
        assert (stored.amount, stored.lease_until, stored.lease_owner) == (Decimal("12.5"), when, "me")
    with engine.begin() as connection:  # no longer unheld: nothing matches
        missed = statements.update_where(
            connection, INTENTS, {"id": intent_id, "lease_owner": None}, {"step": "x"}
        )
        assert missed.rowcount == 0
    engine.dispose()


def test_attempt_state_is_compared_but_never_set() -> None:
    statement, params = statements.update_statement(
        ATTEMPTS, {"id": 1, "local_state": AttemptState.SENDING}, {"last_error": "x"}
    )
    assert params["w_local_state"] == AttemptState.SENDING
    sets, where = str(statement).split(" WHERE ")
    assert "local_state" not in sets and "attempt.local_state = :w_local_state" in where
