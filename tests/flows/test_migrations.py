"""Schema changes go through migrations, and an upgrade keeps every row."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from dollr_core.ledger import create_ledger_engine, migrate
from dollr_core.ledger.db import MIGRATIONS_DIR


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def test_upgrade_keeps_rows(tmp_path: Path) -> None:
    engine = create_ledger_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO attempt (reference_id, intent_id, operation_type, step, local_state, party_name,"
                " phone, currency, requires_action, operator, created_at, updated_at, poll_count, amount)"
                " VALUES ('3f1c7e2a-9b1d-4c55-8f00-0a1b2c3d4e5f', 1, 'PAYOUT', 'execute', 'COMPLETED', 'A',"
                " '231880001234', 'USD', 0, 'op@example.com', '2026-01-01', '2026-01-01', 0, 1234500)"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT amount FROM attempt")).scalar_one() == 1234500
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("attempt")}
    assert {"ix_attempt_op_created", "ix_attempt_state_created", "ix_attempt_operator"} <= indexes


# SQLite cannot reflect the index on lower(own_reference), so only PostgreSQL compares it.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_models_and_migrations_agree(ledger_url: str) -> None:
    """A table change without its migration fails here, on SQLite and PostgreSQL."""
    engine = create_ledger_engine(ledger_url)
    migrate(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []


def test_upgrade_names_references_two_batches_already_hold(tmp_path: Path) -> None:
    """Before the held-reference index, two batches could both pay one reference: the upgrade
    stops with a sentence naming it instead of building the index over them."""
    engine = create_ledger_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0002")
        for batch_id, reference, state in ((1, "PAY-1", "PAID"), (2, "pay-1", "SENT"), (3, "PAY-2", "PAID")):
            conn.execute(
                text(
                    "INSERT INTO batch_row (batch_id, row_number, name, phone, amount_text, currency, note,"
                    " own_reference, state, problems, updated_at)"
                    " VALUES (:batch, 1, 'A', '231880001234', '5', 'USD', '', :reference, :state, '',"
                    " '2026-01-01')"
                ),
                {"batch": batch_id, "reference": reference, "state": state},
            )
    with pytest.raises(RuntimeError, match=r"same own reference \(pay-1\)"):
        migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE batch_row SET state = 'FAILED' WHERE batch_id = 2"))
    migrate(engine)
