"""The bulk worker's own writes are one transaction per look, not one per row.

A look claims every waiting row it hands to senders in one transaction (`row_outcomes.claim_rows`),
takes the leases of every poll it hands out in one (`protocol.claim_due`), and copies what the
rows' payments did onto the rows in one (`row_outcomes.record_outcomes`). On SQLite every write
transaction waits for the process's one write turn, so these were three of a first-time row's
eleven. The money path is the protocol's as before: each row is still paid once, and a lease is
still taken before any look at Dollr.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor
from dollr_core.bulk import row_outcomes, running
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import Attempt, AttemptState, BatchRow, BatchRowState, LedgerEvent
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..conftest import make_services
from ..flows.helpers import executions_by_reference, pay_out
from .helpers import PASSCODE, approved_batch, rows_of, rows_text, run_to_end, write_transactions_begun

ROWS = 12
#: Where the worker's writes begin, by module and function: once a look (the first three), or
#: once a row (the last two, which the worker no longer uses for its rows' claims and records).
SITES = {
    "claim_rows": ("bulk/row_outcomes.py", "claim_rows"),
    "claim_due": ("payments/protocol.py", "claim_due"),
    "record_outcomes": ("bulk/row_outcomes.py", "record_outcomes"),
    "refresh": ("payments/protocol.py", "refresh"),
    "record_outcome": ("bulk/row_outcomes.py", "record_outcome"),
}


@pytest.fixture
def wide_services(fresh_sandbox: Sandbox, ledger_url: str, tmp_path: object) -> Iterator[Services]:
    """Services whose batches send every row at once once the first payment went through."""
    svc = make_services(fresh_sandbox, ledger_url, str(tmp_path), bulk_concurrency=ROWS)
    yield svc
    svc.client.close()
    svc.engine.dispose()


def test_a_batch_claims_its_rows_and_polls_and_records_them_a_look_at_a_time(
    wide_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    lines = [f"Person {n},23188{n:03d}5678,{n + 1},USD,,W-{n}" for n in range(1, ROWS + 1)]
    batch = approved_batch(wide_services, finance, manager, rows_text(*lines))
    begun = write_transactions_begun(wide_services.engine, SITES)
    running.start_batch(wide_services, finance, batch.id or 0, PASSCODE)
    run_to_end(wide_services, batch.id or 0, fresh_sandbox)

    rows = sorted(rows_of(wide_services, batch.id or 0), key=lambda row: row.row_number)
    assert [row.state for row in rows] == [BatchRowState.PAID] * ROWS
    remote = executions_by_reference(fresh_sandbox)  # one execution per reference
    assert sorted(remote) == sorted(row.reference_id or "" for row in rows)
    # The first row goes alone (a wrong passcode must cost one row); the next look takes all the
    # rest in one statement, so their claims' events carry one instant.
    with Session(read_only(wide_services.engine)) as db:
        claimed_at = dict(
            db.exec(
                select(LedgerEvent.batch_row_id, LedgerEvent.at).where(
                    col(LedgerEvent.batch_row_id).in_([row.id for row in rows]),
                    LedgerEvent.to_state == BatchRowState.SENT,
                )
            ).all()
        )
    assert len({claimed_at[row.id] for row in rows[1:]}) == 1, claimed_at
    # No row's lease or record is a transaction of its own any more; the looks' are fewer than
    # the rows (how many depends on when each payment settles).
    assert (begun["refresh"], begun["record_outcome"]) == (0, 0), begun
    assert begun["claim_rows"] == 2, begun
    assert 1 <= begun["claim_due"] < ROWS and 1 <= begun["record_outcomes"] < ROWS, begun


def _running_rows(svc: Services, finance: Actor, manager: Actor, count: int) -> tuple[int, list[int]]:
    lines = [f"Person {n},23188{n:03d}5678,5,USD,,C-{n}" for n in range(1, count + 1)]
    batch = approved_batch(svc, finance, manager, rows_text(*lines))
    running._mark_running(svc.engine, batch.id or 0, finance)  # the worker itself is not started
    return batch.id or 0, sorted(row.id or 0 for row in rows_of(svc, batch.id or 0))


def _events_of(engine: Engine, row_ids: list[int]) -> list[tuple[int | None, str | None, str, str | None]]:
    with Session(read_only(engine)) as db:
        found = db.exec(
            select(LedgerEvent)
            .where(col(LedgerEvent.batch_row_id).in_(row_ids))
            .order_by(col(LedgerEvent.id))
        ).all()
    return [(e.batch_row_id, e.from_state, e.to_state, e.detail) for e in found]


def test_claimed_rows_each_get_an_intent_key_of_their_own_in_one_transaction(
    services: Services, finance: Actor, manager: Actor
) -> None:
    batch_id, row_ids = _running_rows(services, finance, manager, 4)
    begun = write_transactions_begun(services.engine, SITES)
    keys = row_outcomes.claim_rows(services.engine, row_ids[:3])
    assert begun["all"] == 1
    assert sorted(keys) == row_ids[:3] and len(set(keys.values())) == 3
    by_id = {row.id: row for row in rows_of(services, batch_id)}
    for row_id, key in keys.items():
        assert (by_id[row_id].state, by_id[row_id].intent_key) == (BatchRowState.SENT, key)
    assert by_id[row_ids[3]].state == BatchRowState.QUEUED and by_id[row_ids[3]].intent_key is None
    sent = [(row, BatchRowState.QUEUED.value, BatchRowState.SENT.value) for row in row_ids[:3]]
    assert [event[:3] for event in _events_of(services.engine, row_ids)][-3:] == sent

    # Claimed once: a second claim of the same rows (a second look, a second worker) takes nothing.
    assert row_outcomes.claim_rows(services.engine, row_ids[:3]) == {}
    # A key already on a waiting row is kept, never replaced: an intent may exist under it.
    with Session(services.engine) as db:
        db.exec(update(BatchRow).where(col(BatchRow.id) == row_ids[3]).values(intent_key="kept-key"))
        db.commit()
    assert row_outcomes.claim_rows(services.engine, [row_ids[3]]) == {row_ids[3]: "kept-key"}


def test_rows_of_a_paused_batch_are_not_claimed(services: Services, finance: Actor, manager: Actor) -> None:
    batch_id, row_ids = _running_rows(services, finance, manager, 2)
    row_outcomes.stop_for(services.engine, batch_id, "wallet short")
    assert row_outcomes.claim_rows(services.engine, row_ids) == {}
    assert {row.state for row in rows_of(services, batch_id)} == {BatchRowState.QUEUED}


def test_outcomes_of_many_rows_are_one_transaction_each_event_naming_its_payment(
    services: Services, finance: Actor, manager: Actor
) -> None:
    batch_id, row_ids = _running_rows(services, finance, manager, 4)
    row_outcomes.claim_rows(services.engine, row_ids)
    on_its_way = Attempt(reference_id="ref-on-its-way", local_state=AttemptState.ACCEPTED)
    paid = Attempt(
        reference_id="ref-paid",
        local_state=AttemptState.COMPLETED,
        payer_amount=Decimal("5.10"),
        payee_amount=Decimal("5.00"),
    )
    failed = Attempt(reference_id="ref-failed", local_state=AttemptState.FAILED, last_error="Declined")
    begun = write_transactions_begun(services.engine, SITES)
    outcomes = [(row_ids[0], on_its_way), (row_ids[1], paid), (row_ids[2], failed)]
    row_outcomes.record_outcomes(services.engine, outcomes)
    assert begun["all"] == 1
    by_id = {row.id: row for row in rows_of(services, batch_id)}
    assert [(by_id[r].state, by_id[r].reference_id) for r in row_ids] == [
        (BatchRowState.SENT, "ref-on-its-way"),
        (BatchRowState.PAID, "ref-paid"),
        (BatchRowState.FAILED, "ref-failed"),
        (BatchRowState.SENT, None),
    ]
    assert (by_id[row_ids[1]].payer_amount, by_id[row_ids[1]].payee_amount) == (
        Decimal("5.10"),
        Decimal("5.00"),
    )
    assert "Declined" in (by_id[row_ids[2]].failure_reason or "")
    moved = [event for event in _events_of(services.engine, row_ids) if event[1] == BatchRowState.SENT]
    assert moved == [
        (row_ids[1], BatchRowState.SENT.value, BatchRowState.PAID.value, "ref-paid"),
        (row_ids[2], BatchRowState.SENT.value, BatchRowState.FAILED.value, "ref-failed"),
    ]
    # Seen again at the next look: nothing moves twice, and nothing is written for it.
    row_outcomes.record_outcomes(services.engine, outcomes)
    assert [
        event for event in _events_of(services.engine, row_ids) if event[1] == BatchRowState.SENT
    ] == moved


def _accepted_payouts(svc: Services, actor: Actor, count: int) -> list[Attempt]:
    attempts = [pay_out(svc, actor, f"claim-due-{n}") for n in range(count)]
    assert {a.local_state for a in attempts} == {AttemptState.ACCEPTED}
    return attempts


def _due_now(engine: Engine, attempts: list[Attempt]) -> None:
    with Session(engine) as db:
        db.exec(
            update(Attempt)
            .where(col(Attempt.id).in_([a.id for a in attempts]))
            .values(next_poll_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()


def test_claim_due_leases_only_open_due_attempts_nobody_holds(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    due, held, later = _accepted_payouts(services, operator, 3)
    _due_now(services.engine, [due, held])
    with Session(services.engine) as db:  # another worker is looking at `held` right now
        db.exec(
            update(Attempt)
            .where(col(Attempt.id) == held.id)
            .values(lease_owner="someone-else", lease_until=utcnow() + timedelta(seconds=30))
        )
        db.commit()
    references = [due.reference_id, held.reference_id, later.reference_id, "not-ours"]
    begun = write_transactions_begun(services.engine, SITES)
    owner, taken = protocol.claim_due(services.engine, references)
    assert begun["all"] == 1
    assert [a.reference_id for a in taken] == [due.reference_id] and taken[0].lease_owner == owner
    assert protocol.claim_due(services.engine, references)[1] == []  # leased: nobody takes it twice

    fresh_sandbox.advance_clock(10)  # the payout settles at Dollr
    final = protocol.follow_held(
        services.engine, services.client, taken[0], actor=operator.email, owner=owner
    )
    assert (final.local_state, final.lease_owner, final.lease_until) == (AttemptState.COMPLETED, None, None)
    with Session(read_only(services.engine)) as db:
        still = db.get(Attempt, held.id)
        assert still is not None and (still.local_state, still.lease_owner) == (
            AttemptState.ACCEPTED,
            "someone-else",
        )
