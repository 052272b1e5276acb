"""The books from the command line, for automation: sync, history export, statements, reports.

    python -m dollr_core sync --once
    python -m dollr_core history export --from 2026-11-01 --to 2026-11-30 [--format csv|xlsx] [--output F]
    python -m dollr_core statement --currency USD --month 2026-11 [--format csv|pdf] [--output F]
    python -m dollr_core reconcile-report --from 2026-11-01 --to 2026-11-30 [--output F]

Output goes to standard output unless `--output` names a file. Every run is recorded in the audit
trail as the operating-system user who ran it (`os:<user>`). A bad argument stops the run with one
sentence on standard error and exit status 2, before anything is read or written.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from dollr_core.basics.access import Actor, Role
from dollr_core.config import Settings
from dollr_core.errors import InputRefused
from dollr_core.ledger import audit, open_ledger
from dollr_core.reports import history, history_export


class ArgumentProblem(InputRefused):
    """An argument is missing or malformed; the message is one sentence naming it."""


def os_actor() -> Actor:
    """Whoever runs the command on this machine, as the audit trail names them."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (e.g. a container without one)
        user = "unknown"
    return Actor(f"os:{user}", Role.FINANCE)


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ArgumentProblem(f"{option} must be a date like 2026-11-01 (got {text!r}).") from None


def parse_period(since: str, until: str) -> tuple[date, date]:
    first, last = parse_day(since, "--from"), parse_day(until, "--to")
    if last < first:
        raise ArgumentProblem(f"--to ({last}) is before --from ({first}).")
    return first, last


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    sync = commands.add_parser("sync", help="bring in invoices and orders made outside the console")
    sync.add_argument("--once", action="store_true", required=True, help="one pass, then exit")

    hist = commands.add_parser("history", help="payment history")
    hist_actions = hist.add_subparsers(dest="action", required=True)
    export = hist_actions.add_parser("export", help="what the History page exports, for a period")
    export.add_argument("--from", dest="since", required=True, metavar="DATE")
    export.add_argument("--to", dest="until", required=True, metavar="DATE")
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--output", metavar="FILE", help="write here instead of standard output")

    recon = commands.add_parser(
        "reconcile-report", help="check a period's payments against Dollr (exit 1 when any differ)"
    )
    recon.add_argument("--from", dest="since", required=True, metavar="DATE")
    recon.add_argument("--to", dest="until", required=True, metavar="DATE")
    recon.add_argument("--resume", type=int, metavar="RUN", help="carry on an interrupted run")
    recon.add_argument("--output", metavar="FILE", help="write here instead of standard output")

    stmt = commands.add_parser("statement", help="a statement for one currency and period")
    stmt.add_argument("--currency", required=True)
    period = stmt.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", metavar="YYYY-MM")
    period.add_argument("--from", dest="since", metavar="DATE", help="with --to: any range of days")
    stmt.add_argument("--to", dest="until", metavar="DATE")
    stmt.add_argument("--format", choices=["csv", "pdf"], default="csv")
    stmt.add_argument("--output", metavar="FILE", help="write here instead of standard output")


def run(settings: Settings, options: argparse.Namespace) -> int:
    from dollr_core.runtime import start_services

    actor = os_actor()
    if options.command == "history":
        since, until = parse_period(options.since, options.until)
        output = _target(options.output)
        engine = open_ledger(settings.ledger_url)  # the ledger alone: no call to Dollr
        try:
            flt = history.HistoryFilter(since=since, until=until)
            if options.format == "xlsx":
                data = history_export.query_xlsx(engine, flt)
            else:
                data = "".join(history_export.query_csv(engine, flt)).encode()  # as the page downloads it
            rows = history.query_count(engine, flt)
            _write(output, data)
            audit.record(
                engine,
                actor.email,
                "history_exported",
                target=f"{since} to {until}",
                detail=f"{rows} payment(s) as {options.format} to {options.output or 'standard output'}",
            )
        finally:
            engine.dispose()
        return 0
    if options.command == "statement":
        return _statement(settings, options, actor)
    if options.command == "reconcile-report":
        return _reconcile_report(settings, options, actor)
    if options.command == "sync":
        from dollr_core.flows.sync import sync_once

        svc = start_services(settings)
        try:
            result = sync_once(svc)
            audit.record(svc.engine, actor.email, "documents_synced", detail=result.summary())
        finally:
            svc.close()
        print(result.summary())
        return 0
    raise ArgumentProblem(f"Unknown command {options.command!r}.")


def _statement(settings: Settings, options: argparse.Namespace, actor: Actor) -> int:
    from dollr_core.basics.money import check_currency
    from dollr_core.reports import statements

    currency = options.currency.strip().upper()
    try:
        check_currency(currency)
    except ValueError as exc:
        raise ArgumentProblem(f"--currency: {exc}") from None
    try:
        if options.month:
            period = statements.Period.month(options.month, settings.time_zone)
        else:
            if not options.until:
                raise ArgumentProblem("--from needs --to (or give --month).")
            first, last = parse_period(options.since, options.until)
            period = statements.Period(first, last, settings.time_zone)
    except statements.StatementError as exc:
        raise ArgumentProblem(str(exc).replace("The month", "--month")) from None
    output = _target(options.output)
    engine = open_ledger(settings.ledger_url)
    try:
        try:
            made = statements.build_statement(engine, currency, period)
        except statements.StatementError as exc:
            raise ArgumentProblem(str(exc)) from None
        data = (
            statements.statement_pdf(made)
            if options.format == "pdf"
            else statements.statement_csv(made).encode()
        )
        _write(output, data)
        audit.record(
            engine,
            actor.email,
            "statement_exported",
            target=f"{currency} {period.label}",
            detail=f"{len(made.lines)} line(s) as {options.format} to {options.output or 'standard output'}",
        )
    finally:
        engine.dispose()
    return 0


def _reconcile_report(settings: Settings, options: argparse.Namespace, actor: Actor) -> int:
    from dollr_core.reports import reconciliation
    from dollr_core.runtime import start_services

    first, last = parse_period(options.since, options.until)
    output = _target(options.output)
    svc = start_services(settings)
    try:
        run_id = options.resume or reconciliation.start_run(svc, actor, first, last).id or 0
        left, stalls = reconciliation.continue_run(svc, run_id), 0
        while left and stalls < 5:  # a pass stops at a 429 or a passing fault; the next resumes
            time.sleep(2.0)
            before, left = left, reconciliation.continue_run(svc, run_id)
            stalls = stalls + 1 if left >= before else 0
        made = reconciliation.report(svc, actor, run_id)
        _write(output, reconciliation.report_text(made).encode())
        audit.record(
            svc.engine, actor.email, "reconciliation_report", target=f"run {run_id}", detail=made.headline
        )
    finally:
        svc.close()
    return 0 if made.clean else 1


def _target(output: str | None) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    if path.is_dir():
        raise ArgumentProblem(f"--output {output!r} is a folder; name a file.")
    if not path.parent.exists():
        raise ArgumentProblem(f"--output {output!r}: the folder {str(path.parent)!r} does not exist.")
    return path


def _write(path: Path | None, data: bytes) -> None:
    if path is not None:
        path.write_bytes(data)
        return
    stream: BinaryIO = sys.stdout.buffer
    stream.write(data)
    stream.flush()
