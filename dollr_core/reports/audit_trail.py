"""The audit trail as a report: searched and listed for someone who may read it.

The ledger writes and reads the records (`dollr_core.ledger.audit`); this checks `VIEW_AUDIT` first,
so hiding the Audit page is never the only guard.
"""

from __future__ import annotations

from dollr_core.basics.access import Actor, Permission, require
from dollr_core.ledger import audit
from dollr_core.ledger.audit import AuditFilter
from dollr_core.ledger.tables import AuditRecord
from dollr_core.services import Services

__all__ = ["actions", "search"]


def search(
    svc: Services, actor: Actor, flt: AuditFilter, *, limit: int = 500, offset: int = 0
) -> list[AuditRecord]:
    """The matching records, newest first."""
    require(actor, Permission.VIEW_AUDIT)
    return audit.search(svc.engine, flt, limit=limit, offset=offset)


def actions(svc: Services, actor: Actor) -> list[str]:
    """Every action the trail holds (for the action filter)."""
    require(actor, Permission.VIEW_AUDIT)
    return audit.actions(svc.engine)
