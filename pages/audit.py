"""Audit trail: every sign-in, approval, payment submission and user change, searchable."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from console.context import require_page, services
from dollr_core import audit
from dollr_core.access import Permission

require_page(Permission.VIEW_AUDIT)
svc = services()

st.title("Audit trail")
st.caption("Append-only: who did what, when, and how it ended. Nothing here can be edited.")

today = datetime.now(UTC).date()
left, middle, right = st.columns(3)
since, until = left.date_input("Between", value=(today - timedelta(days=7), today), key="audit_dates") or (
    today,
    today,
)
actor = middle.text_input("Person (e-mail contains)", key="audit_actor")
action = right.selectbox("Action", ["(any)", *audit.actions(svc.engine)], key="audit_action")
text = st.text_input("Search in what and details", key="audit_text")

flt = audit.AuditFilter(
    since=datetime.combine(since, time.min, UTC),
    until=datetime.combine(until, time.min, UTC) + timedelta(days=1),
    actor=actor.strip(),
    action="" if action == "(any)" else action,
    text=text.strip(),
)
records = audit.search(svc.engine, flt, limit=2000)
rows = audit.table(records)
st.write(f"{len(rows)} record(s){' (showing the newest 2,000)' if len(rows) == 2000 else ''}.")
st.dataframe(rows, hide_index=True, width="stretch")

st.download_button(
    "Download as CSV",
    audit.export_csv(rows),
    file_name="audit.csv",
    mime="text/csv",
    key="audit_csv",
    on_click="ignore",
)
