"""Console sessions that outlive a browser tab: a random token in an HttpOnly cookie, kept here only
as its SHA-256, ended by signing out, by going idle, by age, or by an admin, and by any change to the
person's account (disabled, new role, new password).

Signing in cannot set an HttpOnly cookie itself (the page's script runs over a websocket), so it
leaves a one-time ticket that a small HTTP route exchanges for the cookie (console/session_routes.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, Role, require
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import ConsoleSession, ConsoleUser

#: How long the ticket from a sign-in may wait for the browser to fetch its cookie.
TICKET_LIFETIME = timedelta(minutes=2)
#: last_seen is written at most this often (a page rerun is not worth a write each time).
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Limits:
    """The idle timeout and the absolute lifetime, from the settings."""

    idle: timedelta
    lifetime: timedelta

    @classmethod
    def of(cls, idle_minutes: int, lifetime_hours: int) -> Limits:
        return cls(timedelta(minutes=idle_minutes), timedelta(hours=lifetime_hours))


@dataclass(frozen=True)
class Live:
    """A valid session: who it signs in and under which password generation."""

    id: int
    actor: Actor
    generation: int


@dataclass(frozen=True)
class Ended:
    """Why a cookie no longer signs anyone in: "signed_out", "idle", "expired", "revoked",
    "changed" (account disabled, role or password changed) or "unknown"; just_now on the run that
    found it ended (so the idle sign-out is audited once, not by every tab)."""

    reason: str
    email: str = ""
    just_now: bool = False


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(engine: Engine, who: Actor, generation: int, *, client: str, now: datetime | None = None) -> str:
    """A password (and every step after it) accepted: a new session, and the one-time ticket that
    turns into its cookie."""
    now = now or utcnow()
    ticket = secrets.token_urlsafe(32)
    with Session(engine) as db:
        db.add(
            ConsoleSession(
                ticket_hash=hash_secret(ticket),
                ticket_expires_at=now + TICKET_LIFETIME,
                email=who.email,
                role=who.role.value,
                generation=generation,
                client=client[:300],
                created_at=now,
                last_seen_at=now,
            )
        )
        db.commit()
    return ticket


def redeem(engine: Engine, ticket: str, *, now: datetime | None = None) -> str | None:
    """The ticket, once, for the session's token (the cookie's value); None when it is unknown,
    used already or too old."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with Session(engine) as db:
        claimed = db.execute(
            update(ConsoleSession)
            .where(
                col(ConsoleSession.ticket_hash) == hash_secret(ticket),
                col(ConsoleSession.ticket_expires_at) > now,
                col(ConsoleSession.revoked_at).is_(None),
            )
            .values(token_hash=hash_secret(token), ticket_hash=None, ticket_expires_at=None)
        )
        db.commit()
    return token if claimed.rowcount == 1 else None  # type: ignore[attr-defined]


def check(engine: Engine, token: str, limits: Limits, *, now: datetime | None = None) -> Live | Ended:
    """On every page run: the session behind this cookie, still valid, or why it ended (it is then
    marked ended, so the admin's list shows only live ones)."""
    now = now or utcnow()
    with Session(engine) as db:
        row = db.exec(select(ConsoleSession).where(ConsoleSession.token_hash == hash_secret(token))).first()
        if row is None or row.id is None:
            return Ended("unknown")
        if row.revoked_at is not None:
            return Ended(row.revoked_reason or "revoked", row.email)
        user = db.exec(select(ConsoleUser).where(ConsoleUser.email == row.email)).first()
        reason = _end_reason(row, user, limits, now)
        if reason is not None:
            row.revoked_at, row.revoked_reason = now, reason
        elif now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        else:
            return Live(row.id, Actor(row.email, Role(row.role)), row.generation)
        db.add(row)
        db.commit()
        if reason is not None:
            return Ended(reason, row.email, just_now=True)
        return Live(row.id, Actor(row.email, Role(row.role)), row.generation)


def _end_reason(row: ConsoleSession, user: ConsoleUser | None, limits: Limits, now: datetime) -> str | None:
    if now - row.created_at >= limits.lifetime:
        return "expired"
    if now - row.last_seen_at > limits.idle:
        return "idle"
    if user is None or not user.is_active:
        return "changed"
    if user.role != row.role or user.session_generation != row.generation:
        return "changed"
    return None


def keep(engine: Engine, session_id: int, generation: int) -> None:
    """This session changed the password: it stays signed in under the new generation."""
    with Session(engine) as db:
        db.execute(
            update(ConsoleSession).where(col(ConsoleSession.id) == session_id).values(generation=generation)
        )
        db.commit()


def end(engine: Engine, session_id: int, reason: str = "signed_out", *, now: datetime | None = None) -> None:
    """Sign-out (or the console ending it): the cookie signs no one in any more, in any tab."""
    with Session(engine) as db:
        db.execute(
            update(ConsoleSession)
            .where(col(ConsoleSession.id) == session_id, col(ConsoleSession.revoked_at).is_(None))
            .values(revoked_at=now or utcnow(), revoked_reason=reason)
        )
        db.commit()


def revoke(engine: Engine, session_id: int, *, by: Actor) -> None:
    """An admin ends someone's session: that browser is signed out at its next page run."""
    require(by, Permission.MANAGE_USERS)
    with Session(engine) as db:
        row = db.get(ConsoleSession, session_id)
        email = row.email if row is not None else ""
    end(engine, session_id, "revoked")
    audit.record(engine, by.email, "session_revoked", target=email, detail=f"session={session_id}")


@dataclass(frozen=True)
class SessionInfo:
    """One line of the admin's list."""

    id: int
    email: str
    role: str
    since: datetime
    last_seen: datetime
    client: str


def list_live(engine: Engine, limits: Limits, *, by: Actor, now: datetime | None = None) -> list[SessionInfo]:
    """The sessions that would still sign someone in, newest activity first."""
    require(by, Permission.MANAGE_USERS)
    now = now or utcnow()
    with Session(engine) as db:
        rows = db.exec(
            select(ConsoleSession).where(
                col(ConsoleSession.revoked_at).is_(None), col(ConsoleSession.token_hash).is_not(None)
            )
        ).all()
        people = {u.email: u for u in db.exec(select(ConsoleUser)).all()}
    live = [
        SessionInfo(r.id, r.email, r.role, r.created_at, r.last_seen_at, r.client)
        for r in rows
        if r.id is not None and _end_reason(r, people.get(r.email), limits, now) is None
    ]
    return sorted(live, key=lambda s: s.last_seen, reverse=True)
