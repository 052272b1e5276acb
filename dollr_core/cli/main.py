"""Command line: `python -m dollr_core <command>` (one entry point; a module per command group).

reconcile --once | --loop     poll every payment not yet final until Dollr says how it ended
migrate                       bring the ledger's schema up to date (keeps every row)
sandbox [options]             run the Dollr sandbox as a standalone HTTP server
bulk resume --batch N --as E  carry on paying a bulk batch (asks for the merchant passcode)
users add|list|set-role|disable|unlock|reset-password|reset-two-factor   console users
sync --once                   bring in invoices and orders made outside the console
history export --from D --to D [--format csv|xlsx] [--output F]   the History page's export
statement --currency C --month YYYY-MM | --from D --to D [--format csv|pdf] [--output F]
reconcile-report --from D --to D [--resume RUN] [--output F]   ledger vs Dollr (exit 1: differences)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from dollr_core import runtime
from dollr_core.cli import exports
from dollr_core.config import Settings, SettingsError
from dollr_core.flows.books import follow_books
from dollr_core.payments.reconcile import reconcile_once


class _Parser(argparse.ArgumentParser):
    """A bad argument is one sentence on standard error and exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        sentence = message[:1].upper() + message[1:]
        self.exit(2, f"{self.prog}: {sentence.rstrip('.')}. See --help.\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["bulk"]:
        from dollr_core.bulk.worker import main as bulk_main

        return bulk_main(args[1:])
    if args[:1] == ["sandbox"]:
        runtime.run_sandbox(args[1:])
        return 0
    parser = _Parser(
        prog="python -m dollr_core", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)  # of _Parser too
    reconcile = commands.add_parser("reconcile", help="poll payments that are not final yet")
    mode = reconcile.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one pass, then exit")
    mode.add_argument("--loop", action="store_true", help="keep polling until interrupted")
    reconcile.add_argument("--interval", type=float, default=2.0, help="seconds between idle passes")
    notify = commands.add_parser("notify", help="send queued e-mail and webhook notifications")
    notify_mode = notify.add_mutually_exclusive_group(required=True)
    notify_mode.add_argument("--once", action="store_true", help="one pass, then exit")
    notify_mode.add_argument("--loop", action="store_true", help="keep sending until interrupted")
    notify.add_argument("--interval", type=float, default=15.0, help="seconds between passes")
    commands.add_parser("migrate", help="upgrade the ledger schema")
    _add_user_commands(commands)
    exports.add_commands(commands)
    options = parser.parse_args(args)

    try:
        settings = Settings.load()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if options.command == "migrate":
        from dollr_core.ledger import open_ledger

        open_ledger(settings.ledger_url).dispose()
        print("ledger schema is up to date")
        return 0
    if options.command in ("sync", "history", "statement", "reconcile-report"):
        try:
            return exports.run(settings, options)
        except exports.ArgumentProblem as exc:
            print(f"python -m dollr_core: {exc}", file=sys.stderr)
            return 2
    if options.command == "users":
        from dollr_core.cli.users import run as run_users

        return run_users(settings, options)

    services = runtime.start_services(settings)
    if options.command == "notify":
        from dollr_core.team import notify as notifications

        try:
            if options.once:
                print(f"sent {notifications.notify_once(services)} notification(s)")
            else:
                with contextlib.suppress(KeyboardInterrupt):
                    notifications.run_loop(services, interval=options.interval)
        finally:
            services.close()
        return 0
    try:
        if options.once:
            print(f"looked at {reconcile_once(services)} payment(s)")
            print(f"looked at {follow_books(services)} document(s)")
        else:
            with contextlib.suppress(KeyboardInterrupt):
                runtime.run_reconciler(services, interval=options.interval)
    finally:
        services.close()
    return 0


def _add_user_commands(commands: argparse._SubParsersAction[Any]) -> None:
    users = commands.add_parser("users", help="console users and roles")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a console user (asks for the password)")
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=["operator", "finance", "manager", "admin"])
    add.add_argument("--name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    actions.add_parser("list", help="list console users")
    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("--email", required=True)
    role.add_argument("--role", required=True, choices=["operator", "finance", "manager", "admin"])
    disable = actions.add_parser("disable", help="stop a user from signing in")
    disable.add_argument("--email", required=True)
    unlock = actions.add_parser("unlock", help="lift a sign-in lock-out")
    unlock.add_argument("--email", required=True)
    reset = actions.add_parser(
        "reset-password", help="give a user a temporary password, to be replaced at their next sign-in"
    )
    reset.add_argument("--email", required=True)
    reset_two_factor = actions.add_parser(
        "reset-two-factor", help="turn a user's two-factor sign-in off (a lost phone); their sessions end"
    )
    reset_two_factor.add_argument("--email", required=True)
