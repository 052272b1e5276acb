"""A live worker keeps its lease however long it works; a dead one's lapses within seconds."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dollr_core.ledger import leases, open_ledger
from dollr_core.ledger.intents import (
    IntentBusy,
    born_held,
    get_intent,
    holding,
    open_intent,
    open_new_intent,
)
from dollr_core.ledger.tables import Intent, IntentKind, IntentState

ROOT = Path(__file__).resolve().parents[2]
SHORT = timedelta(seconds=1)


@pytest.fixture
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases, "LEASE", SHORT)
    monkeypatch.setattr(leases, "BEAT", timedelta(seconds=0.2))


def _open(url: str) -> str:
    key = uuid.uuid4().hex
    open_intent(
        open_ledger(url),
        key,
        kind=IntentKind.PAYOUT,
        operation_type="PAYOUT",
        operator="olivia.operator@example.com",
        state=IntentState.OPEN,
        terms={"k": key},
    )
    return key


def test_a_live_holder_keeps_its_lease_past_its_length(ledger_url: str, short_leases: None) -> None:
    engine = open_ledger(ledger_url)
    _kept_past_its_length(engine, _open(ledger_url))


def test_a_heartbeat_due_before_the_others_is_renewed_in_time(ledger_url: str, short_leases: None) -> None:
    """The one renewing thread sleeps until the soonest heartbeat is due, and is woken only by
    one due sooner than that: here it sleeps for a five-minute heartbeat when the short one comes."""
    engine = open_ledger(ledger_url)
    slow = get_intent(engine, _open(ledger_url))
    assert slow is not None and slow.id is not None
    with leases.Heartbeat(engine, "slow-worker", [slow.id], every=timedelta(minutes=5)):
        time.sleep(0.2)  # the thread has seen it and waits five minutes
        _kept_past_its_length(engine, _open(ledger_url))


def _kept_past_its_length(engine: Engine, key: str) -> None:
    """A worker holding `key` keeps it for four lease lengths: only its heartbeat can do that."""
    held, done = threading.Event(), threading.Event()

    def work() -> None:
        with holding(engine, key, "live-worker"):
            held.set()
            done.wait(10)

    worker = threading.Thread(target=work)
    worker.start()
    held.wait(10)
    refusals = 0
    deadline = time.monotonic() + 4 * SHORT.total_seconds()
    while time.monotonic() < deadline:  # four lease lengths: only the heartbeat keeps it held
        with pytest.raises(IntentBusy), holding(engine, key, "second-window"):
            pass
        refusals += 1
        time.sleep(0.1)
    done.set()
    worker.join()
    assert refusals > 10
    with holding(engine, key, "second-window"):  # released on exit: free at once
        pass


def test_a_new_intent_is_its_creators_from_its_first_statement(ledger_url: str, short_leases: None) -> None:
    """`born_held`: no other window can start preparing it between its INSERT and the creator's
    hold; the creator holds it without taking it again; and a creator that dies before holding
    it loses it like any holder."""
    engine = open_ledger(ledger_url)

    def new(key: str) -> tuple[Intent, bool]:
        return open_new_intent(
            engine,
            key,
            kind=IntentKind.DOCUMENT_COLLECTION,
            operation_type="COLLECTION",
            operator="fred.finance@example.com",
            state=IntentState.OPEN,
            terms={"new_document": key},
            **born_held("creator"),
        )

    key = uuid.uuid4().hex
    intent, made = new(key)
    assert made
    with pytest.raises(IntentBusy), holding(engine, key, "second-window"):
        pass
    with (
        holding(engine, key, "creator", made=intent),
        pytest.raises(IntentBusy),
        holding(engine, key, "second-window"),
    ):
        pass
    with holding(engine, key, "second-window"):  # released on exit
        pass
    orphan = uuid.uuid4().hex
    assert new(orphan)[1]
    time.sleep(SHORT.total_seconds() + 0.3)  # its creator never came to hold it
    with holding(engine, orphan, "second-window"):
        pass


DIE_HOLDING = """
import os, signal, sys
from datetime import timedelta
from dollr_core.ledger import leases, open_ledger
from dollr_core.ledger.intents import holding
leases.LEASE = timedelta(seconds=4)
leases.BEAT = timedelta(seconds=0.2)
with holding(open_ledger(sys.argv[1]), sys.argv[2], "doomed-worker"):
    print("held", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_dead_holders_lease_is_taken_over_once_it_lapses(ledger_url: str) -> None:
    key = _open(ledger_url)
    dying = subprocess.run(
        [sys.executable, "-c", DIE_HOLDING, ledger_url, key],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dying.stdout.strip() == "held" and dying.returncode == -9
    engine = open_ledger(ledger_url)
    with pytest.raises(IntentBusy), holding(engine, key, "next-window"):  # the lease still runs
        pass
    time.sleep(4.5)  # the dead worker's four-second lease: nobody renews it
    with holding(engine, key, "next-window"):
        pass
