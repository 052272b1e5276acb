"""Home: what moved today and this week, what is still open, what failed, and the balances.

Everything comes from this console's ledger (and, in the sandbox, the sandbox's own wallets):
opening or rerunning this page makes no call to Dollr.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import streamlit as st

from console.context import actor, services
from console.widgets import money, page_link
from dollr_core.basics.access import Permission
from dollr_core.basics.enums import OperationType
from dollr_core.basics.phone import mask_phone
from dollr_core.reports import dashboard, statements
from dollr_core.reports.history import HistoryRow, operation_name
from dollr_core.reports.history_totals import CurrencyTotal
from dollr_core.reports.predictor import method_name

who = actor()  # every role sees the home page
svc = services()


def moved(title: str, since: date, rows: Sequence[CurrencyTotal]) -> None:
    st.markdown(f"**{title}** · since {since:%a %d %b} (UTC)")
    collected = [r for r in rows if r.operation == OperationType.COLLECTION and r.completed]
    paid_out = [r for r in rows if r.operation == OperationType.PAYOUT and r.completed]
    if not collected and not paid_out:
        st.caption("Nothing completed yet.")
        return
    columns = st.columns(max(len(collected) + len(paid_out), 1))
    for column, row in zip(columns, [*collected, *paid_out], strict=False):
        incoming = row.operation == OperationType.COLLECTION
        column.metric(
            f"{'Collected' if incoming else 'Paid out'} in {row.currency}",
            money(row.completed_amount, row.currency),
            help=f"{row.completed} completed {'collection' if incoming else 'payout'}(s).",
        )
        column.caption(f"{row.completed} payment(s)")


def payment_rows(rows: Sequence[HistoryRow], *, key: str, reasons: bool) -> None:
    """A table of payments; picking one offers its status page (in this tab, still signed in)."""
    picked = st.dataframe(
        [
            {
                "Started (UTC)": r.created_at.strftime("%Y-%m-%d %H:%M"),
                "Type": operation_name(r.operation),
                "Name": r.party_name,
                "Phone": mask_phone(r.phone) if r.phone else "",
                "Method": method_name(r.method),
                "Amount": money(r.amount, r.currency),
                ("Why it failed" if reasons else "Where it stands"): r.reason if reasons else r.outcome.value,
                "Reference": r.reference_id,
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    chosen = picked.selection.rows
    if chosen and chosen[0] < len(rows) and who.can(Permission.LOOK_UP_STATUS):
        page_link(
            "pages/status.py",
            "Open its payment status",
            where=st,
            icon=":material/search:",
            reference=rows[chosen[0]].reference_id,
        )


figures = dashboard.home_figures(svc, who)

st.title("Home")
st.caption(f"Welcome, {who.email}. Figures from this console's records; days are UTC days.")

today, week = st.columns(2)
with today, st.container(border=True):
    moved("Today", figures.today, figures.today_totals)
with week, st.container(border=True):
    moved("This week", figures.week_start, figures.week_totals)

st.subheader("Waiting for an outcome")
if not figures.open_count:
    st.caption("No payment is waiting: every payment has an outcome.")
else:
    st.metric("Payments still open", figures.open_count, help="Processing at the operator, or being checked.")
    payment_rows(figures.open_rows, key="home_open", reasons=False)
    if figures.open_count > len(figures.open_rows):
        st.caption(f"The newest {len(figures.open_rows)} are shown; the history lists them all.")

st.subheader("Recent failures")
if not figures.failures:
    st.caption("No payment has failed.")
else:
    payment_rows(figures.failures, key="home_failures", reasons=True)

st.subheader("Wallet balances")
if figures.balances:
    st.dataframe(
        [
            {
                "Currency": b.currency,
                "Collected": money(b.collected, b.currency),
                "Sent out (with fees)": money(b.sent, b.currency),
                "Estimated balance": money(b.estimate, b.currency),
            }
            for b in figures.balances
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("No completed payment recorded yet.")
st.caption(
    "**Estimate from this console's records**: money collected minus money sent out through this"
    " console. Dollr offers no balance look-up, and this does not know the opening balance or"
    " anything done outside the console."
)
books = [
    (row, statements.balance_now(svc.engine, row.currency)) for row in statements.opening_balances(svc.engine)
]
if books:
    st.markdown("**From the books**: the starting balance finance entered, plus every payment since")
    st.dataframe(
        [
            {
                "Currency": row.currency,
                "Balance": money(balance, row.currency),
                "Starting balance": f"{money(row.amount, row.currency)} on {row.as_of:%d %b %Y}",
                "Entered by": row.entered_by,
            }
            for row, balance in books
        ],
        hide_index=True,
        width="stretch",
    )

true_balances = dashboard.sandbox_balances(svc)
if true_balances is not None:
    st.markdown("**Sandbox wallets** (the sandbox's own balances: pretend money)")
    st.dataframe(
        [{"Currency": c, "Available": money(amount, c)} for c, amount in true_balances.items()],
        hide_index=True,
        width="stretch",
    )

if who.can(Permission.VIEW_HISTORY):
    st.caption("The History page (Reports) filters, totals and exports every payment.")
