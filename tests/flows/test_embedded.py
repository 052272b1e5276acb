"""The console's default: no settings at all → an embedded sandbox beside a SQLite ledger, and a
restart loses nothing."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from dollr_core.basics.access import Actor, Role
from dollr_core.config import Settings
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import find_attempt
from dollr_core.runtime import start_services


def test_embedded_sandbox_survives_a_restart(tmp_path: Path) -> None:
    settings = Settings.load(environ={"DOLLR_DATA_DIR": str(tmp_path)})
    operator = Actor("op@example.com", Role.OPERATOR)
    svc = start_services(settings)
    try:
        assert svc.sandbox_url == svc.base_url and svc.base_url.startswith("http://127.0.0.1:")
        key = uuid.uuid4().hex
        prepare_payout(
            svc, operator, key, name="Musa Kollie", phone="231880001234", amount="10", currency="USD"
        )
        reference = confirm_payout(svc, operator, key, "123456").reference_id
    finally:
        svc.close()
    assert (tmp_path / "ledger.db").exists() and settings.sandbox_state_file.exists()

    again = start_services(settings)
    try:
        assert again.sandbox_url is not None
        executions = httpx.get(f"{again.sandbox_url}/_sandbox/executions").json()
        assert [e["reference_id"] for e in executions] == [reference]
        assert find_attempt(again.engine, reference) is not None
        assert again.client.status.execution("PAYOUT", reference).reference_id == reference
    finally:
        again.close()


def test_a_started_process_keeps_its_start_up_out_of_the_garbage_collector(tmp_path: Path) -> None:
    """`start_services` freezes what the process built to start (`gc.freeze`), once: a full
    collection over a console's start-up objects stalled every session for about 150 ms."""
    script = (
        "import gc, sys\n"
        "from dollr_core.config import Settings\n"
        "from dollr_core.runtime import start_services\n"
        "assert gc.get_freeze_count() == 0\n"
        "settings = Settings.load(environ={'DOLLR_DATA_DIR': sys.argv[1]})\n"
        "start_services(settings).close()\n"
        "frozen = gc.get_freeze_count()\n"
        "start_services(settings).close()\n"
        "print(frozen, gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    frozen, frozen_after_second_start, tracked = map(int, run.stdout.split())
    assert frozen > 20_000 and frozen_after_second_start <= frozen  # once per process: none added
    assert tracked < frozen / 2  # what the collector still walks is what came after the start
