"""A request slower than our read timeout can still reach Dollr later. Through a real relay on
loopback (tests.support.relay) that holds the first copy past the client's timeout and answers the
resends for Dollr the way a gateway would, no payment is made twice and nobody is told "nothing
was paid" while a copy may still land — asserted at the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from dollr_core.api.errors import NetworkError
from dollr_core.api.models import RefundExecute, RefundSessionCreate, TransferExecute, TransferSessionCreate
from dollr_core.basics.access import Actor
from dollr_core.basics.enums import OperationType, SourceType
from dollr_core.bulk import drafts, running, states
from dollr_core.explain import attempt_outcome
from dollr_core.flows.directory import Person
from dollr_core.flows.payment_links import create_checkout
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import get_intent, open_intent
from dollr_core.ledger.tables import Attempt, AttemptState, BatchRowState, IntentKind, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_sandbox import Sandbox, SandboxConfig
from tests.conftest import make_services
from tests.support.relay_control import RelayControl

from ..bulk.helpers import PASSCODE as BULK_PASSCODE
from ..bulk.helpers import approved_batch, rows_of, rows_text, run_to_end
from .helpers import all_attempts, collect, executions_by_reference, pay_out, settle

#: The client gives up after this long; the relay delivers held requests after HELD.
READ_TIMEOUT = 1.0
HELD = 6.0  # well after the resend and its lookups, even on a loaded machine

GATEWAY_ANSWERS = [
    {"status": 404, "body": '{"detail": "Not Found"}'},
    {"status": 409, "body": '{"detail": "Conflict"}'},
    {"status": 403, "body": "<html><body>403 Forbidden</body></html>", "content_type": "text/html"},
    {"status": 422, "body": '{"detail": "Unprocessable"}'},
]


@pytest.fixture
def late(
    fresh_relay: RelayControl, fresh_sandbox: Sandbox, ledger_url: str, tmp_path: Path
) -> Iterator[Services]:
    """Services whose every call goes through the relay, with a short read timeout."""
    svc = make_services(
        fresh_sandbox, ledger_url, str(tmp_path), via=fresh_relay.url, read_timeout=READ_TIMEOUT
    )
    yield svc
    svc.client.close()
    svc.engine.dispose()


def _nothing_paid(attempt: Attempt) -> bool:
    explanation = attempt_outcome(attempt)
    return "nothing was paid" in f"{explanation.headline} {explanation.advice}".lower()


@pytest.mark.parametrize("gateway", GATEWAY_ANSWERS, ids=lambda g: str(g["status"]))
def test_refused_resend_of_a_payout_never_pays_twice(
    late: Services,
    fresh_relay: RelayControl,
    fresh_sandbox: Sandbox,
    operator: Actor,
    gateway: dict[str, object],
) -> None:
    path = "^/v1/executions/payout$"
    fresh_relay.add("hold", path, seconds=HELD)
    fresh_relay.add("answer", path, times=20, **gateway)
    attempt = pay_out(late, operator, uuid.uuid4().hex)
    assert attempt.local_state == AttemptState.UNKNOWN
    assert not _nothing_paid(attempt)
    assert "checking with dollr" in attempt_outcome(attempt).headline.lower()
    # The person does what the screen says; had it said "nothing was paid", they would pay again.
    if _nothing_paid(attempt):
        pay_out(late, operator, uuid.uuid4().hex)
    fresh_relay.wait_until_delivered()
    fresh_relay.clear()
    settle(late, fresh_sandbox)
    payouts = [e for e in fresh_sandbox.executions() if e["operation_type"] == "PAYOUT"]
    assert [e["reference_id"] for e in payouts] == [attempt.reference_id]
    [final] = all_attempts(late)
    assert final.local_state == AttemptState.COMPLETED


def test_refused_resend_of_a_collection_never_charges_twice(
    late: Services, fresh_relay: RelayControl, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    path = "^/v1/executions/collection$"
    fresh_relay.add("hold", path, seconds=HELD)
    fresh_relay.add("answer", path, times=20, status=404, body='{"detail": "Not Found"}')
    attempt = collect(late, finance, uuid.uuid4().hex)
    assert attempt.local_state == AttemptState.UNKNOWN and not _nothing_paid(attempt)
    if _nothing_paid(attempt):
        collect(late, finance, uuid.uuid4().hex)
    fresh_relay.wait_until_delivered()
    fresh_relay.clear()
    settle(late, fresh_sandbox)
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [attempt.reference_id]
    assert all_attempts(late)[0].local_state == AttemptState.COMPLETED


def test_cut_and_dropped_answers_settle_on_one_payment(
    late: Services, fresh_relay: RelayControl, fresh_sandbox: Sandbox, operator: Actor, finance: Actor
) -> None:
    fresh_relay.add("drop_answer", "^/v1/executions/payout$")
    fresh_relay.add("cut_answer", "^/v1/executions/collection$")
    fresh_relay.add("cut_request", "^/v1/executions/payout$", skip=1)  # the second payout's first copy
    first = pay_out(late, operator, uuid.uuid4().hex)
    second = pay_out(late, operator, uuid.uuid4().hex, phone="231880004321")
    third = collect(late, finance, uuid.uuid4().hex)
    settle(late, fresh_sandbox)
    remote = executions_by_reference(fresh_sandbox)
    assert set(remote) == {first.reference_id, second.reference_id, third.reference_id}
    assert all(a.local_state == AttemptState.COMPLETED for a in all_attempts(late))


def test_a_payment_link_whose_answer_was_lost_is_made_once(
    late: Services, fresh_relay: RelayControl, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    """K1 has no idempotency key: when its answer is lost, the second click finds the document the
    first one made (by its reference, through the marker left in the ledger) instead of a second."""
    fresh_relay.add("drop_answer", "^/v1/checkouts/create$")
    key = uuid.uuid4().hex
    link = {
        "source_type": SourceType.INVOICE,
        "customer": Person.checked(fullname="Amara Kamara", phone="231771234567", country_code="LR"),
        "currency": "USD",
        "items": [("Strategy session", Decimal("250.00"))],
    }
    with pytest.raises(NetworkError):
        create_checkout(late, finance, key, **link)
    again = create_checkout(late, finance, key, **link)
    made = [s for s in fresh_sandbox.state.sources.rows.values() if s.reference_id == key]
    assert len(made) == 1 and again.record.dollr_id == made[0].id
    assert again.url and create_checkout(late, finance, key, **link).record.id == again.record.id


@dataclass
class _Clocked:
    sandbox: Sandbox
    relay: RelayControl


@pytest.fixture
def short_sessions() -> Iterator[_Clocked]:
    """A sandbox whose sessions last a minute and whose clock is two minutes behind ours."""
    sandbox = Sandbox(SandboxConfig(rate_limit_per_minute=0, session_ttl_seconds=60))
    sandbox.state.clock.reset(-120.0)
    sandbox.start()
    relay = RelayControl(sandbox.base_url)
    yield _Clocked(sandbox, relay)
    relay.wait_until_delivered()
    relay.stop()
    sandbox.stop()


def test_session_is_not_given_up_before_it_expires_at_dollr(
    short_sessions: _Clocked, ledger_url: str, tmp_path: Path, operator: Actor
) -> None:
    """By our clock the session ended before it began; by Dollr's (measured) it has a minute to
    go, so the held first copy can still land: the same reference is resent, no new one made."""
    sandbox, relay = short_sessions.sandbox, short_sessions.relay
    svc = make_services(sandbox, ledger_url, str(tmp_path), via=relay.url, read_timeout=READ_TIMEOUT)
    relay.add("hold", "^/v1/executions/payout$", seconds=HELD)
    relay.add("answer", "^/v1/executions/payout$", times=3, status=502, body="bad gateway")
    key = uuid.uuid4().hex
    attempt = pay_out(svc, operator, key)
    assert attempt.session_expires_at is not None and attempt.session_expires_at < utcnow()
    assert attempt.local_state == AttemptState.UNKNOWN
    relay.wait_until_delivered()
    settle(svc, sandbox)
    again = protocol.current_attempt(svc.engine, key)
    assert again.reference_id == attempt.reference_id and again.local_state == AttemptState.COMPLETED
    assert [e["reference_id"] for e in sandbox.executions()] == [attempt.reference_id]
    svc.client.close()


def test_an_attempt_that_never_arrived_is_given_up_only_after_expiry_at_dollr(
    short_sessions: _Clocked, ledger_url: str, tmp_path: Path, operator: Actor
) -> None:
    """The first copy is lost for good and every resend is refused by a gateway: the attempt
    stays "checking" until Dollr's clock passes the session's expiry plus the margin and a lookup
    after that finds nothing; only then is the person told nothing was paid."""
    sandbox, relay = short_sessions.sandbox, short_sessions.relay
    svc = make_services(sandbox, ledger_url, str(tmp_path), via=relay.url, read_timeout=READ_TIMEOUT)
    relay.add("cut_request", "^/v1/executions/payout$")
    relay.add("answer", "^/v1/executions/payout$", times=1000, status=404, body='{"detail": "Not Found"}')
    key = uuid.uuid4().hex
    attempt = pay_out(svc, operator, key)
    assert attempt.local_state == AttemptState.UNKNOWN
    assert attempt.session_expires_at is not None
    # Two passes after each jump of Dollr's clock: the first one's answers show the jump.
    sandbox.advance_clock(60 - 5)  # Dollr's clock: 5 s before expiry
    settle(svc, sandbox, rounds=2, step=0)
    assert protocol.current_attempt(svc.engine, key).local_state == AttemptState.UNKNOWN
    margin = protocol.CLOCK_MARGIN.total_seconds()
    sandbox.advance_clock(5 + margin / 2)  # expired at Dollr, but within the margin
    settle(svc, sandbox, rounds=2, step=0)
    assert protocol.current_attempt(svc.engine, key).local_state == AttemptState.UNKNOWN
    sandbox.advance_clock(margin / 2 + 5)  # past expiry plus margin at Dollr
    settle(svc, sandbox, rounds=2, step=0)
    gone = next(a for a in all_attempts(svc) if a.reference_id == attempt.reference_id)
    assert gone.local_state == AttemptState.ABANDONED and _nothing_paid(gone)
    intent = get_intent(svc.engine, key)
    assert intent is not None and intent.state == IntentState.READY  # the person may confirm again
    assert sandbox.executions() == []
    svc.client.close()


def test_bulk_row_refused_on_resend_is_followed_not_failed(
    late: Services, fresh_relay: RelayControl, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    fresh_relay.add("hold", "^/v1/executions/payout$", seconds=HELD)
    fresh_relay.add("answer", "^/v1/executions/payout$", times=3, status=404, body='{"detail": "Not Found"}')
    batch_id = (
        approved_batch(late, finance, manager, rows_text("Musa Kollie,231880001234,25,USD,,L-1")).id or 0
    )
    running.start_batch(late, finance, batch_id, BULK_PASSCODE)
    run_to_end(late, batch_id, fresh_sandbox)
    [row] = rows_of(late, batch_id)
    assert row.state == BatchRowState.PAID, (row.state, row.failure_reason)
    with pytest.raises(states.BulkError, match="nothing to retry"):
        drafts.retry_failed(late, finance, batch_id)
    assert len(fresh_sandbox.executions()) == 1


# --- transfers and refunds go through the same protocol ---------------------------------------


@dataclass
class _TransferPlan:
    svc: Services
    from_wallet_id: int
    to_counterparty_id: int
    amount: Decimal
    operation_type: OperationType = OperationType.TRANSFER

    def open_session(self) -> protocol.OpenedSession:
        expires = utcnow() + timedelta(minutes=15)
        session = self.svc.client.sessions.transfer(
            TransferSessionCreate(
                from_wallet_id=self.from_wallet_id,
                to_counterparty_id=self.to_counterparty_id,
                amount=self.amount,
                currency="USD",
                expires_at=expires,
            )
        )
        return protocol.OpenedSession(int(session.id), expires)

    def build(self, session_id: int, reference_id: str) -> BaseModel:
        return TransferExecute(session_id=str(session_id), reference_id=reference_id)


@dataclass
class _RefundPlan:
    svc: Services
    payment_intent_id: int
    amount: Decimal
    operation_type: OperationType = OperationType.REFUND

    def open_session(self) -> protocol.OpenedSession:
        expires = utcnow() + timedelta(minutes=15)
        session = self.svc.client.sessions.refund(
            RefundSessionCreate(
                original_payment_intent_id=self.payment_intent_id, amount=self.amount, expires_at=expires
            )
        )
        return protocol.OpenedSession(int(session.id), expires)

    def build(self, session_id: int, reference_id: str) -> BaseModel:
        return RefundExecute(session_id=str(session_id), reference_id=reference_id)


def _ready_intent(svc: Services, actor: Actor, kind: IntentKind) -> str:
    key = uuid.uuid4().hex
    open_intent(
        svc.engine,
        key,
        kind=kind,
        operation_type=kind.value,
        operator=actor.email,
        state=IntentState.READY,
        terms={"test": key},
        amount=Decimal("5"),
        currency="USD",
    )
    return key


def test_transfer_and_refund_with_late_first_copies_execute_once(
    late: Services, fresh_relay: RelayControl, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    paid = collect(late, finance, uuid.uuid4().hex)
    settle(late, fresh_sandbox)
    [collection] = all_attempts(late)
    assert collection.local_state == AttemptState.COMPLETED and collection.payment_intent_id
    for operation in ("transfer", "refund"):
        fresh_relay.add("hold", f"^/v1/executions/{operation}$", seconds=HELD)
        fresh_relay.add(
            "answer", f"^/v1/executions/{operation}$", times=20, status=404, body='{"detail": "x"}'
        )
    [counterparty, *_] = late.client.counterparties.list()
    [wallet] = [w for w in fresh_sandbox.wallet_details() if w["currency"] == "USD"]
    transfer_key = _ready_intent(late, finance, IntentKind.TRANSFER)
    refund_key = _ready_intent(late, finance, IntentKind.REFUND)
    transfer = protocol.submit(
        late.engine,
        late.client,
        transfer_key,
        _TransferPlan(late, int(wallet["id"]), int(counterparty.id), Decimal("5")),
        actor=finance.email,
    )
    refund = protocol.submit(
        late.engine,
        late.client,
        refund_key,
        _RefundPlan(late, int(collection.payment_intent_id), Decimal("5")),
        actor=finance.email,
    )
    assert transfer.local_state == refund.local_state == AttemptState.UNKNOWN
    fresh_relay.wait_until_delivered()
    fresh_relay.clear()
    settle(late, fresh_sandbox)
    remote = executions_by_reference(fresh_sandbox)
    kinds = sorted(str(e["operation_type"]) for e in remote.values())
    assert kinds == ["COLLECTION", "REFUND", "TRANSFER"]
    assert {transfer.reference_id, refund.reference_id, paid.reference_id} == set(remote)
