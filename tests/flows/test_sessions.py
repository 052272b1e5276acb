"""Console sessions (the cookie that keeps a browser signed in): only hashes in the ledger, a
one-time ticket, the idle timeout and the absolute lifetime, and the end of a session on sign-out,
an admin's revoke, a disabled account, a new role and a new password — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.services import Services
from dollr_core.team import passwords, sessions, sign_in, users

PASSWORD = "correct horse battery"
NEW = "purple elephant dances"
OLIVIA = Actor("olivia.operator@example.com", Role.OPERATOR)
ADA = Actor("ada.admin@example.com", Role.ADMIN)
LIMITS = sessions.Limits(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))


@pytest.fixture
def team(services: Services) -> Services:
    users.add_user(services.engine, email=OLIVIA.email, role=Role.OPERATOR, password=PASSWORD)
    users.add_user(services.engine, email=ADA.email, role=Role.ADMIN, password=PASSWORD)
    return services


def _open(svc: Services, who: Actor = OLIVIA, now: datetime | None = None) -> str:
    generation = sign_in.sign_in(
        svc.engine, who.email, PASSWORD, client="tester", sleep=lambda _s: None
    ).generation
    ticket = sessions.start(svc.engine, who, generation, client="127.0.0.1 · Chromium", now=now)
    token = sessions.redeem(svc.engine, ticket, now=now)
    assert token is not None
    return token


def _live(svc: Services, token: str, now: datetime | None = None) -> sessions.Live:
    state = sessions.check(svc.engine, token, LIMITS, now=now)
    assert isinstance(state, sessions.Live), state
    return state


def _ended(svc: Services, token: str, now: datetime | None = None) -> str:
    state = sessions.check(svc.engine, token, LIMITS, now=now)
    assert isinstance(state, sessions.Ended), state
    return state.reason


def test_only_hashes_are_stored_and_a_ticket_works_once(team: Services) -> None:
    generation = sign_in.sign_in(
        team.engine, OLIVIA.email, PASSWORD, client="t", sleep=lambda _s: None
    ).generation
    ticket = sessions.start(team.engine, OLIVIA, generation, client="127.0.0.1 · Chromium")
    token = sessions.redeem(team.engine, ticket)
    assert token is not None and token != ticket and len(token) >= 40
    assert sessions.redeem(team.engine, ticket) is None  # used: a copied address signs no one in
    with team.engine.connect() as conn:
        rows = [tuple(str(v) for v in row) for row in conn.execute(text("SELECT * FROM console_session"))]
        stored = conn.execute(text("SELECT token_hash, ticket_hash FROM console_session")).one()
    assert not any(token in value or ticket in value for row in rows for value in row)
    assert stored == (sessions.hash_secret(token), None)
    assert _live(team, token).actor == OLIVIA
    assert _ended(team, "a made-up token") == "unknown"


def test_a_ticket_left_too_long_is_refused(team: Services) -> None:
    start = utcnow()
    ticket = sessions.start(team.engine, OLIVIA, 0, client="t", now=start)
    assert (
        sessions.redeem(team.engine, ticket, now=start + sessions.TICKET_LIFETIME + timedelta(seconds=1))
        is None
    )


def test_idle_and_absolute_lifetime(team: Services) -> None:
    start = utcnow()
    idle = _open(team, now=start)
    assert _live(team, idle, now=start + timedelta(minutes=29)).id
    # Seen at minute 29: still signed in at minute 58, not after 30 minutes without a run.
    assert _live(team, idle, now=start + timedelta(minutes=58)).id
    state = sessions.check(team.engine, idle, LIMITS, now=start + timedelta(minutes=89))
    assert isinstance(state, sessions.Ended) and state.reason == "idle" and state.just_now
    state = sessions.check(team.engine, idle, LIMITS, now=start + timedelta(minutes=90))
    assert isinstance(state, sessions.Ended) and not state.just_now  # audited once, by one tab

    busy = _open(team, now=start)
    moment = start
    while moment < start + LIMITS.lifetime:
        assert _live(team, busy, now=moment).actor == OLIVIA
        moment += timedelta(minutes=20)
    assert _ended(team, busy, now=moment) == "expired"


def test_sign_out_and_an_admins_revoke_end_the_session(team: Services) -> None:
    signed_out, revoked = _open(team), _open(team)
    sessions.end(team.engine, _live(team, signed_out).id)
    assert _ended(team, signed_out) == "signed_out"

    listed = sessions.list_live(team.engine, LIMITS, by=ADA)
    assert [s.email for s in listed] == [OLIVIA.email]
    assert listed[0].client == "127.0.0.1 · Chromium"
    with pytest.raises(AccessDenied):
        sessions.list_live(team.engine, LIMITS, by=OLIVIA)
    with pytest.raises(AccessDenied):
        sessions.revoke(team.engine, listed[0].id, by=OLIVIA)
    sessions.revoke(team.engine, listed[0].id, by=ADA)
    assert _ended(team, revoked) == "revoked"
    assert sessions.list_live(team.engine, LIMITS, by=ADA) == []
    record = audit.search(team.engine, audit.AuditFilter(action="session_revoked"), limit=1)[0]
    assert (record.actor, record.action, record.target) == (ADA.email, "session_revoked", OLIVIA.email)


@pytest.mark.parametrize("change", ["disable", "role", "reset_password", "own_password"])
def test_an_account_change_ends_the_session(team: Services, change: str) -> None:
    token = _open(team)
    if change == "disable":
        users.set_active(team.engine, OLIVIA.email, False, by=ADA)
    elif change == "role":
        users.set_role(team.engine, OLIVIA.email, Role.FINANCE, by=ADA)
    elif change == "reset_password":
        passwords.reset_password(team.engine, OLIVIA.email, by=ADA)
    else:
        passwords.change_own_password(
            team.engine, OLIVIA.email, PASSWORD, NEW, client="t", sleep=lambda _s: None
        )
    assert _ended(team, token) == "changed"
    assert sessions.list_live(team.engine, LIMITS, by=ADA) == []


def test_the_session_that_changed_the_password_stays(team: Services) -> None:
    mine, other_browser = _open(team), _open(team)
    generation = passwords.change_own_password(
        team.engine, OLIVIA.email, PASSWORD, NEW, client="t", sleep=lambda _s: None
    )
    sessions.keep(team.engine, _live_id(team, mine), generation)
    assert _live(team, mine).generation == generation
    assert _ended(team, other_browser) == "changed"


def _live_id(svc: Services, token: str) -> int:
    """The session's id as the console knows it (read before the change, as the page does)."""
    with svc.engine.connect() as conn:
        found: int = conn.execute(
            text("SELECT id FROM console_session WHERE token_hash = :h"), {"h": sessions.hash_secret(token)}
        ).scalar_one()
    return found
