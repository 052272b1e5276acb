"""What every page needs: the process-wide services, the signed-in person, and intent keys."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dollr_core.basics.access import Actor, Permission
from dollr_core.config import Settings
from dollr_core.ledger.intents import new_intent_key
from dollr_core.runtime import start_notifier, start_reconciler, start_services
from dollr_core.services import Services


def _secrets() -> dict[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except FileNotFoundError:  # no secrets.toml: environment variables and defaults only
        return {}


@st.cache_resource(show_spinner="Starting the console…")
def services() -> Services:
    """One client (one token, one connection pool) and one ledger engine for every session."""
    started = start_services(Settings.load(secrets=_secrets()))
    start_reconciler(started)
    start_notifier(started)
    return started


def actor() -> Actor:
    """The signed-in person; app.py guarantees there is one before any page runs."""
    who = st.session_state.get("actor")
    if not isinstance(who, Actor):
        st.stop()
    return who


def require_page(*permissions: Permission) -> Actor:
    """Stop the page unless the signed-in person may use it (the flows check again themselves)."""
    who = actor()
    if not any(who.can(p) for p in permissions):
        st.error("Your role does not give access to this page.")
        st.stop()
    return who


def intent_key(form: str) -> str:
    """The key of the payment this form is about: made when the form is first shown, kept across
    reruns, replaced only by `new_intent`."""
    name = f"intent:{form}"
    if name not in st.session_state:
        st.session_state[name] = new_intent_key()
    key: str = st.session_state[name]
    return key


def new_intent(form: str) -> str:
    """Start a fresh payment on this form (after the previous one finished)."""
    st.session_state[f"intent:{form}"] = new_intent_key()
    return intent_key(form)
