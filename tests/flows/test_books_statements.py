"""Issue 18 part 6: statements add up, match the money that moved at Dollr, and export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.basics.enums import OperationType
from dollr_core.flows.books import follow_books
from dollr_core.ledger.tables import AuditRecord
from dollr_core.reports import statements
from dollr_core.reports.statements import Period, StatementError
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, pay_out, settle
from tests.flows.test_books_following import pay_on_hosted_page, published
from tests.flows.test_books_sync import run_cli


def test_closing_is_opening_plus_lines_and_matches_the_wallet_at_dollr(
    services: Services, fresh_sandbox: Sandbox, finance: Actor, operator: Actor, manager: Actor
) -> None:
    today = fresh_sandbox.now().date()
    statements.enter_opening_balance(
        services, finance, currency="USD", amount="1,000.00", as_of=today - timedelta(days=2)
    )
    wallet_before = fresh_sandbox.wallets()["USD"]

    collect(services, finance, "stmt-collect")  # in the console, PAYER bears the fees
    pay_out(services, operator, "stmt-payout", amount="40")
    settle(services, fresh_sandbox)
    record = published(services, finance, "stmt-link", amount="100.00")
    pay_on_hosted_page(services, finance, fresh_sandbox, record)
    follow_books(services, sync=False)

    made = statements.statement(
        services, manager, "USD", Period(today - timedelta(days=1), today + timedelta(days=1))
    )
    assert made.opening == Decimal("1000.00")  # nothing moved between the opening day and the period
    assert made.closing == made.opening + sum((ln.net for ln in made.lines), Decimal(0))
    assert made.closing == (
        made.opening
        + made.money_in
        - sum((made.money_out(op) for op in statements.MONEY_OUT), Decimal(0))
        - made.platform_fees
        - made.gateway_fees
        - made.fx_fees
    )
    assert made.closing - made.opening == fresh_sandbox.wallets()["USD"] - wallet_before  # Dollr agrees
    assert statements.balance_now(services.engine, "USD") == made.closing
    assert statements.balance_now(services.engine, "LRD") is None  # no starting balance entered
    assert {ln.operation for ln in made.lines} == {"COLLECTION", "PAYOUT"}
    assert len(made.lines) == 3
    payout = next(ln for ln in made.lines if ln.operation == OperationType.PAYOUT)
    assert payout.amount == Decimal("40") and payout.fees > 0 and payout.net == -(payout.amount + payout.fees)
    assert made.summary()[-1] == ("Closing balance", made.closing)

    # The next period opens where this one closed.
    later = statements.build_statement(services.engine, "USD", Period.day(today + timedelta(days=2)))
    assert later.opening == made.closing and later.lines == []

    text = statements.statement_csv(made)
    assert all(ln.reference_id in text for ln in made.lines)
    assert statements.statement_pdf(made).startswith(b"%PDF")


def test_opening_balance_is_entered_once_by_finance_and_audited(
    services: Services, finance: Actor, manager: Actor
) -> None:
    from dollr_core.basics.access import AccessDenied

    with pytest.raises(AccessDenied):
        statements.enter_opening_balance(
            services, manager, currency="USD", amount="5", as_of=Period.month("2026-11").first
        )
    first = statements.enter_opening_balance(
        services, finance, currency="USD", amount="0", as_of=Period.month("2026-11").first
    )
    assert first.amount == 0 and first.entered_by == finance.email
    with pytest.raises(StatementError, match=r"already entered by fred\.finance@example\.com"):
        statements.enter_opening_balance(
            services, finance, currency="USD", amount="10", as_of=Period.month("2026-11").first
        )
    with pytest.raises(ValueError, match="amount"):
        statements.enter_opening_balance(
            services, finance, currency="LRD", amount="ten", as_of=Period.month("2026-11").first
        )
    with Session(services.engine) as db:
        assert [
            a.actor
            for a in db.exec(select(AuditRecord).where(AuditRecord.action == "opening_balance_entered"))
        ] == [finance.email]
    with pytest.raises(StatementError, match="holds from"):
        statements.build_statement(services.engine, "USD", Period.month("2026-10"))
    with pytest.raises(StatementError, match="No LRD opening balance"):
        statements.build_statement(services.engine, "LRD", Period.month("2026-11"))


def test_company_time_zone_decides_the_day() -> None:
    monrovia = Period.day(Period.month("2026-11").first, "Africa/Kigali")  # UTC+2
    assert monrovia.start.isoformat() == "2026-10-31T22:00:00+00:00"
    assert Period.week(Period.month("2026-12").first).first.isoformat() == "2026-11-30"


def test_statement_cli(
    services: Services, finance: Actor, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statements.enter_opening_balance(
        services, finance, currency="USD", amount="250", as_of=Period.month("2026-11").first
    )
    assert run_cli(["statement", "--currency", "USD", "--month", "2026-11"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert ["Opening balance", "250.00"] in rows and ["Closing balance", "250.00"] in rows
    pdf = tmp_path / "nov.pdf"
    assert (
        run_cli(
            ["statement", "--currency", "USD", "--month", "2026-11", "--format", "pdf", "--output", str(pdf)]
        )
        == 0
    )
    assert pdf.read_bytes().startswith(b"%PDF")
    for args, words in (
        (["statement", "--currency", "USD", "--month", "2026-13"], "--month must look like 2026-11"),
        (["statement", "--currency", "XYZ", "--month", "2026-11"], "--currency"),
        (["statement", "--currency", "LRD", "--month", "2026-11"], "No LRD opening balance"),
        (["statement", "--currency", "USD", "--from", "2026-11-02"], "--from needs --to"),
    ):
        assert run_cli(args) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
    with Session(services.engine) as db:
        assert len(db.exec(select(AuditRecord).where(AuditRecord.action == "statement_exported")).all()) == 2
