"""500 rows against a misbehaving sandbox, the worker killed midway and started again: every valid
row is paid exactly once and every failure is reported, checked against the sandbox's executions.

The first worker runs as `python -m dollr_core.cli.bulk resume …` in a subprocess and is killed
with SIGKILL while rows are on the wire; a second one, in this process, resumes the batch. All the
while 429s, 503s and dropped responses are injected at random, and the sandbox clock runs fast so
slow payments settle.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Role
from dollr_core.bulk import progress, records, running, worker
from dollr_core.ledger.tables import (
    OPEN_ATTEMPT_STATES,
    Attempt,
    AttemptState,
    Batch,
    BatchRowState,
    BatchState,
    LedgerEvent,
)
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.services import Services
from dollr_core.team import users
from dollr_sandbox import Sandbox

from ..flows.helpers import executions_by_reference
from .helpers import PASSCODE, approved_batch, hurry, row_of_reference, rows_of, rows_text, wait_for

ROOT = Path(__file__).resolve().parents[2]
FAILING = {"0001": 20, "0002": 10, "0004": 5}  # declined, wallet full, never confirmed (120 s)
#: Faults injected while the batch runs: (path, action).
FAULTS = [
    ("/v1/executions/payout", "rate_limit"),  # 429 with Retry-After: 1
    ("/v1/executions/payout", "status"),  # 503 before Dollr does anything
    ("/v1/executions/payout", "drop_response"),  # Dollr pays, the answer is lost
    ("/v1/sessions/payout", "status"),
    ("/v1/status/payout", "drop_response"),
    ("/v1/parties/create", "drop_response"),  # the party exists, we never heard
]


def _spreadsheet(rng: random.Random) -> tuple[str, int, int]:
    """500 rows: good ones in three currencies, failing test numbers, bad rows and copies.

    Returns the CSV text, how many rows should be paid and how many should fail.
    """
    good: list[str] = []
    for i in range(380):
        if i % 4 == 3:
            good.append(f"Orange {i},23177{i:03d}{rng.randint(1000, 9999)},{rng.randint(100, 2000)},LRD,,")
        else:
            amount = Decimal(rng.randint(100, 2000)) / 100
            good.append(f"Musa {i},23188{i:03d}{rng.randint(1000, 9999)},{amount},USD,pay {i},REF-{i}")
    for i in range(60):
        prefix = rng.choice(["25078", "25079", "25072", "25073"])
        good.append(f"Aline {i},{prefix}{i:03d}{rng.randint(1000, 9999)},{rng.randint(500, 5000)},RWF,,")
    failing = [
        f"Failing {ending}-{n},23188{500 + n + 100 * k:03d}{ending},5,USD,,"
        for k, (ending, howmany) in enumerate(FAILING.items())
        for n in range(howmany)
    ]
    bad = [f"Bad {n},23199{n:03d}12345,5,USD,," for n in range(8)]  # no operator
    bad += [f"Short {n},{n}1234,5,USD,," for n in range(1, 5)]  # not a phone number
    bad += ["No Money,231880009999,0,USD,,", "Cents,250780009999,10.5,RWF,,", "Euro,231880008888,5,EUR,,"]
    copies = rng.sample(good[:300], 10)
    lines = good + failing + bad + copies
    rng.shuffle(lines)
    assert len(lines) == 500
    return rows_text(*lines), len(good), len(failing)


class Chaos(threading.Thread):
    """Adds one random fault every `every` seconds, `limit` in all, then lets the batch finish."""

    def __init__(self, sandbox: Sandbox, rng: random.Random, *, every: float = 0.4, limit: int = 60) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.rng, self.every, self.limit = sandbox, rng, every, limit
        self.added: Counter[tuple[str, str]] = Counter()
        self.halt = threading.Event()

    def run(self) -> None:
        while sum(self.added.values()) < self.limit and not self.halt.wait(self.every):
            path, action = self.rng.choice(FAULTS)
            self.sandbox.add_fault(path, action=action, retry_after=1)
            self.added[(path, action)] += 1


def _worker_process(svc: Services, batch_id: int, email: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DOLLR_BASE_URL": svc.settings.resolved_base_url(),
        "DOLLR_DATABASE_URL": svc.settings.ledger_url,
        "DOLLR_DATA_DIR": str(tmp_path),
        "DOLLR_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dollr_core.cli.bulk", "resume", "--batch", str(batch_id), "--as", email],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=(tmp_path / "worker.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    assert process.stdin is not None
    process.stdin.write(f"{PASSCODE}\n".encode())
    process.stdin.close()
    return process


def _time_passes(svc: Services) -> None:
    """What 90 s of waiting would do after a kill: the dead worker's leases run out (its payments'
    and its claim on the batch)."""
    with Session(svc.engine) as db:
        db.exec(
            update(Attempt)
            .where(col(Attempt.local_state).in_(OPEN_ATTEMPT_STATES))
            .values(lease_owner=None, lease_until=None)
        )
        db.exec(update(Batch).values(worker_owner=None, worker_until=None))
        db.commit()


def _hurry(svc: Services, sandbox: Sandbox) -> None:
    """Sandbox time runs fast; the reconciler follows payments alongside the worker."""
    hurry(svc, sandbox, 20)
    reconcile_once(svc, limit=100)


def test_500_rows_with_faults_and_a_killed_worker_pay_each_row_exactly_once(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor, tmp_path: Path
) -> None:
    svc = sqlite_services
    rng = random.Random(500)
    text, expected_paid, expected_failed = _spreadsheet(rng)
    users.add_user(svc.engine, email=finance.email, role=Role.FINANCE, password=None)
    batch = approved_batch(svc, finance, manager, text)
    batch_id = batch.id or 0
    rows = rows_of(svc, batch_id)
    assert Counter(r.state for r in rows) == {
        BatchRowState.VALID: expected_paid + expected_failed,
        BatchRowState.EXCLUDED: 25,
    }

    chaos = Chaos(fresh_sandbox, rng)
    chaos.start()
    try:
        # The first worker: a separate process, killed without warning while rows are on the wire.
        process = _worker_process(svc, batch_id, finance.email, tmp_path)
        wait_for(
            lambda: (
                sum(r.state != BatchRowState.QUEUED for r in rows_of(svc, batch_id) if r.intent_key) >= 150
            ),
            timeout=120,
            every=0.2,
        )
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        killed_at = Counter(r.state for r in rows_of(svc, batch_id))
        assert killed_at[BatchRowState.QUEUED] > 0, "the worker finished before it was killed"
        assert killed_at[BatchRowState.SENT] > 0, "no row was on its way when the worker died"
        assert records.get_batch(svc, finance, batch_id).state == BatchState.RUNNING

        # The console comes back: a new worker resumes the batch with the passcode.
        _time_passes(svc)
        running.start_batch(svc, finance, batch_id, PASSCODE)
        deadline = time.monotonic() + 240
        while not worker.join(svc, batch_id, timeout=1.0):
            assert time.monotonic() < deadline, (
                f"batch not finished: {Counter(r.state for r in rows_of(svc, batch_id))}"
            )
            _hurry(svc, fresh_sandbox)
    finally:
        chaos.halt.set()
        chaos.join()
        fresh_sandbox.clear_faults()

    done = progress.progress(svc, finance, batch_id)
    assert done.batch.state == BatchState.FINISHED, worker.problem(svc, batch_id)
    remote = executions_by_reference(fresh_sandbox)  # also: no reference_id was executed twice
    owner = row_of_reference(svc)
    assert set(remote) <= set(owner), "Dollr holds a payment no row of the batch made"
    per_row = Counter(owner[reference] for reference in remote)
    assert max(per_row.values()) == 1, "a row reached Dollr more than once"

    final = rows_of(svc, batch_id)
    assert Counter(r.state for r in final) == {
        BatchRowState.PAID: expected_paid,
        BatchRowState.FAILED: expected_failed,
        BatchRowState.EXCLUDED: 25,
    }
    for row in final:
        if row.state == BatchRowState.EXCLUDED:
            assert row.problems and row.reference_id is None
            continue
        execution = remote[row.reference_id or ""]
        assert per_row[row.id] == 1
        if row.state == BatchRowState.PAID:
            assert execution["status"] == "COMPLETED"
            assert execution["payee_amount"] == row.amount == row.payee_amount
            assert execution["payee_currency"] == row.currency
        else:
            assert row.phone[-4:] in FAILING
            assert execution["status"] == "FAILED"
            assert row.failure_reason and "sandbox test number ending" in row.failure_reason
    assert sum(1 for e in remote.values() if e["status"] == "COMPLETED") == expected_paid

    # The faults really happened, and the ledger shows how they were handled.
    assert sum(chaos.added.values()) == chaos.limit and not fresh_sandbox.faults()
    with Session(svc.engine) as db:
        unknown = db.exec(select(LedgerEvent).where(LedgerEvent.to_state == AttemptState.UNKNOWN)).all()
        limited = db.exec(select(Attempt).where(col(Attempt.retry_not_before).is_not(None))).all()
    assert len(unknown) >= 5 and limited
