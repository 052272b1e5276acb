"""History page: real payments, filtered, totalled and offered as CSV, exactly as filtered."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.words import short_reference
from dollr_core.reports import figures_cache, history, history_export
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, pay_out, settle
from tests.reports.fakes import add, attempt
from tests.support.sql import statements

OPERATOR = Actor("olivia@example.com", Role.OPERATOR)
FINANCE = Actor("fred@example.com", Role.FINANCE)


@pytest.fixture
def payments(console: Services, fresh_sandbox: Sandbox) -> dict[str, str]:
    """A completed payout, a declined payout and a completed collection, settled by the sandbox."""
    done = pay_out(console, OPERATOR, uuid.uuid4().hex, amount="25")
    declined = pay_out(console, OPERATOR, uuid.uuid4().hex, phone="231880000001", amount="10")
    collected = collect(console, FINANCE, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    return {"done": done.reference_id, "declined": declined.reference_id, "collected": collected.reference_id}


def _rows(at: AppTest) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = at.dataframe[-1].value.to_dict("records")
    return rows


def _pick(at: AppTest, row: int) -> None:
    at.session_state["history_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()


def _links(at: AppTest) -> dict[str, str]:
    """The links to other pages (plain Markdown links when a page runs on its own, as here)."""
    found = (re.fullmatch(r"\[(.+)\]\((.+)\)", m.value) for m in at.markdown)
    return {m.group(1): m.group(2) for m in found if m}


def _totals(at: AppTest) -> dict[tuple[str, str], dict[str, object]]:
    rows = at.dataframe[0].value.to_dict("records")
    return {(str(r["Type"]), str(r["Currency"])): r for r in rows}


def test_history_shows_totals_rows_links_and_export(
    page: Callable[..., AppTest], console: Services, payments: dict[str, str]
) -> None:
    at = page("pages/history.py", role=Role.MANAGER).run()
    assert not at.exception, at.exception
    totals = _totals(at)
    payouts = totals[("Payout (money out)", "USD")]
    assert (payouts["Payments"], payouts["Completed"], payouts["Failed"]) == (2, 1, 1)
    assert payouts["Amount (all)"] == Decimal("35.00")
    assert payouts["Amount completed"] == Decimal("25.00")
    assert payouts["Payees received (completed)"] == Decimal("25.00")
    collections = totals[("Collection (money in)", "USD")]
    assert collections["Amount completed"] == Decimal("275.00")

    rows = _rows(at)
    assert len(rows) == 3
    declined = next(r for r in rows if r["Outcome"] == "Failed")
    assert (
        str(declined["Why it failed"])
        == "Recipient's operator rejected the payout (sandbox test number ending 0001)"
    )
    assert declined["Reference"] == short_reference(payments["declined"])
    paid_index, paid = next((i, r) for i, r in enumerate(rows) if r["Type"] == "Collection (money in)")
    assert paid["Phone"] == "••••5678"  # masked on screen
    assert str(paid["Document"]).startswith("INV-")

    # picking a row offers its status and, for a paid document, its receipt (same tab, same sign-in)
    assert not _links(at)
    _pick(at, paid_index)
    assert _links(at) == {
        "Open its payment status": f"status?reference={payments['collected']}",
        "Open its receipt": f"receipts?number={paid['Document']}",
    }
    _pick(at, next(i for i, r in enumerate(rows) if r["Outcome"] == "Failed"))
    assert _links(at) == {"Open its payment status": f"status?reference={payments['declined']}"}

    button = at.get("download_button")[0]
    assert button.label == "Download these 3 payments (CSV)"


def test_filters_change_the_rows(
    page: Callable[..., AppTest], console: Services, payments: dict[str, str]
) -> None:
    at = page("pages/history.py", role=Role.FINANCE).run()
    at.multiselect(key="history_outcomes").set_value([Outcome.FAILED])
    at.run()
    rows = _rows(at)
    assert [r["Outcome"] for r in rows] == ["Failed"]
    assert at.get("download_button")[0].label == "Download this payment (CSV)"

    at.multiselect(key="history_outcomes").set_value([])
    at.multiselect(key="history_ops").set_value(["COLLECTION"])
    at.run()
    assert [r["Type"] for r in _rows(at)] == ["Collection (money in)"]

    at.multiselect(key="history_ops").set_value([])
    at.text_input(key="history_text").input("musa")
    at.run()
    assert {r["Name"] for r in _rows(at)} == {"Musa Kollie"}
    assert len(_rows(at)) == 2

    at.text_input(key="history_text").input("")
    at.multiselect(key="history_operators").set_value([FINANCE.email])
    at.run()
    assert [r["Started by"] for r in _rows(at)] == [FINANCE.email]

    old = datetime.now(UTC).date() - timedelta(days=30)
    at.multiselect(key="history_operators").set_value([])
    at.date_input(key="history_dates").set_value((old, old))
    at.run()
    assert at.info and "No payment matches" in at.info[0].value
    assert not at.get("download_button")


def test_paging_and_a_new_filter_starts_on_page_one(page: Callable[..., AppTest], console: Services) -> None:
    now = datetime.now(UTC)
    add(
        console.engine,
        *(attempt(created_at=now - timedelta(minutes=i), party_name=f"Person {i:02d}") for i in range(30)),
    )
    at = page("pages/history.py", role=Role.MANAGER).run()
    at.selectbox(key="history_size").set_value(25)
    at.run()
    assert [r["Name"] for r in _rows(at)] == [f"Person {i:02d}" for i in range(25)]
    at.number_input(key="history_page").set_value(2)
    at.run()
    assert [r["Name"] for r in _rows(at)] == [f"Person {i:02d}" for i in range(25, 30)]
    assert any("Showing 26–30 of 30" in c.value for c in at.caption)

    at.text_input(key="history_text").input("Person 2")
    at.run()
    assert at.number_input(key="history_page").value == 1
    assert [r["Name"] for r in _rows(at)] == [f"Person {i:02d}" for i in range(20, 30)]


def test_export_is_exactly_the_filtered_rows(console: Services, payments: dict[str, str]) -> None:
    flt = HistoryFilter(operations=("PAYOUT",))
    exported = list(csv.DictReader(io.StringIO("".join(history_export.export_csv(console, FINANCE, flt)))))
    shown = history.page(console, FINANCE, flt, 1, 100).rows
    assert [r["Payment reference"] for r in exported] == [r.reference_id for r in shown]
    assert {r["Payment reference"] for r in exported} == {payments["done"], payments["declined"]}
    by_ref = {r["Payment reference"]: r for r in exported}
    assert by_ref[payments["done"]]["Payee received"] == "25.00"
    assert by_ref[payments["done"]]["Phone"] == "231880001234"
    assert by_ref[payments["declined"]]["Outcome"] == "Failed"


def test_operators_cannot_open_history(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/history.py", role=Role.OPERATOR).run()
    assert at.error and "does not give access" in at.error[0].value


def _one_page_at_a_time() -> None:
    """A main script that runs the page `st.session_state["test:page"]` names, as navigation does."""
    import runpy

    import streamlit as st

    runpy.run_path(st.session_state.get("test:page", "pages/history.py"))


def test_filters_survive_opening_a_payment_and_coming_back(
    console: Services, payments: dict[str, str]
) -> None:
    """Issue 14: Streamlit drops a page's widget state at the end of a run that did not draw it."""
    at = AppTest.from_function(_one_page_at_a_time, default_timeout=30)
    at.session_state["actor"] = Actor("manager@example.com", Role.MANAGER)
    at.session_state["signed_in_email"] = "manager@example.com"
    at.session_state["last_active"] = time.time()
    at.run()
    week = (datetime.now(UTC).date() - timedelta(days=2), datetime.now(UTC).date())
    at.date_input(key="history_dates").set_value(week)
    at.multiselect(key="history_outcomes").set_value([Outcome.FAILED])
    at.text_input(key="history_text").input("musa")
    at.selectbox(key="history_size").set_value(25)
    at.run()
    assert [r["Reference"] for r in _rows(at)] == [short_reference(payments["declined"])]

    at.session_state["test:page"] = "pages/status.py"  # the link "Open its payment status"
    at.run()
    assert not at.exception, at.exception
    assert not at.get("multiselect")  # History's widgets are gone, and with them their state
    at.session_state["test:page"] = "pages/history.py"  # back
    at.run()

    assert not at.exception, at.exception
    assert at.date_input(key="history_dates").value == week
    assert at.multiselect(key="history_outcomes").value == [Outcome.FAILED]
    assert at.text_input(key="history_text").value == "musa"
    assert at.selectbox(key="history_size").value == 25
    assert [r["Reference"] for r in _rows(at)] == [short_reference(payments["declined"])]
    assert not at.warning  # no widget was given both a default and a state


def test_amounts_sort_by_value_with_their_currency_beside(
    page: Callable[..., AppTest], console: Services
) -> None:
    """Issue 14: "USD 1,000.00" sorted before "USD 250.00" as text."""
    add(
        console.engine,
        *(
            attempt(amount=amount, party_name=name, created_at=datetime.now(UTC) - timedelta(minutes=i))
            for i, (name, amount) in enumerate([("Small", "250.00"), ("Big", "1000.00"), ("Tiny", "9.50")])
        ),
    )
    at = page("pages/history.py", role=Role.MANAGER).run()
    assert not at.exception, at.exception
    rows = at.dataframe[-1].value
    by_amount = rows.sort_values("Amount")
    assert list(by_amount["Name"]) == ["Tiny", "Small", "Big"]
    assert list(by_amount["Currency"]) == ["USD"] * 3
    assert list(by_amount["Payee received"]) == [Decimal("9.50"), Decimal("250.00"), Decimal("1000.00")]
    totals = _totals(at)[("Payout (money out)", "USD")]
    assert totals["Amount (all)"] == Decimal("1259.50")


def test_an_idle_rerun_reads_the_change_marker_and_the_rows_shown_only(
    page: Callable[..., AppTest], console: Services, payments: dict[str, str]
) -> None:
    """Issue 16: counts, totals, charts and the operators are remembered per filter; a rerun that
    changed no filter asks the ledger whether anything changed (one statement) and reads the page
    of rows shown (whose details can change with no state change), nothing else."""
    figures_cache.forget()
    at = page("pages/history.py", role=Role.FINANCE)
    with statements(console.engine) as first_open:
        at.run()
    assert not at.exception, at.exception
    # the marker, the operators, every figure in one GROUP BY, the rows
    assert len(first_open) == 4, first_open
    with statements(console.engine) as idle:
        at.run()
    assert len(idle) == 2, idle
    assert "ledger_event" in idle[0] and "GROUP BY" not in idle[1]
    shown = _rows(at)
    assert len(shown) == 3

    at.multiselect(key="history_outcomes").set_value([Outcome.FAILED])
    with statements(console.engine) as new_filter:
        at.run()
    assert len(new_filter) == 3, new_filter  # the marker, the new filter's figures, its rows
    assert [r["Outcome"] for r in _rows(at)] == ["Failed"]

    at.multiselect(key="history_outcomes").set_value([])  # the first filter, remembered
    pay_out(console, OPERATOR, uuid.uuid4().hex, amount="12")  # but the ledger has moved since
    with statements(console.engine) as moved:
        at.run()
    assert len(moved) == 4, moved  # the figures again (and the operators), never stale
    assert len(_rows(at)) == 4
    assert at.get("download_button")[0].label == "Download these 4 payments (CSV)"
