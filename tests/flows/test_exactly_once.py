"""No rerun, click, crash or lost response ever pays twice — asserted against the sandbox's own
record of executions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from dollr_core.basics.access import Actor
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import IntentBusy, get_intent
from dollr_core.ledger.tables import AttemptState, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from .helpers import PASSCODE, all_attempts, collect, executions_by_reference, pay_out, settle


class Crash(Exception):
    """Stands for the process dying at a checkpoint."""


def crash_at(point: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == point:
            raise Crash(point)

    return hook


@pytest.fixture(autouse=True)
def _no_crash_hook() -> None:
    protocol.crash_hook = None
    yield
    protocol.crash_hook = None


def _assert_ledger_matches_sandbox(svc: Services, sandbox: Sandbox) -> None:
    """Every execution Dollr holds is in the ledger, and every attempt ends where Dollr says."""
    remote = executions_by_reference(sandbox)
    attempts = {a.reference_id: a for a in all_attempts(svc)}
    assert set(remote) <= set(attempts), "Dollr holds an execution the ledger lost"
    for reference, attempt in attempts.items():
        state = AttemptState(attempt.local_state)
        if reference in remote:
            assert attempt.remote_status == remote[reference]["status"], reference
            assert state in (AttemptState.COMPLETED, AttemptState.FAILED)
        else:
            assert state in (AttemptState.REFUSED, AttemptState.ABANDONED), (reference, state)


def test_ten_threads_one_payout(services: Services, fresh_sandbox: Sandbox, operator: Actor) -> None:
    key = uuid.uuid4().hex
    prepare_payout(
        services, operator, key, name="Musa Kollie", phone="231880001234", amount="40", currency="USD"
    )
    barrier = threading.Barrier(10)

    def click() -> str:
        barrier.wait()
        return confirm_payout(services, operator, key, PASSCODE).reference_id

    with ThreadPoolExecutor(10) as pool:
        references = set(pool.map(lambda _: click(), range(10)))
    assert len(references) == 1
    assert len(fresh_sandbox.executions()) == 1

    settle(services, fresh_sandbox)
    again = confirm_payout(services, operator, key, PASSCODE)
    assert again.reference_id in references
    assert again.local_state == AttemptState.COMPLETED
    payouts = [e for e in fresh_sandbox.executions() if e["operation_type"] == "PAYOUT"]
    assert len(payouts) == 1 and payouts[0]["status"] == "COMPLETED"


def test_ten_threads_one_collection(services: Services, fresh_sandbox: Sandbox, finance: Actor) -> None:
    key = uuid.uuid4().hex
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def click() -> None:
        barrier.wait()
        try:
            outcomes.append(collect(services, finance, key).reference_id)
        except (IntentBusy, protocol.IntentNotReady):
            outcomes.append("busy")

    threads = [threading.Thread(target=click) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    settle(services, fresh_sandbox)
    final = collect(services, finance, key)  # the person clicks once more after it finished
    assert final.local_state == AttemptState.COMPLETED
    assert len(fresh_sandbox.executions()) == 1
    documents = {a.source_id for a in all_attempts(services)}
    assert len(documents) == 1
    assert {o for o in outcomes if o != "busy"} <= {final.reference_id}


CHECKPOINTS = [
    "after_document",
    "after_items",
    "after_publish",
    "after_quote",
    "before_session",
    "after_session",
    "before_execute",
    "after_execute",
]


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_crash_then_resume_collection(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, point: str
) -> None:
    svc = sqlite_services
    key = uuid.uuid4().hex
    protocol.crash_hook = crash_at(point)
    with pytest.raises(Crash):
        collect(svc, finance, key)
    protocol.crash_hook = None
    _expire_leases(svc)
    attempt = collect(svc, finance, key)
    settle(svc, fresh_sandbox)
    attempt = collect(svc, finance, key)
    assert attempt.local_state == AttemptState.COMPLETED
    executions = fresh_sandbox.executions()
    assert len(executions) == 1 and executions[0]["reference_id"] == attempt.reference_id
    _assert_one_document_and_party(fresh_sandbox)
    _assert_ledger_matches_sandbox(svc, fresh_sandbox)


@pytest.mark.parametrize("point", ["before_session", "after_session", "before_execute", "after_execute"])
def test_crash_then_resume_payout(
    sqlite_services: Services, fresh_sandbox: Sandbox, operator: Actor, point: str
) -> None:
    svc = sqlite_services
    key = uuid.uuid4().hex
    prepare_payout(svc, operator, key, name="Musa Kollie", phone="231880001234", amount="15", currency="USD")
    protocol.crash_hook = crash_at(point)
    with pytest.raises(Crash):
        confirm_payout(svc, operator, key, PASSCODE)
    protocol.crash_hook = None
    _expire_leases(svc)
    settle(svc, fresh_sandbox)  # the reconciler alone cannot send a payout: it needs the passcode
    attempt = confirm_payout(svc, operator, key, PASSCODE)
    settle(svc, fresh_sandbox)
    attempt = confirm_payout(svc, operator, key, PASSCODE)
    assert attempt.local_state == AttemptState.COMPLETED
    assert len(fresh_sandbox.executions()) == 1
    _assert_ledger_matches_sandbox(svc, fresh_sandbox)


def test_dropped_response_is_adopted(services: Services, fresh_sandbox: Sandbox, operator: Actor) -> None:
    fresh_sandbox.add_fault(path="/v1/executions", count=1, action="drop_response")
    attempt = pay_out(services, operator, uuid.uuid4().hex)
    assert attempt.local_state in (AttemptState.ACCEPTED, AttemptState.COMPLETED)
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [attempt.reference_id]
    settle(services, fresh_sandbox)
    _assert_ledger_matches_sandbox(services, fresh_sandbox)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_on_execute(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, status: int
) -> None:
    fresh_sandbox.add_fault(path="/v1/executions", count=1, action="status", status=status)
    attempt = collect(sqlite_services, finance, uuid.uuid4().hex)
    # Dollr never saw it: the same reference_id was resent after the lookup said "not found".
    assert attempt.local_state in (AttemptState.ACCEPTED, AttemptState.COMPLETED)
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [attempt.reference_id]


def test_timeout_on_execute(fresh_sandbox: Sandbox, tmp_path: object, operator: Actor) -> None:
    from tests.conftest import impatient, make_services

    svc = make_services(fresh_sandbox, f"sqlite:///{tmp_path}/l.db", str(tmp_path))
    fresh_sandbox.add_fault(path="/v1/executions", count=1, action="latency", ms=4000)
    key = uuid.uuid4().hex
    prepare_payout(svc, operator, key, name="Musa Kollie", phone="231880001234", amount="25", currency="USD")
    confirm_payout(impatient(svc), operator, key, PASSCODE)
    settle(svc, fresh_sandbox)
    attempt = confirm_payout(svc, operator, key, PASSCODE)
    assert attempt.local_state == AttemptState.COMPLETED
    assert len(fresh_sandbox.executions()) == 1


def test_rate_limited_execute_is_sent_later_with_same_reference(
    sqlite_services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    fresh_sandbox.add_fault(path="/v1/executions", count=1, action="rate_limit", retry_after=1)
    key = uuid.uuid4().hex
    first = pay_out(sqlite_services, operator, key)
    assert first.local_state == AttemptState.UNKNOWN
    second = confirm_payout(sqlite_services, operator, key, PASSCODE)  # the person confirms again later
    if second.local_state == AttemptState.UNKNOWN:
        _expire_leases(sqlite_services, due=True)
        second = confirm_payout(sqlite_services, operator, key, PASSCODE)
    assert second.reference_id == first.reference_id
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [first.reference_id]


def test_failed_payout_is_final_and_not_retried(
    sqlite_services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    key = uuid.uuid4().hex
    pay_out(sqlite_services, operator, key, phone="231880000001")
    settle(sqlite_services, fresh_sandbox)
    attempt = confirm_payout(sqlite_services, operator, key, PASSCODE)
    assert attempt.local_state == AttemptState.FAILED
    intent = get_intent(sqlite_services.engine, key)
    assert intent is not None and intent.state == IntentState.FAILED
    assert len(fresh_sandbox.executions()) == 1


FAULTS: list[dict[str, object]] = [
    {"action": "status", "status": 503},
    {"action": "status", "status": 500},
    {"action": "drop_response"},
    {"action": "rate_limit", "retry_after": 1},
]
FAULT_PATHS = ["/v1/executions", "/v1/status", "/v1/sessions", "/v1/payment-accounts", "/v1/parties"]


def test_randomized_flows_with_faults(
    services: Services, fresh_sandbox: Sandbox, operator: Actor, finance: Actor
) -> None:
    """200 payments, random faults at random steps, crashes included: exactly one execution each."""
    rng = random.Random(20261128)
    keys: list[tuple[str, str]] = []
    wallets = ["231880001111", "231770002222", "231550003333", "231880000001", "231880000002"]
    for n in range(200):
        if rng.random() < 0.5:
            fault = dict(rng.choice(FAULTS))
            fresh_sandbox.add_fault(path=rng.choice(FAULT_PATHS), count=1, **fault)  # type: ignore[arg-type]
        crash = rng.random() < 0.1
        protocol.crash_hook = crash_at(rng.choice(CHECKPOINTS)) if crash else None
        key = uuid.uuid4().hex
        kind = "payout" if n % 2 else "collection"
        keys.append((kind, key))
        try:
            if kind == "payout":
                pay_out(services, operator, key, phone=rng.choice(wallets), amount=str(rng.randint(1, 50)))
            else:
                collect(services, finance, key, wallet=rng.choice(wallets))
        except Exception:  # a crash or a fault before the execution: the person tries again below
            pass
        protocol.crash_hook = None
        fresh_sandbox.clear_faults()
    _expire_leases(services)
    for kind, key in keys:  # everyone who saw an error confirms once more
        try:
            if kind == "payout":
                if get_intent(services.engine, key) is not None:
                    confirm_payout(services, operator, key, PASSCODE)
            else:
                collect(services, finance, key)
        except (protocol.IntentNotReady, IntentBusy):
            pass
    settle(services, fresh_sandbox, rounds=80)
    for kind, key in keys:  # a payout whose earlier try never landed needs the passcode again
        intent = get_intent(services.engine, key)
        if kind == "payout" and intent is not None and intent.state == IntentState.READY:
            confirm_payout(services, operator, key, PASSCODE)
    settle(services, fresh_sandbox, rounds=80)

    remote = executions_by_reference(fresh_sandbox)
    per_intent: dict[int, int] = {}
    for attempt in all_attempts(services):
        if attempt.reference_id in remote:
            per_intent[attempt.intent_id] = per_intent.get(attempt.intent_id, 0) + 1
    assert all(count == 1 for count in per_intent.values()), "an intent was executed twice"
    assert len(remote) >= 150
    _assert_ledger_matches_sandbox(services, fresh_sandbox)


def _expire_leases(svc: Services, *, due: bool = False) -> None:
    """What the passage of time does after a crash: the dead worker's leases run out."""
    from sqlmodel import Session, select

    from dollr_core.ledger.tables import Attempt, Intent

    with Session(svc.engine) as db:
        for row in db.exec(select(Intent)).all():
            row.lease_until = None
            db.add(row)
        for attempt in db.exec(select(Attempt)).all():
            attempt.lease_until = None
            if due:
                attempt.next_poll_at = attempt.retry_not_before = None
            db.add(attempt)
        db.commit()


def _assert_one_document_and_party(sandbox: Sandbox) -> None:
    import httpx

    base = sandbox.base_url
    token = httpx.post(
        f"{base}/v1/jwt/client/obtain/token", json={"client_id": "sandbox", "client_secret": "sandbox-secret"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    invoices = httpx.get(f"{base}/v1/invoices/list", headers=headers).json()
    parties = httpx.get(f"{base}/v1/parties/list", headers=headers).json()
    assert len(invoices) == 1, invoices
    assert len(parties) == 1, parties
