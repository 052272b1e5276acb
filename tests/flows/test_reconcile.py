"""The reconciler finishes what crashed workers left behind."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from dollr_core.basics.access import Actor
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState
from dollr_core.payments import protocol
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from .helpers import PASSCODE


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
