"""Your account: change your password (and, for password users, the second factor)."""

from __future__ import annotations

import streamlit as st

from console.auth import client_address, keep_session
from console.context import actor, services
from dollr_core import users

who = actor()  # every signed-in person has an account page
svc = services()

st.title("Your account")
st.caption(f"Signed in as **{who.email}** ({who.role.value}).")

st.subheader("Change your password")
st.caption(users.PASSWORD_POLICY + " Changing it signs you out everywhere else.")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", autocomplete="current-password")
    new = st.text_input("New password", type="password", autocomplete="new-password")
    again = st.text_input("New password again", type="password", autocomplete="new-password")
    submitted = st.form_submit_button("Change password", type="primary")
if submitted:
    if new != again:
        st.error("The two new passwords differ; type the same password in both fields.")
    else:
        try:
            generation = users.change_own_password(
                svc.engine, who.email, current, new, client=client_address()
            )
        except (users.UserError, users.SignInError) as exc:
            st.error(str(exc))
        else:
            keep_session(generation)
            st.success("Your password is changed. Every other session of yours has been signed out.")
