"""The admin's list of signed-in browsers (Users page): who, since when, last seen, from where, and
a button that ends one (that browser is signed out at its next page run)."""

from __future__ import annotations

import streamlit as st

from dollr_core.basics.access import Actor
from dollr_core.basics.words import role_name
from dollr_core.services import Services
from dollr_core.team import sessions, sign_in

from .auth import this_session
from .widgets import plain, when_said


def signed_in_sessions(svc: Services, me: Actor) -> None:
    this_browser = this_session()
    st.subheader("Signed-in sessions")
    limits = sessions.Limits.of(svc.settings.session_idle_minutes, svc.settings.session_lifetime_hours)
    live = sessions.list_live(svc.engine, limits, by=me)
    st.caption(
        f"Each browser stays signed in across reloads and tabs until it signs out, is idle for"
        f" {svc.settings.session_idle_minutes} minutes, or is {svc.settings.session_lifetime_hours}"
        " hours old. Ending one signs that browser out at its next click."
    )
    if not live:
        st.write("No browser is signed in with a session cookie right now.")
        return
    for session in live:
        who, since, seen, client, action = st.columns([3, 2, 2, 4, 1], vertical_alignment="center")
        mine = " · this browser" if session.id == this_browser else ""
        who.write(f"**{plain(session.email)}** ({role_name(session.role)}){mine}")
        since.write(f"since {when_said(session.since)}")
        seen.write(f"last seen {when_said(session.last_seen)}")
        client.caption(session.client or "unknown client")
        if action.button("End", key=f"end_session:{session.id}", help="Sign this browser out"):
            sessions.revoke(svc.engine, session.id, by=me)
            st.rerun()


def previous_sign_in(svc: Services, email: str) -> None:
    """The person's sign-in before this one (someone else's would show up here), or that this is
    their first."""
    before = sign_in.previous_sign_in(svc.engine, email)
    st.caption(
        f"Your previous sign-in: {when_said(before)}."
        if before
        else "This is your first sign-in to this console."
    )
