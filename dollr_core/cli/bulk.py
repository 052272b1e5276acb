"""`python -m dollr_core bulk resume --batch N --as EMAIL`: carry a batch on from a shell.

The merchant passcode is read from the terminal (or stdin) and handed to this process's worker.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence

from dollr_core.basics.access import AccessDenied, Actor
from dollr_core.bulk import progress, running, worker
from dollr_core.bulk.states import ROW_STATUS, BulkError
from dollr_core.config import Settings, SettingsError
from dollr_core.ledger.tables import BatchState
from dollr_core.runtime import start_services
from dollr_core.services import Services
from dollr_core.team import users


def main(argv: Sequence[str] | None = None) -> int:
    """`resume --batch N --as EMAIL`: carry a batch on from this shell (the passcode on stdin)."""

    parser = argparse.ArgumentParser(prog="python -m dollr_core.cli.bulk", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    resume = commands.add_parser("resume", help="start or resume paying an approved batch")
    resume.add_argument("--batch", type=int, required=True, help="the batch number")
    resume.add_argument(
        "--as", dest="email", required=True, help="console user on whose behalf rows are paid"
    )
    options = parser.parse_args(argv)
    try:
        settings = Settings.load()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    passcode = getpass.getpass("Merchant passcode: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    svc = start_services(settings)
    try:
        actor = users.current_actor(svc.engine, options.email)
        if actor is None:
            print(f"{options.email} is not an active console user.", file=sys.stderr)
            return 2
        try:
            running.start_batch(svc, actor, options.batch, passcode)
        except (BulkError, AccessDenied) as exc:
            print(exc, file=sys.stderr)
            return 1
        del passcode
        return _follow(svc, actor, options.batch)
    finally:
        worker.stop(svc, options.batch)
        svc.close()


def _follow(svc: Services, actor: Actor, batch_id: int) -> int:
    try:
        while not worker.join(svc, batch_id, timeout=5.0):
            _print_progress(progress.progress(svc, actor, batch_id))
    except KeyboardInterrupt:
        print("stopping: calls on the wire finish first …", file=sys.stderr)
        worker.stop(svc, batch_id)
    done = progress.progress(svc, actor, batch_id)
    _print_progress(done)
    reason = worker.problem(svc, batch_id)
    if reason:
        print(reason, file=sys.stderr)
    return 0 if done.batch.state == BatchState.FINISHED else 1


def _print_progress(shown: progress.Progress) -> None:
    counts = ", ".join(f"{ROW_STATUS[state]} {n}" for state, n in sorted(shown.counts.items()))
    print(f"batch {shown.batch.id} ({shown.batch.state}): {shown.done}/{shown.total} done; {counts}")


if __name__ == "__main__":
    raise SystemExit(main())
