"""Notifications by e-mail (SMTP) and by webhook (Slack-compatible JSON), through an outbox.

Events become rows of the `notification` table: one per event, channel and recipient (a unique
key, so an event is never queued twice), written in the transaction of the event where this code
makes the change (approvals), else found by a pass over the ledger (`find_events`: payments failed
or still PROCESSING, batches finished, paused or waiting, sign-in lock-outs). A background loop
(`run_loop`, beside the reconciler; `python -m dollr_core notify --once`) claims due rows one at a
time and sends them; a failure is retried with backoff, and a row whose sender stopped mid-send is
marked UNKNOWN instead of being sent again. Each row records what, to whom, when and how it went.

Messages are written here from plain facts, masked phone numbers and no secret, then passed through
the redactor as well.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dollr_core.basics import mail
from dollr_core.basics.access import Actor, Permission, Role, require
from dollr_core.basics.money import money_text
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.redact import redact_text
from dollr_core.basics.validation import printable
from dollr_core.errors import InputRefused
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.statements import dialect_insert
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    AuditRecord,
    Batch,
    BatchState,
    ConsoleSetting,
    ConsoleUser,
    Notification,
    NotificationPreference,
    NotificationState,
)
from dollr_core.services import Services

log = logging.getLogger("dollr_core.team.notify")


class Kind(StrEnum):
    APPROVAL_WAITING = "approval_waiting"
    DECISION = "decision"
    BATCH_FINISHED = "batch_finished"
    BATCH_PAUSED = "batch_paused"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_PROCESSING = "payment_processing"
    SIGN_IN_LOCKED = "sign_in_locked"


#: What each kind is called on the preferences screen.
KIND_NAMES = {
    Kind.APPROVAL_WAITING: "A payout or batch waits for my approval",
    Kind.DECISION: "A manager decided on something I sent for approval",
    Kind.BATCH_FINISHED: "A bulk payout of mine finished",
    Kind.BATCH_PAUSED: "A bulk payout of mine paused",
    Kind.PAYMENT_FAILED: "A payment I made failed",
    Kind.PAYMENT_PROCESSING: "A payment I made is still processing after a while",
    Kind.SIGN_IN_LOCKED: "Sign-ins to an e-mail were locked after failed attempts",
}

#: Who is told of each kind (besides the webhook, which hears of every kind).
_AUDIENCE = {
    Kind.APPROVAL_WAITING: (Role.MANAGER,),
    Kind.SIGN_IN_LOCKED: (Role.ADMIN,),
}

EMAIL, WEBHOOK = "email", "webhook"
WEBHOOK_SETTING = "notification_webhook"
MAX_ATTEMPTS = 6
#: A claimed row not finished in this time belongs to a sender that stopped: marked UNKNOWN.
SEND_LEASE = timedelta(minutes=10)
#: How far back a pass over the ledger looks for events (older ones were seen by earlier passes).
LOOK_BACK = timedelta(days=2)


class NotifyError(InputRefused):
    """A notification setting is refused; the message says why."""


def kinds_for(role: Role) -> list[Kind]:
    """The kinds a person in `role` can receive."""
    kinds = [
        Kind.DECISION,
        Kind.BATCH_FINISHED,
        Kind.BATCH_PAUSED,
        Kind.PAYMENT_FAILED,
        Kind.PAYMENT_PROCESSING,
    ]
    if role is Role.MANAGER:
        kinds.insert(0, Kind.APPROVAL_WAITING)
    if role is Role.ADMIN:
        kinds = [Kind.SIGN_IN_LOCKED]
    return kinds


# --------------------------------------------------------------------------- preferences and webhook


def muted_kinds(engine: Engine, email: str) -> set[str]:
    with Session(engine) as db:
        row = db.get(NotificationPreference, email.lower())
    return set(filter(None, row.muted.split(","))) if row is not None else set()


def set_preferences(engine: Engine, actor: Actor, wanted: Iterable[Kind]) -> None:
    """The person's own choice: the kinds in `wanted` on, every other kind off."""
    muted = sorted(k.value for k in Kind if k not in set(wanted))
    with Session(engine) as db:
        row = db.get(NotificationPreference, actor.email.lower()) or NotificationPreference(
            email=actor.email.lower()
        )
        row.muted, row.updated_at = ",".join(muted), utcnow()
        db.add(row)
        db.commit()


def webhook_url(engine: Engine, settings: Any) -> str | None:
    """The webhook in force: the install's setting, else the one an admin set in the console."""
    with Session(engine) as db:
        return _webhook_url(db, settings)


def _webhook_url(db: Session, settings: Any) -> str | None:
    fixed: str | None = settings.notification_webhook_url
    if fixed:
        return fixed
    row = db.get(ConsoleSetting, WEBHOOK_SETTING)
    return row.value or None if row is not None else None


_URL = re.compile(r"https?://[^\s/$.?#][^\s]*")


def set_webhook(svc: Services, actor: Actor, url: str) -> None:
    """An admin sets (or, with an empty text, removes) the webhook; audited without the URL's path,
    which for Slack is the secret."""
    require(actor, Permission.MANAGE_USERS)
    url = url.strip()
    if url and (not _URL.fullmatch(url) or len(url) > 500):
        raise NotifyError("Webhook URL: write the whole address, starting with https:// (or http://).")
    if svc.settings.notification_webhook_url:
        raise NotifyError("The webhook is fixed in this install's settings; it cannot be changed here.")
    with Session(svc.engine) as db:
        row = db.get(ConsoleSetting, WEBHOOK_SETTING) or ConsoleSetting(
            key=WEBHOOK_SETTING, value="", updated_by=actor.email
        )
        old = row.value
        row.value, row.updated_by, row.updated_at = url, actor.email, utcnow()
        db.add(row)
        audit.add(
            db,
            actor.email,
            "notification_webhook_changed",
            target="webhook",
            detail=f"{_host(old) or 'none'} → {_host(url) or 'none'}",
        )
        db.commit()


def webhook_host(svc: Services) -> str:
    """Where the webhook posts, without its path (a Slack webhook's path is its secret)."""
    return _host(webhook_url(svc.engine, svc.settings) or "")


def _host(url: str) -> str:
    return httpx.URL(url).host if url else ""


# --------------------------------------------------------------------------- queueing


@dataclass(frozen=True)
class Message:
    kind: Kind
    event_key: str
    subject: str
    body: str


def queue(db: Session, svc: Services, message: Message, people: Sequence[str]) -> None:
    """Queue `message` for `people` (e-mail addresses) and the webhook, in `db`'s transaction.

    People who turned this kind off are skipped; a row already queued for the same event and
    recipient is left as it is (the unique key), so calling this twice queues nothing twice.
    """
    subject = redact_text(printable(message.subject))[:200]
    body = redact_text(message.body)
    rows: list[dict[str, Any]] = []
    if svc.settings.smtp_host:
        for email in sorted({p.lower() for p in people if "@" in p}):
            pref = db.get(NotificationPreference, email)
            if pref is not None and message.kind.value in pref.muted.split(","):
                continue
            rows.append({"channel": EMAIL, "recipient": email})
    if _webhook_url(db, svc.settings):  # read in the event's transaction (SQLite has one writer)
        rows.append({"channel": WEBHOOK, "recipient": WEBHOOK})
    now = utcnow()
    for row in rows:
        values = {
            **row,
            "event_key": message.event_key[:160],
            "kind": message.kind.value,
            "subject": subject,
            "body": body,
            "state": NotificationState.PENDING.value,
            "attempts": 0,
            "next_try_at": now,
            "created_at": now,
        }
        db.execute(
            dialect_insert(db.get_bind().dialect.name)(Notification).values(**values).on_conflict_do_nothing()
        )


def people_in(db: Session, *roles: Role) -> list[str]:
    """Active console users in these roles."""
    return list(
        db.exec(
            select(ConsoleUser.email).where(
                col(ConsoleUser.role).in_([r.value for r in roles]), col(ConsoleUser.is_active).is_(True)
            )
        ).all()
    )


def approval_waiting(db: Session, svc: Services, *, key: str, what: str, maker: str) -> None:
    """A payout or batch now waits for a manager (called in the transaction that sent it)."""
    managers = [m for m in people_in(db, Role.MANAGER) if m.lower() != maker.lower()]
    queue(
        db,
        svc,
        Message(
            Kind.APPROVAL_WAITING,
            f"waiting:{key}",
            f"Waiting for your approval: {what}",
            f"{maker} sent {what} for approval. Open Approvals in the Dollr console to decide.",
        ),
        managers,
    )


def decision(db: Session, svc: Services, *, key: str, what: str, maker: str, verdict: str, by: str) -> None:
    """A manager decided on a maker's item (called in the decision's transaction)."""
    queue(
        db,
        svc,
        Message(
            Kind.DECISION,
            f"decision:{key}",
            f"{what}: {verdict}",
            f"{by} {verdict} {what}. Open Approvals in the Dollr console for the details.",
        ),
        [maker],
    )


# --------------------------------------------------------------------------- events found in the ledger


def find_events(svc: Services, *, now: datetime | None = None) -> int:
    """Queue what happened since the last passes: failed and long-processing payments, finished,
    paused and waiting batches, sign-in lock-outs. Returns how many events were looked at."""
    from dollr_core.team.sign_in import LOCK_AFTER  # the sign-in rule, read only

    now = now or utcnow()
    since = now - LOOK_BACK
    stuck_after = timedelta(minutes=svc.settings.notify_processing_minutes)
    seen = 0
    with Session(svc.engine) as db:
        failed = db.exec(
            select(Attempt).where(
                Attempt.local_state == AttemptState.FAILED, col(Attempt.updated_at) >= since
            )
        ).all()
        processing = db.exec(
            select(Attempt).where(
                Attempt.local_state == AttemptState.ACCEPTED,
                Attempt.remote_status == "PROCESSING",
                col(Attempt.created_at) >= since,
                col(Attempt.created_at) <= now - stuck_after,
            )
        ).all()
        batches = db.exec(
            select(Batch).where(
                col(Batch.state).in_((BatchState.FINISHED, BatchState.PAUSED, BatchState.AWAITING_APPROVAL)),
                col(Batch.updated_at) >= since,
            )
        ).all()
        lockouts = db.exec(
            select(AuditRecord).where(
                AuditRecord.action == "sign_in",
                AuditRecord.outcome == "failed",
                AuditRecord.detail == f"failures in a row: {LOCK_AFTER}",
                col(AuditRecord.at) >= since,
            )
        ).all()
        for attempt in failed:
            what = _payment(attempt)
            queue(
                db,
                svc,
                Message(
                    Kind.PAYMENT_FAILED,
                    f"failed:{attempt.reference_id}",
                    f"Payment failed: {what}",
                    f"{what} failed at Dollr. Reference {attempt.reference_id}."
                    " Look it up on Payment status.",
                ),
                [attempt.operator],
            )
        for attempt in processing:
            what = _payment(attempt)
            queue(
                db,
                svc,
                Message(
                    Kind.PAYMENT_PROCESSING,
                    f"processing:{attempt.reference_id}",
                    f"Still processing: {what}",
                    f"{what} is still PROCESSING at Dollr {svc.settings.notify_processing_minutes} minutes"
                    f" after it was sent. Reference {attempt.reference_id}. The console keeps checking it.",
                ),
                [attempt.operator],
            )
        for batch in batches:
            state = BatchState(batch.state)
            name = f"bulk payout #{batch.id} ({printable(batch.name)})"
            title = name[:1].upper() + name[1:]
            stamp = batch.updated_at.isoformat()
            if state is BatchState.AWAITING_APPROVAL:
                approval_waiting(db, svc, key=f"batch:{batch.id}:{stamp}", what=name, maker=batch.created_by)
                continue
            kind = Kind.BATCH_FINISHED if state is BatchState.FINISHED else Kind.BATCH_PAUSED
            said = "finished" if state is BatchState.FINISHED else "paused"
            queue(
                db,
                svc,
                Message(
                    kind,
                    f"batch:{batch.id}:{state.value}:{stamp}",
                    f"{title} {said}",
                    f"{title} {said}. Open Bulk payouts in the Dollr console for every row's result.",
                ),
                [batch.created_by],
            )
        for record in lockouts:
            queue(
                db,
                svc,
                Message(
                    Kind.SIGN_IN_LOCKED,
                    f"lockout:{record.id}",
                    "Sign-ins locked after failed attempts",
                    f"Sign-ins for {printable(record.actor)} were locked after {LOCK_AFTER} failed attempts"
                    " in a row. If this was not the person, check the audit trail.",
                ),
                people_in(db, Role.ADMIN),
            )
        seen = len(failed) + len(processing) + len(batches) + len(lockouts)
        db.commit()
    return seen


def _payment(attempt: Attempt) -> str:
    amount = money_text(attempt.amount, attempt.currency) or attempt.currency
    return f"{attempt.operation_type.lower()} of {amount} to {mask_phone(attempt.phone)}"


# --------------------------------------------------------------------------- sending


class Transport(Protocol):
    def email(self, to: str, subject: str, body: str) -> None: ...

    def webhook(self, url: str, payload: dict[str, Any]) -> None: ...


@dataclass
class LiveTransport:
    """SMTP for e-mail (STARTTLS and login when set), an HTTP POST for the webhook."""

    settings: Any

    def email(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = s.smtp_sender, to, subject
        message.set_content(body)
        mail.send(s, message)

    def webhook(self, url: str, payload: dict[str, Any]) -> None:
        response = httpx.post(url, json=payload, timeout=20)
        if response.is_error:  # said without the URL: a Slack webhook's path is its secret
            raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


def backoff(attempts: int) -> timedelta:
    """Wait before try `attempts + 1`: 30 s, 1 min, 2 min … up to an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def send_due(
    svc: Services, transport: Transport | None = None, *, now: datetime | None = None, limit: int = 50
) -> int:
    """Send the due rows, each claimed first so that no two senders send one row. Returns how many
    were sent."""
    transport = transport or LiveTransport(svc.settings)
    now = now or utcnow()
    _give_up_on_stopped_senders(svc.engine, now)
    url = webhook_url(svc.engine, svc.settings)
    with Session(svc.engine) as db:
        due = db.exec(
            select(col(Notification.id))
            .where(Notification.state == NotificationState.PENDING, col(Notification.next_try_at) <= now)
            .order_by(col(Notification.id))
            .limit(limit)
        ).all()
    sent = 0
    for row_id in due:
        assert row_id is not None
        row = _claim(svc.engine, row_id, now)
        if row is None:
            continue  # another sender has it
        try:
            if row.channel == WEBHOOK:
                if not url:
                    raise RuntimeError("no webhook is set any more")
                transport.webhook(url, {"text": f"*{row.subject}*\n{row.body}"})
            else:
                transport.email(row.recipient, row.subject, row.body)
        except Exception as exc:
            said = f"{type(exc).__name__}: {exc}"
            _failed(svc.engine, row, now, redact_text(said, [url] if url else []))
            continue
        _finish(
            svc.engine,
            row_id,
            values={"state": NotificationState.SENT, "sent_at": utcnow(), "last_error": None},
        )
        sent += 1
    return sent


def _claim(engine: Engine, row_id: int, now: datetime) -> Notification | None:
    with Session(engine) as db:
        claimed = db.exec(
            update(Notification)
            .where(col(Notification.id) == row_id, col(Notification.state) == NotificationState.PENDING)
            .values(
                state=NotificationState.SENDING,
                attempts=col(Notification.attempts) + 1,
                next_try_at=now + SEND_LEASE,
            )
        )
        db.commit()
        if claimed.rowcount != 1:
            return None
        row = db.get(Notification, row_id)
        if row is not None:
            db.expunge(row)
        return row


def _failed(engine: Engine, row: Notification, now: datetime, error: str) -> None:
    error = redact_text(error)[:500]
    if row.attempts >= MAX_ATTEMPTS:
        values: dict[str, Any] = {"state": NotificationState.FAILED, "last_error": error}
    else:
        values = {
            "state": NotificationState.PENDING,
            "last_error": error,
            "next_try_at": now + backoff(row.attempts),
        }
    log.warning("notification %s to %s failed (try %s): %s", row.id, row.recipient, row.attempts, error)
    assert row.id is not None
    _finish(engine, row.id, values=values)


def _finish(engine: Engine, row_id: int, *, values: dict[str, Any]) -> None:
    with Session(engine) as db:
        db.exec(
            update(Notification)
            .where(col(Notification.id) == row_id, col(Notification.state) == NotificationState.SENDING)
            .values(**values)
        )
        db.commit()


def _give_up_on_stopped_senders(engine: Engine, now: datetime) -> None:
    """A row still SENDING after its lease: its sender stopped, maybe after sending. Never resent."""
    with Session(engine) as db:
        db.exec(
            update(Notification)
            .where(col(Notification.state) == NotificationState.SENDING, col(Notification.next_try_at) < now)
            .values(
                state=NotificationState.UNKNOWN, last_error="the sender stopped while sending; not sent again"
            )
        )
        db.commit()


def notify_once(svc: Services, transport: Transport | None = None, *, now: datetime | None = None) -> int:
    """One pass: find new events, then send what is due."""
    find_events(svc, now=now)
    return send_due(svc, transport, now=now)


def run_loop(svc: Services, *, interval: float = 15.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            notify_once(svc)
        except Exception:  # the ledger or a mail server briefly unreachable: keep going
            log.exception("notification pass failed")
        stop.wait(interval)


def recent(engine: Engine, actor: Actor, *, limit: int = 20) -> list[Notification]:
    """The newest notifications to this person (for everyone), or to anyone (for admins)."""
    with Session(engine) as db:
        query = select(Notification).order_by(col(Notification.id).desc()).limit(limit)
        if not actor.can(Permission.MANAGE_USERS):
            query = query.where(Notification.recipient == actor.email.lower())
        return list(db.exec(query).all())
