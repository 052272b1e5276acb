"""Payment history: every payment this console started, filtered, totalled, charted and exported.

Filtering, totals, charts and paging all happen in the ledger's SQL (`dollr_core.reports.history`);
the page only shows what comes back (its pieces: `console.history_ui`). No call to Dollr is made here.
"""

from __future__ import annotations

import streamlit as st

from console import history_ui
from console.context import require_page, services
from dollr_core.basics.access import Permission
from dollr_core.basics.words import zone_label

who = require_page(Permission.VIEW_HISTORY)
svc = services()
# Counts and sums are remembered per filter until the ledger changes: a rerun that changed no
# filter reads the ledger's change marker once and the page of rows shown, nothing else.
asked = history_ui.Figures.now(svc, who)

st.title("Payment history")
st.caption(
    "Every payment started from this console, newest first. Days are the company's"
    f" ({zone_label(svc.settings.time_zone)}); a payment belongs to the day it was started."
)

flt = history_ui.filters(asked)
figures = asked.of(flt)
totals = figures.totals
if not any(t.count for t in totals):
    st.info("No payment matches these filters.")
    st.stop()

history_ui.show_totals(totals)
matching = sum(t.count for t in totals)
history_ui.downloads(svc, who, flt, matching)
history_ui.show_charts(figures)
st.subheader("Payments")
history_ui.show_rows(svc, who, flt, matching)
