"""Dollr Ops Console: the entry point. `streamlit run app.py` (or `./dev console`)."""

from __future__ import annotations

import streamlit as st

from console import auth
from console.context import services
from console.widgets import show_error
from dollr_core.access import Actor, Permission
from dollr_core.config import SettingsError

st.set_page_config(page_title="Dollr Ops Console", page_icon="💸", layout="wide")

#: Every page, the task group it sits in, and who may open it (pages check again themselves).
PAGES: list[tuple[str, str, str, str, tuple[Permission, ...]]] = [
    ("Home", "pages/home.py", "Dashboard", ":material/dashboard:", ()),
    (
        "Get paid",
        "pages/invoices.py",
        "Invoices & orders",
        ":material/receipt_long:",
        (Permission.MANAGE_INVOICES,),
    ),
    ("Get paid", "pages/collect.py", "Collect a payment", ":material/point_of_sale:", (Permission.COLLECT,)),
    ("Pay out", "pages/payout.py", "Pay someone", ":material/send_money:", (Permission.PAY_OUT,)),
    (
        "Pay out",
        "pages/bulk.py",
        "Bulk payouts",
        ":material/groups:",
        (Permission.BULK_PAYOUTS, Permission.APPROVE),
    ),
    (
        "Pay out",
        "pages/approvals.py",
        "Approvals",
        ":material/approval:",
        (Permission.APPROVE, Permission.PAY_OUT, Permission.BULK_PAYOUTS),
    ),
    ("Look up", "pages/status.py", "Payment status", ":material/search:", (Permission.LOOK_UP_STATUS,)),
    ("Look up", "pages/receipts.py", "Receipts", ":material/description:", (Permission.VIEW_RECEIPTS,)),
    ("Reports", "pages/history.py", "History", ":material/history:", (Permission.VIEW_HISTORY,)),
    ("Reports", "pages/predictor.py", "Fee & FX preview", ":material/calculate:", (Permission.PREDICT_FEES,)),
    ("Reports", "pages/audit.py", "Audit trail", ":material/policy:", (Permission.VIEW_AUDIT,)),
    ("Admin", "pages/users.py", "Users", ":material/manage_accounts:", (Permission.MANAGE_USERS,)),
]


def navigation_for(who: Actor) -> dict[str, list[st.Page]]:
    groups: dict[str, list[st.Page]] = {}
    for group, path, title, icon, needs in PAGES:
        if not needs or any(who.can(p) for p in needs):
            groups.setdefault(group, []).append(
                st.Page(path, title=title, icon=icon, default=group == "Home")
            )
    return groups


def sidebar(who: Actor) -> None:
    svc = services()
    with st.sidebar:
        if svc.settings.is_live:
            st.error("**LIVE** — real money moves", icon=":material/warning:")
        else:
            st.info("**SANDBOX** — pretend money", icon=":material/science:")
        st.caption(f"Dollr at `{svc.base_url}`")
        health = svc.client.stats
        if health.last_success_at is None and health.last_failure_at is None:
            st.caption("Dollr: not contacted yet")
        elif (health.last_failure_at or 0) > (health.last_success_at or 0):
            st.caption(":red[Dollr: last request failed]")
        else:
            st.caption(":green[Dollr: answering]")
        st.divider()
        st.caption(f"Signed in as **{who.email}** ({who.role.value})")
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
    st.navigation([st.Page(auth.sign_in_page, title="Sign in", icon=":material/login:", default=True)]).run()
    st.stop()
sidebar(who)
if svc.settings.is_live:
    st.error("LIVE Dollr: every payment here moves real money.", icon=":material/warning:")
st.navigation(navigation_for(who)).run()
