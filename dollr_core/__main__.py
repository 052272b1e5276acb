"""`python -m dollr_core <command>`: see dollr_core.cli.main."""

from dollr_core.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
