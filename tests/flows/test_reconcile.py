"""The reconciler finishes what crashed workers left behind."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlmodel import Session

from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.api.pacing import INTERACTIVE_WAIT
from dollr_core.basics.access import Actor
from dollr_core.config import Settings
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger import open_ledger
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState
from dollr_core.payments import protocol
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.support.clocks import SleepClock

from .helpers import PASSCODE, make_all_due, open_attempts, pay_out


def test_stranded_abandoned_attempt_reopens_its_intent(
    sqlite_services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    svc = sqlite_services
    key = uuid.uuid4().hex
    prepare_payout(svc, operator, key, name="Musa Kollie", phone="231880001234", amount="9", currency="USD")

    def die_after_session(name: str) -> None:
        if name == "after_session":
            raise RuntimeError("worker died")

    protocol.crash_hook = die_after_session
    try:
        confirm_payout(svc, operator, key, PASSCODE)
    except RuntimeError:
        pass
    finally:
        protocol.crash_hook = None
    intent = get_intent(svc.engine, key)
    assert intent is not None and intent.current_attempt_id is not None
    with Session(svc.engine) as db:  # the worker had just marked it abandoned when it died
        attempt = db.get(Attempt, intent.current_attempt_id)
        assert attempt is not None
        attempt.local_state = AttemptState.ABANDONED
        attempt.lease_until = None
        abandoned = attempt.reference_id
        row = db.get(Intent, intent.id)
        assert row is not None
        row.lease_until = None
        db.add_all([attempt, row])
        db.commit()

    reconcile_once(svc)
    reopened = get_intent(svc.engine, key)
    assert reopened is not None and reopened.state == IntentState.READY
    sent = confirm_payout(svc, operator, key, PASSCODE)  # the person confirms again: a new attempt
    assert sent.reference_id != abandoned
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [sent.reference_id]


def test_a_reconciler_pass_waits_its_turn_at_the_pace(
    fresh_sandbox: Sandbox, tmp_path: Path, operator: Actor
) -> None:
    """Under a rate limit the reconciler's status reads queue for the pace however long, where a
    click waits at most `INTERACTIVE_WAIT`: background work never cuts ahead of operators."""
    clock = SleepClock()
    ledger = f"sqlite:///{tmp_path}/ledger.db"
    settings = Settings(
        base_url=fresh_sandbox.base_url, database_url=ledger, data_dir=tmp_path, duplicate_window_hours=0
    )
    client = DollrClient(settings, sleep=clock.sleep, clock=clock)
    svc = Services(settings=settings, engine=open_ledger(ledger), client=client, lookups=Lookups(client))
    try:
        sent_payouts = [pay_out(svc, operator, uuid.uuid4().hex, phone=f"23188000{n:04d}") for n in range(4)]
        assert len(open_attempts(svc)) == 4  # sent, not final yet in the ledger

        # Dollr refused this client's requests a burst, then one at a time: paced under 1.2 a second.
        pacer = client.pacer
        sent = [pacer.acquire() for _ in range(6)]
        pacer.refused(sent[-1])
        while (pacer.rate or 0) >= 1.2:
            clock.now += 10.0
            pacer.refused(pacer.acquire())
        clock.sleeps.clear()

        make_all_due(svc)
        assert reconcile_once(svc) == 4
        assert max(clock.sleeps) > INTERACTIVE_WAIT, clock.sleeps  # it queued for its slot

        clock.sleeps.clear()
        for attempt in sent_payouts[:3]:  # a person's lookups, outside the reconciler: held no longer
            client.status.execution(attempt.op, attempt.reference_id)
        assert clock.sleeps and max(clock.sleeps) <= INTERACTIVE_WAIT, clock.sleeps
    finally:
        client.close()
        svc.engine.dispose()
