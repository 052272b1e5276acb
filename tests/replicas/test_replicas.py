"""Several replicas on one PostgreSQL ledger: two consoles and three reconcilers, each a real
process with its own services, against one standalone sandbox.

- Replicas starting together on an empty database all start (each migrates the schema).
- The same payments confirmed through both consoles at once (three people in each) make exactly
  one execution each at Dollr.
- A new recipient entered in both consoles at once becomes one party, counterparty and account.
- Reconcilers (and a page left open on the same payments) never ask Dollr about one payment at
  the same moment, over many passes in which every payment is due all the time.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from bench.common import StandaloneSandbox, services_on
from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import FeeBearer, SourceType
from dollr_core.flows import documents
from dollr_core.flows.collect import prepare_collection
from dollr_core.flows.directory import Person
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger import open_ledger
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import (
    OPEN_ATTEMPT_STATES,
    AccountRecord,
    Attempt,
    AttemptState,
    Customer,
    Intent,
    Relationship,
)
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.services import Services

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = Actor("olivia.operator@example.com", Role.OPERATOR)
FINANCE = Actor("fred.finance@example.com", Role.FINANCE)
PASSCODE = "123456"


@pytest.fixture(scope="module")
def standalone() -> Iterator[StandaloneSandbox]:
    with StandaloneSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def ledger(pg_url: str, standalone: StandaloneSandbox) -> Iterator[Services]:
    """The parent's own services on a fresh schema (migrated before any replica starts), and a
    sandbox that holds nothing yet."""
    standalone.reset()
    svc = services_on(standalone.base_url, pg_url)
    yield svc
    svc.close()


def run_replicas(
    tmp_path: Path, pg_url: str, sandbox: StandaloneSandbox, jobs: list[tuple[str, dict[str, Any]]]
) -> list[list[dict[str, Any]]]:
    """Start every replica, let them all go at once when all are ready, return what each wrote."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    env = {
        **os.environ,
        "DOLLR_BASE_URL": sandbox.base_url,
        "DOLLR_DATABASE_URL": pg_url,
        "DOLLR_DATA_DIR": str(tmp_path),
        "DOLLR_DUPLICATE_WINDOW_HOURS": "0",  # the replicas pay the same recipients on purpose
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    processes = []
    for n, (role, job) in enumerate(jobs):
        job = {**job, "ready_dir": str(ready), "go_file": str(go), "out": str(tmp_path / f"out-{n}.jsonl")}
        job_file = tmp_path / f"job-{n}.json"
        job_file.write_text(json.dumps(job))
        with open(tmp_path / f"log-{n}.txt", "w") as log:  # the child keeps its own copy of the file
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.replicas.worker", role, str(job_file)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def logs_of(failed: list[int]) -> str:
        return "\n".join((tmp_path / f"log-{n}.txt").read_text() for n in failed)

    try:
        deadline = time.monotonic() + 60
        while len(list(ready.iterdir())) < len(jobs):
            failed = [n for n, p in enumerate(processes) if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                pytest.fail("a replica did not start:\n" + logs_of(failed))
            time.sleep(0.02)
        go.touch()
        for p in processes:
            p.wait(timeout=120)
        failed = [n for n, p in enumerate(processes) if p.returncode != 0]
        assert not failed, f"a replica failed:\n{logs_of(failed)}"
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    return [
        [json.loads(line) for line in (tmp_path / f"out-{n}.jsonl").read_text().splitlines() if line]
        for n in range(len(jobs))
    ]


def settle(svc: Services, sandbox: StandaloneSandbox) -> None:
    """Move the sandbox's clock past every outcome and reconcile until nothing is open."""
    for _ in range(30):
        with Session(svc.engine) as db:
            db.exec(
                update(Attempt)
                .where(col(Attempt.local_state).in_(OPEN_ATTEMPT_STATES))
                .values(next_poll_at=None, lease_until=None)
            )
            db.commit()
        sandbox.advance_clock(60)
        if reconcile_once(svc, limit=500) == 0:
            return
    pytest.fail("payments still open after settling")


def attempts_by_intent(svc: Services) -> dict[str, list[Attempt]]:
    with Session(svc.engine) as db:
        key_of = {i.id: i.intent_key for i in db.exec(select(Intent)).all()}
        grouped: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in db.exec(select(Attempt)).all():
            grouped[key_of[attempt.intent_id]].append(attempt)
        return grouped


def executions_per_intent(svc: Services, sandbox: StandaloneSandbox) -> Counter[str]:
    """How many executions Dollr holds for each intent (an execution unknown to the ledger fails)."""
    intent_of = {a.reference_id: key for key, attempts in attempts_by_intent(svc).items() for a in attempts}
    held = [str(e["reference_id"]) for e in sandbox.executions()]
    assert set(held) <= set(intent_of), "Dollr holds a payment the ledger does not know"
    return Counter(intent_of[r] for r in held)


def prepared_payments(svc: Services, *, payouts: int, collections: int) -> list[tuple[str, str]]:
    """Payouts and invoice collections prepared (quoted, READY) but not yet confirmed."""
    intents = []
    for i in range(payouts):
        key = new_intent_key()
        prepare_payout(
            svc,
            OPERATOR,
            key,
            name=f"Recipient {i % 4}",
            phone=f"23188{i % 4:03d}4321",
            amount=str(10 + i),
            currency="USD",
        )
        intents.append((key, "payout"))
    customer = Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR")
    for _ in range(collections):
        key = new_intent_key()
        record = documents.create_document(
            svc,
            FINANCE,
            draft_key=key,
            source_type=SourceType.INVOICE,
            customer=customer,
            currency="USD",
            note="Consulting",
            fee_bearer=FeeBearer.PAYER,
        )
        documents.add_item(svc, FINANCE, record, documents.LineItem("Consulting", 1, Decimal("120.00")))
        record = documents.publish(svc, FINANCE, record)
        prepare_collection(svc, OPERATOR, key, record=record, phone="231880005678")
        intents.append((key, "collection"))
    return intents


def test_replicas_starting_together_on_an_empty_database_all_start(
    pg_url: str, standalone: StandaloneSandbox, tmp_path: Path
) -> None:
    run_replicas(tmp_path, pg_url, standalone, [("starter", {})] * 3)

    engine = open_ledger(pg_url)  # the schema is complete: nothing left to do, no error
    with Session(engine) as db:
        assert db.exec(select(Intent)).all() == []
    engine.dispose()


def test_same_payments_through_two_consoles_at_once_execute_once(
    ledger: Services, standalone: StandaloneSandbox, pg_url: str, tmp_path: Path
) -> None:
    intents = prepared_payments(ledger, payouts=16, collections=8)
    console = {"intents": intents, "threads": 3, "role": "operator", "actors": [OPERATOR.email]}

    seen = run_replicas(tmp_path, pg_url, standalone, [("console", console), ("console", console)])

    references: dict[str, set[str]] = defaultdict(set)
    for line in seen[0] + seen[1]:
        references[line["key"]].add(line["reference_id"])
    assert len(seen[0]) == len(seen[1]) == 3 * len(intents)
    assert all(len(refs) == 1 for refs in references.values()), "two consoles saw different payments"
    assert {len(a) for a in attempts_by_intent(ledger).values()} == {1}
    assert executions_per_intent(ledger, standalone) == {key: 1 for key, _ in intents}

    settle(ledger, standalone)
    assert {a[0].local_state for a in attempts_by_intent(ledger).values()} == {AttemptState.COMPLETED}
    assert executions_per_intent(ledger, standalone) == {key: 1 for key, _ in intents}


def test_a_new_recipient_entered_in_two_consoles_at_once_is_created_once(
    ledger: Services, standalone: StandaloneSandbox, pg_url: str, tmp_path: Path
) -> None:
    recipients = [(f"New Recipient {i}", f"23177{i:03d}4321") for i in range(5)]
    preparer = {"recipients": recipients, "threads": 3, "actor": OPERATOR.email}
    before = standalone.requests()

    run_replicas(tmp_path, pg_url, standalone, [("preparer", preparer), ("preparer", preparer)])

    sent = standalone.requests() - before
    creates = [sent[f"/v1/{what}/create"] for what in ("parties", "counterparties", "payment-accounts")]
    assert creates == [len(recipients)] * 3, "one party, counterparty and payout account per person"
    with Session(ledger.engine) as db:
        assert len(db.exec(select(Customer)).all()) == len(recipients)
        assert len(db.exec(select(Relationship)).all()) == len(recipients)
        assert len(db.exec(select(AccountRecord)).all()) == len(recipients)
    assert len(attempts_by_intent(ledger)) == 0  # prepared only: nothing was sent
    with Session(ledger.engine) as db:
        assert len(db.exec(select(Intent)).all()) == 2 * 3 * len(recipients)


def keep_everything_due(svc: Services, stop: threading.Event) -> None:
    """Every open payment due again and again: the replicas compete for all of them on every pass.
    Only `next_poll_at` is touched; leases are the replicas' own business."""
    while not stop.wait(0.1):
        with Session(svc.engine) as db:
            db.exec(
                update(Attempt)
                .where(
                    col(Attempt.local_state).in_(OPEN_ATTEMPT_STATES), col(Attempt.next_poll_at).is_not(None)
                )
                .values(next_poll_at=None)
            )
            db.commit()


def test_reconcilers_never_poll_one_payment_at_the_same_moment(
    ledger: Services, standalone: StandaloneSandbox, pg_url: str, tmp_path: Path
) -> None:
    def slow_payout(i: int) -> str:  # numbers ending 0003 stay PROCESSING for three sandbox minutes
        key = new_intent_key()
        prepare_payout(
            ledger,
            OPERATOR,
            key,
            name=f"Slow Recipient {i % 3}",
            phone=f"23155{i % 3:03d}0003",
            amount="12",
            currency="USD",
        )
        return confirm_payout(ledger, OPERATOR, key, PASSCODE).reference_id

    with ThreadPoolExecutor(4) as pool:
        references = list(pool.map(slow_payout, range(60)))
    standalone.configure(latency_ms=25)  # each lookup takes a while: overlaps would show
    reconciler = {"seconds": 8, "limit": 5}
    page = {"seconds": 8, "references": references, "actor": OPERATOR.email}
    stop = threading.Event()
    sweeper = threading.Thread(target=keep_everything_due, args=(ledger, stop))
    sweeper.start()
    try:
        logs = run_replicas(
            tmp_path,
            pg_url,
            standalone,
            [*[("reconciler", reconciler)] * 3, ("page", page)],
        )
    finally:
        stop.set()
        sweeper.join()
        standalone.configure(latency_ms=0)

    polls: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for n, log in enumerate(logs):
        for line in log[1:]:
            polls[line["reference_id"]].append((line["started"], line["ended"], n))
    for reference, intervals in polls.items():
        intervals.sort()
        for (_, ended, by), (started, _, other) in itertools.pairwise(intervals):
            assert started >= ended, f"replicas {by} and {other} polled {reference} at the same moment"
    per_replica = Counter(n for intervals in polls.values() for _, _, n in intervals)
    contested = [r for r, intervals in polls.items() if len({n for _, _, n in intervals}) > 1]
    assert all(per_replica[n] > 0 for n in range(3)), f"every reconciler took part: {per_replica}"
    assert set(polls) == set(references), "every payment was polled"
    assert sum(per_replica.values()) >= 3 * len(references), "several passes over the payments"
    assert len(contested) >= 10, "the replicas competed for the same payments"

    settle(ledger, standalone)
    assert {a[0].local_state for a in attempts_by_intent(ledger).values()} == {AttemptState.COMPLETED}
    assert set(executions_per_intent(ledger, standalone).values()) == {1}
