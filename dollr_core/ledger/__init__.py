"""The ledger: SQLModel tables, the engine and its migrations, and plain query functions."""

from .db import create_ledger_engine, migrate, open_ledger
from .tables import (
    AccountRecord,
    Attempt,
    AttemptState,
    Customer,
    DocumentRecord,
    Intent,
    IntentKind,
    IntentState,
    LedgerEvent,
    Relationship,
)

__all__ = [
    "AccountRecord",
    "Attempt",
    "AttemptState",
    "Customer",
    "DocumentRecord",
    "Intent",
    "IntentKind",
    "IntentState",
    "LedgerEvent",
    "Relationship",
    "create_ledger_engine",
    "migrate",
    "open_ledger",
]
