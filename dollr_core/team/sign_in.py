"""Signing in to the console: password with slow-down and lock-out, the second factor, and
OpenID Connect mapping. Every attempt is written to the audit trail, failed ones included.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Engine, delete, func, or_, update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, Role, require
from dollr_core.basics.validation import printable
from dollr_core.errors import NotAllowed
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import AuditRecord, ConsoleUser, RecoveryCode
from dollr_core.team import two_factor
from dollr_core.team.users import UserError, get_user, normalize_email, password_is

#: Failed sign-ins in a row before the e-mail locks, and for how long.
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)


class SignInError(NotAllowed):
    """Sign-in refused; the message never says whether the e-mail exists."""

    advice = "Try again as it says; if the e-mail is locked, an admin can unlock it."


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

    return attempt_secret(
        engine,
        email,
        client=client,
        sleep=sleep,
        matches=password_matches(password),
        succeed=password_accepted,
        what="",
        wrong=WRONG,
    )


#: The audit actions of a completed sign-in: with a password (and second factor), or the company's
#: identity provider.
SIGN_IN_ACTIONS = ("sign_in", "sign_in_oidc")


def _signed_in(db: Session, user: ConsoleUser, action: str = "sign_in") -> None:
    db.exec(update(ConsoleUser).where(col(ConsoleUser.id) == user.id).values(last_sign_in_at=utcnow()))
    audit.add(db, user.email, action, outcome="ok")


def previous_sign_in(engine: Engine, email: str) -> datetime | None:
    """When this person signed in before their latest sign-in; None when the latest is their first."""
    with Session(engine) as db:
        times = db.exec(
            select(AuditRecord.at)
            .where(
                col(AuditRecord.actor) == normalize_email(email),
                col(AuditRecord.action).in_(SIGN_IN_ACTIONS),
                col(AuditRecord.outcome) == "ok",
            )
            .order_by(col(AuditRecord.at).desc(), col(AuditRecord.id).desc())
            .limit(2)
        ).all()
    return times[1] if len(times) == 2 else None


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

    attempt_secret(
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


def password_matches(password: str) -> Callable[[ConsoleUser | None], bool]:
    def matches(user: ConsoleUser | None) -> bool:
        # One hash checked whoever asks: an unknown e-mail costs what a known one does.
        return password_is(password, user.password_hash if user is not None else None)

    return matches


def attempt_secret(
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
    with Session(engine) as db:
        _signed_in(db, user, "sign_in_oidc")
        db.commit()
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
