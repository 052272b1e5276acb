"""Approval rules on SQLite and PostgreSQL: one or two different managers by amount, nobody
approves their own, decisions expire back to the maker, operators' daily limits, and the rules
edited by an admin (audited old → new) unless the install's settings fix them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.bulk import drafts, recipient_file
from dollr_core.config import Settings
from dollr_core.flows import payouts
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Batch, BatchState, Intent, IntentState, LedgerEvent
from dollr_core.services import Services
from dollr_core.team import approval_rules, approvals

from ..bulk.helpers import rows_text
from .helpers import PASSCODE, payout_as_shown

SECOND_MANAGER = Actor("max.manager@example.com", Role.MANAGER)


def _sent_for_approval(svc: Services, maker: Actor, key: str, amount: str) -> Intent:
    payouts.prepare_payout(
        svc, maker, key, name="Musa Kollie", phone="231880004321", amount=amount, currency="USD"
    )
    return approvals.submit_for_approval(svc, maker, key)


def _approve(svc: Services, manager: Actor, key: str) -> Intent:
    return approvals.decide_payout(svc, manager, key, approvals.Decision(True, "", payout_as_shown(svc, key)))


def test_above_the_higher_threshold_two_different_managers_approve(
    services: Services, finance: Actor, manager: Actor
) -> None:
    maker = Actor("fay.finance@example.com", Role.OPERATOR)
    rules = approval_rules.current(services.engine, services.settings)
    assert rules.approvers_needed("USD", Decimal("499")) == 0
    assert rules.approvers_needed("USD", Decimal("750")) == 1
    assert rules.approvers_needed("USD", Decimal("5000.01")) == 2
    approval_rules.update(
        services.engine, services.settings, Actor("ada.admin@example.com", Role.ADMIN),
        {"operator_payout_limits": {"USD": "20000"}, "operator_daily_limits": {"USD": "50000"}},
    )  # fmt: skip
    intent = _sent_for_approval(services, maker, "k-two", "6000")
    assert intent.approvals_needed == 2

    first = _approve(services, manager, "k-two")
    assert first.state == IntentState.AWAITING_APPROVAL and first.first_approved_by == manager.email
    with pytest.raises(approvals.ApprovalError, match="second, different manager"):
        _approve(services, manager, "k-two")
    with pytest.raises(approvals.ApprovalError, match="someone else must approve"):
        approvals.decide_payout(
            services, Actor(maker.email, Role.MANAGER), "k-two",
            approvals.Decision(True, "", payout_as_shown(services, "k-two")),
        )  # fmt: skip
    second = _approve(services, SECOND_MANAGER, "k-two")
    assert second.state == IntentState.READY and second.decided_by == SECOND_MANAGER.email
    with Session(services.engine) as db:
        actions = [e.action for e in db.exec(select(LedgerEvent).where(LedgerEvent.intent_id == second.id))]
    assert "approved_first_of_two" in actions and actions[-1] == "approved"
    trail = audit.search(services.engine, audit.AuditFilter(action="payout_approved"))
    assert {r.actor for r in trail} == {manager.email, SECOND_MANAGER.email}


def test_one_manager_is_enough_below_the_higher_threshold(
    services: Services, operator: Actor, manager: Actor
) -> None:
    _sent_for_approval(services, operator, "k-one", "750")
    assert _approve(services, manager, "k-one").state == IntentState.READY


def _age(svc: Services, key: str, hours: int) -> None:
    with Session(svc.engine) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == key)).one()
        assert intent.approval_due_at is not None
        intent.approval_due_at = intent.approval_due_at - timedelta(hours=hours)
        db.add(intent)
        db.commit()


def test_an_undecided_request_returns_to_its_maker(
    services: Services, operator: Actor, manager: Actor
) -> None:
    intent = _sent_for_approval(services, operator, "k-late", "750")
    assert intent.approval_due_at is not None
    assert intent.approval_due_at - utcnow() <= timedelta(hours=24)
    _age(services, "k-late", 25)
    assert approvals.pending_payouts(services, manager) == []  # the sweep ran: nothing to decide
    back = get_intent(services.engine, "k-late")
    assert back is not None and back.state == IntentState.OPEN
    assert back.decision_reason is not None and "No manager decided within 24 hours" in back.decision_reason
    with pytest.raises(approvals.ApprovalError, match="no longer waiting"):
        _approve(services, manager, "k-late")
    assert approvals.submit_for_approval(services, operator, "k-late").state == IntentState.AWAITING_APPROVAL
    assert audit.search(services.engine, audit.AuditFilter(action="payout_approval_expired"))


def test_an_approval_not_sent_in_time_expires_and_nothing_is_sent(
    services: Services, operator: Actor, manager: Actor
) -> None:
    _sent_for_approval(services, operator, "k-stale", "750")
    _approve(services, manager, "k-stale")
    _age(services, "k-stale", 25)
    with pytest.raises(payouts.PayoutRefused, match="approval of this payout expired"):
        payouts.confirm_payout(services, operator, "k-stale", PASSCODE)
    back = get_intent(services.engine, "k-stale")
    assert back is not None and back.state == IntentState.OPEN and back.decided_by is None
    assert back.current_attempt_id is None  # never sent


def test_daily_limit_counts_the_whole_company_day(services: Services, operator: Actor, admin: Actor) -> None:
    approval_rules.update(
        services.engine, services.settings, admin, {"operator_daily_limits": {"USD": "100"}}
    )
    for key in ("d-1", "d-2"):
        payouts.prepare_payout(
            services, operator, key, name="Musa Kollie", phone="231880001234", amount="40", currency="USD"
        )
    allowance = payouts.daily_allowance(services, operator, "USD", "d-next")
    assert allowance is not None and (allowance.used, allowance.left) == (80, 20)
    payouts.prepare_payout(  # the same payout reviewed again is not counted twice
        services, operator, "d-2", name="Musa Kollie", phone="231880001234", amount="40", currency="USD"
    )
    refused = r"over your daily limit of USD 100.00.*USD 20.00 is left"
    with pytest.raises(payouts.PayoutRefused, match=refused):
        payouts.prepare_payout(
            services, operator, "d-3", name="Musa Kollie", phone="231880001234", amount="25", currency="USD"
        )
    assert get_intent(services.engine, "d-3") is None  # nothing stored
    approvals_free = Actor("fred.finance@example.com", Role.FINANCE)
    assert payouts.daily_allowance(services, approvals_free, "USD", "x") is None  # operators only
    # A withdrawn or rejected payout gives its share back.
    with Session(services.engine) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == "d-1")).one()
        intent.state = IntentState.CANCELED
        db.add(intent)
        db.commit()
    payouts.prepare_payout(
        services, operator, "d-3", name="Musa Kollie", phone="231880001234", amount="25", currency="USD"
    )


def test_the_company_day_follows_its_time_zone() -> None:
    rules = approval_rules.ApprovalRules({}, {}, {}, {}, 24, "Africa/Kigali", frozenset())
    start, end = rules.day_bounds(utcnow().replace(hour=23, minute=30))
    assert (start.hour, end - start) == (22, timedelta(days=1))  # Kigali is UTC+2


def test_an_admin_edits_the_rules_and_the_audit_says_old_and_new(
    services: Services, admin: Actor, manager: Actor
) -> None:
    rules = approval_rules.update(
        services.engine, services.settings, admin,
        {"approval_thresholds": {"USD": "750", "LRD": ""}, "approval_expiry_hours": "48"},
    )  # fmt: skip
    assert rules.approval_thresholds["USD"] == 750 and "LRD" not in rules.approval_thresholds
    assert rules.approval_expiry_hours == 48
    [change] = audit.search(services.engine, audit.AuditFilter(action="approval_rules_changed"))
    assert change.actor == admin.email and change.detail is not None
    assert "one manager approves above (USD): 500 → 750" in change.detail
    assert "one manager approves above (LRD): 100,000 → no limit" in change.detail
    assert "(hours): 24 → 48" in change.detail
    with pytest.raises(AccessDenied):
        approval_rules.update(services.engine, services.settings, manager, {"approval_expiry_hours": "1"})
    with pytest.raises(approval_rules.RulesError, match="must be higher"):
        approval_rules.update(
            services.engine, services.settings, admin, {"approval_two_approver_thresholds": {"USD": "700"}}
        )
    with pytest.raises(approval_rules.RulesError, match=r"“one manager approves above” in USD"):
        approval_rules.update(
            services.engine, services.settings, admin, {"approval_thresholds": {"USD": "lots"}}
        )
    with pytest.raises(approval_rules.RulesError, match="whole number of hours"):
        approval_rules.update(services.engine, services.settings, admin, {"approval_expiry_hours": "0"})
    assert approval_rules.current(services.engine, services.settings) == rules  # refusals stored nothing


def test_rules_fixed_in_the_settings_win_and_cannot_be_edited(services: Services, admin: Actor) -> None:
    approval_rules.update(services.engine, services.settings, admin, {"approval_thresholds": {"USD": "750"}})
    locked = Settings.load({"DOLLR_APPROVAL_THRESHOLDS": "USD=900", "DOLLR_DATABASE_URL": "sqlite://"})
    rules = approval_rules.current(services.engine, locked)
    assert rules.approval_thresholds == {"USD": 900} and "approval_thresholds" in rules.locked
    with pytest.raises(approval_rules.RulesError, match="fixed in this install's settings"):
        approval_rules.update(services.engine, locked, admin, {"approval_thresholds": {"USD": "1"}})
    assert approval_rules.current(services.engine, services.settings).approval_thresholds["USD"] == 750


def test_a_batch_above_the_higher_threshold_needs_two_different_managers(
    services: Services, finance: Actor, manager: Actor
) -> None:
    text = rows_text(*(f"Person {n},23188000{n:04d},2000,USD,,B-{n}" for n in range(1, 4)))  # USD 6,000
    batch_id = drafts.create_batch(services, finance, "Big batch", recipient_file.parse_rows(text)).id or 0
    assert drafts.submit_for_approval(services, finance, batch_id).approvals_needed == 2

    def approve(who: Actor) -> Batch:
        shown = approvals.batch_totals(services, who, batch_id).fingerprint
        return approvals.decide_batch(services, who, batch_id, approvals.Decision(True, "", shown))

    first = approve(manager)
    assert first.state == BatchState.AWAITING_APPROVAL and first.first_approved_by == manager.email
    with pytest.raises(approvals.ApprovalError, match="second, different manager"):
        approve(manager)
    second = approve(SECOND_MANAGER)
    assert second.state == BatchState.APPROVED and second.decided_by == SECOND_MANAGER.email

    small = drafts.create_batch(
        services, finance, "Small", recipient_file.parse_rows(rows_text("A,231880001234,25,USD,,"))
    )
    assert drafts.submit_for_approval(services, finance, small.id or 0).approvals_needed == 1
