"""50 operators at once, for a minute, through one shared client and one ledger.

Each operator thread runs invoice collections and payouts back to back (one in five payouts is
confirmed twice at the same instant, as a double click would), against the standalone sandbox
with 20 ms latency, while a reconciler follows every payment. Reported: throughput, the latency
`dollr_core` adds on top of the sandbox's own (p50/p95, per flow and per call), errors, and
duplicates — payments Dollr holds more than once for one intent (targets: none and none).

    .venv/bin/python -m bench.load [--seconds 60] [--operators 50] [--db postgres|sqlite] [--pool N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, select

from bench.common import (
    StandaloneSandbox,
    WireTimer,
    cpu_seconds,
    machine,
    median,
    ms,
    percentile,
    postgres_reachable,
    services_on,
    settle_all,
    table,
    throwaway_ledger,
    time_the_wire,
)
from dollr_core.api.errors import DollrError
from dollr_core.basics.access import Actor, Role
from dollr_core.flows.collect import NewCollection, collect_new_document
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import find_attempt, new_intent_key
from dollr_core.ledger.tables import AccountRecord, Attempt, AttemptState, Customer, Relationship
from dollr_core.runtime import run_reconciler
from dollr_core.services import Services

PASSCODE = "123456"
CUSTOMERS = 40  # some are first-time customers during the run, most come back
RECIPIENTS = 60


@dataclass
class Flow:
    kind: str
    wall: float
    wire: float
    calls: int
    error: str | None = None


class Operators:
    def __init__(self, svc: Services, timer: WireTimer, *, seconds: float, count: int) -> None:
        self.svc, self.timer = svc, timer
        self.deadline = 0.0
        self.seconds, self.count = seconds, count
        self.flows: list[Flow] = []
        self.double_clicks: list[tuple[str, str]] = []  # the two references a double click got back
        self._lock = threading.Lock()
        self._start = threading.Barrier(count + 1)

    def run(self) -> float:
        threads = [
            threading.Thread(target=self._operator, args=(i,), name=f"operator-{i}")
            for i in range(self.count)
        ]
        for t in threads:
            t.start()
        self.deadline = time.monotonic() + self.seconds
        self._start.wait()
        started = time.monotonic()
        for t in threads:
            t.join()
        return time.monotonic() - started

    def _operator(self, n: int) -> None:
        rng = random.Random(n)
        actor = Actor(f"operator{n}@example.com", Role.OPERATOR)
        finance = Actor(f"finance{n}@example.com", Role.FINANCE)  # invoices are finance's job
        self._start.wait()
        turn = 0
        while time.monotonic() < self.deadline:
            turn += 1
            if turn % 2:
                self._timed("collection", lambda: self._collect(finance, rng))
            else:
                double_click = rng.random() < 0.2  # one payout in five is double-clicked
                self._timed("payout", lambda: self._pay(actor, rng, double_click=double_click))  # noqa: B023

    def _timed(self, kind: str, flow: Callable[[], None]) -> None:
        self.timer.reset()
        started = time.perf_counter()
        error = None
        try:
            flow()
        except Exception as exc:  # counted and reported, never hidden
            where = f" ({exc.method} {exc.path})" if isinstance(exc, DollrError) else ""
            error = f"{type(exc).__name__}{where}: {exc}"[:200]
        wall = time.perf_counter() - started
        with self._lock:
            self.flows.append(Flow(kind, wall, self.timer.seconds, self.timer.requests, error))

    def _collect(self, actor: Actor, rng: random.Random) -> None:
        c = rng.randrange(CUSTOMERS)
        order = NewCollection(
            customer=Person.checked(f"Customer {c}", f"23177{c:03d}1234"),
            currency="USD",
            items=[LineItem("Goods", 1, Decimal(rng.randrange(100, 300)))],
            wallet_phone=f"23188{c:03d}5678",
        )
        attempt = collect_new_document(self.svc, actor, new_intent_key(), order)
        _expect_sent(attempt)

    def _pay(self, actor: Actor, rng: random.Random, *, double_click: bool) -> None:
        r = rng.randrange(RECIPIENTS)
        key = new_intent_key()
        amount = str(rng.randrange(5, 60))
        prepare_payout(
            self.svc,
            actor,
            key,
            name=f"Recipient {r}",
            phone=f"23155{r:03d}4321",
            amount=amount,
            currency="USD",
        )
        if not double_click:
            _expect_sent(confirm_payout(self.svc, actor, key, PASSCODE))
            return
        second: list[Attempt] = []
        click = threading.Thread(target=lambda: second.append(confirm_payout(self.svc, actor, key, PASSCODE)))
        click.start()
        first = confirm_payout(self.svc, actor, key, PASSCODE)
        click.join()
        # Whichever click lost the race saw the winner's attempt still in flight: judge the payment
        # by where it stands now that both returned.
        _expect_sent(find_attempt(self.svc.engine, first.reference_id) or first)
        with self._lock:
            self.double_clicks.append((first.reference_id, second[0].reference_id if second else "(raised)"))


def _expect_sent(attempt: Attempt) -> None:
    state = AttemptState(attempt.local_state)
    if state not in (
        AttemptState.ACCEPTED,
        AttemptState.COMPLETED,
        AttemptState.SENDING,
        AttemptState.UNKNOWN,
    ):
        raise RuntimeError(f"payment {state.value}: {attempt.last_error}")


def duplicates(svc: Services, sandbox: StandaloneSandbox) -> tuple[int, int, int]:
    """(intents Dollr holds more than one payment for, payments Dollr holds that the ledger lacks,
    executions at Dollr)."""
    held = sandbox.executions()
    with Session(svc.engine) as db:
        intent_of = {a.reference_id: a.intent_id for a in db.exec(select(Attempt)).all()}
    per_intent = Counter(intent_of.get(str(e["reference_id"])) for e in held)
    orphans = per_intent.pop(None, 0)
    return sum(1 for n in per_intent.values() if n > 1), orphans, len(held)


def records_made_twice(svc: Services, sent: Counter[str]) -> dict[str, tuple[int, int]]:
    """Per kind of record: (creates Dollr received, records the ledger keeps). More creates than
    records means two operators created the same new person (or account) at the same moment."""
    with Session(svc.engine) as db:
        kept = {
            "parties": len(db.exec(select(Customer)).all()),
            "counterparties": len(db.exec(select(Relationship)).all()),
            "payment accounts": len(db.exec(select(AccountRecord)).all()),
        }
    paths = {
        "parties": "/v1/parties/create",
        "counterparties": "/v1/counterparties/create",
        "payment accounts": "/v1/payment-accounts/create",
    }
    return {kind: (sent[path], kept[kind]) for kind, path in paths.items()}


def outcomes(svc: Services) -> Counter[str]:
    with Session(svc.engine) as db:
        return Counter(str(a.local_state) for a in db.exec(select(Attempt)).all())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--db", choices=["postgres", "sqlite"], default=None, help="default: postgres if reachable"
    )
    parser.add_argument(
        "--pool", type=int, default=None, help="HTTP connections, all kept alive (default: the client's)"
    )
    args = parser.parse_args(argv)
    db = args.db or ("postgres" if postgres_reachable() else "sqlite")

    with StandaloneSandbox(latency_ms=args.latency_ms) as sandbox, throwaway_ledger(db) as ledger_url:
        svc = services_on(sandbox.base_url, ledger_url)
        timer = time_the_wire(svc.client, pool=args.pool)
        stop = threading.Event()
        reconciler = threading.Thread(
            target=run_reconciler, args=(svc,), kwargs={"interval": 1.0, "stop": stop}
        )
        reconciler.start()
        operators = Operators(svc, timer, seconds=args.seconds, count=args.operators)
        cpu_before = (time.process_time(), cpu_seconds(sandbox.process.pid))
        elapsed = operators.run()
        cpu_after = (time.process_time(), cpu_seconds(sandbox.process.pid))
        stop.set()
        reconciler.join()
        settle_all(svc, sandbox)
        dupes, orphans, held = duplicates(svc, sandbox)
        twice = records_made_twice(svc, sandbox.requests())
        states = outcomes(svc)
        retries = svc.client.stats.retries
        svc.close()
        sandbox_log = sandbox.log().strip().splitlines()

    flows = operators.flows
    done = [f for f in flows if f.error is None]
    errors = Counter(f.error for f in flows if f.error)
    added = [f.wall - f.wire for f in done]
    added_per_call = [(f.wall - f.wire) / f.calls for f in done if f.calls]
    clicks_split = sum(1 for a, b in operators.double_clicks if a != b)
    print(
        f"# Load: {args.operators} operators for {args.seconds:g} s ({machine()}; ledger {db};"
        f" sandbox latency {args.latency_ms} ms; HTTP pool {args.pool or 'client default'})\n"
    )
    rows = []
    for kind in ("collection", "payout", "all"):
        mine = [f for f in done if kind in ("all", f.kind)]
        extra = [f.wall - f.wire for f in mine]
        rows.append(
            [
                kind,
                len(mine),
                f"{len(mine) / elapsed:.1f}/s",
                ms(median([f.wall for f in mine])),
                ms(median([f.wire for f in mine])),
                ms(percentile(extra, 50)),
                ms(percentile(extra, 95)),
                f"{median([f.calls for f in mine]):g}",
            ]
        )
    print(
        table(
            [
                "flows",
                "done",
                "throughput",
                "p50 wall",
                "p50 sandbox's own",
                "p50 added",
                "p95 added",
                "calls per flow",
            ],
            rows,
        )
    )
    print(
        f"\nAdded latency per Dollr call: p50 {ms(percentile(added_per_call, 50))},"
        f" p95 {ms(percentile(added_per_call, 95))} (all flows: p50 {ms(percentile(added, 50))})"
    )
    ours = (cpu_after[0] - cpu_before[0]) / elapsed
    theirs = (
        (cpu_after[1] - cpu_before[1]) / elapsed
        if cpu_after[1] is not None and cpu_before[1] is not None
        else None
    )
    print(
        f"CPU busy during the run: this process (operators + reconciler) {ours:.2f} cores"
        + (f", the sandbox {theirs:.2f} cores" if theirs is not None else "")
        + f", of {os.cpu_count()}"
    )
    print(f"Errors: {sum(errors.values())} (target: none); safe calls retried by the client: {retries}")
    for message, n in errors.most_common(5):
        print(f"  {n}× {message}")
    print(
        f"Duplicates: {dupes} intents paid more than once, {orphans} payments unknown to the ledger,"
        f" {clicks_split} of {len(operators.double_clicks)} double clicks got two different payments"
        f" (target: none) — Dollr holds {held} payments"
    )
    print(
        "Records created on Dollr / kept in the ledger: "
        + ", ".join(f"{kind} {sent}/{kept}" for kind, (sent, kept) in twice.items())
    )
    if sandbox_log:
        print(f"The sandbox logged {len(sandbox_log)} line(s), the last: {sandbox_log[-1][:200]}")
    print("Final states after settling: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))


if __name__ == "__main__":
    main()
