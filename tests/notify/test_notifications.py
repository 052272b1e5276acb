"""Notifications through the outbox, against a real SMTP server and a real webhook receiver on
loopback, on SQLite and PostgreSQL: who is told what, each person's choices, retries with backoff,
never twice for one event, every send recorded, and no secret or full phone number in any message."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.constants import SANDBOX_CLIENT_SECRET, SANDBOX_PASSCODE
from dollr_core.flows import payouts
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import Attempt, Batch, BatchState, Notification, NotificationState
from dollr_core.services import Services
from dollr_core.team import approvals, notify, sign_in, users
from dollr_sandbox import Sandbox

from ..conftest import make_services
from ..flows.helpers import payout_as_shown
from .conftest import Mailbox, Receiver

MAKER = Actor("olivia.operator@example.com", Role.OPERATOR)
MANAGER = Actor("mia.manager@example.com", Role.MANAGER)
QUIET_MANAGER = Actor("quinn.manager@example.com", Role.MANAGER)
ADMIN = Actor("ada.admin@example.com", Role.ADMIN)
PHONE = "231880004321"


def _team(svc: Services) -> None:
    for person in (MAKER, MANAGER, QUIET_MANAGER, ADMIN):
        users.add_user(svc.engine, email=person.email, role=person.role, password="correct horse battery")
    wanted = [k for k in notify.kinds_for(Role.MANAGER) if k is not notify.Kind.APPROVAL_WAITING]
    notify.set_preferences(svc.engine, QUIET_MANAGER, wanted)


def _sent_for_approval(svc: Services, key: str) -> None:
    payouts.prepare_payout(svc, MAKER, key, name="Musa Kollie", phone=PHONE, amount="750", currency="USD")
    approvals.submit_for_approval(svc, MAKER, key)


def _rows(svc: Services) -> list[Notification]:
    with Session(svc.engine) as db:
        return list(db.exec(select(Notification).order_by(Notification.id)).all())  # type: ignore[arg-type]


def test_approval_waiting_and_the_decision_reach_the_right_people_once(
    notifying: Services, mailbox: Mailbox, receiver: Receiver
) -> None:
    _team(notifying)
    _sent_for_approval(notifying, "k-750")
    queued = _rows(notifying)  # written with the request, in its transaction
    assert {(r.channel, r.recipient) for r in queued} == {("email", MANAGER.email), ("webhook", "webhook")}
    assert notify.notify_once(notifying) == 2
    [mail] = mailbox.to(MANAGER.email)
    assert mail["Subject"] == "Waiting for your approval: a payout of USD 750.00 to ••••4321"
    assert mailbox.to(QUIET_MANAGER.email) == []  # turned this kind off
    assert receiver.posts[0]["text"].startswith("*Waiting for your approval")

    approvals.decide_payout(
        notifying, MANAGER, "k-750", approvals.Decision(True, "", payout_as_shown(notifying, "k-750"))
    )
    assert notify.notify_once(notifying) == 2
    [decided] = mailbox.to(MAKER.email)
    assert decided["Subject"] == "your payout of USD 750.00 to ••••4321: approved"
    assert f"{MANAGER.email} approved" in decided.get_content()

    assert notify.notify_once(notifying) == 0  # nothing twice
    # The same event queued again finds its row: nothing new to send.
    with Session(notifying.engine) as db:
        notify.decision(
            db,
            notifying,
            key=queued[0].event_key.replace("waiting:", ""),
            what="x",
            maker=MAKER.email,
            verdict="-",
            by="-",
        )
        db.commit()
    rows = _rows(notifying)
    assert all(
        r.state == NotificationState.SENT and r.sent_at is not None and r.attempts == 1 for r in rows[:4]
    )
    assert len(mailbox.messages) == 2 and len(receiver.posts) == 2


def test_a_failing_webhook_is_retried_with_backoff_and_sent_once(
    notifying: Services, mailbox: Mailbox, receiver: Receiver
) -> None:
    _team(notifying)
    receiver.fail_next = 1
    _sent_for_approval(notifying, "k-retry")
    now = utcnow()
    assert notify.send_due(notifying, now=now) == 1  # the e-mail; the webhook answered 500
    [hook] = [r for r in _rows(notifying) if r.channel == "webhook"]
    assert hook.state == NotificationState.PENDING and hook.attempts == 1
    assert hook.last_error is not None and "500" in hook.last_error
    assert "secretpart" not in hook.last_error  # the webhook's secret path is never recorded
    assert hook.next_try_at >= now + timedelta(seconds=29)
    assert notify.send_due(notifying, now=now + timedelta(seconds=5)) == 0  # not due yet
    assert notify.send_due(notifying, now=now + timedelta(seconds=31)) == 1
    assert len(receiver.posts) == 1
    assert notify.backoff(1) == timedelta(seconds=30) and notify.backoff(20) == timedelta(hours=1)


def test_a_row_whose_sender_stopped_is_never_sent_again(notifying: Services, mailbox: Mailbox) -> None:
    _team(notifying)
    _sent_for_approval(notifying, "k-crash")
    with Session(notifying.engine) as db:
        for row in db.exec(select(Notification)).all():
            row.state, row.next_try_at = NotificationState.SENDING, utcnow() - timedelta(minutes=1)
            db.add(row)
        db.commit()
    assert notify.send_due(notifying) == 0
    assert {r.state for r in _rows(notifying)} == {NotificationState.UNKNOWN}
    assert mailbox.messages == []


def test_events_found_in_the_ledger_and_no_secret_in_any_message(
    notifying: Services, mailbox: Mailbox, receiver: Receiver
) -> None:
    _team(notifying)
    _sent_for_approval(notifying, "k-all")
    approvals.decide_payout(
        notifying,
        MANAGER,
        "k-all",
        approvals.Decision(False, f"call me on {PHONE}", payout_as_shown(notifying, "k-all")),
    )
    old = utcnow() - timedelta(hours=1)
    with Session(notifying.engine) as db:
        common = {
            "intent_id": 1,
            "operation_type": "PAYOUT",
            "party_name": "Musa",
            "phone": PHONE,
            "currency": "USD",
            "operator": MAKER.email,
            "amount": Decimal("12.50"),
        }
        db.add(Attempt(reference_id="3f1c7e2a-9b1d-4c55-8f00-0a1b2c3d4e5f", local_state="FAILED", **common))  # type: ignore[arg-type]
        db.add(
            Attempt(
                reference_id="4f1c7e2a-9b1d-4c55-8f00-0a1b2c3d4e5f",
                local_state="ACCEPTED",
                remote_status="PROCESSING",
                created_at=old,
                **common,
            )
        )  # type: ignore[arg-type]
        db.add(
            Attempt(
                reference_id="5f1c7e2a-9b1d-4c55-8f00-0a1b2c3d4e5f",
                local_state="ACCEPTED",
                remote_status="PROCESSING",
                **common,
            )
        )  # type: ignore[arg-type]
        db.add(Batch(name="June stipends", state=BatchState.FINISHED, created_by="fred.finance@example.com"))
        db.add(Batch(name="July stipends", state=BatchState.PAUSED, created_by="fred.finance@example.com"))
        db.commit()
    users.add_user(
        notifying.engine,
        email="fred.finance@example.com",
        role=Role.FINANCE,
        password="correct horse battery",
    )
    for _ in range(sign_in.LOCK_AFTER):
        with contextlib.suppress(sign_in.SignInError):
            sign_in.sign_in(
                notifying.engine, MAKER.email, "wrong password!", client="test", sleep=lambda _s: None
            )
    notify.notify_once(notifying)
    notify.notify_once(notifying)  # a second pass finds the same events and queues nothing new

    kinds = {r.kind for r in _rows(notifying)}
    assert kinds == {k.value for k in notify.Kind}
    subjects = {m["Subject"] for _, m in mailbox.messages}
    assert "Payment failed: payout of USD 12.50 to ••••4321" in subjects
    assert "Still processing: payout of USD 12.50 to ••••4321" in subjects  # only the old one
    assert len([s for s in subjects if s.startswith("Still processing")]) == 1
    assert {"Bulk payout #1 (June stipends) finished", "Bulk payout #2 (July stipends) paused"} <= subjects
    assert [m["Subject"] for m in mailbox.to(ADMIN.email)] == ["Sign-ins locked after failed attempts"]
    assert len(mailbox.messages) == len(
        {(r.event_key, r.recipient) for r in _rows(notifying) if r.channel == "email"}
    )

    everything = [m.as_string() for _, m in mailbox.messages] + [p["text"] for p in receiver.posts]
    everything += [r.body + r.subject for r in _rows(notifying)]
    for text in everything:
        assert not re.search(r"\d{8,}", text.replace("-", "")), "a full phone number (or long digits)"
        for secret in (
            SANDBOX_PASSCODE,
            SANDBOX_CLIENT_SECRET,
            "Bearer",
            "eyJ",
            "secretpart",
            "correct horse",
        ):
            assert secret not in text


def test_the_command_line_sends_what_is_due(
    fresh_sandbox: Sandbox, tmp_path: Path, mailbox: Mailbox, receiver: Receiver
) -> None:
    ledger = f"sqlite:///{tmp_path}/ledger.db"
    svc = make_services(fresh_sandbox, ledger, str(tmp_path), smtp_host="127.0.0.1", smtp_port=mailbox.port)
    _team(svc)
    _sent_for_approval(svc, "k-cli")
    svc.client.close()
    svc.engine.dispose()
    env = {
        **os.environ,
        "DOLLR_BASE_URL": fresh_sandbox.base_url,
        "DOLLR_DATA_DIR": str(tmp_path),
        "DOLLR_DATABASE_URL": ledger,
        "DOLLR_SMTP_HOST": "127.0.0.1",
        "DOLLR_SMTP_PORT": str(mailbox.port),
        "DOLLR_SMTP_STARTTLS": "false",
    }
    run = [sys.executable, "-m", "dollr_core", "notify", "--once"]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "sent 1 notification(s)"
    assert [m["Subject"] for m in mailbox.to(MANAGER.email)] == [
        "Waiting for your approval: a payout of USD 750.00 to ••••4321"
    ]
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert again.stdout.strip() == "sent 0 notification(s)"
