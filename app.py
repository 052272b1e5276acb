"""Dollr Ops Console: the entry point. `streamlit run app.py` (or `./dev console`)."""

from __future__ import annotations

import streamlit as st

from console import auth
from console.context import services
from console.navigation import navigation_for, sign_in_navigation
from console.styles import apply_look
from console.widgets import plain, show_error
from dollr_core.basics.access import Actor
from dollr_core.basics.words import role_name
from dollr_core.config import SettingsError

st.set_page_config(page_title="Dollr Ops Console", page_icon="💸", layout="wide")
apply_look()


def sidebar(who: Actor) -> None:
    svc = services()
    with st.sidebar:
        if svc.settings.is_live:
            st.error("**LIVE** — real money moves", icon=":material/warning:")
        else:
            st.info("**SANDBOX** — pretend money", icon=":material/science:")
        st.caption(
            "Connected to Dollr's live service" if svc.settings.is_live else "Connected to the Dollr sandbox",
            help=f"Dollr's address: {svc.base_url}",
        )
        health = svc.client.stats
        if health.last_success_at is None and health.last_failure_at is None:
            st.caption("Dollr: not contacted yet")
        elif (health.last_failure_at or 0) > (health.last_success_at or 0):
            st.caption(":red[Dollr: last request failed]")
        else:
            st.caption(":green[Dollr: answering]")
        st.divider()
        st.caption(f"Signed in as **{plain(who.email)}** ({role_name(who.role)})")
        # A callback: in the entry file a button's return value is lost once st.navigation runs.
        st.button("Sign out", icon=":material/logout:", key="sign_out", on_click=auth.sign_out, args=(svc,))


try:
    svc = services()
except SettingsError as exc:
    st.error(str(exc))
    st.stop()
except Exception as exc:
    show_error(exc)
    st.stop()

who = auth.current(svc)
if who is None:
    # Navigation runs on every path: a script that stops before it shows nothing at all.
    st.navigation(sign_in_navigation(auth.sign_in_page), position="hidden").run()
    st.stop()
sidebar(who)
if svc.settings.is_live:
    st.error("LIVE Dollr: every payment here moves real money.", icon=":material/warning:")
shown = st.navigation(navigation_for(who), expanded=True)  # every page in view, none behind "View more"
st.set_page_config(page_title=f"{shown.title} · Dollr Ops Console")  # each page its own browser title
shown.run()
