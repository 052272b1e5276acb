"""A manager's decision binds what their screen showed: a payout or batch changed since then
(edited, withdrawn and sent again under the same number) is refused, nothing decided; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest

from dollr_core.basics.access import Actor
from dollr_core.bulk import drafts, progress, recipient_file, records
from dollr_core.bulk.drafts import EditedRow
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.flows import payouts
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import BatchState, IntentState
from dollr_core.services import Services
from dollr_core.team import approvals

from ..bulk.helpers import rows_of, rows_text
from .helpers import payout_as_shown


def _large_payout(svc: Services, maker: Actor, key: str, *, phone: str, amount: str) -> None:
    payouts.prepare_payout(svc, maker, key, name="Musa Kollie", phone=phone, amount=amount, currency="USD")
    approvals.submit_for_approval(svc, maker, key)


def test_a_payout_changed_after_the_manager_looked_is_not_approved(
    services: Services, operator: Actor, manager: Actor
) -> None:
    _large_payout(services, operator, "k-swap", phone="231880004321", amount="750")
    [seen] = approvals.pending_payouts(services, manager)  # what the manager's screen shows
    shown = approvals.payout_fingerprint(seen)
    assert shown == payout_as_shown(services, "k-swap")  # the same payout read again: the same print

    # Meanwhile the maker edits it (another wallet, more money) and sends it for approval again.
    _large_payout(services, operator, "k-swap", phone="231880009999", amount="1900")
    for approve, reason in ((True, ""), (False, "too much")):
        with pytest.raises(approvals.ApprovalError, match="This payout changed since you opened it"):
            approvals.decide_payout(services, manager, "k-swap", approvals.Decision(approve, reason, shown))
    intent = get_intent(services.engine, "k-swap")
    assert intent is not None and intent.state == IntentState.AWAITING_APPROVAL and intent.decided_by is None

    now = payout_as_shown(services, "k-swap")
    assert now != shown
    decided = approvals.decide_payout(services, manager, "k-swap", approvals.Decision(True, "", now))
    assert decided.state == IntentState.READY and decided.decided_by == manager.email
    assert (decided.phone, decided.amount) == ("231880009999", 1900)


def test_the_note_is_part_of_what_a_payout_approval_binds(services: Services, operator: Actor) -> None:
    payouts.prepare_payout(
        services, operator, "k-note", name="Musa Kollie", phone="231880004321", amount="750", currency="USD"
    )
    intent = get_intent(services.engine, "k-note")
    assert intent is not None
    before = approvals.payout_fingerprint(intent)
    intent.note = "advance on salary"
    assert approvals.payout_fingerprint(intent) != before


def test_a_batch_withdrawn_edited_and_resubmitted_is_not_approved_on_the_old_view(
    services: Services, finance: Actor, manager: Actor
) -> None:
    text = rows_text("Musa Kollie,231880001234,25,USD,March,S-1", "Aline Uwase,250780005678,15000,RWF,,S-2")
    batch_id = (
        drafts.create_batch(services, finance, "March stipends", recipient_file.parse_rows(text)).id or 0
    )
    drafts.submit_for_approval(services, finance, batch_id)
    shown = approvals.batch_totals(services, manager, batch_id).fingerprint  # the Approvals page
    preview = progress.preview(services, manager, batch_id)  # the Bulk payouts page: the same print
    assert approvals.batch_fingerprint(preview.batch, preview.rows) == shown

    # The maker takes it back, sends Musa's money to another wallet, and sends it again.
    drafts.withdraw(services, finance, batch_id)
    rows = {r.row_number: r for r in rows_of(services, batch_id)}
    edited = [
        EditedRow(rows[1].id, RowInput("Musa Kollie", "231880009999", "25", "USD", "March", "S-1")),
        EditedRow(rows[2].id, RowInput("Aline Uwase", "250780005678", "15000", "RWF", "", "S-2")),
    ]
    drafts.save_rows(services, finance, batch_id, edited)
    drafts.submit_for_approval(services, finance, batch_id)
    assert approvals.batch_totals(services, manager, batch_id).amounts == {"USD": 25, "RWF": 15000}

    for approve, reason in ((True, ""), (False, "wrong wallet")):
        with pytest.raises(approvals.ApprovalError, match="This batch changed since you opened it"):
            approvals.decide_batch(services, manager, batch_id, approvals.Decision(approve, reason, shown))
    batch = records.get_batch(services, manager, batch_id)
    assert batch.state == BatchState.AWAITING_APPROVAL and batch.decided_by is None

    now = approvals.batch_totals(services, manager, batch_id).fingerprint
    assert now != shown
    decided = approvals.decide_batch(services, manager, batch_id, approvals.Decision(True, "", now))
    assert decided.state == BatchState.APPROVED and decided.decided_by == manager.email
