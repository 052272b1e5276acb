"""Dashboard: what moved today and this week, what is still open, what failed, and the balances.

Everything comes from this console's ledger (and, in the sandbox, the sandbox's own wallets):
opening or rerunning this page makes no call to Dollr.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import streamlit as st

from console.context import actor, services
from console.widgets import money, page_link, plain, time_heading, when
from dollr_core.basics.access import Permission
from dollr_core.basics.enums import OperationType
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import count, short_reference, zone_label
from dollr_core.reports import dashboard, statements
from dollr_core.reports.history import HistoryRow, operation_name
from dollr_core.reports.history_totals import CurrencyTotal
from dollr_core.reports.predictor import method_name
from dollr_core.team import approvals

#: The headline figures: money in, then money out.
_SHOWN = {OperationType.COLLECTION: ("Collected", "collection"), OperationType.PAYOUT: ("Paid out", "payout")}
ZERO = Decimal(0)
#: Exact amounts as numbers (sorted by value, not as text), the currency in a column beside them.
AMOUNT = st.column_config.NumberColumn(format="accounting")

who = actor()  # every role sees the home page
svc = services()


def moved(title: str, since: date, rows: Sequence[CurrencyTotal]) -> None:
    """One row per currency, money in beside money out: wide enough for any amount, and on a phone
    each figure gets the whole width (six figures side by side were cut off at any width)."""
    st.markdown(f"**{title}** · since {since:%a %d %b} ({zone_label(svc.settings.time_zone)})")
    done = {(r.operation, r.currency): r for r in rows if r.completed}
    currencies = sorted({currency for operation, currency in done if operation in _SHOWN})
    if not currencies:
        st.caption("Nothing completed yet.")
        return
    for currency in currencies:
        columns = st.columns(len(_SHOWN))
        for column, (operation, (verb, noun)) in zip(columns, _SHOWN.items(), strict=True):
            row = done.get((operation, currency))
            column.metric(f"{verb} in {currency}", money(row.completed_amount if row else ZERO, currency))
            column.caption(count(row.completed if row else 0, noun, "completed"))


def payment_rows(rows: Sequence[HistoryRow], *, key: str, reasons: bool) -> None:
    """A table of payments; picking one offers its status page (in this tab, still signed in)."""
    picked = st.dataframe(
        [
            {
                time_heading("Started"): when(r.created_at),
                "Type": operation_name(r.operation),
                "Name": r.party_name,
                "Phone": mask_phone(r.phone) if r.phone else "",
                "Method": method_name(r.method),
                "Amount": r.amount,
                "Currency": r.currency,
                ("Why it failed" if reasons else "Where it stands"): r.reason if reasons else r.outcome.value,
                "Reference": short_reference(r.reference_id),
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
        column_config={"Amount": AMOUNT},
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

st.title("Dashboard")  # as the menu names it
st.caption(
    f"Welcome, {plain(who.email)}. Figures from this console's records; days are the company's"
    f" ({zone_label(svc.settings.time_zone)})."
)

with st.container(border=True):
    moved("Today", figures.today, figures.today_totals)
with st.container(border=True):
    moved("This week", figures.week_start, figures.week_totals)

if who.can(Permission.APPROVE):
    waiting_payouts = approvals.pending_payouts(svc, who)
    waiting_batches = approvals.pending_batches(svc, who)
    if waiting_payouts or waiting_batches:
        parts = [count(len(waiting_payouts), "payout")] if waiting_payouts else []
        parts += [count(len(waiting_batches), "payout batch")] if waiting_batches else []
        st.warning(f"Waiting for your approval: {' and '.join(parts)}.", icon=":material/approval:")
        page_link("pages/approvals.py", "Open Approvals", icon=":material/approval:")

st.subheader("Waiting for an outcome")
if not figures.open_count:
    st.caption("No payment is waiting: every payment has an outcome.")
else:
    st.metric(
        "Payments still open",
        figures.open_count,
        help="Processing at the mobile network or card company, or being checked with Dollr.",
    )
    payment_rows(figures.open_rows, key="home_open", reasons=False)
    if figures.open_count > len(figures.open_rows):
        st.caption(f"The newest {len(figures.open_rows)} are shown; the history lists them all.")

st.subheader("Recent failures")
if not figures.failures:
    st.caption("No payment has failed.")
else:
    payment_rows(figures.failures, key="home_failures", reasons=True)

st.subheader("Wallet balances")
# Known first (the sandbox's own wallets, or the books finance keeps), then what this console moved:
# that is no balance (it misses the opening balance and everything done elsewhere), so it never warns.
true_balances = dashboard.sandbox_balances(svc)
if true_balances is not None:
    st.markdown("**Sandbox wallets**: known, the sandbox's own balances (pretend money)")
    st.dataframe(
        [{"Currency": c, "Available": amount} for c, amount in true_balances.items()],
        hide_index=True,
        width="stretch",
        column_config={"Available": AMOUNT},
    )
books = [
    (row, statements.balance_now(svc.engine, row.currency)) for row in statements.opening_balances(svc.engine)
]
if books:
    st.markdown("**From the books**: known, the starting balance finance entered plus every payment since")
    st.dataframe(
        [
            {
                "Currency": row.currency,
                "Balance": balance,
                "Starting balance": row.amount,
                "Starting on": f"{row.as_of:%d %b %Y}",
                "Entered by": row.entered_by,
            }
            for row, balance in books
        ],
        hide_index=True,
        width="stretch",
        column_config={"Balance": AMOUNT, "Starting balance": AMOUNT},
    )
elif true_balances is None:
    st.caption(
        "No balance is known: Dollr offers no balance look-up. Finance can enter each wallet's starting"
        " balance on Statements; from then on the balance here is known."
    )
if figures.balances:
    st.markdown("**Moved through this console**: not a balance")
    st.dataframe(
        [
            {
                "Currency": b.currency,
                "Money in (received)": b.collected,
                "Money out (with fees)": b.sent,
                "Difference": b.estimate,
            }
            for b in figures.balances
        ],
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(("Money in (received)", "Money out (with fees)", "Difference"), AMOUNT),
    )
    st.caption(
        "Completed collections minus completed payments out, as recorded here. It leaves out the wallet's"
        " opening balance and anything done outside this console, so a negative difference is no sign"
        " that the wallet is short."
    )

if who.can(Permission.VIEW_HISTORY):
    st.caption("The History page (Reports) filters, totals and exports every payment.")
