"""The Statements page: finance enters the starting balance once; the statement follows."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Role
from dollr_core.reports import statements
from dollr_core.services import Services

from .test_payout_page import read


def test_finance_enters_the_starting_balance_and_sees_the_statement(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = page("pages/statements.py", role=Role.FINANCE).run()
    assert not at.exception
    at.text_input(key="statements_opening_amount").input("1,250.00")
    at.button[0].click().run()
    assert not at.exception and not at.error
    saved = statements.opening_balance(console.engine, "LRD") or statements.opening_balance(
        console.engine, "RWF"
    )
    saved = saved or statements.opening_balance(console.engine, "USD")
    assert saved is not None and saved.entered_by == "finance@example.com"
    assert any("entered by finance@example" in read(c.value) for c in at.caption)


def test_manager_reads_statements_but_enters_no_balance(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = page("pages/statements.py", role=Role.MANAGER).run()
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "statements_opening_amount"]
    assert any("No " in i.value and "opening balance" in i.value for i in at.info)
    assert page("pages/statements.py", role=Role.OPERATOR).run().error  # not for operators


def test_reconciliation_page_reports_a_clean_period(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/reconciliation.py", role=Role.MANAGER).run()
    assert not at.exception
    at.button(key="reconciliation_start").click().run()
    assert not at.exception and not at.error
    assert at.success and at.success[0].value.startswith("Clean")


def test_dashboard_shows_the_balance_from_the_books(page: Callable[..., AppTest], console: Services) -> None:
    from dollr_core.basics.access import Actor
    from dollr_core.reports.statements import Period

    finance = Actor("finance@example.com", Role.FINANCE)
    statements.enter_opening_balance(
        console, finance, currency="USD", amount="700", as_of=Period.month("2026-11").first
    )
    at = page("pages/home.py", role=Role.FINANCE).run()
    assert not at.exception
    assert any("From the books" in m.value for m in at.markdown)
    assert statements.balance_now(console.engine, "USD") == 700
