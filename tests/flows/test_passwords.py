"""Passwords: changing your own, an admin's reset to a temporary password, and the end of every
other session after either — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from dollr_core.__main__ import main
from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import passwords, sign_in, users

PASSWORD = "correct horse battery"
NEW = "purple elephant dances"
OLIVIA = "olivia.operator@example.com"
ADA = Actor("ada.admin@example.com", Role.ADMIN)


def _sign_in(svc: Services, email: str, password: str) -> sign_in.SignIn:
    return sign_in.sign_in(svc.engine, email, password, client="tester", sleep=lambda _s: None)


def _change(svc: Services, current: str, new: str) -> int:
    return passwords.change_own_password(
        svc.engine, OLIVIA, current, new, client="tester", sleep=lambda _s: None
    )


@pytest.fixture
def olivia(services: Services) -> sign_in.SignIn:
    users.add_user(services.engine, email=OLIVIA, role=Role.OPERATOR, password=PASSWORD)
    users.add_user(services.engine, email=ADA.email, role=Role.ADMIN, password=PASSWORD)
    return _sign_in(services, OLIVIA, PASSWORD)


def test_a_change_needs_the_current_password_and_ends_the_other_sessions(
    services: Services, olivia: sign_in.SignIn
) -> None:
    other_tab = _sign_in(services, OLIVIA, PASSWORD)
    with pytest.raises(sign_in.SignInError, match="current password is not right"):
        _change(services, "not my password", NEW)
    assert users.current_actor(services.engine, OLIVIA, olivia.generation) is not None  # nothing changed

    kept = _change(services, PASSWORD, NEW)
    assert kept != olivia.generation
    assert users.current_actor(services.engine, OLIVIA, kept) == olivia.actor  # the tab that changed it
    assert users.current_actor(services.engine, OLIVIA, other_tab.generation) is None  # every other tab
    with pytest.raises(sign_in.SignInError):
        _sign_in(services, OLIVIA, PASSWORD)
    assert _sign_in(services, OLIVIA, NEW).generation == kept
    [changed] = audit.search(services.engine, audit.AuditFilter(action="password_changed"))
    assert (changed.actor, changed.target) == (OLIVIA, OLIVIA)


def test_wrong_current_passwords_count_towards_the_lock_out(
    services: Services, olivia: sign_in.SignIn
) -> None:
    for _ in range(sign_in.LOCK_AFTER - 1):
        with pytest.raises(sign_in.SignInError, match="current password is not right"):
            _change(services, "not my password", NEW)
    with pytest.raises(sign_in.SignInError, match="now locked"):
        _change(services, "not my password", NEW)
    with pytest.raises(sign_in.SignInError, match="locked for about"):
        _change(services, PASSWORD, NEW)  # the right one too, while locked
    assert sign_in.locked_until(services.engine, OLIVIA) is not None


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("short one", "at least 10 characters"),
        (PASSWORD, "differ from the current one"),
        (OLIVIA.upper(), "not be your e-mail address"),
        ("é" * 40, "at most 72 bytes"),
    ],
)
def test_the_policy_is_enforced_before_anything_is_checked(
    services: Services, olivia: sign_in.SignIn, new: str, problem: str
) -> None:
    with pytest.raises(users.UserError, match=problem):
        _change(services, PASSWORD, new)
    assert users.current_actor(services.engine, OLIVIA, olivia.generation) is not None
    assert audit.search(services.engine, audit.AuditFilter(action="password_changed")) == []


def test_an_admin_reset_gives_a_temporary_password_that_must_be_replaced(
    services: Services, olivia: sign_in.SignIn
) -> None:
    temporary = passwords.reset_password(services.engine, OLIVIA, by=ADA)
    assert len(temporary) >= users.MIN_PASSWORD
    assert users.current_actor(services.engine, OLIVIA, olivia.generation) is None  # signed out
    with pytest.raises(sign_in.SignInError):
        _sign_in(services, OLIVIA, PASSWORD)
    signed = _sign_in(services, OLIVIA, temporary)
    assert sign_in.next_step(services.engine, OLIVIA, signed.generation) is sign_in.Step.NEW_PASSWORD
    with pytest.raises(users.UserError, match="not the temporary one"):
        passwords.replace_temporary_password(services.engine, OLIVIA, signed.generation, temporary)
    kept = passwords.replace_temporary_password(services.engine, OLIVIA, signed.generation, NEW)
    assert sign_in.next_step(services.engine, OLIVIA, kept) is None
    with pytest.raises(sign_in.SignInError, match="Sign in again"):  # a second go (another tab) is refused
        passwords.replace_temporary_password(
            services.engine, OLIVIA, signed.generation, "another new password"
        )
    assert _sign_in(services, OLIVIA, NEW).email == OLIVIA
    trail = [
        (r.actor, r.action, r.target)
        for r in audit.search(services.engine, audit.AuditFilter())
        if r.action.startswith("password")
    ]
    assert sorted(trail) == [(ADA.email, "password_reset", OLIVIA), (OLIVIA, "password_changed", OLIVIA)]


def test_only_an_admin_resets_and_not_their_own(services: Services, olivia: sign_in.SignIn) -> None:
    with pytest.raises(AccessDenied):
        passwords.reset_password(services.engine, ADA.email, by=olivia.actor)
    with pytest.raises(users.UserError, match="Change your password"):
        passwords.reset_password(services.engine, ADA.email, by=ADA)
    with pytest.raises(users.UserError, match="No user"):
        passwords.reset_password(services.engine, "nobody@example.com", by=ADA)
    assert audit.search(services.engine, audit.AuditFilter(action="password_reset")) == []


def test_reset_from_the_servers_shell(
    services: Services,
    olivia: sign_in.SignIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOLLR_DATABASE_URL", str(services.engine.url.render_as_string(hide_password=False)))
    assert main(["users", "reset-password", "--email", OLIVIA]) == 0
    temporary = capsys.readouterr().out.splitlines()[-1]
    signed = _sign_in(services, OLIVIA, temporary)
    assert sign_in.next_step(services.engine, OLIVIA, signed.generation) is sign_in.Step.NEW_PASSWORD
    [reset] = audit.search(services.engine, audit.AuditFilter(action="password_reset"))
    assert (reset.actor, reset.target) == ("command line", OLIVIA)
    assert main(["users", "reset-password", "--email", "nobody@example.com"]) == 1
