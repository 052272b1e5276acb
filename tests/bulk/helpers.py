"""Helpers for bulk payout tests: build batches, run them, and read the outcome."""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, event, or_, update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Role
from dollr_core.bulk import drafts, recipient_file, worker
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
)
from dollr_core.services import Services
from dollr_core.team import approvals
from dollr_sandbox import Sandbox

PASSCODE = "123456"


def rows_text(*lines: str) -> str:
    return "name,phone,amount,currency,note,reference\n" + "\n".join(lines) + "\n"


SECOND_MANAGER = Actor("max.manager@example.com", Role.MANAGER)


def approved_batch(svc: Services, maker: Actor, checker: Actor, text: str) -> Batch:
    """A batch made from CSV text, problem rows left out, sent for approval and approved (by a
    second manager as well when its totals are above the two-manager threshold)."""
    batch = drafts.create_batch(svc, maker, "Test batch", recipient_file.parse_rows(text))
    assert batch.id is not None
    drafts.exclude_rows(svc, maker, batch.id)
    drafts.submit_for_approval(svc, maker, batch.id)
    for manager in (checker, SECOND_MANAGER):
        shown = approvals.batch_totals(svc, manager, batch.id).fingerprint
        batch = approvals.decide_batch(
            svc, manager, batch.id or 0, approvals.Decision(True, "looks right", shown)
        )
        if batch.state != BatchState.AWAITING_APPROVAL:
            break
    return batch


def wait_for(condition: Callable[[], bool], *, timeout: float = 60.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


def hurry(svc: Services, sandbox: Sandbox, seconds: float) -> None:
    """Sandbox time runs fast, and payments Dollr holds are due for a look now (leases untouched)."""
    sandbox.advance_clock(seconds)
    now = utcnow()
    with Session(svc.engine) as db:
        db.exec(
            update(Attempt)
            .where(
                col(Attempt.local_state) == AttemptState.ACCEPTED,
                or_(col(Attempt.lease_until).is_(None), col(Attempt.lease_until) < now),
            )
            .values(next_poll_at=None)
        )
        db.commit()


def run_to_end(
    svc: Services, batch_id: int, sandbox: Sandbox | None = None, *, timeout: float = 60.0
) -> None:
    """Wait for the batch's worker to end; with the sandbox given, nobody waits the 4 s a payout
    takes to settle."""
    deadline = time.monotonic() + timeout
    while not worker.join(svc, batch_id, timeout=0.1):
        assert time.monotonic() < deadline, "the worker did not finish in time"
        if sandbox is not None:
            hurry(svc, sandbox, 2)


def rows_of(svc: Services, batch_id: int) -> list[BatchRow]:
    with Session(svc.engine) as db:
        return list(db.exec(select(BatchRow).where(BatchRow.batch_id == batch_id)).all())


def states(svc: Services, batch_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows_of(svc, batch_id):
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


def row_of_reference(svc: Services) -> dict[str, int]:
    """Dollr reference_id → the batch row whose intent made it (every attempt, not just the last)."""
    with Session(svc.engine) as db:
        pairs = db.exec(
            select(Attempt.reference_id, BatchRow.id)
            .join(Intent, Intent.id == Attempt.intent_id)  # type: ignore[arg-type]
            .join(BatchRow, BatchRow.intent_key == Intent.intent_key)  # type: ignore[arg-type]
        ).all()
    return {reference: row_id for reference, row_id in pairs if row_id is not None}


def count(svc: Services, state: BatchRowState, batch_id: int) -> int:
    return sum(r.state == state for r in rows_of(svc, batch_id))


#: A place a transaction may begin in: (the module's path ending, the function's name).
Site = tuple[str, str]


def write_transactions_begun(
    engine: Engine, sites: Mapping[str, Site], *, not_within: Site | None = None
) -> Counter[str]:
    """Write transactions begun on `engine` from now on: all of them ("all"), and by the `sites`
    on the stack when each began (a transaction begun within `not_within` counts for no site)."""
    begun: Counter[str] = Counter()

    def on_stack(frames: set[tuple[str, str]], site: Site) -> bool:
        module, name = site
        return any(path.endswith(module) and function == name for path, function in frames)

    @event.listens_for(engine, "begin")
    def _begun(connection: Any) -> None:
        if connection.get_execution_options().get("dollr_reads_only"):
            return
        begun["all"] += 1
        frames = {(frame.filename, frame.name) for frame in traceback.extract_stack()}
        if not_within is not None and on_stack(frames, not_within):
            return
        for name, site in sites.items():
            if on_stack(frames, site):
                begun[name] += 1

    return begun
