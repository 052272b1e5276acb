"""Notifications: which e-mails each person gets, the team's webhook (admins), and what was sent."""

from __future__ import annotations

import streamlit as st

from console.context import require_page, services
from console.widgets import show_error, time_heading, when
from dollr_core.basics.access import Permission
from dollr_core.team import notify

who = require_page(*Permission)
svc = services()
FLASH = "notifications:flash"

st.title("Notifications")
st.caption(
    "E-mails to you, and messages to the team's chat webhook, when something needs you or went wrong."
    " Messages never hold a passcode, a secret or a full phone number."
)
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)
if not svc.settings.smtp_host:
    st.info("E-mail is not set up on this install (setting DOLLR_SMTP_HOST), so only the webhook is sent.")

st.subheader("E-mail me when")
muted = notify.muted_kinds(svc.engine, who.email)
with st.form("notification_preferences"):
    for kind in notify.kinds_for(who.role):
        st.checkbox(notify.KIND_NAMES[kind], value=kind.value not in muted, key=f"want:{kind.value}")
    saved = st.form_submit_button("Save my choices", type="primary")
if saved:
    wanted = [k for k in notify.kinds_for(who.role) if st.session_state.get(f"want:{k.value}")]
    notify.set_preferences(svc.engine, who, wanted)
    st.session_state[FLASH] = "Your choices are saved."
    st.rerun()

if who.can(Permission.MANAGE_USERS):
    st.subheader("Team webhook")
    host = notify.webhook_host(svc)
    st.caption(
        f"Messages go to a webhook at {host}." if host else "No webhook is set: messages go by e-mail only."
    )
    if svc.settings.notification_webhook_url:
        st.caption("The webhook is fixed in this install's settings.")
    else:
        with st.form("notification_webhook"):
            st.text_input(
                "Webhook URL (Slack-compatible; empty to remove)",
                key="webhook_url",
                type="password",  # the URL's path is the webhook's secret
                placeholder="https://hooks.slack.com/services/…",
            )
            set_it = st.form_submit_button("Save the webhook")
        if set_it:
            try:
                notify.set_webhook(svc, who, st.session_state.get("webhook_url", ""))
            except Exception as exc:
                show_error(exc)
            else:
                st.session_state[FLASH] = "The webhook is saved."
                st.rerun()

st.subheader("Sent lately" + (" (everyone)" if who.can(Permission.MANAGE_USERS) else " (to you)"))
sent = notify.recent(svc.engine, who)
if not sent:
    st.caption("Nothing yet.")
else:
    st.dataframe(
        {
            time_heading("When"): [when(n.created_at) for n in sent],
            "What": [n.subject for n in sent],
            "To": [n.recipient for n in sent],
            "Outcome": [n.state.capitalize() + (f" ({n.last_error})" if n.last_error else "") for n in sent],
            "Tries": [n.attempts for n in sent],
        },
        hide_index=True,
        width="stretch",
    )
