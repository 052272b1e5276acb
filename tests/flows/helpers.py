"""Helpers for flow tests: drive payments to the end and compare the ledger with the sandbox."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.flows.collect import NewCollection, collect_new_document
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Attempt, AttemptState
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.services import Services
from dollr_core.team import approvals
from dollr_sandbox import Sandbox

PASSCODE = "123456"


def pay_out(
    svc: Services, actor: Actor, key: str, *, phone: str = "231880001234", amount: str = "25"
) -> Attempt:
    prepare_payout(svc, actor, key, name="Musa Kollie", phone=phone, amount=amount, currency="USD")
    return confirm_payout(svc, actor, key, PASSCODE)


def payout_as_shown(svc: Services, key: str) -> str:
    """The fingerprint an approver's screen would carry for the payout as the ledger holds it now."""
    intent = get_intent(svc.engine, key)
    assert intent is not None
    return approvals.payout_fingerprint(intent)


def collect(svc: Services, actor: Actor, key: str, *, wallet: str = "231880005678") -> Attempt:
    order = NewCollection(
        customer=Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR"),
        currency="USD",
        items=[LineItem("Strategy session", 1, Decimal("250.00")), LineItem("Report", 2, Decimal("12.50"))],
        wallet_phone=wallet,
    )
    return collect_new_document(svc, actor, key, order)


def settle(svc: Services, sandbox: Sandbox, *, rounds: int = 40, step: float = 5.0) -> None:
    """Advance the sandbox clock and reconcile until no attempt is open (or give up)."""
    for _ in range(rounds):
        if not open_attempts(svc):
            return
        sandbox.advance_clock(step)
        make_all_due(svc)
        reconcile_once(svc, limit=500)


def make_all_due(svc: Services) -> None:
    """Tests move the sandbox's clock, not ours: pull every scheduled look forward."""
    with Session(svc.engine) as db:
        for row in db.exec(select(Attempt)).all():
            if not AttemptState(row.local_state).is_final:
                row.next_poll_at = None
                row.lease_until = None
                db.add(row)
        db.commit()


def open_attempts(svc: Services) -> list[Attempt]:
    with Session(svc.engine) as db:
        return [a for a in db.exec(select(Attempt)).all() if not AttemptState(a.local_state).is_final]


def all_attempts(svc: Services) -> list[Attempt]:
    with Session(svc.engine) as db:
        return list(db.exec(select(Attempt)).all())


def executions_by_reference(sandbox: Sandbox) -> dict[str, dict[str, object]]:
    executions = sandbox.executions()
    counts = Counter(str(e["reference_id"]) for e in executions)
    assert all(n == 1 for n in counts.values()), f"reference ids repeated in the sandbox: {counts}"
    return {str(e["reference_id"]): e for e in executions}
