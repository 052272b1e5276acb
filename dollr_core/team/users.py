"""Console users: password sign-in with slow-down and lock-out, roles, and OpenID Connect mapping.

Every change is written to the audit trail, sign-ins that fail included.
"""

from __future__ import annotations

import secrets
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import bcrypt
from sqlalchemy import Engine, delete, func, or_, update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, Role, require
from dollr_core.basics.validation import email_address, printable, text_problem
from dollr_core.errors import InputRefused, NotAllowed
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import AuditRecord, ConsoleUser, RecoveryCode
from dollr_core.team import two_factor

#: Failed sign-ins in a row before the e-mail locks, and for how long.
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
#: What every password form states, and what `check_password` enforces.
PASSWORD_POLICY = (
    f"At least {MIN_PASSWORD} characters and at most {MAX_PASSWORD_BYTES} bytes, not your e-mail address."
    " A few unrelated words make a password that is long, easy to remember and hard to guess."
)
#: Letters and digits nobody confuses when reading a temporary password aloud (no 0/O, 1/l/I).
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class SignInError(NotAllowed):
    """Sign-in refused; the message never says whether the e-mail exists."""

    advice = "Check the e-mail address and password, then try again."


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
    _store_password(
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
        return _new_password(db, user, new_hash, must_change=False, actor=address, action="password_changed")

    return _attempt(
        engine,
        address,
        client=client,
        sleep=sleep,
        matches=_password_matches(current),
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
    if bcrypt.checkpw(new.encode()[:MAX_PASSWORD_BYTES], (user.password_hash or "").encode() or _DUMMY_HASH):
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
        changed = _new_password(
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


def _store_password(
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
        generation = _new_password(
            db, user, password_hash, must_change=must_change, actor=actor, action=action, detail=detail
        )
        db.commit()
    return generation


def _new_password(
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
WRONG_CODE = (
    "That code is not right, or it was used already. Enter the newest code your authenticator app"
    " shows, or one of your recovery codes."
)


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


@dataclass(frozen=True)
class SignIn:
    """A password accepted: who, and the session generation the console session is valid for."""

    actor: Actor
    generation: int

    @property
    def email(self) -> str:
        return self.actor.email


_T = TypeVar("_T")


def sign_in(
    engine: Engine,
    email: str,
    password: str,
    *,
    client: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> SignIn:
    """Check a password. Each failure in a row waits longer; the fifth locks the e-mail a while.

    Every failure looks and costs the same whether or not the e-mail has an account: one password
    hash checked, one audit record, one message, the same lock-out. The hash is checked outside
    any transaction, so sign-ins never hold the ledger while a payout wants to write.
    """

    def password_accepted(db: Session, user: ConsoleUser) -> SignIn:
        if user.totp_secret:
            # Not "ok": that would restart the failure count, and wrong codes must add up to the
            # lock-out however often the password is typed again.
            audit.add(db, user.email, "sign_in", outcome="password_ok", detail="second factor due")
        else:
            _signed_in(db, user)
        return SignIn(Actor(user.email, Role(user.role)), user.session_generation)

    return _attempt(
        engine,
        email,
        client=client,
        sleep=sleep,
        matches=_password_matches(password),
        succeed=password_accepted,
        what="",
        wrong=WRONG,
    )


def _signed_in(db: Session, user: ConsoleUser) -> None:
    db.exec(update(ConsoleUser).where(col(ConsoleUser.id) == user.id).values(last_sign_in_at=utcnow()))
    audit.add(db, user.email, "sign_in", outcome="ok")


def check_second_factor(
    engine: Engine,
    email: str,
    generation: int,
    typed: str,
    *,
    client: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """After the password: a code from the authenticator app, or a recovery code, completes the sign-in.

    Guessed like a password (the same throttle, slow-down, lock-out and audit): a wrong code counts
    as a failed sign-in, and typing the password again does not restart the count. A code is
    accepted once: its time step, and every older one, is refused afterwards; a recovery code is
    spent when used. Both are claimed by a conditional update, so two tabs cannot both use one.
    """

    def matches(user: ConsoleUser | None) -> bool:
        if user is None or not user.totp_secret or user.session_generation != generation:
            return False
        if two_factor.is_totp_code(typed):
            step = two_factor.matching_step(user.totp_secret, typed)
            return step is not None and _claim_step(engine, user, user.totp_secret, step)
        return _spend_recovery_code(engine, user, typed)

    _attempt(
        engine,
        email,
        client=client,
        sleep=sleep,
        matches=matches,
        succeed=_signed_in,
        what="second factor",
        wrong=WRONG_CODE,
    )


def _claim_step(engine: Engine, user: ConsoleUser, secret: str, step: int) -> bool:
    with Session(engine) as db:
        claimed = db.exec(
            update(ConsoleUser)
            .where(
                col(ConsoleUser.id) == user.id,
                col(ConsoleUser.totp_secret) == secret,
                or_(col(ConsoleUser.totp_last_step).is_(None), col(ConsoleUser.totp_last_step) < step),
            )
            .values(totp_last_step=step)
        )
        db.commit()
    return bool(claimed.rowcount == 1)


def _spend_recovery_code(engine: Engine, user: ConsoleUser, typed: str) -> bool:
    with Session(engine) as db:
        spent = db.exec(
            update(RecoveryCode)
            .where(
                col(RecoveryCode.user_id) == user.id,
                col(RecoveryCode.code_hash) == two_factor.hash_recovery_code(typed),
                col(RecoveryCode.used_at).is_(None),
            )
            .values(used_at=utcnow())
        )
        if spent.rowcount == 1:
            audit.add(db, user.email, "recovery_code_used", target=user.email)
        db.commit()
    return bool(spent.rowcount == 1)


def enable_two_factor(engine: Engine, email: str, secret: str, typed: str) -> list[str]:
    """Turn two-factor sign-in on with the secret just shown, once a code from it proves the app
    has it; returns the ten recovery codes, to be shown once (only their hashes are kept)."""
    address = normalize_email(email)
    user = get_user(engine, address)
    if user is None or not user.password_hash:
        raise UserError("Two-factor sign-in is for password users; your company account has its own.")
    if user.totp_secret:
        raise UserError("Two-factor sign-in is already on for this account.")
    step = two_factor.matching_step(secret, typed)
    if step is None:
        raise UserError(
            "That code does not match. Scan the QR code (or type the key) into your authenticator"
            " app, then enter the six-digit code it shows now."
        )
    codes = two_factor.new_recovery_codes()
    with Session(engine) as db:
        turned_on = db.exec(
            update(ConsoleUser)
            .where(col(ConsoleUser.id) == user.id, col(ConsoleUser.totp_secret).is_(None))
            .values(totp_secret=secret, totp_enabled_at=utcnow(), totp_last_step=step, updated_at=utcnow())
        )
        if turned_on.rowcount != 1:
            raise UserError("Two-factor sign-in is already on for this account.")
        db.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
        for code in codes:
            db.add(RecoveryCode(user_id=user.id or 0, code_hash=two_factor.hash_recovery_code(code)))
        audit.add(db, address, "two_factor_enabled", target=address)
        db.commit()
    return codes


def reset_two_factor(engine: Engine, email: str, *, by: Actor | None) -> None:
    """An admin (or the server's shell) turns someone's two-factor sign-in off, say after a lost
    phone: their sessions end, and a role that requires it enrols again at the next sign-in."""
    address = normalize_email(email)
    if by is not None:
        require(by, Permission.MANAGE_USERS)
        if by.email == address:
            raise UserError("Another admin must reset your own two-factor sign-in.")
    with Session(engine) as db:
        user = db.exec(select(ConsoleUser).where(ConsoleUser.email == address)).first()
        if user is None:
            raise UserError(f"No user with the e-mail {address}.")
        if not user.totp_secret:
            raise UserError(f"{address} has no two-factor sign-in to reset.")
        db.exec(
            update(ConsoleUser)
            .where(col(ConsoleUser.id) == user.id)
            .values(
                totp_secret=None,
                totp_enabled_at=None,
                totp_last_step=None,
                session_generation=col(ConsoleUser.session_generation) + 1,
                updated_at=utcnow(),
            )
        )
        db.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
        audit.add(db, by.email if by else "command line", "two_factor_reset", target=address)
        db.commit()


def recovery_codes_left(engine: Engine, email: str) -> int:
    with Session(engine) as db:
        return int(
            db.exec(
                select(func.count())
                .select_from(RecoveryCode)
                .join(ConsoleUser, col(ConsoleUser.id) == col(RecoveryCode.user_id))
                .where(ConsoleUser.email == normalize_email(email), col(RecoveryCode.used_at).is_(None))
            ).one()
        )


def _password_matches(password: str) -> Callable[[ConsoleUser | None], bool]:
    def matches(user: ConsoleUser | None) -> bool:
        stored = user.password_hash.encode() if user is not None and user.password_hash else _DUMMY_HASH
        # One hash checked whoever asks: an unknown e-mail costs what a known one does.
        right = bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], stored)
        return right and user is not None and bool(user.password_hash)

    return matches


def _attempt(
    engine: Engine,
    email: str,
    *,
    client: str,
    sleep: Callable[[float], None],
    matches: Callable[[ConsoleUser | None], bool],
    succeed: Callable[[Session, ConsoleUser], _T],
    what: str,
    wrong: str,
) -> _T:
    """One guess at a secret of this e-mail's (a password, a code): throttled per client, refused
    while the e-mail is locked, and on failure recorded, slowed down and counted towards the lock."""
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
        right = matches(user)
        with Session(engine) as db:
            if user is not None and right and user.is_active:
                result = succeed(db, user)
                db.commit()
                return result
            failures += 1
            audit.add(
                db,
                address,
                "sign_in",
                outcome="failed",
                detail=f"{what + ': ' if what else ''}failures in a row: {failures}",
            )
            db.commit()
    sleep(min(0.5 * 2 ** (failures - 1), 8.0))
    if failures >= LOCK_AFTER:
        raise SignInError("Too many failed sign-ins: this e-mail is now locked for 15 minutes.")
    raise SignInError(wrong)


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


def actor_for_oidc(engine: Engine, email: str | None) -> SignIn:
    """An identity-provider sign-in maps to a role only through a user row an admin created."""
    if not email:
        raise SignInError("Your identity provider did not share an e-mail address.")
    user = get_user(engine, email)
    if user is None or not user.is_active:
        audit.record(engine, email, "sign_in_oidc", outcome="refused")
        raise SignInError(f"{email} has no console access; ask an admin to add you.")
    audit.record(engine, user.email, "sign_in_oidc", outcome="ok")
    return SignIn(Actor(user.email, Role(user.role)), user.session_generation)


class Step(StrEnum):
    """What a person whose password was accepted must still do before using the console."""

    SECOND_FACTOR = "second_factor"  # a code from the authenticator app (or a recovery code)
    NEW_PASSWORD = "new_password"  # signed in with a temporary password
    ENROL = "enrol"  # their role requires two-factor sign-in and they have none yet


def next_step(
    engine: Engine,
    email: str,
    generation: int,
    *,
    second_factor_done: bool = False,
    required_roles: frozenset[Role] = frozenset(),
) -> Step | None:
    """The step left after a password was accepted, or None when the sign-in is complete.

    Refused when the user was disabled, or their password changed, since the password was typed.
    """
    user = get_user(engine, email)
    if user is None or not user.is_active or user.session_generation != generation:
        raise SignInError("Please sign in again.")
    if user.totp_secret and not second_factor_done:
        return Step.SECOND_FACTOR
    if user.password_must_change:
        return Step.NEW_PASSWORD
    if Role(user.role) in required_roles and not user.totp_secret and user.password_hash:
        return Step.ENROL
    return None


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
