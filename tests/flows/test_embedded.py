"""The console's default: no settings at all → an embedded sandbox beside a SQLite ledger, and a
restart loses nothing."""

from __future__ import annotations

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
