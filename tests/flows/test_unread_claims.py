"""An intent taken "as the caller left it" (`as_left`) is changed by one compare-and-set on its
state and terms, without being read first. When the ledger's row has moved on since (another
window claimed it, or changed its terms), nothing is written that way: the row is read and the
step goes on from what it holds, as it always did. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from dollr_core.basics.access import Actor
from dollr_core.flows.payouts import PayoutPlan, confirm_payout, prepare_payout
from dollr_core.ledger.intents import fingerprint, get_intent, open_intent
from dollr_core.ledger.tables import Intent, IntentKind, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from .helpers import PASSCODE, all_attempts


def _prepared(svc: Services, actor: Actor, key: str, amount: str) -> Intent:
    prepare_payout(svc, actor, key, name="Musa Kollie", phone="231880001234", amount=amount, currency="USD")
    intent = get_intent(svc.engine, key)
    assert intent is not None and intent.state == IntentState.READY
    return intent


def _submit(svc: Services, actor: Actor, as_left: Intent, plan_from: Intent) -> str:
    plan = PayoutPlan(svc, plan_from, SecretStr(PASSCODE))
    attempt = protocol.submit(
        svc.engine, svc.client, as_left.intent_key, plan, actor=actor.email, as_left=as_left
    )
    return attempt.reference_id


def test_a_window_still_holding_the_ready_intent_after_another_sent_it_pays_nothing(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    key = uuid.uuid4().hex
    seen_by_second_window = _prepared(services, operator, key, "12")
    first = confirm_payout(services, operator, key, PASSCODE)

    again = _submit(services, operator, seen_by_second_window, seen_by_second_window)

    assert again == first.reference_id
    assert len(fresh_sandbox.executions()) == 1
    assert [a.reference_id for a in all_attempts(services)] == [first.reference_id]


def test_a_claim_of_terms_changed_since_takes_the_intent_as_it_now_stands(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    """The first form said 12, the same form then said 15 (still READY, other terms): a claim with
    the 12 in hand reads the row, and the payment made is the one the ledger holds."""
    key = uuid.uuid4().hex
    stale = _prepared(services, operator, key, "12")
    current = _prepared(services, operator, key, "15")
    assert current.params_fingerprint != stale.params_fingerprint

    reference = _submit(services, operator, stale, current)

    (attempt,) = all_attempts(services)
    assert attempt.reference_id == reference and str(attempt.amount) == "15.0000"
    (execution,) = fresh_sandbox.executions()
    assert execution["reference_id"] == reference
    assert stale.state == IntentState.READY  # the stale copy was not taken, so it was not changed


def test_an_edit_with_a_stale_copy_reads_the_row_and_applies_the_form(
    services: Services, operator: Actor
) -> None:
    engine = services.engine
    key = uuid.uuid4().hex
    common = {"kind": IntentKind.PAYOUT, "operation_type": "PAYOUT", "operator": operator.email}
    opened = open_intent(engine, key, state=IntentState.OPEN, terms={"amount": "0"}, **common)
    open_intent(engine, key, state=IntentState.READY, terms={"amount": "12"}, **common)  # another window

    edited = open_intent(
        engine, key, state=IntentState.READY, terms={"amount": "15"}, as_left=opened, **common
    )

    stored = get_intent(engine, key)
    assert stored is not None and stored.state == IntentState.READY
    assert stored.params_fingerprint == fingerprint({"amount": "15"}) == edited.params_fingerprint
    assert opened.state == IntentState.OPEN  # the compare-and-set on the stale copy found nothing


def test_an_edit_with_a_copy_from_before_the_payment_was_sent_changes_nothing(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    """A window still showing the READY form after another sent it: its edit never touches an
    intent in flight, whatever copy it holds."""
    key = uuid.uuid4().hex
    stale = _prepared(services, operator, key, "12")
    confirm_payout(services, operator, key, PASSCODE)
    sent = get_intent(services.engine, key)
    assert sent is not None and sent.state == IntentState.EXECUTING

    open_intent(
        services.engine,
        key,
        kind=IntentKind.PAYOUT,
        operation_type="PAYOUT",
        operator=operator.email,
        state=IntentState.READY,
        terms={"amount": "99"},
        as_left=stale,
        amount="99",
    )

    after = get_intent(services.engine, key)
    assert after is not None
    assert (after.state, after.params_fingerprint, after.amount) == (
        sent.state,
        sent.params_fingerprint,
        sent.amount,
    )
    assert len(fresh_sandbox.executions()) == 1
