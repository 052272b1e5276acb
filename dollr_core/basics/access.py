"""Who may do what. Every flow that reads or moves money checks the actor's permission itself,
so hiding a page is never the only guard."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dollr_core.errors import NotAllowed


class Role(StrEnum):
    OPERATOR = "operator"  # collects, pays out alone up to a limit
    FINANCE = "finance"  # invoices, fee predictor, history, receipts, bulk batches
    MANAGER = "manager"  # reads everything, approves payouts and batches
    ADMIN = "admin"  # users and settings


class Permission(StrEnum):
    COLLECT = "collect"
    PAY_OUT = "pay_out"
    MANAGE_INVOICES = "manage_invoices"
    PREDICT_FEES = "predict_fees"
    VIEW_HISTORY = "view_history"
    VIEW_RECEIPTS = "view_receipts"
    LOOK_UP_STATUS = "look_up_status"
    BULK_PAYOUTS = "bulk_payouts"
    APPROVE = "approve"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    VIEW_STATEMENTS = "view_statements"  # statements and the reconciliation report
    KEEP_BOOKS = "keep_books"  # enter the opening balances statements start from
    REFUND = "refund"
    TRANSFER = "transfer"
    VIEW_HOME = "view_home"  # the home page's figures; every role has it


#: What every signed-in person may do, whatever their role.
_EVERYONE = frozenset({Permission.VIEW_HOME})


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: _EVERYONE | {Permission.COLLECT, Permission.PAY_OUT, Permission.LOOK_UP_STATUS},
    Role.FINANCE: _EVERYONE
    | frozenset(
        {
            Permission.MANAGE_INVOICES,
            Permission.COLLECT,
            Permission.PREDICT_FEES,
            Permission.VIEW_HISTORY,
            Permission.VIEW_RECEIPTS,
            Permission.LOOK_UP_STATUS,
            Permission.BULK_PAYOUTS,
            Permission.VIEW_STATEMENTS,
            Permission.KEEP_BOOKS,
            Permission.REFUND,
            Permission.TRANSFER,
        }
    ),
    Role.MANAGER: _EVERYONE
    | frozenset(
        {
            Permission.PREDICT_FEES,
            Permission.VIEW_HISTORY,
            Permission.VIEW_RECEIPTS,
            Permission.LOOK_UP_STATUS,
            Permission.APPROVE,
            Permission.VIEW_AUDIT,
            Permission.VIEW_STATEMENTS,
        }
    ),
    Role.ADMIN: _EVERYONE
    | frozenset(
        {Permission.MANAGE_USERS, Permission.VIEW_AUDIT, Permission.VIEW_HISTORY, Permission.LOOK_UP_STATUS}
    ),
}


def roles_with(permission: Permission) -> list[Role]:
    """The roles allowed `permission`, in the roles table's order: advice names only these."""
    return [role for role, allowed in ROLE_PERMISSIONS.items() if permission in allowed]


@dataclass(frozen=True)
class Actor:
    """The signed-in person (or a named system job) on whose behalf a flow runs."""

    email: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def __str__(self) -> str:
        return self.email


class AccessDenied(NotAllowed):
    """The actor's role does not allow this; the message says which permission was missing."""


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise AccessDenied(
            f"Your role ({actor.role.value}) does not allow: {permission.value.replace('_', ' ')}."
        )


def require_any(actor: Actor, *permissions: Permission) -> None:
    """At least one of the permissions (a page serving several roles)."""
    if not any(actor.can(p) for p in permissions):
        require(actor, permissions[0])


#: Background jobs act under their own names so the audit trail still says who did what.
RECONCILER = Actor("system:reconciler", Role.OPERATOR)
