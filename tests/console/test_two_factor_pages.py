"""Two-factor sign-in through the whole app: a required role enrols right after the password and
sees the console only afterwards, later sign-ins ask for a code, and an admin's reset."""

from __future__ import annotations

import time
from collections.abc import Callable

import pyotp
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Role
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import sign_in, users

from .conftest import PASSWORD

ADMIN = "admin@example.com"


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run()


def _password(at: AppTest, email: str) -> AppTest:
    at.text_input[0].input(email)
    at.text_input[1].input(PASSWORD)
    return _click(at, "Sign in")


def _enrol(at: AppTest, email: str) -> list[str]:
    secret = at.session_state[f"enrolment:{email}"].secret
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in [c.value for c in at.code]
    at.text_input(key=f"enrol_code:{email}").input(pyotp.TOTP(secret).now())
    _click(at, "Turn on two-factor sign-in")
    assert not at.exception
    codes: list[str] = at.code[0].value.splitlines()
    return codes


def test_an_admin_enrols_before_reaching_the_console(app: Callable[..., AppTest], console: Services) -> None:
    users.add_user(console.engine, email=ADMIN, role=Role.ADMIN, password=PASSWORD)
    at = _password(app().run(), ADMIN)
    assert at.title[0].value == "Set up two-factor sign-in"
    assert "signed_in_email" not in at.session_state and "actor" not in at.session_state
    at.run()  # a rerun (a reload, another click) does not get past it either
    assert at.title[0].value == "Set up two-factor sign-in" and "actor" not in at.session_state

    at.text_input(key=f"enrol_code:{ADMIN}").input("123456")
    _click(at, "Turn on two-factor sign-in")
    assert "does not match" in at.error[0].value

    codes = _enrol(at, ADMIN)
    assert len(codes) == 10
    assert "shown only now" in at.success[0].value
    assert "signed_in_email" not in at.session_state  # the codes come first
    _click(at, "I have saved my recovery codes, continue")
    assert at.session_state["signed_in_email"] == ADMIN

    later = _password(app().run(), ADMIN)
    assert later.title[0].value == "Two-factor sign-in"
    assert later.text_input[0].autocomplete == "one-time-code"
    later.text_input[0].input("000000")
    _click(later, "Continue")
    assert later.error[0].value == sign_in.WRONG_CODE
    later.text_input[0].input(codes[3])
    _click(later, "Continue")
    assert later.session_state["signed_in_email"] == ADMIN


def test_others_may_turn_it_on_from_their_account(page: Callable[..., AppTest], console: Services) -> None:
    users.add_user(console.engine, email="operator@example.com", role=Role.OPERATOR, password=PASSWORD)
    at = page("pages/account.py", role=Role.OPERATOR).run()
    at.toggle(key="account:setup").set_value(True).run()
    codes = _enrol(at, "operator@example.com")
    assert len(codes) == 10
    _click(at, "I have saved my recovery codes, continue")
    assert "10** unused recovery code(s)" in "".join(m.value for m in at.markdown)
    user = users.get_user(console.engine, "operator@example.com")
    assert user is not None and user.totp_secret


def test_an_admin_resets_someones_two_factor(page: Callable[..., AppTest], console: Services) -> None:
    users.add_user(console.engine, email=ADMIN, role=Role.ADMIN, password=PASSWORD)
    users.add_user(console.engine, email="manager@example.com", role=Role.MANAGER, password=PASSWORD)
    secret = pyotp.random_base32()
    sign_in.enable_two_factor(console.engine, "manager@example.com", secret, pyotp.TOTP(secret).now())
    at = page("pages/users.py", role=Role.ADMIN).run()
    assert [row for row in at.dataframe[0].value.to_dict("records") if row["Two-factor"] == "on"]
    at.selectbox(key="change_email").select("manager@example.com")
    _click(at, "Reset two-factor")
    assert not at.exception
    assert "two-factor sign-in is off" in at.success[0].value
    [reset] = audit.search(console.engine, audit.AuditFilter(action="two_factor_reset"))
    assert (reset.actor, reset.target) == (ADMIN, "manager@example.com")


def test_a_session_made_manager_is_sent_to_enrolment(app: Callable[..., AppTest], console: Services) -> None:
    """Signed in as an operator, then made manager (or signed in before the setting): the next
    run asks for enrolment instead of opening a page."""
    users.add_user(console.engine, email="olivia@example.com", role=Role.OPERATOR, password=PASSWORD)
    users.set_role(console.engine, "olivia@example.com", Role.MANAGER, by=None)
    at = app()
    at.session_state["signed_in_email"] = "olivia@example.com"
    at.session_state["last_active"] = time.time()
    at.run()
    assert not at.exception
    assert at.title[0].value == "Set up two-factor sign-in"
    assert "actor" not in at.session_state and "signed_in_email" not in at.session_state
    codes = _enrol(at, "olivia@example.com")
    _click(at, "I have saved my recovery codes, continue")
    assert len(codes) == 10 and at.session_state["signed_in_email"] == "olivia@example.com"
