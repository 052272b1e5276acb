"""Bulk payouts: 1,000 rows against the standalone sandbox with 50 ms added to every request.

The same batch is checked and paid by the bulk worker at the pace it finds by itself
(`bulk/pace.py`, up to `Settings.bulk_max_concurrency`), at each fixed concurrency asked for
(`Settings.bulk_concurrency`) and at concurrency 1 (one row at a time), each on a fresh sandbox
(`python -m dollr_sandbox --latency-ms 50`, started here as a subprocess) and a fresh SQLite
ledger. Reported: the time to check the rows, the time until every row was handed to Dollr, the
time until every payment was final (the sandbox settles a payout 4 s after it is sent), rows per
second, Dollr requests per row, the concurrency reached, the CPU this process and the sandbox
used, and each wall time against the sequential one. Then a run at the pace it finds against a
sandbox with its rate limit on (`--rate-limit N` requests a second for the merchant, across its
tokens): the share of requests answered 429, and the requests Dollr accepted per second while
there were rows to send, against the limit. Every run checks that the sandbox holds exactly one
payout per row.

Beside them, the floor (`--wire-only 16`): the same rows sent by the typed client alone from
that many threads, with no ledger and no checks (the calls a first-time row needs, a status look
5 s after each send). It is not a way to pay (nothing is stored before a send); it shows what the
machine and the sandbox allow before any of our ledger work, so a ratio the floor itself does not
reach is a bound of the machine, not of `dollr_core`.

    .venv/bin/python -m bench.bulk_bench [--rows 1000] [--latency-ms 50] [--concurrency 4 16]
                                         [--sequential-rows N] [--rate-limit 20] [--limited-rows 300]
                                         [--limited-only]

`--sequential-rows N` pays only N rows one at a time and scales the sending up to `--rows` (the
last payment's settling is counted once; the output says so); by default the sequential run pays
every row too. The rate limit is counted over a sliding `--rate-limit-window` (1 s by default:
no second holds more than the limit; the sandbox's own default is 60 s, which lets a minute's
requests come in one burst). `--rate-limit 0` skips the rate-limited run; `--limited-only` runs
nothing else (about 2 minutes for 300 rows).
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, col, func, select

from bench.common import (
    TOKEN_PATH,
    StandaloneSandbox,
    calls,
    cpu_seconds,
    machine,
    services_on,
    table,
    throwaway_ledger,
)
from dollr_core.api.client import DollrClient
from dollr_core.api.models import (
    CounterpartyCreate,
    PartyCreate,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    PaymentAccountCreate,
    PayoutExecute,
    PayoutSessionCreate,
)
from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import ExecutionStatus, OperationType, PaymentMethod, Provider, RelationshipType
from dollr_core.bulk import drafts, progress, recipient_file, records, running, worker
from dollr_core.ledger.tables import BatchRow, BatchRowState, BatchState
from dollr_core.services import Services
from dollr_core.team import approvals

PASSCODE = "123456"
MAKER = Actor("finance@example.com", Role.FINANCE)
#: A batch above the two-manager threshold needs a second, different manager.
CHECKERS = (Actor("manager@example.com", Role.MANAGER), Actor("manager2@example.com", Role.MANAGER))
AMOUNTS = ("2.00", "3.50", "5.00", "6.25", "7.50", "10.00")  # a few amounts, as in a payroll


@dataclass(frozen=True)
class Run:
    concurrency: int | None  # None: the pace the worker found
    rows: int
    check: float  # create_batch: every row checked (operator and fees asked of Dollr)
    sent: float  # start → every row handed to Dollr
    settled: float  # start → every payment final
    check_requests: int  # /v1 requests while checking
    requests: int  # /v1 requests while paying
    by_path: Counter[str]  # those requests per path (ids folded)
    paid: int
    executions: int
    peak: int  # the most rows the worker had at once allowed
    cuts: int  # how often the pace was halved
    our_cpu: float  # CPU seconds of this process while paying
    sandbox_cpu: float  # CPU seconds of the sandbox while paying
    rate_limited: int  # requests answered 429 (checking and paying)
    limited_requests: int  # requests the rate limit counts (all /v1 but token requests), 429s too

    @property
    def label(self) -> str:
        return "found" if self.concurrency is None else str(self.concurrency)


def spreadsheet(rows: int) -> list[recipient_file.RowInput]:
    """Distinct recipients on Liberian MTN and Orange wallets, in USD, none of them a test failure."""
    return [
        recipient_file.RowInput(
            name=f"Recipient {i}",
            phone=f"{'23188' if i % 3 else '23177'}{i:04d}567",
            amount=AMOUNTS[i % len(AMOUNTS)],
            currency="USD",
            note=f"bench row {i}",
            own_reference=f"BENCH-{i}",
        )
        for i in range(rows)
    ]


def pay(
    rows: int,
    concurrency: int | None,
    latency_ms: int,
    *,
    rate_limit_per_s: int = 0,
    window: float = 60,
    ceiling: int | None = None,
) -> Run:
    with (
        StandaloneSandbox(
            latency_ms=latency_ms,
            rate_limit=rate_limit_per_s * 60,
            extra=["--rate-limit-window", str(window)],
        ) as sandbox,
        throwaway_ledger("sqlite") as ledger,
    ):
        ceilings = {} if ceiling is None else {"bulk_max_concurrency": ceiling}
        svc = services_on(sandbox.base_url, ledger, bulk_concurrency=concurrency, **ceilings)
        try:
            first, refused_first = sandbox.requests(), sandbox.rate_limited()
            started = time.perf_counter()
            batch = drafts.create_batch(svc, MAKER, f"bench {concurrency or 'found'}", spreadsheet(rows))
            check = time.perf_counter() - started
            batch_id = batch.id or 0
            states = Counter(r.state for r in records.batch_rows(svc, MAKER, batch_id))
            if states != {BatchRowState.VALID: rows}:
                raise RuntimeError(f"the bench rows did not all pass the checks: {states}")
            drafts.submit_for_approval(svc, MAKER, batch_id)
            for checker in CHECKERS:
                shown = approvals.batch_totals(svc, checker, batch_id).fingerprint
                decision = approvals.Decision(True, "bench", shown)
                decided = approvals.decide_batch(svc, checker, batch_id, decision)
                if decided.state != BatchState.AWAITING_APPROVAL:
                    break

            before = sandbox.requests()
            cpu_before = (cpu_seconds(os.getpid()) or 0.0, cpu_seconds(sandbox.process.pid) or 0.0)
            started = time.perf_counter()
            running.start_batch(svc, MAKER, batch_id, PASSCODE)
            paying = svc.bulk_workers.get(batch_id)
            sent = 0.0
            while not worker.join(svc, batch_id, timeout=0.2):
                if not sent and _all_handed_over(svc, batch_id):
                    sent = time.perf_counter() - started
            settled = time.perf_counter() - started
            cpu_after = (cpu_seconds(os.getpid()) or 0.0, cpu_seconds(sandbox.process.pid) or 0.0)
            after = sandbox.requests()
            requests, _ = calls(before, after)
            check_requests, _ = calls(first, before)
            outcome = progress.progress(svc, MAKER, batch_id)
            if outcome.batch.state != BatchState.FINISHED:
                raise RuntimeError(f"batch ended {outcome.batch.state}: {worker.problem(svc, batch_id)}")
            executions = sandbox.executions()
            references = Counter(e["reference_id"] for e in executions)
            if len(references) != len(executions) or len(executions) != rows:
                raise RuntimeError(f"{len(executions)} payouts at Dollr for {rows} rows")
            limited = after - first
            del limited[TOKEN_PATH]
            return Run(
                concurrency=concurrency,
                rows=rows,
                check=check,
                sent=sent or settled,
                settled=settled,
                check_requests=check_requests,
                requests=requests,
                by_path=_folded(after - before),
                paid=outcome.counts.get(BatchRowState.PAID, 0),
                executions=len(executions),
                peak=paying.pace.peak if paying is not None else 0,
                cuts=paying.pace.cuts if paying is not None else 0,
                our_cpu=cpu_after[0] - cpu_before[0],
                sandbox_cpu=cpu_after[1] - cpu_before[1],
                rate_limited=sandbox.rate_limited() - refused_first,
                limited_requests=sum(limited.values()),
            )
        finally:
            worker.stop(svc)
            svc.close()


def wire_only(rows: int, concurrency: int, latency_ms: int) -> Run:
    """The same rows paid by the typed client alone, no ledger and no checks: the calls a
    first-time row needs (party, then its counterparty and payout account side by side, session,
    execute, a status look 5 s after the send, as the worker makes them) from `concurrency`
    threads. What this machine and the sandbox allow before any of our ledger work; not a way
    to pay (nothing is stored before a send)."""
    with StandaloneSandbox(latency_ms=latency_ms) as sandbox, throwaway_ledger("sqlite") as ledger:
        svc = services_on(sandbox.base_url, ledger)
        settings = svc.settings
        # A client keeps the console's connections (`Settings.http_connections`), and a row has
        # up to two requests out at once: enough clients that no thread waits for a connection.
        more = (2 * concurrency - 1) // settings.http_connections
        clients = [svc.client, *(DollrClient(settings) for _ in range(more))]
        device = PasscodeDevice(
            name="bench", type="SERVER", platform="PYTHON", user_agent="bench/1", client_ip="127.0.0.1"
        )
        passcode = Passcode(token=PasscodeToken(code=PASSCODE, phone=settings.passcode_phone), device=device)
        due: list[tuple[float, str]] = []  # (when to look, reference_id)
        due_lock = threading.Condition()
        final: dict[str, str] = {}
        last_sent = [0.0]

        def pay_row(i: int, row: recipient_file.RowInput, side: ThreadPoolExecutor) -> None:
            client = clients[i % len(clients)]
            method = (
                PaymentMethod.MTN_MOMO_LBR
                if row.phone.startswith("23188")
                else PaymentMethod.ORANGE_MONEY_LBR
            )
            party = client.parties.create(PartyCreate(fullname=row.name, phone=row.phone, country_code="LR"))
            counterparty = side.submit(
                client.counterparties.create,
                CounterpartyCreate(relationship_type=RelationshipType.BENEFICIARY, party_id=party.id),
            )
            account = client.payment_accounts.create(
                PaymentAccountCreate(
                    account_name=f"{row.name} {method.value}",
                    provider=Provider.PAWAPAY,
                    method=method,
                    party_id=party.id,
                    country_code="LR",
                    insensitive_account_number=row.phone,
                ),
                operation_type=OperationType.PAYOUT,
            )
            counterparty.result()
            session = client.sessions.payout(
                PayoutSessionCreate(
                    payout_account_id=account.id, amount=Decimal(row.amount), currency=row.currency
                )
            )
            reference = str(uuid.uuid4())
            client.executions.payout(
                PayoutExecute(
                    session_id=str(session.id),
                    payout_account_id=account.id,
                    reference_id=reference,
                    passcode=passcode,
                )
            )
            last_sent[0] = time.perf_counter()
            with due_lock:
                heapq.heappush(due, (time.monotonic() + 5.0, reference))
                due_lock.notify()

        def follow(looks: ThreadPoolExecutor) -> None:
            def look(reference: str) -> None:
                status = svc.client.status.execution(OperationType.PAYOUT, reference).status
                if status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED):
                    with due_lock:
                        final[reference] = str(status)
                        due_lock.notify_all()
                else:
                    with due_lock:
                        heapq.heappush(due, (time.monotonic() + 2.0, reference))
                        due_lock.notify()

            while True:
                with due_lock:
                    while len(final) < rows and (not due or due[0][0] > time.monotonic()):
                        due_lock.wait(timeout=max(0.0, due[0][0] - time.monotonic()) if due else 0.5)
                    if len(final) >= rows:
                        return
                    _, reference = heapq.heappop(due)
                looks.submit(look, reference)

        batch = spreadsheet(rows)
        before = sandbox.requests()
        cpu_before = (cpu_seconds(os.getpid()) or 0.0, cpu_seconds(sandbox.process.pid) or 0.0)
        started = time.perf_counter()
        with (
            ThreadPoolExecutor(concurrency) as senders,
            ThreadPoolExecutor(concurrency) as side,
            ThreadPoolExecutor(concurrency) as looks,
        ):
            follower = threading.Thread(target=follow, args=(looks,), daemon=True)
            follower.start()
            for sent in [senders.submit(pay_row, i, row, side) for i, row in enumerate(batch)]:
                sent.result()
            follower.join()
        settled = time.perf_counter() - started
        cpu_after = (cpu_seconds(os.getpid()) or 0.0, cpu_seconds(sandbox.process.pid) or 0.0)
        after = sandbox.requests()
        executions = sandbox.executions()
        for extra in clients[1:]:
            extra.close()
        svc.close()
        return Run(
            concurrency=concurrency,
            rows=rows,
            check=0.0,
            sent=last_sent[0] - started,
            settled=settled,
            check_requests=0,
            requests=calls(before, after)[0],
            by_path=_folded(after - before),
            paid=sum(1 for s in final.values() if s == ExecutionStatus.COMPLETED),
            executions=len(executions),
            peak=concurrency,
            cuts=0,
            our_cpu=cpu_after[0] - cpu_before[0],
            sandbox_cpu=cpu_after[1] - cpu_before[1],
            rate_limited=0,
            limited_requests=0,
        )


def _folded(by_path: Counter[str]) -> Counter[str]:
    """Requests per path with the ids in it folded (`/v1/x/12/y` → `/v1/x/{id}/y`)."""
    folded: Counter[str] = Counter()
    for path, n in by_path.items():
        parts = ["{id}" if p.isdigit() or len(p) >= 20 else p for p in path.split("/")]
        folded["/".join(parts)] += n
    return folded


def _all_handed_over(svc: Services, batch_id: int) -> bool:
    """True once no row is waiting and every row sent has its reference at Dollr."""
    with Session(svc.engine) as db:
        waiting = db.exec(
            select(func.count())
            .select_from(BatchRow)
            .where(
                col(BatchRow.batch_id) == batch_id,
                (col(BatchRow.state) == BatchRowState.QUEUED)
                | ((col(BatchRow.state) == BatchRowState.SENT) & col(BatchRow.reference_id).is_(None)),
            )
        ).one()
    return waiting == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[4, 16], help="fixed concurrencies")
    parser.add_argument(
        "--max-concurrency", type=int, default=None, help="the ceiling of the pace (Settings default)"
    )
    parser.add_argument("--sequential-rows", type=int, default=None, help="pay fewer rows one at a time")
    parser.add_argument(
        "--wire-only",
        type=int,
        nargs="*",
        default=[16],
        help="thread counts for the same rows sent by the client alone, no ledger (the machine's floor)",
    )
    parser.add_argument("--rate-limit", type=int, default=20, help="requests/s for the rate-limited run")
    parser.add_argument("--limited-rows", type=int, default=300, help="rows of the rate-limited run")
    parser.add_argument(
        "--rate-limit-window", type=float, default=1.0, help="seconds the sandbox counts the limit over"
    )
    parser.add_argument(
        "--limited-only", action="store_true", help="only the rate-limited run (quick to repeat)"
    )
    options = parser.parse_args(argv)

    print(f"# Bulk payouts: {options.rows:,} rows, {options.latency_ms} ms sandbox latency per request")
    print(machine(), flush=True)
    if not options.limited_only:
        unlimited_runs(options)
    if options.rate_limit:
        limited_run(options)
    return 0


def unlimited_runs(options: argparse.Namespace) -> None:
    """The batch at the pace found, at each fixed concurrency and one at a time, with no limit."""
    runs: list[Run] = []
    for concurrency in [None, *options.concurrency]:
        shown = "the pace it finds" if concurrency is None else f"concurrency {concurrency}"
        print(f"… paying {options.rows:,} rows at {shown}", flush=True)
        runs.append(pay(options.rows, concurrency, options.latency_ms, ceiling=options.max_concurrency))
    sequential_rows = options.sequential_rows or options.rows
    print(f"… paying {sequential_rows:,} rows one at a time", flush=True)
    sequential = pay(sequential_rows, 1, options.latency_ms)
    scale = options.rows / sequential_rows
    # Scaled up: the sending, not the last payment's settling (4 s on the sandbox), which any run has once.
    baseline = sequential.sent * scale + (sequential.settled - sequential.sent)
    # The checks one at a time: its time per look-up times the look-ups of the whole batch (one
    # per distinct number and per distinct quote, so not a multiple of the rows).
    per_look = sequential.check / max(1, sequential.check_requests)

    def end_to_end(run: Run) -> float:
        return run.check + run.settled

    def baseline_end_to_end(run: Run) -> float:
        return per_look * run.check_requests + baseline

    def row(run: Run, factor: float = 1.0, label: str = "", check: float | None = None) -> list[object]:
        """`check`: the checks' time when it is not the run's own (one at a time, scaled up)."""
        settled = run.sent * factor + (run.settled - run.sent)
        one_at_a_time = baseline_end_to_end(run) if check is None else baseline + check
        check = run.check if check is None else check
        return [
            f"{run.label}{label}",
            f"{run.peak}" if run.concurrency is None else "—",
            f"{run.rows:,}",
            f"{check:,.1f} s" if run.check_requests else "—",
            f"{run.sent * factor:,.1f} s",
            f"{settled:,.1f} s",
            f"{run.rows / run.settled:,.1f}",
            f"{run.requests / run.rows:.1f}",
            f"{run.our_cpu / run.settled:.2f} / {run.sandbox_cpu / run.settled:.2f}",
            f"**{baseline / settled:.1f}×**",
            f"**{one_at_a_time / (check + settled):.1f}×**" if run.check_requests else "—",
            f"{run.paid:,} / {run.executions:,}",
        ]

    extrapolated = f" (scaled from {sequential_rows:,} rows)" if scale != 1 else ""
    floors = []
    for concurrency in options.wire_only:
        print(f"… sending {options.rows:,} rows from {concurrency} threads by the client alone", flush=True)
        floors.append(wire_only(options.rows, concurrency, options.latency_ms))
    print()
    print(
        table(
            [
                "concurrency",
                "reached",
                "rows",
                "check rows",
                "all sent",
                "all final",
                "rows/s",
                "requests/row",
                "CPU cores: ours / sandbox",
                "faster than one at a time (paying)",
                "end to end: check, send, all final",
                "paid / payouts at Dollr",
            ],
            [
                *(row(r) for r in runs),
                # Scaled up, its checks as `baseline_end_to_end` counts them for the batch.
                row(sequential, scale, extrapolated, check=baseline_end_to_end(runs[0]) - baseline),
                *(row(f, label=", the client alone (no ledger, no checks)") for f in floors),
            ],
        )
    )
    found = runs[0]
    print(
        f"\nAt the pace it finds: {found.settled:,.1f} s for {found.rows:,} rows, "
        f"{baseline / found.settled:.1f}× faster than one at a time ({baseline:,.1f} s{extrapolated});"
        f" concurrency reached {found.peak}, halved {found.cuts} time(s)."
    )
    print(
        f"End to end (check, send, all final): {end_to_end(found):,.1f} s against"
        f" {baseline_end_to_end(found):,.1f} s one at a time (its checks {per_look * 1000:.0f} ms"
        f" a look-up, {found.check_requests:,} look-ups):"
        f" **{baseline_end_to_end(found) / end_to_end(found):.1f}×**."
    )
    print(
        f"Check: {found.check_requests:,} requests for {found.rows:,} rows (one per distinct number"
        " and one per distinct quote)."
    )
    per_row = ", ".join(
        f"{path} {n / found.rows:.2f}" for path, n in found.by_path.most_common() if n / found.rows >= 0.01
    )
    print(f"Requests per row while paying: {per_row}.")
    for floor in floors:
        print(
            f"The client alone from {floor.concurrency} threads: {floor.settled:,.1f} s,"
            f" {baseline / floor.settled:.1f}× (the sandbox used"
            f" {1000 * floor.sandbox_cpu / floor.requests:.2f} ms of CPU per request, this process"
            f" {1000 * floor.our_cpu / floor.rows:.1f} ms per row): what"
            " this machine and the sandbox allow before any ledger work."
        )


def limited_run(options: argparse.Namespace) -> None:
    """The batch at the pace found against the sandbox's rate limit: 429s and accepted rate."""
    limit = options.rate_limit
    print(
        f"\n… paying {options.limited_rows:,} rows at the pace it finds, sandbox limit {limit}/s",
        flush=True,
    )
    window = options.rate_limit_window
    limited = pay(
        options.limited_rows,
        None,
        options.latency_ms,
        rate_limit_per_s=limit,
        window=window,
        ceiling=options.max_concurrency,
    )
    busy = limited.check + limited.sent  # checking, then sending: the time there was work to send
    accepted = limited.limited_requests - limited.rate_limited
    refused = 100 * limited.rate_limited / limited.limited_requests
    print(
        table(
            [
                "rate limit",
                "rows",
                "check + all sent",
                "all final",
                "requests (429 included)",
                "answered 429",
                "accepted per second",
                "of the limit",
                "reached / halved",
                "paid / payouts at Dollr",
            ],
            [
                [
                    f"{limit}/s (window {window:g} s)",
                    f"{limited.rows:,}",
                    f"{busy:,.1f} s",
                    f"{limited.check + limited.settled:,.1f} s",
                    f"{limited.limited_requests:,}",
                    f"{limited.rate_limited:,} (**{refused:.2f} %**)",
                    f"{accepted / busy:,.1f}",
                    f"**{100 * accepted / busy / limit:.0f} %**",
                    f"{limited.peak} / {limited.cuts}",
                    f"{limited.paid:,} / {limited.executions:,}",
                ]
            ],
        )
    )
    print(
        f"(The sandbox counts the limit over a sliding {window:g} s window, so no {window:g} s"
        " holds more; the rate is taken from the start of the checks until the last row was"
        " sent, leaving out the following of payments to their outcome.)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
