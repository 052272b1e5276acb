"""The console's pages: the task group each sits in, and who may open it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dollr_core.basics.access import Actor, Permission, Role


@dataclass(frozen=True)
class ConsolePage:
    group: str
    path: str
    title: str
    icon: str
    needs: tuple[Permission, ...]  # any one of these; none: everyone signed in

    def open_to(self, who: Actor) -> bool:
        return not self.needs or any(who.can(p) for p in self.needs)

    def first_role(self) -> Role:
        """The least privileged role that may open it (tests and benchmarks sign in as it)."""
        return next(
            r for r in (Role.OPERATOR, Role.FINANCE, Role.MANAGER, Role.ADMIN) if self.open_to(Actor("x", r))
        )


#: Every page (the pages check the permission again themselves).
PAGES: tuple[ConsolePage, ...] = (
    ConsolePage("Home", "pages/home.py", "Dashboard", ":material/dashboard:", ()),
    ConsolePage(
        "Get paid",
        "pages/invoices.py",
        "Invoices & orders",
        ":material/receipt_long:",
        (Permission.MANAGE_INVOICES,),
    ),
    ConsolePage(
        "Get paid", "pages/collect.py", "Collect a payment", ":material/point_of_sale:", (Permission.COLLECT,)
    ),
    ConsolePage("Pay out", "pages/payout.py", "Pay someone", ":material/send_money:", (Permission.PAY_OUT,)),
    ConsolePage(
        "Pay out",
        "pages/bulk.py",
        "Bulk payouts",
        ":material/groups:",
        (Permission.BULK_PAYOUTS, Permission.APPROVE),
    ),
    ConsolePage(
        "Pay out", "pages/transfers.py", "Wallet transfer", ":material/swap_horiz:", (Permission.TRANSFER,)
    ),
    ConsolePage("Pay out", "pages/refunds.py", "Refund a payment", ":material/undo:", (Permission.REFUND,)),
    ConsolePage(
        "Pay out",
        "pages/approvals.py",
        "Approvals",
        ":material/approval:",
        (Permission.APPROVE, Permission.PAY_OUT, Permission.BULK_PAYOUTS, Permission.MANAGE_USERS),
    ),
    ConsolePage("Look up", "pages/mine.py", "My payments", ":material/person:", ()),
    ConsolePage(
        "Look up", "pages/status.py", "Payment status", ":material/search:", (Permission.LOOK_UP_STATUS,)
    ),
    ConsolePage(
        "Look up", "pages/receipts.py", "Receipts", ":material/description:", (Permission.VIEW_RECEIPTS,)
    ),
    ConsolePage("Reports", "pages/history.py", "History", ":material/history:", (Permission.VIEW_HISTORY,)),
    ConsolePage(
        "Reports",
        "pages/statements.py",
        "Statements",
        ":material/account_balance:",
        (Permission.VIEW_STATEMENTS,),
    ),
    ConsolePage(
        "Reports",
        "pages/reconciliation.py",
        "Reconciliation",
        ":material/fact_check:",
        (Permission.VIEW_STATEMENTS,),
    ),
    ConsolePage(
        "Reports",
        "pages/predictor.py",
        "Fee & FX preview",
        ":material/calculate:",
        (Permission.PREDICT_FEES,),
    ),
    ConsolePage("Reports", "pages/audit.py", "Audit trail", ":material/policy:", (Permission.VIEW_AUDIT,)),
    ConsolePage("Admin", "pages/users.py", "Users", ":material/manage_accounts:", (Permission.MANAGE_USERS,)),
    ConsolePage(
        "Settings", "pages/notifications.py", "Notifications", ":material/notifications:", tuple(Permission)
    ),
    ConsolePage("You", "pages/account.py", "Your account", ":material/person:", ()),
)


def navigation_for(who: Actor) -> dict[str, list[st.Page]]:
    """The menu: only the pages this person may open, grouped by task."""
    groups: dict[str, list[st.Page]] = {}
    for page in PAGES:
        if page.open_to(who):
            groups.setdefault(page.group, []).append(
                st.Page(page.path, title=page.title, icon=page.icon, default=page.group == "Home")
            )
    return groups


def sign_in_navigation(sign_in_page: Callable[[], None]) -> list[st.Page]:
    """Before signing in, every page's address shows the sign-in form (not "Page not found"): a
    bookmark or shared link keeps its address, and opens its page once the person is signed in."""
    placeholders = [
        st.Page(sign_in_page, title="Sign in", url_path=Path(page.path).stem)
        for page in PAGES
        if page.group != "Home"
    ]
    return [st.Page(sign_in_page, title="Sign in", icon=":material/login:", default=True), *placeholders]
