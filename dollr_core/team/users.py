"""Console users: the accounts, their roles and the password policy. Every change is audited.

Signing in is in `team.sign_in`, changing a password in `team.passwords`.
"""

from __future__ import annotations

import bcrypt
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, Role, require
from dollr_core.basics.validation import email_address, text_problem
from dollr_core.errors import InputRefused
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import ConsoleUser

MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
#: What every password form states, and what `check_password` enforces.
PASSWORD_POLICY = (
    f"At least {MIN_PASSWORD} characters and at most {MAX_PASSWORD_BYTES} bytes, not your e-mail address."
    " A few unrelated words make a password that is long, easy to remember and hard to guess."
)


class UserError(InputRefused):
    """A user change that cannot be made; the message says why."""


def hash_password(password: str, *, email: str = "") -> str:
    check_password(password, email=email)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def check_password(password: str, *, email: str = "") -> None:
    """The password policy (PASSWORD_POLICY says it in words)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"The password must have at least {MIN_PASSWORD} characters.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise UserError(f"The password must be at most {MAX_PASSWORD_BYTES} bytes long.")
    if email and password.strip().lower() == email.strip().lower():
        raise UserError("The password must not be your e-mail address.")


_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=12))


def password_is(password: str, password_hash: str | None) -> bool:
    """Whether `password` is the one hashed; with no hash, one dummy hash is checked all the same,
    so an unknown e-mail costs what a known one does."""
    stored = password_hash.encode() if password_hash else _DUMMY_HASH
    return bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], stored) and bool(password_hash)


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
        password_hash=hash_password(password, email=address) if password else None,
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


def current_actor(engine: Engine, email: str, generation: int | None = None) -> Actor | None:
    """Re-read the user on every page run, so a disabled user or a new role takes effect at once.

    With a generation (a console session's), a session older than the user's last password
    change is no longer valid: the other tabs are signed out at their next run.
    """
    user = get_user(engine, email)
    if user is None or not user.is_active:
        return None
    if generation is not None and user.session_generation != generation:
        return None
    return Actor(user.email, Role(user.role))
