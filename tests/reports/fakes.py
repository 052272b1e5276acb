"""Ledger rows written directly, for fast, exact tests of the history queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from dollr_core.ledger.tables import Attempt

NOON = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a Monday


def attempt(**fields: Any) -> dict[str, Any]:
    """One attempt row with sensible defaults: a completed USD payout to Musa at noon."""
    amount = Decimal(str(fields.pop("amount", "10.00")))
    state = fields.pop("state", "COMPLETED")
    settled = state in ("COMPLETED", "FAILED", "ACCEPTED")
    row: dict[str, Any] = {
        "reference_id": str(uuid.uuid4()),
        "intent_id": 1,
        "operation_type": "PAYOUT",
        "local_state": state,
        "remote_status": {"COMPLETED": "COMPLETED", "FAILED": "FAILED", "ACCEPTED": "PROCESSING"}.get(state),
        "party_name": "Musa Kollie",
        "phone": "231880001234",
        "method": "MTN_MOMO_LBR",
        "provider": "PAWAPAY",
        "amount": amount,
        "currency": "USD",
        "payer_currency": "USD",
        "payer_amount": amount + Decimal("0.51") if settled else None,
        "payee_amount": amount if settled else None,
        "settled_payer_currency": "USD" if settled else None,
        "payee_currency": "USD" if settled else None,
        "source_type": None,
        "source_number": None,
        "provider_transaction_id": None,
        "gateway_message": "Payer declined" if state == "FAILED" else None,
        "wallet_message": None,
        "last_error": None,
        "operator": "olivia@example.com",
        "created_at": NOON,
        "updated_at": NOON,
        "final_at": None,
    }
    row.update(fields)
    return row


def add(engine: Engine, *rows: dict[str, Any]) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        conn.execute(insert(Attempt), list(rows))
    return list(rows)
