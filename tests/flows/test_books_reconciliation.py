"""Issue 18 part 7: the reconciliation report finds what was planted at the sandbox; a clean period
is reported as clean; a run interrupted by a rate limit resumes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from dollr_core.basics.access import Actor
from dollr_core.reports import reconciliation
from dollr_core.reports.reconciliation import Finding
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, pay_out, settle
from tests.flows.test_books_sync import dollr_portal, hosted_checkout, run_cli


def no_sleep(_: float) -> None:
    return None


def run_report(svc: Services, actor: Actor, sandbox: Sandbox) -> reconciliation.Report:
    today = sandbox.now().date()
    run = reconciliation.start_run(svc, actor, today - timedelta(days=1), today + timedelta(days=1))
    assert reconciliation.continue_run(svc, run.id or 0, sleep=no_sleep) == 0
    return reconciliation.report(svc, actor, run.id or 0)


def test_clean_period_is_reported_clean(
    services: Services, fresh_sandbox: Sandbox, finance: Actor, operator: Actor, manager: Actor
) -> None:
    collect(services, finance, uuid.uuid4().hex)
    pay_out(services, operator, uuid.uuid4().hex)
    settle(services, fresh_sandbox)
    made = run_report(services, manager, fresh_sandbox)
    assert made.clean and made.checked == 2
    assert made.headline.startswith("Clean: all 2 payment(s)")


def test_planted_differences_are_found_with_what_to_do(
    services: Services, fresh_sandbox: Sandbox, finance: Actor, operator: Actor, manager: Actor
) -> None:
    payout = pay_out(services, operator, uuid.uuid4().hex)
    settle(services, fresh_sandbox)
    with fresh_sandbox.state.transaction() as state:  # Dollr's record of the payout changes
        changed = state.executions.get(payout.reference_id)
        assert changed is not None
        changed.payee_amount = Decimal("24.00")
        state.executions.put(changed)
    api = dollr_portal(fresh_sandbox)  # and a sale is made and paid in Dollr's portal, not synced
    sale = hosted_checkout(api)
    fresh_sandbox.pay_hosted(sale["hosted_path_or_token"], account_number="231880005678")
    fresh_sandbox.advance_clock(10)
    api.get("/v1/status/source", params={"source_type": "ORDER", "source_id": sale["source_id"]})

    made = run_report(services, manager, fresh_sandbox)
    assert not made.clean
    found = {d.finding: d for d in made.differences}
    assert set(found) == {Finding.AMOUNT_DIFFERS, Finding.ONLY_AT_DOLLR}
    assert found[Finding.AMOUNT_DIFFERS].reference == payout.reference_id
    assert "Dollr says USD 24.00" in found[Finding.AMOUNT_DIFFERS].detail  # money in words, no bare number
    only_at_dollr = found[Finding.ONLY_AT_DOLLR].detail
    assert "(USD " in only_at_dollr and ".0000" not in only_at_dollr
    assert found[Finding.ONLY_AT_DOLLR].reference == sale["source_number"]
    assert "sync" in found[Finding.ONLY_AT_DOLLR].advice
    text = reconciliation.report_text(made)
    assert payout.reference_id in text and "What to do" in text


def test_rate_limited_run_resumes(
    services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    for _ in range(3):
        collect(services, finance, uuid.uuid4().hex)
    settle(services, fresh_sandbox)
    today = fresh_sandbox.now().date()
    run = reconciliation.start_run(services, manager, today, today)
    fresh_sandbox.add_fault(path="/v1/status/collection", count=5, action="rate_limit", retry_after=0)
    assert reconciliation.continue_run(services, run.id or 0, sleep=no_sleep) == 3  # stopped at the 429
    fresh_sandbox.clear_faults()
    assert reconciliation.continue_run(services, run.id or 0, sleep=no_sleep) == 0
    assert reconciliation.report(services, manager, run.id or 0).clean


def test_report_cli(
    services: Services,
    fresh_sandbox: Sandbox,
    finance: Actor,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    collect(services, finance, uuid.uuid4().hex)
    settle(services, fresh_sandbox)
    day = str(fresh_sandbox.now().date())
    assert run_cli(["reconcile-report", "--from", day, "--to", day]) == 0
    assert "Clean: all 1 payment(s)" in capsys.readouterr().out
    assert run_cli(["reconcile-report", "--from", day, "--to", "yesterday"]) == 2
    assert "--to must be a date" in capsys.readouterr().err
