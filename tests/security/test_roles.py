"""Every protected flow, called with every role: allowed roles get past the check, the others are
refused by the flow itself (not only by a hidden page)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest

from dollr_core.basics.access import ROLE_PERMISSIONS, AccessDenied, Actor, Permission, Role
from dollr_core.basics.enums import FeeBearer, OperationType, SourceType
from dollr_core.bulk import drafts, recipient_file
from dollr_core.flows import collect, documents, payouts, refunds, transfers
from dollr_core.flows.directory import Person
from dollr_core.ledger.audit import AuditFilter
from dollr_core.reports import (
    audit_trail,
    dashboard,
    history,
    history_export,
    history_totals,
    predictor,
    receipts,
    statements,
)
from dollr_core.reports.history import HistoryFilter
from dollr_core.services import Services
from dollr_core.team import approvals, users

Flow = Callable[[Services, Actor], object]

#: flow → (the permissions that let a role past its check: any of them, the call)
FLOWS: dict[str, tuple[Permission | tuple[Permission, ...], Flow]] = {
    "pay out": (
        Permission.PAY_OUT,
        lambda svc, who: payouts.prepare_payout(
            svc, who, uuid.uuid4().hex, name="Musa Kollie", phone="231880001234", amount="5", currency="USD"
        ),
    ),
    "send a payout": (  # bulk rows are payouts too
        (Permission.PAY_OUT, Permission.BULK_PAYOUTS),
        lambda svc, who: payouts.confirm_payout(svc, who, "nope", "123456"),
    ),
    "draft an invoice": (
        Permission.MANAGE_INVOICES,
        lambda svc, who: documents.create_document(
            svc,
            who,
            draft_key=uuid.uuid4().hex,
            source_type=SourceType.INVOICE,
            customer=Person.checked("Amara Kamara", "231771234567"),
            currency="USD",
            note="x",
            fee_bearer=FeeBearer.PAYER,
        ),
    ),
    "collect": (Permission.COLLECT, lambda svc, who: collect.confirm_collection(svc, who, "nope")),
    "approve": (
        Permission.APPROVE,
        lambda svc, who: approvals.decide_payout(svc, who, "nope", approvals.Decision(True, "", "")),
    ),
    "preview fees": (
        Permission.PREDICT_FEES,
        lambda svc, who: predictor.preview(
            svc,
            who,
            predictor.PreviewRequest(
                amount=Decimal("10"),
                currency="USD",
                target_currency="USD",
                fee_bearer=FeeBearer.PAYER,
                operation=OperationType.COLLECTION,
            ),
        ),
    ),
    "read a receipt": (Permission.VIEW_RECEIPTS, lambda svc, who: receipts.load_receipt(svc, who, "INV-0")),
    "bulk payout": (
        Permission.BULK_PAYOUTS,
        lambda svc, who: drafts.create_batch(
            svc, who, "June", [recipient_file.RowInput("Musa Kollie", "231880001234", "5", "USD")]
        ),
    ),
    "read a statement": (
        Permission.VIEW_STATEMENTS,
        lambda svc, who: statements.statement(svc, who, "USD", statements.Period.month("2026-11")),
    ),
    "enter an opening balance": (
        Permission.KEEP_BOOKS,
        lambda svc, who: statements.enter_opening_balance(
            svc, who, currency="USD", amount="1", as_of=statements.Period.month("2026-11").first
        ),
    ),
    "refund": (
        Permission.REFUND,
        lambda svc, who: refunds.prepare_refund(
            svc, who, uuid.uuid4().hex, reference_id=str(uuid.uuid4()), amount="1", reason="x"
        ),
    ),
    "send a refund": (Permission.REFUND, lambda svc, who: refunds.confirm_refund(svc, who, "nope")),
    "transfer": (
        Permission.TRANSFER,
        lambda svc, who: transfers.prepare_transfer(
            svc,
            who,
            uuid.uuid4().hex,
            recipient=Person.checked("Kofi Mensah", "231880007777"),
            amount="1",
            currency="USD",
        ),
    ),
    "send a transfer": (Permission.TRANSFER, lambda svc, who: transfers.confirm_transfer(svc, who, "nope")),
    "browse the history": (
        Permission.VIEW_HISTORY,
        lambda svc, who: history.page(svc, who, HistoryFilter()),
    ),
    "count the history": (Permission.VIEW_HISTORY, lambda svc, who: history.count(svc, who, HistoryFilter())),
    "list who started payments": (Permission.VIEW_HISTORY, lambda svc, who: history.operators(svc, who)),
    "total the history": (
        Permission.VIEW_HISTORY,
        lambda svc, who: history_totals.totals(svc, who, HistoryFilter()),
    ),
    "chart the history by day": (
        Permission.VIEW_HISTORY,
        lambda svc, who: history_totals.daily(svc, who, HistoryFilter()),
    ),
    "break the history down": (
        Permission.VIEW_HISTORY,
        lambda svc, who: history_totals.breakdown(svc, who, HistoryFilter(), "method"),
    ),
    "export the history as CSV": (
        Permission.VIEW_HISTORY,
        lambda svc, who: "".join(history_export.export_csv(svc, who, HistoryFilter())),
    ),
    "export the history as Excel": (
        Permission.VIEW_HISTORY,
        lambda svc, who: history_export.export_xlsx(svc, who, HistoryFilter()),
    ),
    "search the audit trail": (
        Permission.VIEW_AUDIT,
        lambda svc, who: audit_trail.search(svc, who, AuditFilter()),
    ),
    "list the audit trail's actions": (Permission.VIEW_AUDIT, lambda svc, who: audit_trail.actions(svc, who)),
    "see the home page's figures": (Permission.VIEW_HOME, lambda svc, who: dashboard.home_figures(svc, who)),
    "manage users": (
        Permission.MANAGE_USERS,
        lambda svc, who: users.add_user(
            svc.engine, email=f"{uuid.uuid4().hex[:8]}@example.com", role=Role.OPERATOR, password=None, by=who
        ),
    ),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("flow", list(FLOWS))
def test_each_flow_checks_the_role(sqlite_services: Services, role: Role, flow: str) -> None:
    needed, call = FLOWS[flow]
    who = Actor(f"{role.value}@example.com", role)
    allowed = needed if isinstance(needed, tuple) else (needed,)
    if any(p in ROLE_PERMISSIONS[role] for p in allowed):
        try:
            call(sqlite_services, who)
        except AccessDenied:
            pytest.fail(f"{role.value} may {flow} but was refused")
        except Exception:
            pass
    else:
        with pytest.raises(AccessDenied):
            call(sqlite_services, who)
