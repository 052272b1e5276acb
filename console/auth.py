"""Sign-in on every page: console passwords by default, OpenID Connect when `[auth]` is configured."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlsplit

import streamlit as st

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.words import role_name
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import passwords, sessions, sign_in, two_factor, users

from . import session_routes
from .widgets import plain, show_error

_EMAIL = "signed_in_email"
_SEEN = "last_active"
_GENERATION = "session_generation"
#: A password accepted, steps still due (server-side only): "email", "role", "generation", "since",
#: and once done "second_factor_done", and the new recovery "codes" until the person has seen them.
_PENDING = "sign_in_pending"
#: How long the steps after the password may take before the password is asked for again.
_PENDING_LIMIT = 10 * 60
#: The ledger session behind this browser's cookie (console/session_routes.py), once there is one.
_SERVER = "server_session"
#: The hash of a cookie found ended: this tab no longer asks the ledger about it.
_ENDED_COOKIE = "ended_cookie"
#: Set while the browser is on its way through a cookie route: no form to type into meanwhile.
_LEAVING = "leaving_for_cookie_route"


def _logged_in_with_provider() -> bool:
    # st.user only knows is_logged_in once Streamlit's auth is active (not in AppTest, say).
    return bool(getattr(st.user, "is_logged_in", False))


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def current(svc: Services) -> Actor | None:
    """The person signed in on this browser session, if any (idle sessions are signed out, and so
    are sessions older than the person's last password change)."""
    token = _cookie_token()
    if token is not None:
        return _from_cookie(svc, token)
    idle_limit = svc.settings.session_idle_minutes * 60
    email = st.session_state.get(_EMAIL)
    if email and time.time() - st.session_state.get(_SEEN, 0) > idle_limit:
        audit.record(svc.engine, email, "sign_out", outcome="idle")
        _forget()
        st.session_state["signed_out_idle"] = True
        return None
    if email:
        who = users.current_actor(svc.engine, email, st.session_state.get(_GENERATION, 0))
        if who is not None and _enrolment_due(svc, who):
            # Made admin or manager since signing in (or signed in before the setting): no console
            # until two-factor sign-in is set up.
            generation = st.session_state.get(_GENERATION, 0)
            _forget()
            _await_steps(who.email, who.role, generation, second_factor_done=True)
            return None
        if who is not None:
            st.session_state[_SEEN] = time.time()
            st.session_state["actor"] = who
            return who
        _forget()  # disabled, removed or its password changed since signing in
        st.session_state["signed_out_changed"] = True
        return None
    if _PENDING in st.session_state:
        return _finish_pending(svc)
    if _oidc_configured() and _logged_in_with_provider():
        try:
            signed = sign_in.actor_for_oidc(svc.engine, str(st.user.get("email") or ""))
        except sign_in.SignInError as exc:
            st.session_state["oidc_refused"] = str(exc)
            return None
        _remember(signed.actor, signed.generation)
        return signed.actor
    return None


def _cookie_token() -> str | None:
    token = st.context.cookies.get(session_routes.COOKIE)
    if not isinstance(token, str) or not token:
        return None  # none, or a test harness without a browser
    if sessions.hash_secret(token) == st.session_state.get(_ENDED_COOKIE):
        return None
    return token


def _limits(svc: Services) -> sessions.Limits:
    return sessions.Limits.of(svc.settings.session_idle_minutes, svc.settings.session_lifetime_hours)


def _from_cookie(svc: Services, token: str) -> Actor | None:
    """The person this browser's cookie signs in (every tab, every reload), checked on every run."""
    state = sessions.check(svc.engine, token, _limits(svc))
    if isinstance(state, sessions.Ended):
        _forget()
        if state.reason == "idle":
            if state.just_now:
                audit.record(svc.engine, state.email, "sign_out", outcome="idle")
            st.session_state["signed_out_idle"] = True
        elif state.reason == "changed":
            st.session_state["signed_out_changed"] = True
        elif state.reason in ("revoked", "expired", "signed_out"):
            st.session_state["signed_out_reason"] = state.reason
        st.session_state[_ENDED_COOKIE] = sessions.hash_secret(token)
        return None
    _remember(state.actor, state.generation)
    st.session_state[_SERVER] = state.id
    if _enrolment_due(svc, state.actor):
        # Made admin or manager since signing in: no console until two-factor sign-in is set up.
        sessions.end(svc.engine, state.id, "changed")
        _forget()
        st.session_state[_ENDED_COOKIE] = sessions.hash_secret(token)
        _await_steps(state.actor.email, state.actor.role, state.generation, second_factor_done=True)
        return None
    return state.actor


def _enrolment_due(svc: Services, who: Actor) -> bool:
    if who.role not in svc.settings.require_two_factor_roles:
        return False  # no look at the ledger for the roles that need no second factor
    try:
        step = sign_in.next_step(
            svc.engine,
            who.email,
            st.session_state.get(_GENERATION, 0),
            second_factor_done=True,
            required_roles=svc.settings.require_two_factor_roles,
        )
    except sign_in.SignInError:
        return False  # changed in the instant since: the next run signs the session out
    return step is sign_in.Step.ENROL


def _finish_pending(svc: Services) -> Actor | None:
    """Sign the person in once no step is left after their password; None while one is."""
    pending = st.session_state[_PENDING]
    if time.time() - pending["since"] > _PENDING_LIMIT:
        _forget()
        st.session_state["sign_in_expired"] = True
        return None
    if pending.get("codes"):
        return None  # the new recovery codes are shown once, before the console
    try:
        step = _step_of(svc, pending)
    except sign_in.SignInError:
        _forget()
        return None
    if step is not None:
        return None
    who = users.current_actor(svc.engine, pending["email"], pending["generation"])
    if who is None:
        _forget()
        return None
    del st.session_state[_PENDING]
    _remember(who, pending["generation"])
    if session_routes.installed() and _hand_over_to_cookie(svc, who, pending["generation"]):
        return None
    return who


def _hand_over_to_cookie(svc: Services, who: Actor, generation: int) -> bool:
    """Send the browser through the cookie route, back to the page it asked for (the address bar's
    path): every later reload and tab is signed in too. False when the address is unknown."""
    url = st.context.url
    if not url:
        return False
    ticket = sessions.start(svc.engine, who, generation, client=_client_label())
    target = urlsplit(url).path or "/"
    _send_browser_to(f"{session_routes.OPEN}?ticket={quote(ticket)}&next={quote(target)}")
    st.session_state[_LEAVING] = "Signing in…"
    return True


def _send_browser_to(path: str) -> None:
    """Navigate the whole page: the message st.login and st.logout send (there is no public call)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    message = ForwardMsg()
    message.auth_redirect.url = path
    ctx.enqueue(message)


def _client_label() -> str:
    agent = st.context.headers.get("User-Agent") or "unknown browser"
    return f"{client_address()} · {agent}"


def sign_in_page() -> None:
    """The only page anyone sees before signing in."""
    from .context import services

    svc = services()
    if st.session_state.get(_LEAVING):
        st.title("Dollr Ops Console")
        st.caption(st.session_state[_LEAVING])
        return
    ended = st.session_state.pop("signed_out_reason", None)
    if ended == "revoked":
        st.info("An admin ended your session. Please sign in again.")
    elif ended == "expired":
        st.info("Your session reached its time limit. Please sign in again.")
    elif ended == "signed_out":
        st.info("You signed out (in this or another tab). Sign in again to continue.")
    if st.session_state.pop("signed_out_idle", False):
        st.info("You were signed out after a period of inactivity. Please sign in again.")
    if st.session_state.pop("signed_out_changed", False):
        st.info(
            "You were signed out because your password was changed or an admin changed your account."
            " Please sign in again."
        )
    if st.session_state.pop("sign_in_expired", False):
        st.info("Signing in took too long. Please enter your password again.")
    pending = st.session_state.get(_PENDING)
    if pending is not None:
        _pending_step(svc, pending)
    elif _oidc_configured():
        _oidc_sign_in()
    elif users.count_users(svc.engine) == 0:
        _first_run(svc)
    else:
        _password_form(svc)


def sign_out(svc: Services) -> None:
    """A button callback: the page reruns by itself afterwards, signed out."""
    email = st.session_state.get(_EMAIL)
    if email:
        audit.record(svc.engine, email, "sign_out")
    server_session = st.session_state.get(_SERVER)
    if server_session is not None:
        sessions.end(svc.engine, server_session)
    _forget()
    if _oidc_configured():
        st.logout()
    elif server_session is not None:
        _send_browser_to(session_routes.CLOSE)  # drops the cookie (JavaScript cannot: HttpOnly)
        st.session_state[_LEAVING] = "Signing out…"
        token = _cookie_token()
        if token is not None:
            st.session_state[_ENDED_COOKIE] = sessions.hash_secret(token)


def _forget() -> None:
    ended = st.session_state.get(_ENDED_COOKIE)  # still ended: not asked about (or shown) again
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if ended is not None:
        st.session_state[_ENDED_COOKIE] = ended


def _remember(who: Actor, generation: int) -> None:
    st.session_state[_EMAIL] = who.email
    st.session_state[_GENERATION] = generation
    st.session_state[_SEEN] = time.time()
    st.session_state["actor"] = who


def _begin(email: str, role: Role, generation: int) -> None:
    """A password accepted: the steps still due (if any) come next, then the console."""
    _await_steps(email, role, generation)
    st.rerun()


def _await_steps(email: str, role: Role, generation: int, *, second_factor_done: bool = False) -> None:
    st.session_state[_PENDING] = {
        "email": email,
        "role": role.value,
        "generation": generation,
        "since": time.time(),
        "second_factor_done": second_factor_done,
    }


def _password_form(svc: Services) -> None:
    st.title("Dollr Ops Console")
    st.caption("Sign in to continue.")
    with st.form("sign_in"):
        # The tokens password managers look for to fill a sign-in (Streamlit's password default,
        # "new-password", makes them offer a new one instead).
        email = st.text_input("E-mail", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            signed = sign_in.sign_in(svc.engine, email, password, client=client_address())
        except sign_in.SignInError as exc:
            st.error(str(exc))
            return
        _begin(signed.email, signed.actor.role, signed.generation)


def _step_of(svc: Services, pending: dict[str, Any]) -> sign_in.Step | None:
    return sign_in.next_step(
        svc.engine,
        pending["email"],
        pending["generation"],
        second_factor_done=pending.get("second_factor_done", False),
        required_roles=svc.settings.require_two_factor_roles,
    )


def _pending_step(svc: Services, pending: dict[str, Any]) -> None:
    if pending.get("codes"):
        st.title("Two-factor sign-in is on")
        if recovery_codes(pending["codes"]):
            st.session_state[_PENDING] = {**pending, "codes": None}
            st.rerun()
        return
    try:
        step = _step_of(svc, pending)
    except sign_in.SignInError:  # disabled or changed in the instant since the gate looked
        _forget()
        st.rerun()
    if step is sign_in.Step.SECOND_FACTOR:
        _second_factor_form(svc, pending)
    elif step is sign_in.Step.NEW_PASSWORD:
        _new_password_form(svc, pending)
    elif step is sign_in.Step.ENROL:
        st.title("Set up two-factor sign-in")
        st.write(
            f"Your role ({role_name(pending['role'])}) signs in with a password **and** a code from an"
            " authenticator app on your phone. Set it up now to continue."
        )
        codes = two_factor_setup(svc, pending["email"])
        st.button("Cancel and sign out", key="pending_cancel", on_click=_forget)
        if codes:
            # The code that turned it on was the second factor of this sign-in.
            st.session_state[_PENDING] = {**pending, "codes": codes, "second_factor_done": True}
            st.rerun()


def _second_factor_form(svc: Services, pending: dict[str, Any]) -> None:
    st.title("Two-factor sign-in")
    st.write(f"Enter the six-digit code your authenticator app shows for **{plain(pending['email'])}**.")
    with st.form("second_factor"):
        typed = st.text_input(
            "Code from your authenticator app",
            autocomplete="one-time-code",
            help="Lost your phone? Enter one of your recovery codes here instead, or ask an admin.",
        )
        submitted = st.form_submit_button("Continue", type="primary")
    st.button("Cancel and sign out", key="pending_cancel", on_click=_forget)
    if not submitted:
        return
    try:
        sign_in.check_second_factor(
            svc.engine, pending["email"], pending["generation"], typed, client=client_address()
        )
    except sign_in.SignInError as exc:
        st.error(str(exc))
        return
    st.session_state[_PENDING] = {**pending, "second_factor_done": True}
    st.rerun()


def two_factor_setup(svc: Services, email: str) -> list[str] | None:
    """The enrolment: a QR code (and the key as text) for the app, then a code from it.

    Returns the recovery codes once two-factor sign-in is on. The new secret lives in this
    session only until then, so a rerun shows the same QR code.
    """
    key = f"enrolment:{email}"
    enrolment = st.session_state.get(key)
    if not isinstance(enrolment, two_factor.Enrolment):
        enrolment = st.session_state[key] = two_factor.new_enrolment(email)
    st.markdown(
        "1. Open an authenticator app on your phone (Google Authenticator, Microsoft Authenticator,"
        " 1Password, Authy, …) and add an account by scanning this QR code."
    )
    st.image(enrolment.qr_png(), width=220)
    st.caption("Cannot scan it? Type this key into the app instead (time-based, six digits):")
    st.code(enrolment.secret_in_groups, language=None)
    st.markdown("2. Enter the six-digit code the app now shows for *Dollr Ops Console*.")
    with st.form(f"enrol:{email}"):
        typed = st.text_input("Six-digit code", autocomplete="one-time-code", key=f"enrol_code:{email}")
        submitted = st.form_submit_button("Turn on two-factor sign-in", type="primary")
    if not submitted:
        return None
    try:
        codes = sign_in.enable_two_factor(svc.engine, email, enrolment.secret, typed)
    except users.UserError as exc:
        st.error(str(exc))
        return None
    del st.session_state[key]
    return codes


def recovery_codes(codes: list[str]) -> bool:
    """The new recovery codes, shown this once; True when the person says they kept them."""
    st.success(
        "Two-factor sign-in is on. Keep these ten recovery codes somewhere safe (a password"
        " manager, or printed): each signs you in once if you lose your phone. They are shown only now."
    )
    st.code("\n".join(codes), language=None)
    return st.button("I have saved my recovery codes, continue", type="primary", key="codes_saved")


def _new_password_form(svc: Services, pending: dict[str, Any]) -> None:
    st.title("Choose your own password")
    st.write(
        f"You signed in as **{plain(pending['email'])}** with a temporary password from an admin."
        " Choose a password of your own to continue."
    )
    st.caption(users.PASSWORD_POLICY)
    with st.form("new_password"):
        new = st.text_input("New password", type="password", autocomplete="new-password")
        again = st.text_input("New password again", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Save and continue", type="primary")
    st.button("Cancel and sign out", key="pending_cancel", on_click=_forget)
    if not submitted:
        return
    if new != again:
        st.error("The two new passwords differ; type the same password in both fields.")
        return
    try:
        generation = passwords.replace_temporary_password(
            svc.engine, pending["email"], pending["generation"], new
        )
    except sign_in.SignInError as exc:
        _forget()
        st.error(str(exc))
        return
    except users.UserError as exc:
        st.error(str(exc))
        return
    st.session_state[_PENDING] = {**pending, "generation": generation}
    st.rerun()


def this_session() -> int | None:
    """The ledger session of this browser's cookie (None without one)."""
    found = st.session_state.get(_SERVER)
    return found if isinstance(found, int) else None


def keep_session(generation: int) -> None:
    """This session made a password change: it stays signed in, the others end."""
    from .context import services

    st.session_state[_GENERATION] = generation
    server_session = st.session_state.get(_SERVER)
    if server_session is not None:
        sessions.keep(services().engine, server_session, generation)


def client_address() -> str:
    """Who is knocking, for the sign-in throttle: behind the reverse proxy (docs/deploy.md) the
    last X-Forwarded-For entry, the one the proxy itself wrote; without one, the peer's address."""
    forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
    return forwarded or st.context.ip_address or "local"


def _oidc_sign_in() -> None:
    st.title("Dollr Ops Console")
    refused = st.session_state.pop("oidc_refused", None)
    if refused:
        st.error(refused)
        st.button("Sign out", on_click=st.logout)
        return
    st.button("Sign in with your company account", type="primary", on_click=st.login)


def _first_run(svc: Services) -> None:
    st.title("Welcome to the Dollr Ops Console")
    command = "python -m dollr_core users add --email you@company.com --role admin"
    if svc.settings.is_live:
        st.warning("No console user exists yet. Create the first admin on the server, then reload this page:")
        st.code(command, language="bash")
        return
    st.write(
        "This console runs on the **sandbox**: pretend money, nothing real moves. "
        "Create the first admin to begin (on a live install this is done on the server with "
        f"`{command}`)."
    )
    with st.form("first_admin"):
        email = st.text_input("Your e-mail")
        password = st.text_input("Choose a password (10 characters or more)", type="password")
        demo = st.checkbox(
            "Also create a demo team with the same password: operator@, finance@ and manager@ at your domain",
            value=True,
        )
        submitted = st.form_submit_button("Create and sign in", type="primary")
    if not submitted:
        return
    try:
        admin = users.add_user(svc.engine, email=email, role=Role.ADMIN, password=password, name="Admin")
        if demo:
            domain = admin.email.split("@", 1)[1]
            for role in (Role.OPERATOR, Role.FINANCE, Role.MANAGER):
                users.add_user(
                    svc.engine,
                    email=f"{role.value}@{domain}",
                    role=role,
                    password=password,
                    by=Actor(admin.email, Role.ADMIN),
                )
        # Signed in as anyone else is: with the password just chosen, so the sign-in is on record.
        signed = sign_in.sign_in(svc.engine, admin.email, password, client=client_address())
    except (users.UserError, sign_in.SignInError) as exc:
        show_error(exc)
        return
    _begin(signed.email, Role.ADMIN, signed.generation)
