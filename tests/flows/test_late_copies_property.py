"""The exactly-once property under the faults the world produces, at random: 500 payments on each
ledger, sent concurrently through a relay that delivers copies late, drops and cuts answers and
speaks for Dollr with gateway refusals, while sessions expire (sandbox clock), senders crash and
the console restarts. People act on what the console tells them. Asserted at the sandbox:

- no intent was executed twice, and no person's payment was made twice;
- no attempt whose reference exists at Dollr was ever shown as "nothing was paid";
- every attempt ends in Dollr's own status (or, never having landed, as refused or abandoned).
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.explain import attempt_outcome
from dollr_core.flows.payouts import confirm_payout
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_sandbox import Sandbox, SandboxConfig
from tests.conftest import make_services
from tests.support.relay_control import RelayControl

from .helpers import PASSCODE, all_attempts, collect, executions_by_reference, pay_out, settle

FLOWS = int(os.environ.get("LATE_COPY_FLOWS", "500"))
THREADS = 8
READ_TIMEOUT = 0.3
SEED = 20261201

PATHS = ["^/v1/executions/", "^/v1/executions/", "^/v1/status/", "^/v1/sessions/"]
WALLETS = ["231880001111", "231770002222", "231550003333", "231880000001", "231880000003"]
CHECKPOINTS = ["before_session", "after_session", "before_execute", "after_execute", "before_lookup"]


class Crash(Exception):
    """Stands for the process dying at a checkpoint."""


_local = threading.local()


def _crash_hook(name: str) -> None:
    if getattr(_local, "crash_at", None) == name:
        _local.crash_at = None
        raise Crash(name)


@dataclass
class Job:
    """What one person set out to do: pay or collect once. A retry after "nothing was paid" is
    a new intent of the same job."""

    kind: str
    phone: str
    amount: str
    keys: list[str] = field(default_factory=list)


def _faults(rng: random.Random) -> list[dict[str, object]]:
    """One misbehaviour of the network for the next matching request(s), or the classic pair:
    a copy held past the timeout whose resends a gateway refuses."""
    if rng.random() < 0.3:
        path = rng.choice(["^/v1/executions/payout$", "^/v1/executions/collection$"])
        status, body = rng.choice([(404, '{"detail": "Not Found"}'), (409, "{}"), (403, "<html>403</html>")])
        return [
            {"action": "hold", "path": path, "seconds": rng.uniform(0.5, 1.5)},
            {"action": "answer", "path": path, "status": status, "body": body, "times": 3},
        ]
    return [_fault(rng)]


def _fault(rng: random.Random) -> dict[str, object]:
    path = rng.choice(PATHS)
    roll = rng.random()
    if roll < 0.35:
        return {"action": "hold", "path": path, "seconds": rng.uniform(0.4, 1.6)}
    if roll < 0.5:
        return {"action": "drop_answer", "path": path}
    if roll < 0.6:
        return {"action": "cut_request", "path": path}
    if roll < 0.7:
        return {"action": "cut_answer", "path": path}
    status, body = rng.choice(
        [
            (404, '{"detail": "Not Found"}'),
            (409, '{"detail": "Conflict"}'),
            (403, "<html>403</html>"),
            (422, '{"detail": "Unprocessable"}'),
            (502, "Bad Gateway"),
            (503, ""),
        ]
    )
    return {"action": "answer", "path": path, "status": status, "body": body, "times": rng.randint(1, 3)}


@pytest.fixture
def world(ledger_url: str, tmp_path: Path) -> Iterator[tuple[Sandbox, RelayControl, Services]]:
    """A sandbox with two-minute sessions, the relay in front of it, and the console's services."""
    sandbox = Sandbox(SandboxConfig(rate_limit_per_minute=0, session_ttl_seconds=120))
    sandbox.start()
    relay = RelayControl(sandbox.base_url)
    svc = make_services(sandbox, ledger_url, str(tmp_path), via=relay.url, read_timeout=READ_TIMEOUT)
    protocol.crash_hook = _crash_hook
    yield sandbox, relay, svc
    protocol.crash_hook = None
    relay.wait_until_delivered()
    relay.stop()
    svc.client.close()
    svc.engine.dispose()
    sandbox.stop()


def _restarted(svc: Services, sandbox: Sandbox, relay: RelayControl, tmp_path: Path) -> Services:
    """The console process after a restart: a new client (Dollr's clock not yet measured)."""
    return make_services(
        sandbox, svc.settings.database_url or "", str(tmp_path), via=relay.url, read_timeout=READ_TIMEOUT
    )


def _run(svc: Services, job: Job, actor: Actor, *, new_key: bool) -> None:
    if new_key or not job.keys:
        job.keys.append(uuid.uuid4().hex)
    key = job.keys[-1]
    try:
        if job.kind == "payout":
            intent = get_intent(svc.engine, key)
            if intent is None or intent.state == IntentState.OPEN:
                pay_out(svc, actor, key, phone=job.phone, amount=job.amount)
            else:
                confirm_payout(svc, actor, key, PASSCODE)
        else:
            collect(svc, actor, key, wallet=job.phone)
    except Crash:
        _release_dead(svc, key)
    except Exception:  # a fault before anything was sent, or the payment is busy elsewhere
        pass


def _release_dead(svc: Services, key: str) -> None:
    """What the passage of time does for a crashed sender: its leases lapse."""
    with Session(svc.engine) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == key)).one_or_none()
        if intent is None:
            return
        intent.lease_until = None
        db.add(intent)
        for attempt in db.exec(select(Attempt).where(Attempt.intent_id == intent.id)).all():
            attempt.lease_until = None
            db.add(attempt)
        db.commit()


def _told_nothing_was_paid(attempt: Attempt) -> bool:
    explanation = attempt_outcome(attempt)
    return "nothing was paid" in f"{explanation.headline} {explanation.advice}".lower()


def _what_the_person_does(svc: Services, job: Job, operator: Actor, finance: Actor) -> bool:
    """Act on the screen: confirm a reopened payout again, or start over when told nothing was
    paid. True when the person did something."""
    actor = operator if job.kind == "payout" else finance
    intent = get_intent(svc.engine, job.keys[-1]) if job.keys else None
    if intent is None or intent.state in (IntentState.OPEN, IntentState.READY):
        _run(svc, job, actor, new_key=False)
        return True
    if intent.current_attempt_id is None:
        return False
    with Session(svc.engine) as db:
        attempt = db.get(Attempt, intent.current_attempt_id)
    assert attempt is not None
    if AttemptState(attempt.local_state) in (AttemptState.REFUSED, AttemptState.ABANDONED):
        assert _told_nothing_was_paid(attempt)
        _run(svc, job, actor, new_key=True)
        return True
    return False


def test_exactly_once_under_late_copies(
    world: tuple[Sandbox, RelayControl, Services], tmp_path: Path, operator: Actor, finance: Actor
) -> None:
    sandbox, relay, svc = world
    rng = random.Random(SEED)
    jobs = [
        Job(
            kind="payout" if n % 2 else "collection",
            phone=rng.choice(WALLETS),
            amount=str(rng.randint(1, 20)),
        )
        for n in range(FLOWS)
    ]
    plans = [(job, rng.random() < 0.5, rng.random() < 0.08, rng.choice(CHECKPOINTS)) for job in jobs]
    current = {"svc": svc}
    lock = threading.Lock()

    def flow(n: int) -> None:
        job, faulty, crash, point = plans[n]
        if faulty:
            for fault in _faults(random.Random(SEED + n)):
                relay.add(**fault)  # type: ignore[arg-type]
        _local.crash_at = point if crash else None
        with lock:
            here = current["svc"]
        _run(here, job, operator if job.kind == "payout" else finance, new_key=False)
        _local.crash_at = None
        if n % 100 == 99:  # now and then: sessions run out at Dollr, and the console restarts
            sandbox.advance_clock(random.Random(n).uniform(30, 150))
            with lock:
                current["svc"] = _restarted(svc, sandbox, relay, tmp_path)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(flow, range(FLOWS)))
    protocol.crash_hook = None
    relay.wait_until_delivered()
    relay.clear()

    final = _restarted(svc, sandbox, relay, tmp_path)
    for _ in range(4):
        settle(final, sandbox, rounds=60, step=10.0)
        acted = [_what_the_person_does(final, job, operator, finance) for job in jobs]
        if not any(acted):
            break
        relay.wait_until_delivered()
    settle(final, sandbox, rounds=60, step=10.0)

    remote = executions_by_reference(sandbox)  # also: no reference_id twice at the sandbox
    attempts = all_attempts(final)
    by_reference = {a.reference_id: a for a in attempts}
    assert set(remote) <= set(by_reference), "Dollr holds an execution the ledger lost"

    per_intent: dict[int, int] = {}
    for reference in remote:
        intent_id = by_reference[reference].intent_id
        per_intent[intent_id] = per_intent.get(intent_id, 0) + 1
    assert max(per_intent.values()) == 1, "an intent was executed twice"

    intent_of_key = {}
    with Session(final.engine) as db:
        for intent in db.exec(select(Intent)).all():
            intent_of_key[intent.intent_key] = intent.id
    for job in jobs:
        ids = {intent_of_key.get(k) for k in job.keys}
        landed = [
            e for ref, e in remote.items() if by_reference[ref].intent_id in ids and e["status"] != "FAILED"
        ]
        assert len(landed) <= 1, f"a {job.kind} was made twice: {landed}"

    for attempt in attempts:
        state = AttemptState(attempt.local_state)
        assert state.is_final, (attempt.reference_id, state)
        if attempt.reference_id in remote:
            assert attempt.remote_status == remote[attempt.reference_id]["status"]
            assert state in (AttemptState.COMPLETED, AttemptState.FAILED)
            assert state is AttemptState.FAILED or not _told_nothing_was_paid(attempt)
        else:
            assert state in (AttemptState.REFUSED, AttemptState.ABANDONED), (attempt.reference_id, state)
    assert len(remote) >= FLOWS * 0.8
    final.client.close()
