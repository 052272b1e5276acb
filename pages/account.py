"""Your account: change your password (and, for password users, the second factor)."""

from __future__ import annotations

import streamlit as st

from console.auth import client_address, keep_session, recovery_codes, two_factor_setup
from console.context import actor, services
from console.sessions_ui import previous_sign_in
from console.widgets import plain
from dollr_core.basics.words import role_name
from dollr_core.team import passwords, sign_in, users

who = actor()  # every signed-in person has an account page
svc = services()

st.title("Your account")
st.caption(f"Signed in as **{plain(who.email)}** ({role_name(who.role)}).")
previous_sign_in(svc, who.email)

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
            generation = passwords.change_own_password(
                svc.engine, who.email, current, new, client=client_address()
            )
        except (users.UserError, sign_in.SignInError) as exc:
            st.error(str(exc))
        else:
            keep_session(generation)
            st.success("Your password is changed. Every other session of yours has been signed out.")

st.subheader("Two-factor sign-in")
user = users.get_user(svc.engine, who.email)
required = who.role in svc.settings.require_two_factor_roles
if user is not None and not user.password_hash:
    st.write("You sign in with your company account: its provider asks for your second factor.")
elif st.session_state.get("account:new_codes"):
    if recovery_codes(st.session_state["account:new_codes"]):
        del st.session_state["account:new_codes"]
        st.rerun()
elif user is not None and user.totp_secret:
    since = f" since {user.totp_enabled_at:%d %b %Y}" if user.totp_enabled_at else ""
    left = sign_in.recovery_codes_left(svc.engine, who.email)
    st.write(
        f"It is on{since}: you sign in with your password and a code from your authenticator app."
        f" You have **{left}** unused recovery code(s). Lost your phone? An admin can reset it."
    )
else:
    st.write(
        "It is off for you. Your role "
        + ("must use it: you will be asked to set it up at your next sign-in." if required else "may use it.")
        + " With it on, signing in needs your password and a code from an app on your phone, so a"
        " stolen password alone is not enough."
    )
    if st.toggle("Set up two-factor sign-in", key="account:setup"):
        codes = two_factor_setup(svc, who.email)
        if codes:
            st.session_state["account:new_codes"] = codes
            st.rerun()
