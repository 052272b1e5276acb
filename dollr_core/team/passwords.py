"""Changing a console user's password: an admin's temporary one, one's own, and replacing a
temporary one. Each ends the user's other sessions, audited in the same transaction.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, require
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import ConsoleUser
from dollr_core.team.sign_in import SignInError, attempt_secret, password_matches
from dollr_core.team.users import UserError, get_user, hash_password, normalize_email, password_is

#: Letters and digits nobody confuses when reading a temporary password aloud (no 0/O, 1/l/I).
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def reset_password(engine: Engine, email: str, *, by: Actor | None) -> str:
    """An admin (or the server's shell) gives someone a temporary password, returned to be shown once.

    It must be replaced at the next sign-in, and every session the user has open ends.
    """
    address = normalize_email(email)
    if by is not None:
        require(by, Permission.MANAGE_USERS)
        if by.email == address:
            raise UserError("To change your own password, use “Change your password” on Your account.")
    temporary = "-".join("".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(4))
    store_password(
        engine,
        address,
        hash_password(temporary),
        must_change=True,
        actor=by.email if by else "command line",
        action="password_reset",
        detail="temporary password, to be replaced at the next sign-in",
    )
    return temporary


def change_own_password(
    engine: Engine,
    email: str,
    current: str,
    new: str,
    *,
    client: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """A signed-in person changes their password; returns the session generation this session keeps.

    The current password is checked like a sign-in (throttled, slowed, counted towards the
    lock-out), so a session left open cannot be used to guess it. Other sessions end.
    """
    address = normalize_email(email)
    if new == current:
        raise UserError("The new password must differ from the current one.")
    new_hash = hash_password(new, email=address)  # before the checks: no transaction waits on bcrypt

    def store(db: Session, user: ConsoleUser) -> int:
        return new_password(db, user, new_hash, must_change=False, actor=address, action="password_changed")

    return attempt_secret(
        engine,
        address,
        client=client,
        sleep=sleep,
        matches=password_matches(current),
        succeed=store,
        what="current password on Your account",
        wrong="Your current password is not right.",
    )


def replace_temporary_password(engine: Engine, email: str, generation: int, new: str) -> int:
    """Right after signing in with a temporary password: the person chooses their own.

    Only for a user whose password must change, from the session that signed in with it.
    """
    address = normalize_email(email)
    user = get_user(engine, address)
    if user is None or not user.password_must_change or user.session_generation != generation:
        raise SignInError("Sign in again with your temporary password.")
    if password_is(new, user.password_hash):
        raise UserError("Choose a password of your own, not the temporary one.")
    new_hash = hash_password(new, email=address)
    with Session(engine) as db:
        # Claimed by the generation: a second tab replacing it at the same moment finds it gone.
        claimed = db.exec(
            update(ConsoleUser)
            .where(col(ConsoleUser.id) == user.id, col(ConsoleUser.session_generation) == generation)
            .values(password_must_change=False)
        )
        if claimed.rowcount != 1:
            raise SignInError("Sign in again with your temporary password.")
        changed = new_password(
            db,
            user,
            new_hash,
            must_change=False,
            actor=address,
            action="password_changed",
            detail="temporary password replaced",
        )
        db.commit()
    return changed


def store_password(
    engine: Engine,
    address: str,
    password_hash: str,
    *,
    must_change: bool,
    actor: str,
    action: str,
    detail: str,
) -> int:
    with Session(engine) as db:
        user = db.exec(select(ConsoleUser).where(ConsoleUser.email == address)).first()
        if user is None:
            raise UserError(f"No user with the e-mail {address}.")
        generation = new_password(
            db, user, password_hash, must_change=must_change, actor=actor, action=action, detail=detail
        )
        db.commit()
    return generation


def new_password(
    db: Session,
    user: ConsoleUser,
    password_hash: str,
    *,
    must_change: bool,
    actor: str,
    action: str,
    detail: str | None = None,
) -> int:
    """Store a password hash and end the user's other sessions, audited in the same transaction."""
    db.exec(
        update(ConsoleUser)
        .where(col(ConsoleUser.id) == user.id)
        .values(
            password_hash=password_hash,
            password_must_change=must_change,
            session_generation=col(ConsoleUser.session_generation) + 1,
            updated_at=utcnow(),
        )
    )
    audit.add(db, actor, action, target=user.email, detail=detail)
    generation = db.exec(select(ConsoleUser.session_generation).where(col(ConsoleUser.id) == user.id)).one()
    return int(generation)
