"""Bulk payouts: 1,000 rows against the standalone sandbox with 50 ms added to every request.

The same batch is checked and paid by the bulk worker at the configured concurrency
(`Settings.bulk_concurrency`, 4 by default) and at concurrency 1 (one row at a time), each on a
fresh sandbox (`python -m dollr_sandbox --latency-ms 50`, started here as a subprocess) and a
fresh SQLite ledger. Reported: the time to check the rows, the time until every row was handed to
Dollr, the time until every payment was final (the sandbox settles a payout 4 s after it is sent),
rows per second, Dollr requests per row, and the ratio of each wall time to the sequential one.
Every run also checks that the sandbox holds exactly one payout per row.

    .venv/bin/python -m bench.bulk_bench [--rows 1000] [--latency-ms 50] [--concurrency 4 8]
                                         [--sequential-rows N]

`--sequential-rows N` pays only N rows one at a time and scales the time up to `--rows` (say so
in the output); by default the sequential run pays every row too.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, col, func, select

from bench.common import StandaloneSandbox, calls, machine, services_on, table, throwaway_ledger
from dollr_core.basics.access import Actor, Role
from dollr_core.bulk import drafts, progress, recipient_file, records, running, worker
from dollr_core.ledger.tables import BatchRow, BatchRowState, BatchState
from dollr_core.services import Services
from dollr_core.team import approvals

PASSCODE = "123456"
MAKER = Actor("finance@example.com", Role.FINANCE)
CHECKER = Actor("manager@example.com", Role.MANAGER)
AMOUNTS = ("2.00", "3.50", "5.00", "6.25", "7.50", "10.00")  # a few amounts, as in a payroll


@dataclass(frozen=True)
class Run:
    concurrency: int
    rows: int
    check: float  # create_batch: every row checked (operator and fees asked of Dollr)
    sent: float  # start → every row handed to Dollr
    settled: float  # start → every payment final
    requests: int  # /v1 requests while paying
    paid: int
    executions: int


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


def pay(rows: int, concurrency: int, latency_ms: int) -> Run:
    with (
        StandaloneSandbox(latency_ms=latency_ms, rate_limit=0) as sandbox,
        throwaway_ledger("sqlite") as ledger,
    ):
        svc = services_on(sandbox.base_url, ledger, bulk_concurrency=concurrency)
        try:
            started = time.perf_counter()
            batch = drafts.create_batch(svc, MAKER, f"bench {concurrency}", spreadsheet(rows))
            check = time.perf_counter() - started
            batch_id = batch.id or 0
            states = Counter(r.state for r in records.batch_rows(svc, MAKER, batch_id))
            if states != {BatchRowState.VALID: rows}:
                raise RuntimeError(f"the bench rows did not all pass the checks: {states}")
            drafts.submit_for_approval(svc, MAKER, batch_id)
            shown = approvals.batch_totals(svc, CHECKER, batch_id).fingerprint
            approvals.decide_batch(svc, CHECKER, batch_id, approvals.Decision(True, "bench", shown))

            before = sandbox.requests()
            started = time.perf_counter()
            running.start_batch(svc, MAKER, batch_id, PASSCODE)
            sent = 0.0
            while not worker.join(svc, batch_id, timeout=0.2):
                if not sent and _all_handed_over(svc, batch_id):
                    sent = time.perf_counter() - started
            settled = time.perf_counter() - started
            requests, _ = calls(before, sandbox.requests())
            outcome = progress.progress(svc, MAKER, batch_id)
            if outcome.batch.state != BatchState.FINISHED:
                raise RuntimeError(f"batch ended {outcome.batch.state}: {worker.problem(svc, batch_id)}")
            executions = sandbox.executions()
            references = Counter(e["reference_id"] for e in executions)
            if len(references) != len(executions) or len(executions) != rows:
                raise RuntimeError(f"{len(executions)} payouts at Dollr for {rows} rows")
            return Run(
                concurrency=concurrency,
                rows=rows,
                check=check,
                sent=sent or settled,
                settled=settled,
                requests=requests,
                paid=outcome.counts.get(BatchRowState.PAID, 0),
                executions=len(executions),
            )
        finally:
            worker.stop(svc)
            svc.close()


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
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--sequential-rows", type=int, default=None, help="pay fewer rows one at a time")
    options = parser.parse_args(argv)

    print(f"# Bulk payouts: {options.rows:,} rows, {options.latency_ms} ms sandbox latency per request")
    print(machine(), flush=True)
    runs: list[Run] = []
    for concurrency in options.concurrency:
        print(f"… paying {options.rows:,} rows at concurrency {concurrency}", flush=True)
        runs.append(pay(options.rows, concurrency, options.latency_ms))
    sequential_rows = options.sequential_rows or options.rows
    print(f"… paying {sequential_rows:,} rows one at a time", flush=True)
    sequential = pay(sequential_rows, 1, options.latency_ms)
    scale = options.rows / sequential_rows

    def row(run: Run, factor: float = 1.0, label: str = "") -> list[object]:
        return [
            f"{run.concurrency}{label}",
            f"{run.rows:,}",
            f"{run.check * factor:,.1f} s",
            f"{run.sent * factor:,.1f} s",
            f"{run.settled * factor:,.1f} s",
            f"{run.rows / run.settled:,.1f}",
            f"{run.requests / run.rows:.1f}",
            f"{run.settled / (sequential.settled * scale):.2f}",
            f"{run.paid:,} / {run.executions:,}",
        ]

    extrapolated = f" (scaled from {sequential_rows:,} rows)" if scale != 1 else ""
    print()
    print(
        table(
            [
                "concurrency",
                "rows",
                "check rows",
                "all sent",
                "all final",
                "rows/s",
                "requests/row",
                "time vs sequential",
                "paid / payouts at Dollr",
            ],
            [*(row(r) for r in runs), row(sequential, scale, extrapolated)],
        )
    )
    baseline = sequential.settled * scale
    for run in runs:
        print(
            f"\nConcurrency {run.concurrency}: {run.settled:,.1f} s for {run.rows:,} rows, "
            f"{run.settled / baseline:.2f} × the sequential {baseline:,.1f} s{extrapolated}"
            f" ({baseline / run.settled:.1f}× faster)."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
