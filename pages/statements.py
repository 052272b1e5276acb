"""Statements: per currency and period, opening balance, money in and out, each fee, closing balance.

Everything is computed from the ledger by `dollr_core.reports.statements`; no call to Dollr is made here.
Finance enters each currency's starting balance once; after that every statement follows from it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from console.context import require_page, services
from console.widgets import money, plain, show_error, time_heading, when, when_said
from dollr_core.basics.access import Permission
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.basics.words import short_reference
from dollr_core.reports import statements
from dollr_core.reports.history import operation_name
from dollr_core.reports.statements import Period, StatementError

who = require_page(Permission.VIEW_STATEMENTS)
svc = services()
zone = svc.settings.time_zone
today = datetime.now(ZoneInfo(zone)).date()


def opening_balance_section() -> None:
    entered = {row.currency: row for row in statements.opening_balances(svc.engine)}
    for row in entered.values():
        st.caption(
            plain(
                f"{row.currency}: starting balance {money(row.amount, row.currency)} entered by"
                f" {row.entered_by} on {row.entered_at:%d %b %Y}, as at {when_said(row.as_of)}."
            )
        )
    missing = [c for c in sorted(SUPPORTED_CURRENCIES) if c not in entered]
    if not missing or not who.can(Permission.KEEP_BOOKS):
        return
    with (
        st.expander("Enter a starting balance (once per currency)", expanded=not entered),
        st.form("statements_opening", border=False),
    ):
        currency = st.selectbox("Currency", missing, key="statements_opening_currency")
        amount = st.text_input("Balance of our Dollr wallet", key="statements_opening_amount")
        as_of = st.date_input(
            f"At the start of (company time, {zone})", value=today, key="statements_opening_day"
        )
        if st.form_submit_button("Save starting balance", type="primary"):
            try:
                statements.enter_opening_balance(svc, who, currency=str(currency), amount=amount, as_of=as_of)
            except (StatementError, ValueError) as exc:
                st.error(str(exc))
            except Exception as exc:
                show_error(exc)
            else:
                st.rerun()


def chosen_period() -> Period | None:
    kind = st.segmented_control(
        "Period", ["Day", "Week", "Month", "Range"], default="Month", key="statements_kind"
    )
    if kind == "Range":
        picked = st.date_input("From – to", value=(today - timedelta(days=6), today), key="statements_range")
        if not isinstance(picked, tuple) or len(picked) != 2:
            st.info("Pick the first and the last day.")
            return None
        return Period(picked[0], picked[1], zone)
    day = st.date_input("Any day in the period", value=today, key="statements_day")
    assert isinstance(day, date)
    if kind == "Day":
        return Period.day(day, zone)
    if kind == "Week":
        return Period.week(day, zone)
    return Period.month(f"{day:%Y-%m}", zone)


st.title("Statements")
st.caption(f"Days start at midnight in the company's time zone ({zone}).")
opening_balance_section()
left, right = st.columns([1, 3])
currency = left.selectbox("Currency", sorted(SUPPORTED_CURRENCIES), key="statements_currency")
with right:
    period = chosen_period()
if period is None:
    st.stop()
try:
    made = statements.statement(svc, who, str(currency), period)
except StatementError as exc:
    st.info(str(exc))
    st.stop()

st.subheader(f"{made.currency} · {period.label}")
st.caption(plain(made.opening_note))
st.dataframe(
    [{"": label, "Amount": money(value, made.currency)} for label, value in made.summary()],
    hide_index=True,
    key="statements_summary",
)
st.markdown(f"**Payments** ({len(made.lines)})")
st.dataframe(
    [
        {
            time_heading("Completed"): when(ln.at),
            "Type": operation_name(ln.operation),
            "Name": ln.party_name,
            "Document": ln.document_number or "",
            "Amount": money(ln.amount, made.currency),
            "Fees": money(ln.fees, made.currency),
            "Balance change": money(ln.net, made.currency),
            "Payment reference": short_reference(ln.reference_id),
        }
        for ln in made.lines
    ],
    hide_index=True,
    key="statements_lines",
)
slug = f"statement-{made.currency}-{period.first}-{period.last}"
first, second = st.columns(2)
first.download_button(
    "Download CSV",
    data=lambda: statements.statement_csv(made),
    file_name=f"{slug}.csv",
    mime="text/csv",
    key="statements_csv",
    on_click="ignore",
    icon=":material/download:",
)
second.download_button(
    "Download PDF",
    data=lambda: statements.statement_pdf(made),
    file_name=f"{slug}.pdf",
    mime="application/pdf",
    key="statements_pdf",
    on_click="ignore",
    icon=":material/picture_as_pdf:",
)
