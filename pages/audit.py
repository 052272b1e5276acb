"""Audit trail: every sign-in, approval, payment submission and user change, searchable."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from console.context import require_page, services
from console.tables import table_on_any_screen
from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Permission
from dollr_core.basics.words import action_name, count
from dollr_core.ledger import audit
from dollr_core.reports import audit_trail

who = require_page(Permission.VIEW_AUDIT)
svc = services()

st.title("Audit trail")
st.caption("Append-only: who did what, when, and how it ended. Nothing here can be edited.")

zone = svc.settings.time_zone
company_day = ZoneInfo(zone)  # the days picked are the company's days
today = datetime.now(company_day).date()
left, middle, right = st.columns(3)
picked = left.date_input("Between", value=(today - timedelta(days=7), today), key="audit_dates")
# While a range is being picked the box holds only its first day: show that day until the second.
since, until = (picked[0], picked[-1]) if picked else (today, today)
actor = middle.text_input("Person (e-mail contains)", key="audit_actor")
action = right.selectbox(
    "Action",
    ["(any)", *audit_trail.actions(svc, who)],
    format_func=lambda a: "Any action" if a == "(any)" else action_name(a),
    key="audit_action",
)
text = st.text_input("Search in what and details", key="audit_text")

flt = audit.AuditFilter(
    since=datetime.combine(since, time.min, company_day).astimezone(UTC),
    until=(datetime.combine(until, time.min, company_day) + timedelta(days=1)).astimezone(UTC),
    actor=actor.strip(),
    action="" if action == "(any)" else action,
    text=text.strip(),
)
records = audit_trail.search(svc, who, flt, limit=2000)
rows = audit.table(records, zone)
st.write(f"{count(len(rows), 'record')}{' (showing the newest 2,000)' if len(rows) == 2000 else ''}.")
table_on_any_screen(rows, key="audit", heading=audit.columns(zone)[:2])

as_csv, as_xlsx = st.columns(2)
as_csv.download_button(
    "Download as CSV",
    audit.export_csv(rows, zone),
    file_name="audit.csv",
    mime=spreadsheet.CSV_MIME,
    key="audit_csv",
    on_click="ignore",
)
as_xlsx.download_button(
    "Download as Excel",
    data=lambda: audit.export_xlsx(rows, zone),  # built only when clicked
    file_name="audit.xlsx",
    mime=spreadsheet.XLSX_MIME,
    key="audit_xlsx",
    on_click="ignore",
)
