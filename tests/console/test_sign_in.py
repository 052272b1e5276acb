"""Sign-in, first run, lock-out and role-based navigation, through the whole app."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Role
from dollr_core.basics.words import time_said
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import sign_in, users

from .conftest import PASSWORD


def _sign_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input[0].input(email)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def test_first_run_creates_admin_and_demo_team(app: Callable[..., AppTest], console: Services) -> None:
    at = app().run()
    assert "Welcome" in at.title[0].value
    at.text_input[0].input("boss@example.com")
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception
    emails = {u.email: u.role for u in users.list_users(console.engine)}
    assert emails == {
        "boss@example.com": "admin",
        "operator@example.com": "operator",
        "finance@example.com": "finance",
        "manager@example.com": "manager",
    }
    # An admin: two-factor sign-in is set up before the console opens (DOLLR_REQUIRE_TWO_FACTOR_ROLES).
    assert at.title[0].value == "Set up two-factor sign-in"
    assert at.session_state["sign_in_pending"]["email"] == "boss@example.com"
    # Signed in as anyone is: on record, so the Users page does not say "never" for them.
    boss = users.get_user(console.engine, "boss@example.com")
    assert boss is not None and boss.last_sign_in_at is not None


def test_a_person_just_signed_in_sees_their_previous_sign_in(
    page: Callable[..., AppTest], console: Services
) -> None:
    users.add_user(console.engine, email="admin@example.com", role=Role.ADMIN, password=PASSWORD)
    sign_in.sign_in(console.engine, "admin@example.com", PASSWORD)
    at = page("pages/users.py", role=Role.ADMIN).run()
    assert not at.exception
    assert "This is your first sign-in to this console." in [c.value for c in at.caption]
    [me] = [row for row in at.dataframe[0].value.to_dict("records") if row["E-mail"] == "admin@example.com"]
    [last_sign_in] = [value for heading, value in me.items() if heading.startswith("Last sign-in")]
    assert last_sign_in != "never"

    first = sign_in.previous_sign_in(console.engine, "admin@example.com")
    assert first is None
    sign_in.sign_in(console.engine, "admin@example.com", PASSWORD)  # the next day, say
    before = audit.search(console.engine, audit.AuditFilter(action="sign_in"))[-1].at
    for where in ("pages/users.py", "pages/account.py"):
        at = page(where, role=Role.ADMIN).run()
        said = time_said(before, console.settings.time_zone)
        assert f"Your previous sign-in: {said}." in [c.value for c in at.caption]


def test_a_company_sign_in_is_on_record(console: Services) -> None:
    users.add_user(console.engine, email="sso@example.com", role=Role.MANAGER, password=None)
    sign_in.actor_for_oidc(console.engine, "sso@example.com")
    signed = users.get_user(console.engine, "sso@example.com")
    assert signed is not None and signed.last_sign_in_at is not None
    assert sign_in.previous_sign_in(console.engine, "sso@example.com") is None


def test_wrong_password_is_refused_and_audited(app: Callable[..., AppTest], console: Services) -> None:
    users.add_user(console.engine, email="op@example.com", role=Role.OPERATOR, password=PASSWORD)
    at = _sign_in(app().run(), "op@example.com", "wrong password!")
    assert at.error and "do not match" in at.error[0].value
    assert "signed_in_email" not in at.session_state
    at = _sign_in(at, "op@example.com", PASSWORD)
    assert at.session_state["signed_in_email"] == "op@example.com"
    assert not at.exception


def test_sign_out_ends_the_session(app: Callable[..., AppTest], console: Services) -> None:
    users.add_user(console.engine, email="op@example.com", role=Role.OPERATOR, password=PASSWORD)
    at = _sign_in(app().run(), "op@example.com", PASSWORD)
    assert at.session_state["signed_in_email"] == "op@example.com"
    at.sidebar.button(key="sign_out").click()
    at.run()
    assert "signed_in_email" not in at.session_state
    assert "actor" not in at.session_state
    # (AppTest keeps asking for the page that was open, so the sign-in screen itself is checked
    # in the browser tests.)
    records = audit.search(console.engine, audit.AuditFilter(action="sign_out"))
    assert [r.actor for r in records] == ["op@example.com"]


def test_company_sign_in_is_offered_when_configured(app: Callable[..., AppTest], console: Services) -> None:
    at = app()
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-string-for-tests",
        "client_id": "console",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
    }
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with your company account"]
    assert "signed_in_email" not in at.session_state
