"""One worker pays a batch, whichever console started it: the claim is in the ledger, not in a
process's memory, so two consoles starting one batch at once run one worker between them, and a
dead console's claim lapses so the batch can be carried on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from dollr_core.basics.access import Actor
from dollr_core.bulk import running, worker
from dollr_core.ledger import leases
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import Batch, BatchRowState, BatchState
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..conftest import make_services
from .helpers import PASSCODE, approved_batch, rows_of, rows_text, run_to_end

ROWS = [f"Recipient {n},2318810{n:02d}234,5,USD,,ONE-WORKER-{n}" for n in range(1, 7)]


@pytest.fixture
def consoles(fresh_sandbox: Sandbox, ledger_url: str, tmp_path: Path) -> Iterator[list[Services]]:
    """Two consoles on one ledger, each with its own engine and its own worker registry."""
    both = [make_services(fresh_sandbox, ledger_url, str(tmp_path)) for _ in range(2)]
    yield both
    for svc in both:
        worker.stop(svc, timeout=30)
        svc.client.close()
        svc.engine.dispose()


def test_the_lease_has_one_holder_until_it_lapses_or_is_released(consoles: list[Services]) -> None:
    engine = consoles[0].engine
    with Session(engine) as db:
        batch = Batch(name="lease", created_by="fred@example.com")
        db.add(batch)
        db.commit()
        batch_id = batch.id or 0
    assert leases.claim_batch(engine, batch_id, "console-a")
    assert leases.claim_batch(engine, batch_id, "console-a")  # its own claim, again
    assert not leases.claim_batch(consoles[1].engine, batch_id, "console-b")
    assert not leases.renew_batch(engine, batch_id, "console-b")
    assert leases.renew_batch(engine, batch_id, "console-a")
    with Session(engine) as db:  # console-a dies: its claim is not renewed and lapses
        lapsed = db.get(Batch, batch_id)
        assert lapsed is not None
        lapsed.worker_until = utcnow() - timedelta(seconds=1)
        db.add(lapsed)
        db.commit()
    assert leases.claim_batch(engine, batch_id, "console-b")
    assert not leases.renew_batch(engine, batch_id, "console-a")  # the dead one cannot come back
    leases.release_batch(engine, batch_id, "console-b")
    assert leases.claim_batch(engine, batch_id, "console-c")


def test_two_consoles_starting_one_batch_run_one_worker_and_pay_each_row_once(
    consoles: list[Services], fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    first = consoles[0]
    batch_id = approved_batch(first, finance, manager, rows_text(*ROWS)).id or 0
    go = threading.Barrier(2, timeout=10)

    def start(svc: Services) -> None:
        go.wait()
        running.start_batch(svc, finance, batch_id, PASSCODE)

    threads = [threading.Thread(target=start, args=(svc,)) for svc in consoles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for svc in consoles:
        run_to_end(svc, batch_id, fresh_sandbox, timeout=120)

    problems = [worker.problem(svc, batch_id) for svc in consoles]
    assert sum(1 for p in problems if p and "Another console" in p) == 1, problems
    rows = rows_of(first, batch_id)
    assert {BatchRowState(r.state) for r in rows} == {BatchRowState.PAID}
    paid = [e["reference_id"] for e in fresh_sandbox.executions() if e["operation_type"] == "PAYOUT"]
    assert len(paid) == len(set(paid)) == len(ROWS)
    with Session(first.engine) as db:
        done = db.get(Batch, batch_id)
        assert done is not None and done.state == BatchState.FINISHED and done.worker_owner is None


def test_a_dead_consoles_claim_lapses_and_the_batch_is_carried_on(
    consoles: list[Services], fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    first, second = consoles
    batch_id = approved_batch(first, finance, manager, rows_text(*ROWS[:2])).id or 0
    assert leases.claim_batch(first.engine, batch_id, "a-console-that-died")
    running.start_batch(second, finance, batch_id, PASSCODE)
    run_to_end(second, batch_id, fresh_sandbox)
    assert "Another console" in (worker.problem(second, batch_id) or "")
    assert all(r.state == BatchRowState.QUEUED for r in rows_of(first, batch_id))  # nothing sent

    with Session(first.engine) as db:  # ... whose lease then lapses
        held = db.get(Batch, batch_id)
        assert held is not None
        held.worker_until = utcnow() - timedelta(seconds=1)
        db.add(held)
        db.commit()
    running.start_batch(second, finance, batch_id, PASSCODE)
    run_to_end(second, batch_id, fresh_sandbox, timeout=120)
    assert {BatchRowState(r.state) for r in rows_of(first, batch_id)} == {BatchRowState.PAID}
