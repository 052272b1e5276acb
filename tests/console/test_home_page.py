"""Home page: today's and this week's money, open and failed payments, balances — from the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.money import format_money
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, executions_by_reference, pay_out, settle

OPERATOR = Actor("olivia@example.com", Role.OPERATOR)
FINANCE = Actor("fred@example.com", Role.FINANCE)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_home_shows_what_moved_what_is_open_and_what_failed(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = page("pages/home.py", role=Role.OPERATOR).run()
    assert not at.exception
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
    assert [r["Reference"] for r in open_rows] == [slow.reference_id]
    assert [r["Where it stands"] for r in open_rows] == ["Processing"]
    assert [r["Name"] for r in failures] == ["Musa Kollie"]
    assert "rejected the payout" in failures[0]["Why it failed"]

    executed = executions_by_reference(fresh_sandbox)
    received = executed[collection.reference_id]["payee_amount"]
    debited = executed[payout.reference_id]["payer_amount"]
    assert balances == [
        {
            "Currency": "USD",
            "Collected": format_money(received, "USD"),  # type: ignore[arg-type]
            "Sent out (with fees)": format_money(debited, "USD"),  # type: ignore[arg-type]
            "Estimated balance": format_money(received - debited, "USD"),  # type: ignore[operator]
        }
    ]
    assert any("Estimate from this console's records" in c.value for c in at.caption)
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
        assert {r["Currency"]: r["Available"] for r in sandbox_rows} == {
            c: format_money(v, c) for c, v in fresh_sandbox.wallets().items()
        }
    finally:
        console.sandbox_url = None  # the session's sandbox outlives this test's services
