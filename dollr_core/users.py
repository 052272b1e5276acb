"""Console users: password sign-in with slow-down and lock-out, roles, and OpenID Connect mapping.

Every change is written to the audit trail, sign-ins that fail included.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

import bcrypt
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from dollr_core import audit
from dollr_core.access import Actor, Permission, Role, require
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import AuditRecord, ConsoleUser
from dollr_core.validation import email_address, printable, text_problem

#: Failed sign-ins in a row before the e-mail locks, and for how long.
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further


class SignInError(Exception):
    """Sign-in refused; the message never says whether the e-mail exists."""


class UserError(ValueError):
    """A user change that cannot be made; the message says why."""


def hash_password(password: str) -> str:
    check_password(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"The password must have at least {MIN_PASSWORD} characters.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise UserError(f"The password must be at most {MAX_PASSWORD_BYTES} bytes long.")


_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=12))


def normalize_email(email: str) -> str:
    """The address as stored (lower case), checked by `validation.email_address`."""
    try:
        return email_address(email)
    except ValueError:
        raise UserError("Enter a valid e-mail address.") from None


def count_users(engine: Engine) -> int:
    with Session(engine) as db:
        return int(db.exec(select(func.count()).select_from(ConsoleUser)).one())


def get_user(engine: Engine, email: str) -> ConsoleUser | None:
    with Session(engine) as db:
        return db.exec(select(ConsoleUser).where(ConsoleUser.email == email.strip().lower())).first()


def list_users(engine: Engine) -> list[ConsoleUser]:
    with Session(engine) as db:
        return list(db.exec(select(ConsoleUser).order_by(col(ConsoleUser.email))).all())


def add_user(
    engine: Engine,
    *,
    email: str,
    role: Role,
    password: str | None,
    name: str = "",
    by: Actor | None = None,
) -> ConsoleUser:
    """Create a user: by an admin in the console, or with no actor from the server's command line."""
    if by is not None:
        require(by, Permission.MANAGE_USERS)
    address = normalize_email(email)
    if problem := text_problem(name.strip(), "name", max_length=200):
        raise UserError(problem)
    if get_user(engine, address) is not None:
        raise UserError(f"A user with the e-mail {address} already exists.")
    user = ConsoleUser(
        email=address,
        name=name.strip(),
        role=Role(role),
        password_hash=hash_password(password) if password else None,
        created_by=by.email if by else "command line",
    )
    with Session(engine) as db:
        db.add(user)
        db.commit()
        db.refresh(user)
    audit.record(
        engine, by.email if by else "command line", "user_added", target=address, detail=f"role={role}"
    )
    return user


def set_role(engine: Engine, email: str, role: Role, *, by: Actor | None) -> ConsoleUser:
    if by is not None:
        require(by, Permission.MANAGE_USERS)
        if by.email == normalize_email(email):
            raise UserError("You cannot change your own role; ask another admin.")
    return _change(engine, email, by, "role_changed", f"role={role}", role=Role(role))


def set_active(engine: Engine, email: str, active: bool, *, by: Actor | None) -> ConsoleUser:
    if by is not None:
        require(by, Permission.MANAGE_USERS)
        if by.email == normalize_email(email) and not active:
            raise UserError("You cannot disable yourself.")
    return _change(engine, email, by, "user_enabled" if active else "user_disabled", None, is_active=active)


def unlock(engine: Engine, email: str, *, by: Actor | None) -> ConsoleUser:
    if by is not None:
        require(by, Permission.MANAGE_USERS)
    # The audit record is the unlock: failures are counted from the newest one (_failures_in_a_row).
    return _change(engine, email, by, "user_unlocked", None)


def set_password(engine: Engine, email: str, password: str, *, by: Actor | None) -> ConsoleUser:
    if by is not None and by.email != normalize_email(email):
        require(by, Permission.MANAGE_USERS)
    return _change(engine, email, by, "password_changed", None, password_hash=hash_password(password))


def _change(
    engine: Engine, email: str, by: Actor | None, action: str, detail: str | None, **fields: object
) -> ConsoleUser:
    address = normalize_email(email)
    with Session(engine) as db:
        user = db.exec(select(ConsoleUser).where(ConsoleUser.email == address)).first()
        if user is None:
            raise UserError(f"No user with the e-mail {address}.")
        for name, value in fields.items():
            setattr(user, name, value)
        user.updated_at = utcnow()
        db.add(user)
        db.commit()
        db.refresh(user)
    audit.record(engine, by.email if by else "command line", action, target=address, detail=detail)
    return user


#: Sign-in attempts one client (an IP address) may make in a window, before any e-mail is looked at.
CLIENT_ATTEMPTS = 30
CLIENT_WINDOW = timedelta(minutes=1)
WRONG = "That e-mail and password do not match an active console user."


class _ClientThrottle:
    """Attempts per client in a sliding window, in this process (a flood never reaches the ledger)."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit, self.window = limit, window.total_seconds()
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float) -> bool:
        with self._lock:
            for key in [k for k, times in self._seen.items() if times[-1] <= now - self.window]:
                del self._seen[key]  # forget quiet clients, so the table stays small
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


client_throttle = _ClientThrottle(CLIENT_ATTEMPTS, CLIENT_WINDOW)
# One check at a time per e-mail in this process, so parallel tabs cannot slip past the lock-out.
_EMAIL_LOCKS = tuple(threading.Lock() for _ in range(64))


def sign_in(
    engine: Engine,
    email: str,
    password: str,
    *,
    client: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> Actor:
    """Check a password. Each failure in a row waits longer; the fifth locks the e-mail a while.

    Every failure looks and costs the same whether or not the e-mail has an account: one password
    hash checked, one audit record, one message, the same lock-out. The hash is checked outside
    any transaction, so sign-ins never hold the ledger while a payout wants to write.
    """
    if not client_throttle.allow(client or "unknown client", time.monotonic()):
        raise SignInError("Too many sign-in attempts from this device; wait a minute and try again.")
    try:
        address = normalize_email(email)
    except UserError:
        address = printable(email.strip().lower())[:254]  # recorded as typed, minus what cannot be stored
    with _EMAIL_LOCKS[zlib.crc32(address.encode()) % len(_EMAIL_LOCKS)]:
        now = utcnow()
        failures, last_failure = _failures_in_a_row(engine, address)
        if failures >= LOCK_AFTER and last_failure is not None and last_failure + LOCK_FOR > now:
            audit.record(engine, address, "sign_in", outcome="locked")
            minutes = max(1, int((last_failure + LOCK_FOR - now).total_seconds() // 60) + 1)
            raise SignInError(
                f"Too many failed sign-ins: this e-mail is locked for about {minutes} more minute(s)."
            )
        user = get_user(engine, address)
        stored = user.password_hash.encode() if user is not None and user.password_hash else _DUMMY_HASH
        matches = bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], stored)
        with Session(engine) as db:
            if user is not None and matches and user.is_active and user.password_hash:
                db.exec(update(ConsoleUser).where(col(ConsoleUser.id) == user.id).values(last_sign_in_at=now))
                audit.add(db, address, "sign_in", outcome="ok")
                db.commit()
                return Actor(address, Role(user.role))
            failures += 1
            audit.add(db, address, "sign_in", outcome="failed", detail=f"failures in a row: {failures}")
            db.commit()
    sleep(min(0.5 * 2 ** (failures - 1), 8.0))
    if failures >= LOCK_AFTER:
        raise SignInError("Too many failed sign-ins: this e-mail is now locked for 15 minutes.")
    raise SignInError(WRONG)


def _failures_in_a_row(engine: Engine, address: str) -> tuple[int, datetime | None]:
    """Failed sign-ins for this e-mail since its last success or unlock, and when the newest was.

    Read from the audit trail, which records every attempt for every e-mail typed: so an e-mail
    without an account is counted and locked exactly like one with, on every replica.
    """
    with Session(engine) as db:
        unlocked = db.exec(
            select(func.max(AuditRecord.id)).where(
                AuditRecord.action == "user_unlocked", AuditRecord.target == address
            )
        ).one()
        recent = db.exec(
            select(AuditRecord.outcome, AuditRecord.at)
            .where(
                AuditRecord.actor == address,
                AuditRecord.action == "sign_in",
                col(AuditRecord.outcome).in_(("ok", "failed")),
                col(AuditRecord.id) > (unlocked or 0),
            )
            .order_by(col(AuditRecord.id).desc())
            .limit(LOCK_AFTER)
        ).all()
    failures = 0
    for outcome, _at in recent:
        if outcome != "failed":
            break
        failures += 1
    return failures, recent[0][1] if failures else None


def locked_until(engine: Engine, email: str) -> datetime | None:
    """Until when sign-ins for this e-mail are refused, or None when they are not."""
    failures, last_failure = _failures_in_a_row(engine, email.strip().lower())
    if failures < LOCK_AFTER or last_failure is None or last_failure + LOCK_FOR <= utcnow():
        return None
    return last_failure + LOCK_FOR


def actor_for_oidc(engine: Engine, email: str | None) -> Actor:
    """An identity-provider sign-in maps to a role only through a user row an admin created."""
    if not email:
        raise SignInError("Your identity provider did not share an e-mail address.")
    user = get_user(engine, email)
    if user is None or not user.is_active:
        audit.record(engine, email, "sign_in_oidc", outcome="refused")
        raise SignInError(f"{email} has no console access; ask an admin to add you.")
    audit.record(engine, user.email, "sign_in_oidc", outcome="ok")
    return Actor(user.email, Role(user.role))


def current_actor(engine: Engine, email: str) -> Actor | None:
    """Re-read the user on every page run, so a disabled user or a new role takes effect at once."""
    user = get_user(engine, email)
    if user is None or not user.is_active:
        return None
    return Actor(user.email, Role(user.role))
