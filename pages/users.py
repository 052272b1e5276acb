"""Users: who may sign in, and with which role (admins only)."""

from __future__ import annotations

import streamlit as st

from console.context import require_page, services
from console.sessions_ui import previous_sign_in, signed_in_sessions
from console.tables import table_on_any_screen
from console.widgets import show_error, time_heading, when
from dollr_core.basics.access import Permission, Role
from dollr_core.team import passwords, sign_in, users

me = require_page(Permission.MANAGE_USERS)
svc = services()

st.title("Users")
st.caption("People who may sign in to this console, and what each role may do.")
previous_sign_in(svc, me.email)

table_on_any_screen(
    [
        {
            "E-mail": u.email,
            "Name": u.name,
            "Role": u.role,
            "Active": "yes" if u.is_active else "no",
            time_heading("Locked until"): when(locked)
            if (locked := sign_in.locked_until(svc.engine, u.email))
            else "",
            "Two-factor": "company sign-in" if not u.password_hash else ("on" if u.totp_secret else "off"),
            time_heading("Last sign-in"): when(u.last_sign_in_at) if u.last_sign_in_at else "never",
        }
        for u in users.list_users(svc.engine)
    ],
    key="users",
    heading=("E-mail", "Role"),
)

with st.expander("What each role may do"):
    st.markdown(
        "- **operator**: collect payments; single payouts up to a limit per currency\n"
        "- **finance**: invoices and orders, collections, fee preview, history, receipts, bulk payouts\n"
        "- **manager**: reads everything, approves large payouts and bulk batches\n"
        "- **admin**: users and settings"
    )

add_tab, change_tab = st.tabs(["Add a user", "Change a user"])
with add_tab, st.form("add_user", clear_on_submit=True):
    email = st.text_input("E-mail", key="new_email")
    name = st.text_input("Name", key="new_name")
    role = st.selectbox("Role", [r.value for r in Role], key="new_role")
    password = st.text_input(
        "First password (10 characters or more; leave empty for company sign-in)",
        type="password",
        key="new_password",
    )
    if st.form_submit_button("Add user", type="primary"):
        try:
            users.add_user(
                svc.engine, email=email, role=Role(role), password=password or None, name=name, by=me
            )
            st.success(f"{email} can now sign in as {role}.")
        except Exception as exc:
            show_error(exc)

with change_tab:
    emails = [u.email for u in users.list_users(svc.engine)]
    target = st.selectbox("User", emails, key="change_email")
    new_role = st.selectbox("New role", [r.value for r in Role], key="change_role")
    left, middle, right, reset, reset_two_factor = st.columns(5)
    try:
        if left.button("Change role", key="do_role", disabled=not target):
            users.set_role(svc.engine, target, Role(new_role), by=me)
            st.success(f"{target} is now {new_role}.")
        if middle.button("Disable / enable", key="do_toggle", disabled=not target):
            current = users.get_user(svc.engine, target)
            if current is not None:
                users.set_active(svc.engine, target, not current.is_active, by=me)
                st.success(f"{target} is now {'enabled' if not current.is_active else 'disabled'}.")
        if right.button("Unlock", key="do_unlock", disabled=not target):
            users.unlock(svc.engine, target, by=me)
            st.success(f"{target} may sign in again.")
        if reset.button("Reset password", key="do_reset_password", disabled=not target):
            temporary = passwords.reset_password(svc.engine, target, by=me)
            # Shown in this run only: the next click or reload no longer has it.
            st.success(
                f"{target} has a temporary password, shown only now. Give it to them in person or by"
                " phone; they must choose their own when they next sign in, and any session of"
                " theirs has been signed out."
            )
            st.code(temporary, language=None)
        if reset_two_factor.button("Reset two-factor", key="do_reset_two_factor", disabled=not target):
            sign_in.reset_two_factor(svc.engine, target, by=me)
            st.success(
                f"{target}'s two-factor sign-in is off and their sessions are signed out. If their"
                " role requires it, they set it up again when they next sign in."
            )
    except Exception as exc:
        show_error(exc)

st.divider()
signed_in_sessions(svc, me)
