"""Reconciliation: a period's payments checked against Dollr, every difference with what to do.

`dollr_core.reports.reconciliation` looks each payment up afresh at a gentle pace and keeps its progress,
so a long period is checked over several presses of the button (or a rate limit) without
starting again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from console.context import require_page, services
from console.widgets import show_error
from dollr_core.basics.access import Permission
from dollr_core.basics.words import count, short_reference
from dollr_core.reports import reconciliation
from dollr_core.reports.history import operation_name
from dollr_core.reports.status_lookup import parse_reference

who = require_page(Permission.VIEW_STATEMENTS)
svc = services()
RUN = "reconciliation:run"
today = datetime.now(ZoneInfo(svc.settings.time_zone)).date()

st.title("Reconciliation")
st.caption("Each payment the ledger holds for the period is looked up at Dollr again, and compared.")
with st.form("reconciliation_form", border=False):
    picked = st.date_input(
        "Period", value=(today - timedelta(days=6), today), max_value=today, key="reconciliation_period"
    )
    if st.form_submit_button("Check this period", type="primary", key="reconciliation_start"):
        if isinstance(picked, tuple) and len(picked) == 2:
            try:
                with st.spinner("Listing the period's payments…"):
                    st.session_state[RUN] = reconciliation.start_run(svc, who, picked[0], picked[1]).id
            except Exception as exc:
                show_error(exc)
        else:
            st.error("Pick the first and the last day of the period.")

run_id = st.session_state.get(RUN)
if not run_id:
    st.info("Pick a period and press Check this period.")
    st.stop()
with st.spinner("Asking Dollr about each payment…"):
    try:
        left = reconciliation.continue_run(svc, int(run_id), budget=100)
    except Exception as exc:
        show_error(exc)
        st.stop()
made = reconciliation.report(svc, who, int(run_id))
if made.clean:
    st.success(made.headline)
elif left:
    st.warning(made.headline)
    st.button("Carry on checking", key="reconciliation_continue")
else:
    st.error(made.headline)
if made.differences:
    st.dataframe(
        [
            {
                "Difference": d.finding.value,
                "Type": operation_name(d.operation),
                "Payment or document": short_reference(d.reference)
                if parse_reference(d.reference)
                else d.reference,
                "Detail": d.detail,
                "What to do": d.advice,
            }
            for d in made.differences
        ],
        hide_index=True,
        key="reconciliation_differences",
    )
if made.still_open:
    st.caption(
        f"{count(made.still_open, 'payment')} {'is' if made.still_open == 1 else 'are'} still open at Dollr;"
        " the reconciler follows them."
    )
st.download_button(
    "Download the report",
    data=reconciliation.report_text(made),
    file_name=f"reconciliation-run-{run_id}.txt",
    mime="text/plain",
    key="reconciliation_download",
    on_click="ignore",
)
