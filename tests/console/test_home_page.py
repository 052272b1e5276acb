"""Home page: today's and this week's money, open and failed payments, balances — from the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.words import short_reference
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, executions_by_reference, pay_out, settle
from tests.reports.fakes import add, attempt

OPERATOR = Actor("olivia@example.com", Role.OPERATOR)
FINANCE = Actor("fred@example.com", Role.FINANCE)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_home_shows_what_moved_what_is_open_and_what_failed(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = page("pages/home.py", role=Role.OPERATOR).run()
    assert not at.exception
    assert at.title[0].value == "Dashboard"  # as the menu names it
    assert "Nothing completed yet." in [c.value for c in at.caption]

    payout = pay_out(console, OPERATOR, uuid.uuid4().hex, amount="25")
    collection = collect(console, FINANCE, uuid.uuid4().hex)
    pay_out(console, OPERATOR, uuid.uuid4().hex, phone="231880000001", amount="10")  # declined
    settle(console, fresh_sandbox)
    slow = collect(console, FINANCE, uuid.uuid4().hex, wallet="231880000003")  # stays processing

    calls = fresh_sandbox.request_count
    at.run()
    assert not at.exception, at.exception
    assert fresh_sandbox.request_count == calls, "the home page never asks Dollr"

    metrics = _metrics(at)
    assert metrics["Collected in USD"] == "USD 275.00"
    assert metrics["Paid out in USD"] == "USD 25.00"
    assert metrics["Payments still open"] == "1"

    tables = [d.value.to_dict("records") for d in at.dataframe]
    open_rows, failures, balances = tables[0], tables[1], tables[2]
    assert [r["Reference"] for r in open_rows] == [short_reference(slow.reference_id)]
    assert [r["Where it stands"] for r in open_rows] == ["Processing"]
    assert [r["Name"] for r in failures] == ["Musa Kollie"]
    assert "rejected the payout" in failures[0]["Why it failed"]

    executed = executions_by_reference(fresh_sandbox)
    received = executed[collection.reference_id]["payee_amount"]
    debited = executed[payout.reference_id]["payer_amount"]
    assert balances == [
        {
            "Currency": "USD",
            "Money in (received)": Decimal(str(received)),
            "Money out (with fees)": Decimal(str(debited)),
            "Difference": Decimal(str(received)) - Decimal(str(debited)),
        }
    ]
    assert any("Moved through this console**: not a balance" in m.value for m in at.markdown)
    assert not any("Sandbox wallets" in m.value for m in at.markdown)

    # picking the open payment offers its status page
    at.session_state["home_open"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert any(
        m.value == f"[Open its payment status](status?reference={slow.reference_id})" for m in at.markdown
    )


def test_home_shows_the_sandbox_wallets_when_running_on_the_embedded_sandbox(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    console.sandbox_url = fresh_sandbox.base_url
    try:
        at = page("pages/home.py", role=Role.MANAGER).run()
        assert not at.exception
        assert any("Sandbox wallets" in m.value for m in at.markdown)
        sandbox_rows = at.dataframe[-1].value.to_dict("records")
        assert {r["Currency"]: r["Available"] for r in sandbox_rows} == fresh_sandbox.wallets()
    finally:
        console.sandbox_url = None  # the session's sandbox outlives this test's services


def test_dashboard_amounts_sort_by_value_with_their_currency_beside(
    page: Callable[..., AppTest], console: Services
) -> None:
    """Issue 14: a table of amounts as text sorts "USD 1,000.00" before "USD 250.00"."""
    now = datetime.now(UTC)
    add(
        console.engine,
        *(
            attempt(amount=amount, party_name=name, state="ACCEPTED", created_at=now - timedelta(minutes=i))
            for i, (name, amount) in enumerate([("Small", "250.00"), ("Big", "1000.00"), ("Tiny", "9.50")])
        ),
    )
    at = page("pages/home.py", role=Role.OPERATOR).run()
    assert not at.exception, at.exception
    waiting = at.dataframe[0].value.sort_values("Amount")
    assert list(waiting["Name"]) == ["Tiny", "Small", "Big"]
    assert list(waiting["Currency"]) == ["USD"] * 3
