"""One own reference, one payment: two approved batches holding it, started at the same instant
on one PostgreSQL ledger from two connections, pay it once, and the loser's row says why; the
ledger itself (a unique index) refuses a second row holding a reference, on both databases."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dollr_core.basics.access import Actor
from dollr_core.bulk import drafts, recipient_file, records, row_checks, running, states, worker
from dollr_core.ledger.tables import BatchRow, BatchRowState, BatchState
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..conftest import make_services
from .helpers import PASSCODE, approved_batch, rows_of, rows_text, run_to_end

SHARED_WALLET = "231880007777"


@pytest.fixture
def consoles(fresh_sandbox: Sandbox, pg_url: str, tmp_path: object) -> Iterator[list[Services]]:
    """Two consoles on one PostgreSQL ledger, each with its own engine (its own connections)."""
    both = [make_services(fresh_sandbox, pg_url, str(tmp_path)) for _ in range(2)]
    yield both
    for svc in both:
        worker.stop(svc, timeout=30)
        svc.client.close()
        svc.engine.dispose()


@pytest.mark.postgres
def test_a_reference_in_two_batches_started_at_once_is_paid_once(
    consoles: list[Services],
    fresh_sandbox: Sandbox,
    finance: Actor,
    manager: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = consoles
    batch_ids = [
        approved_batch(
            svc,
            finance,
            manager,
            rows_text(
                f"Musa Kollie,{SHARED_WALLET},12.34,USD,March stipend,STIPEND-7", f"Own Row,{own},5,USD,,"
            ),
        ).id
        or 0
        for svc, own in ((first, "231880001111"), (second, "231880002222"))
    ]

    # Both starts read "nobody pays STIPEND-7" before either stores its claim: the moment two
    # clicks in two consoles land together. Each start waits for the other once, here.
    checked = threading.Barrier(2, timeout=10)
    waited: set[int] = set()
    check = row_checks.references_elsewhere

    def check_together(db: Session, references: list[str], batch_id: int | None) -> dict[str, str]:
        found = check(db, references, batch_id)
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            # A guard that makes the second start wait for the first breaks the barrier: fine too.
            with contextlib.suppress(threading.BrokenBarrierError):
                checked.wait()
        return found

    monkeypatch.setattr(running, "references_elsewhere", check_together)
    go = threading.Barrier(2, timeout=10)

    def start(svc: Services, batch_id: int) -> None:
        go.wait()
        running.start_batch(svc, finance, batch_id, PASSCODE)

    with ThreadPoolExecutor(2) as pool:
        for started in [pool.submit(start, svc, b) for svc, b in zip(consoles, batch_ids, strict=True)]:
            started.result()
    for svc, batch_id in zip(consoles, batch_ids, strict=True):
        run_to_end(svc, batch_id, fresh_sandbox)

    executions = httpx.get(f"{fresh_sandbox.base_url}/_sandbox/executions").json()
    shared = [e for e in executions if e["account_number"] == SHARED_WALLET]
    assert len(shared) == 1, f"STIPEND-7 was paid {len(shared)} times"
    assert len(executions) == 3  # and each batch's own row once

    rows: list[BatchRow] = [r for b in batch_ids for r in rows_of(first, b) if r.own_reference == "STIPEND-7"]
    paid = [r for r in rows if r.state == BatchRowState.PAID]
    [lost] = [r for r in rows if r.state != BatchRowState.PAID]
    assert len(paid) == 1 and paid[0].reference_id == shared[0]["reference_id"]
    assert lost.state == BatchRowState.CANCELED and lost.intent_key is None
    assert lost.failure_reason == f"Not sent: Reference STIPEND-7 is being paid in batch {paid[0].batch_id}."
    assert states.ROW_STATUS[BatchRowState(lost.state)] == "canceled (not sent)"
    for svc, batch_id in zip(consoles, batch_ids, strict=True):
        assert records.get_batch(svc, finance, batch_id).state == BatchState.FINISHED


def test_the_ledger_lets_one_row_at_a_time_hold_a_reference(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    """Whatever code moves a row, the database refuses a second holder (letter case aside)."""
    batch_ids = [
        drafts.create_batch(
            services, finance, "", recipient_file.parse_rows(rows_text(f"A,231880001234,5,USD,,{ref}"))
        ).id
        for ref in ("PAY-9", "pay-9")
    ]
    [first], [second] = (rows_of(services, b or 0) for b in batch_ids)
    with Session(services.engine) as db:
        first.state = BatchRowState.PAID
        db.add(first)
        db.commit()
        second.state = BatchRowState.QUEUED
        db.add(second)
        with pytest.raises(IntegrityError, match="uq_batch_row_held_reference"):
            db.commit()
    with Session(services.engine) as db:  # a row that failed gives the reference back
        first.state = BatchRowState.FAILED
        db.add(first)
        db.commit()
        second.state = BatchRowState.QUEUED
        db.add(second)
        db.commit()
