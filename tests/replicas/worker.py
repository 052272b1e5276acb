"""One replica, run as its own process by the multi-replica tests: `python -m tests.replicas.worker
<role> <job.json>`.

Each process builds its own services from the same environment a deployment uses
(`DOLLR_BASE_URL`, `DOLLR_DATABASE_URL`), says it is ready, waits for the go signal, does its job
and writes what it saw as JSON lines. Every Dollr status lookup is logged with when it started
and ended (`time.monotonic()` is one clock for every process on Linux), so the test can check
that no two replicas ever asked about the same payment at the same moment.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.basics.access import Actor, Role
from dollr_core.config import Settings
from dollr_core.flows.collect import confirm_collection
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger import open_ledger
from dollr_core.ledger.intents import new_intent_key
from dollr_core.payments.follow_up import refresh_payment
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.runtime import start_reconciler, start_services
from dollr_core.services import Services

PASSCODE = "123456"
STATUS_PREFIX = "/v1/status/"


class PollLog(httpx.BaseTransport):
    """Records (reference, started, ended) for every execution status lookup sent through it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.polls: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(STATUS_PREFIX) or path.endswith("/source"):
            return self.inner.handle_request(request)
        started = time.monotonic()
        response = self.inner.handle_request(request)
        response.read()  # the lookup ends when the whole answer is in
        ended = time.monotonic()
        with self._lock:
            self.polls.append((path.rsplit("/", 1)[-1], started, ended))
        return response

    def close(self) -> None:
        self.inner.close()


def logged_services() -> tuple[Services, PollLog]:
    """What `start_services` builds for a reconciler, with the status lookups logged."""
    settings = Settings.load()
    log = PollLog(httpx.HTTPTransport(limits=httpx.Limits(max_connections=20, max_keepalive_connections=10)))
    client = DollrClient(settings, transport=log)
    engine = open_ledger(settings.ledger_url)
    return Services(settings=settings, engine=engine, client=client, lookups=Lookups(client)), log


def ready_then_wait(job: dict[str, Any], name: str) -> None:
    Path(job["ready_dir"], name).touch()
    go = Path(job["go_file"])
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.005)


def starter(job: dict[str, Any]) -> None:
    """A replica starting up: it brings the ledger's schema up to date, as every process does."""
    ready_then_wait(job, f"starter-{os.getpid()}")
    open_ledger(Settings.load().ledger_url).dispose()
    Path(job["out"]).write_text("")


def console(job: dict[str, Any]) -> None:
    """A console replica: several people (threads) confirm every prepared payment at once, while
    the replica's own reconciler follows payments in the background, as `console.context` does."""
    svc = start_services(Settings.load())
    start_reconciler(svc)
    results: list[dict[str, str]] = []
    lock = threading.Lock()

    def person(n: int) -> None:
        who = Actor(job["actors"][n % len(job["actors"])], Role(job["role"]))
        for key, kind in job["intents"]:
            if kind == "payout":
                attempt = confirm_payout(svc, who, key, PASSCODE)
            else:
                attempt = confirm_collection(svc, who, key)
            with lock:
                results.append({"key": key, "reference_id": attempt.reference_id, "pid": str(os.getpid())})

    people = [threading.Thread(target=person, args=(n,)) for n in range(job["threads"])]
    ready_then_wait(job, f"console-{os.getpid()}")
    for t in people:
        t.start()
    for t in people:
        t.join()
    svc.close()
    Path(job["out"]).write_text("\n".join(json.dumps(r) for r in results))


def preparer(job: dict[str, Any]) -> None:
    """A console replica where several people start payouts to the same new recipients at once."""
    svc = start_services(Settings.load())
    who = Actor(job["actor"], Role.OPERATOR)

    def person() -> None:
        for name, phone in job["recipients"]:
            prepare_payout(svc, who, new_intent_key(), name=name, phone=phone, amount="10", currency="USD")

    people = [threading.Thread(target=person) for _ in range(job["threads"])]
    ready_then_wait(job, f"preparer-{os.getpid()}")
    for t in people:
        t.start()
    for t in people:
        t.join()
    svc.close()
    Path(job["out"]).write_text("")


def page(job: dict[str, Any]) -> None:
    """A console page left open on every payment: refreshes each, as the live status fragment does."""
    svc, log = logged_services()
    ready_then_wait(job, f"page-{os.getpid()}")
    deadline = time.monotonic() + job["seconds"]
    while time.monotonic() < deadline:
        for reference in job["references"]:
            refresh_payment(svc, reference, actor=job["actor"])
        time.sleep(0.02)
    svc.close()
    write_polls(job, log, passes=0)


def reconciler(job: dict[str, Any]) -> None:
    """A reconciler replica: passes over every due payment until the time is up."""
    svc, log = logged_services()
    ready_then_wait(job, f"reconciler-{os.getpid()}")
    deadline = time.monotonic() + job["seconds"]
    passes = 0
    while time.monotonic() < deadline:
        if reconcile_once(svc, limit=job["limit"]) == 0:
            time.sleep(0.02)
        passes += 1
    svc.close()
    write_polls(job, log, passes=passes)


def write_polls(job: dict[str, Any], log: PollLog, *, passes: int) -> None:
    lines = [json.dumps({"pid": os.getpid(), "passes": passes})]
    lines += [json.dumps({"reference_id": r, "started": s, "ended": e}) for r, s, e in log.polls]
    Path(job["out"]).write_text("\n".join(lines))


if __name__ == "__main__":
    role, job_file = sys.argv[1], sys.argv[2]
    jobs = {f.__name__: f for f in (starter, console, preparer, reconciler, page)}
    jobs[role](json.loads(Path(job_file).read_text()))
