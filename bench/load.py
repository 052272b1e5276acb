"""50 operators at once, for a minute, on one ledger and one sandbox: in one console process, or
spread over several (`--consoles 1 2`, the default, runs both one after the other and prints them
side by side).

Every console is a Python process of its own (`python -m bench.load --console ...`) with its own
client, services and reconciler, as a second replica of the console would be. Each operator thread
runs invoice collections and payouts back to back (one in five payouts is confirmed twice at the
same instant, as a double click would), against the standalone sandbox with 20 ms latency.
Reported: throughput, the latency `dollr_core` adds on top of the sandbox's own (p50/p95, per flow
and per call), per process and combined, errors, and duplicates — payments Dollr holds more than
once for one intent, checked at the sandbox (targets: none and none).

    .venv/bin/python -m bench.load [--seconds 60] [--operators 50] [--consoles 1 2] [--db postgres|sqlite]
        [--pool N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
    def __init__(
        self, svc: Services, timer: WireTimer, *, seconds: float, count: int, first: int = 0
    ) -> None:
        self.svc, self.timer = svc, timer
        self.deadline = 0.0
        self.seconds, self.count, self.first = seconds, count, first
        self.flows: list[Flow] = []
        self.double_clicks: list[tuple[str, str]] = []  # the two references a double click got back
        self._lock = threading.Lock()
        self._start = threading.Barrier(count + 1)

    def run(self) -> float:
        threads = [
            threading.Thread(target=self._operator, args=(i,), name=f"operator-{i}")
            for i in range(self.first, self.first + self.count)
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


@dataclass
class ConsoleRun:
    """What one console process measured (written as JSON by `--console`)."""

    flows: list[Flow]
    double_clicks: list[tuple[str, str]]
    elapsed: float
    cpu: float  # CPU seconds the process used during the run
    retries: int
    late_start: float = 0.0  # how long after the agreed start it began (it was still importing)


def run_console(
    sandbox_url: str,
    ledger_url: str,
    *,
    first: int,
    count: int,
    seconds: float,
    start_at: float,
    pool: int | None,
) -> ConsoleRun:
    """One console: its own client, services and reconciler, operators `first`.. `first + count`."""
    svc = services_on(sandbox_url, ledger_url)
    timer = time_the_wire(svc.client, pool=pool)
    stop = threading.Event()
    reconciler = threading.Thread(target=run_reconciler, args=(svc,), kwargs={"interval": 1.0, "stop": stop})
    reconciler.start()
    operators = Operators(svc, timer, seconds=seconds, count=count, first=first)
    late = max(0.0, time.time() - start_at)
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = time.process_time()
    elapsed = operators.run()
    cpu = time.process_time() - cpu_before
    stop.set()
    reconciler.join()
    retries = svc.client.stats.retries
    svc.close()
    return ConsoleRun(operators.flows, operators.double_clicks, elapsed, cpu, retries, late)


@dataclass
class LoadResult:
    consoles: int
    runs: list[ConsoleRun]
    sandbox_cpu: float | None
    dupes: int
    orphans: int
    held: int
    twice: dict[str, tuple[int, int]]
    states: Counter[str]
    sandbox_log: list[str] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return max(r.elapsed for r in self.runs)

    @property
    def flows(self) -> list[Flow]:
        return [f for r in self.runs for f in r.flows]


def run_load(args: argparse.Namespace, db: str, consoles: int) -> LoadResult:
    """`args.operators` operators over `consoles` console processes, on a fresh ledger and sandbox."""
    with StandaloneSandbox(latency_ms=args.latency_ms) as sandbox, throwaway_ledger(db) as ledger_url:
        svc = services_on(sandbox.base_url, ledger_url)  # migrates the ledger before any console starts
        shares = [args.operators // consoles + (i < args.operators % consoles) for i in range(consoles)]
        start_at = time.time() + 10  # every console has imported and connected by then
        with tempfile.TemporaryDirectory(prefix="dollr-load-") as tmp:
            outputs = [Path(tmp) / f"console-{i}.json" for i in range(consoles)]
            processes = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.load",
                        "--console",
                        json.dumps(
                            {
                                "sandbox_url": sandbox.base_url,
                                "ledger_url": ledger_url,
                                "first": sum(shares[:i]),
                                "count": shares[i],
                                "seconds": args.seconds,
                                "start_at": start_at,
                                "pool": args.pool,
                                "output": str(outputs[i]),
                            }
                        ),
                    ],
                    cwd=Path(__file__).resolve().parents[1],
                )
                for i in range(consoles)
            ]
            time.sleep(max(0.0, start_at - time.time()))
            sandbox_before = cpu_seconds(sandbox.process.pid)
            for process in processes:
                if process.wait() != 0:
                    raise RuntimeError(f"a console process ended with {process.returncode}")
            sandbox_after = cpu_seconds(sandbox.process.pid)
            runs = [_read_run(path) for path in outputs]
        settle_all(svc, sandbox)
        dupes, orphans, held = duplicates(svc, sandbox)
        twice = records_made_twice(svc, sandbox.requests())
        states = outcomes(svc)
        svc.close()
        sandbox_log = sandbox.log().strip().splitlines()
    window = max(r.elapsed for r in runs)
    sandbox_cpu = (
        (sandbox_after - sandbox_before) / window
        if sandbox_after is not None and sandbox_before is not None
        else None
    )
    return LoadResult(consoles, runs, sandbox_cpu, dupes, orphans, held, twice, states, sandbox_log)


def _read_run(path: Path) -> ConsoleRun:
    raw = json.loads(path.read_text())
    return ConsoleRun(
        flows=[Flow(**f) for f in raw["flows"]],
        double_clicks=[tuple(pair) for pair in raw["double_clicks"]],  # type: ignore[misc]
        elapsed=raw["elapsed"],
        cpu=raw["cpu"],
        retries=raw["retries"],
        late_start=raw["late_start"],
    )


def _console_main(spec: str) -> None:
    job = json.loads(spec)
    run = run_console(
        job["sandbox_url"],
        job["ledger_url"],
        first=job["first"],
        count=job["count"],
        seconds=job["seconds"],
        start_at=job["start_at"],
        pool=job["pool"],
    )
    Path(job["output"]).write_text(json.dumps(asdict(run)))


def _added(flows: list[Flow]) -> list[float]:
    return [f.wall - f.wire for f in flows if f.error is None]


def report(result: LoadResult, args: argparse.Namespace, db: str) -> None:
    flows, elapsed = result.flows, result.elapsed
    done = [f for f in flows if f.error is None]
    errors = Counter(f.error for f in flows if f.error)
    added = _added(flows)
    added_per_call = [(f.wall - f.wire) / f.calls for f in done if f.calls]
    clicks = [pair for r in result.runs for pair in r.double_clicks]
    clicks_split = sum(1 for a, b in clicks if a != b)
    where = "one console process" if result.consoles == 1 else f"{result.consoles} console processes"
    print(
        f"## {args.operators} operators on {where} for {args.seconds:g} s ({machine()}; ledger {db};"
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
    header = ["flows", "done", "throughput", "p50 wall", "p50 sandbox's own", "p50 added", "p95 added"]
    print(table([*header, "calls per flow"], rows))
    if result.consoles > 1:
        print()
        per_console = []
        for i, run in enumerate(result.runs):
            mine = [f for f in run.flows if f.error is None]
            extra = _added(run.flows)
            per_console.append(
                [
                    f"console {i + 1}",
                    len(mine),
                    f"{len(mine) / run.elapsed:.1f}/s",
                    ms(percentile(extra, 50)),
                    ms(percentile(extra, 95)),
                    sum(1 for f in run.flows if f.error),
                    f"{run.cpu / run.elapsed:.2f} cores",
                    f"{run.late_start:.1f} s",
                ]
            )
        print(
            table(
                [
                    "process",
                    "flows done",
                    "throughput",
                    "p50 added",
                    "p95 added",
                    "errors",
                    "CPU",
                    "started late",
                ],
                per_console,
            )
        )
    print(
        f"\nAdded latency per Dollr call: p50 {ms(percentile(added_per_call, 50))},"
        f" p95 {ms(percentile(added_per_call, 95))} (all flows: p50 {ms(percentile(added, 50))})"
    )
    ours = sum(r.cpu for r in result.runs) / elapsed
    print(
        f"CPU busy during the run: the console process(es) (operators + reconciler) {ours:.2f} cores"
        + (f", the sandbox {result.sandbox_cpu:.2f} cores" if result.sandbox_cpu is not None else "")
        + f", of {os.cpu_count()}"
    )
    retries = sum(r.retries for r in result.runs)
    print(f"Errors: {sum(errors.values())} (target: none); safe calls retried by the client: {retries}")
    for message, n in errors.most_common(5):
        print(f"  {n}× {message}")
    print(
        f"Duplicates (checked at the sandbox): {result.dupes} intents paid more than once, {result.orphans}"
        f" payments unknown to the ledger, {clicks_split} of {len(clicks)} double clicks got two different"
        f" payments (target: none) — Dollr holds {result.held} payments"
    )
    print(
        "Records created on Dollr / kept in the ledger: "
        + ", ".join(f"{kind} {sent}/{kept}" for kind, (sent, kept) in result.twice.items())
    )
    if result.sandbox_log:
        print(
            f"The sandbox logged {len(result.sandbox_log)} line(s), the last: {result.sandbox_log[-1][:200]}"
        )
    print("Final states after settling: " + ", ".join(f"{k} {v}" for k, v in sorted(result.states.items())))
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument(
        "--consoles",
        type=int,
        nargs="+",
        default=[1, 2],
        help="console processes sharing the operators; several counts run one after the other (default: 1 2)",
    )
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--db", choices=["postgres", "sqlite"], default=None, help="default: postgres if reachable"
    )
    parser.add_argument(
        "--pool", type=int, default=None, help="HTTP connections, all kept alive (default: the client's)"
    )
    parser.add_argument("--console", help=argparse.SUPPRESS)  # one console process's job (JSON)
    args = parser.parse_args(argv)
    if args.console:
        _console_main(args.console)
        return
    db = args.db or ("postgres" if postgres_reachable() else "sqlite")
    results = [run_load(args, db, consoles) for consoles in args.consoles]
    print(f"# Load: {args.operators} operators for {args.seconds:g} s, ledger {db}\n")
    for result in results:
        report(result, args, db)
    if len(results) > 1:
        rows = []
        for r in results:
            added = _added(r.flows)
            rows.append(
                [
                    r.consoles,
                    f"{len(added) / r.elapsed:.1f}/s",
                    ms(percentile(added, 50)),
                    ms(percentile(added, 95)),
                    sum(1 for f in r.flows if f.error),
                    r.dupes + r.orphans,
                ]
            )
        print("## Side by side\n")
        print(
            table(
                ["console processes", "flows per second", "p50 added", "p95 added", "errors", "duplicates"],
                rows,
            )
        )


if __name__ == "__main__":
    main()
