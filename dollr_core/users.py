"""Console users: password sign-in with slow-down and lock-out, roles, and OpenID Connect mapping.

Every change is written to the audit trail, sign-ins that fail included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import bcrypt
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from dollr_core import audit
from dollr_core.access import Actor, Permission, Role, require
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import ConsoleUser

#: Failed sign-ins before the account locks, and for how long.
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
    value = email.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value or len(value) > 254:
        raise UserError("Enter a valid e-mail address.")
    return value


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
    return _change(engine, email, by, "user_unlocked", None, failed_sign_ins=0, locked_until=None)


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


def sign_in(
    engine: Engine, email: str, password: str, *, sleep: Callable[[float], None] = time.sleep
) -> Actor:
    """Check a password. Each failure in a row waits longer; the fifth locks the account a while."""
    try:
        address = normalize_email(email)
    except UserError:
        address = email.strip().lower()[:254]
    now = utcnow()
    with Session(engine) as db:
        user = db.exec(select(ConsoleUser).where(ConsoleUser.email == address).with_for_update()).first()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            db.rollback()
            audit.record(engine, address, "sign_in", outcome="locked")
            raise SignInError(
                f"Too many failed sign-ins: this account is locked for about {minutes} more minute(s)."
            )
        stored = user.password_hash.encode() if user is not None and user.password_hash else _DUMMY_HASH
        matches = bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], stored)
        if user is not None and matches and user.is_active and user.password_hash:
            user.failed_sign_ins = 0
            user.locked_until = None
            user.last_sign_in_at = now
            db.add(user)
            db.commit()
            audit.record(engine, address, "sign_in", outcome="ok")
            return Actor(address, Role(user.role))
        failures = 0
        if user is not None:
            user.failed_sign_ins += 1
            failures = user.failed_sign_ins
            if failures >= LOCK_AFTER:
                user.locked_until = now + LOCK_FOR
            db.add(user)
            db.commit()
    audit.record(engine, address, "sign_in", outcome="failed", detail=f"failures in a row: {failures}")
    if failures:
        sleep(min(0.5 * 2 ** (failures - 1), 8.0))
    if failures >= LOCK_AFTER:
        raise SignInError("Too many failed sign-ins: this account is now locked for 15 minutes.")
    raise SignInError("That e-mail and password do not match an active console user.")


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
