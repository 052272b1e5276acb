"""`python -m dollr_core users …`: manage console users from the server's shell."""

from __future__ import annotations

import argparse
import getpass
import sys

from dollr_core.basics.access import Role
from dollr_core.config import Settings
from dollr_core.ledger import open_ledger
from dollr_core.team import passwords, sign_in, users


def run(settings: Settings, options: argparse.Namespace) -> int:
    engine = open_ledger(settings.ledger_url)
    try:
        if options.action == "add":
            password = _read_password(options.password_stdin)
            user = users.add_user(
                engine, email=options.email, role=Role(options.role), password=password, name=options.name
            )
            print(f"added {user.email} as {user.role}")
        elif options.action == "list":
            for user in users.list_users(engine):
                state = "active" if user.is_active else "disabled"
                print(f"{user.email:40} {user.role:10} {state}")
        elif options.action == "set-role":
            user = users.set_role(engine, options.email, Role(options.role), by=None)
            print(f"{user.email} is now {user.role}")
        elif options.action == "disable":
            users.set_active(engine, options.email, False, by=None)
            print(f"{options.email} can no longer sign in")
        elif options.action == "unlock":
            users.unlock(engine, options.email, by=None)
            print(f"{options.email} is unlocked")
        elif options.action == "reset-password":
            temporary = passwords.reset_password(engine, options.email, by=None)
            print(f"temporary password for {options.email} (they choose their own at the next sign-in):")
            print(temporary)
        elif options.action == "reset-two-factor":
            sign_in.reset_two_factor(engine, options.email, by=None)
            print(
                f"two-factor sign-in is off for {options.email}; they set it up again if their role needs it"
            )
    except users.UserError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise users.UserError("The two passwords differ.")
    return first
