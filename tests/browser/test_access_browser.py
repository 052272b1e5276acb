"""Access control in a real browser: lock-out after failed sign-ins, each role's menu, and the
maker-checker path (the maker cannot approve; a manager approves; the payout then executes once)."""

from __future__ import annotations

import sqlite3
import time

from .conftest import PASSWORD, Console, Shots, absent, sign_in

#: The pages each role is offered in the menu (and no others).
MENUS = {
    "operator": {
        "Dashboard",
        "Collect a payment",
        "Pay someone",
        "Approvals",
        "My payments",
        "Payment status",
        "Notifications",
    },
    "finance": {
        "Dashboard",
        "Invoices & orders",
        "Collect a payment",
        "Bulk payouts",
        "Wallet transfer",
        "Refund a payment",
        "Approvals",
        "My payments",
        "Payment status",
        "Receipts",
        "History",
        "Statements",
        "Reconciliation",
        "Fee & FX preview",
        "Notifications",
    },
    "manager": {
        "Dashboard",
        "Bulk payouts",
        "Approvals",
        "My payments",
        "Payment status",
        "Receipts",
        "History",
        "Statements",
        "Reconciliation",
        "Fee & FX preview",
        "Audit trail",
        "Notifications",
    },
    # Admins see the approval rules (and change them) on Approvals, and set the webhook.
    "admin": {
        "Dashboard",
        "Approvals",
        "My payments",
        "Payment status",
        "History",
        "Audit trail",
        "Users",
        "Notifications",
    },
}
ALL_PAGES = set().union(*MENUS.values())


def test_each_role_sees_only_its_pages(page: object, console_server: Console, shots: Shots) -> None:
    for role, expected in MENUS.items():
        sign_in(page, console_server, role)
        nav = page.locator("[data-testid='stSidebarNav']")  # type: ignore[attr-defined]
        shown = {name for name in ALL_PAGES if nav.get_by_text(name, exact=True).count()}
        shots(f"{role} menu")
        assert shown == expected, role
        page.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
        page.get_by_role("button", name="Sign in").wait_for()  # type: ignore[attr-defined]


def test_lock_out_after_repeated_failures(page: object, console_server: Console, shots: Shots) -> None:
    console_server.cli(
        "users",
        "add",
        "--email",
        "clumsy@example.com",
        "--role",
        "operator",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    page.goto(console_server.url)  # type: ignore[attr-defined]
    for attempt in range(1, 6):
        page.get_by_role("textbox", name="E-mail").fill("clumsy@example.com")  # type: ignore[attr-defined]
        page.get_by_role("textbox", name="Password").fill("not the password")  # type: ignore[attr-defined]
        page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
        _wait_for_failures(console_server, "clumsy@example.com", attempt)
    shots("locked")
    page.get_by_role("textbox", name="E-mail").fill("clumsy@example.com")  # type: ignore[attr-defined]
    page.get_by_role("textbox", name="Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.get_by_text("locked", exact=False).first.wait_for()  # type: ignore[attr-defined]
    shots("right password still refused while locked")
    absent(page.get_by_text("Signed in as"))  # type: ignore[attr-defined]
    console_server.cli("users", "unlock", "--email", "clumsy@example.com")
    sign_in(page, console_server, "clumsy")


def _wait_for_failures(console: Console, email: str, count: int) -> None:
    """Each failure is slowed down on purpose: wait until the console has recorded this one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(console.data_dir / "ledger.db") as db:
            (seen,) = db.execute(
                "SELECT count(*) FROM audit WHERE actor = ? AND action = 'sign_in' AND outcome = 'failed'",
                (email,),
            ).fetchone()
        if seen >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the console recorded fewer than {count} failed sign-ins")


def test_large_payout_needs_a_manager(page: object, console_server: Console, shots: Shots) -> None:
    p = page
    before = len([e for e in console_server.sandbox_executions() if e["operation_type"] == "PAYOUT"])
    sign_in(p, console_server, "operator")
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Pay someone").click()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Recipient's full name").fill("Comfort Doe")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Mobile-money number").fill("231770009876")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Mobile-money number").press("Enter")  # type: ignore[attr-defined]
    network = p.get_by_text("Mobile network: ORANGE", exact=False)  # type: ignore[attr-defined]
    network.or_(p.get_by_text("Mobile network: Orange")).first.wait_for()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Amount the recipient gets").fill("750")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Amount the recipient gets").press("Enter")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Review").click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Send for approval").click()  # type: ignore[attr-defined]
    p.get_by_text("Sent for approval", exact=False).first.wait_for()  # type: ignore[attr-defined]
    shots("sent for approval")
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Approvals").click()  # type: ignore[attr-defined]
    p.wait_for_timeout(1500)  # type: ignore[attr-defined]
    absent(p.get_by_role("button", name="Approve"))  # type: ignore[attr-defined]  # makers only watch
    p.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]

    sign_in(p, console_server, "manager")
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Approvals").click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Approve").first.wait_for()  # type: ignore[attr-defined]
    shots("manager sees it")
    p.get_by_role("button", name="Approve").first.click()  # type: ignore[attr-defined]
    p.get_by_role("dialog").get_by_role("button", name="Yes, approve").click()  # type: ignore[attr-defined]
    p.get_by_text("Approved", exact=False).first.wait_for()  # type: ignore[attr-defined]
    shots("approved")
    p.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]

    sign_in(p, console_server, "operator")
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Pay someone").click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Open").first.click()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Merchant passcode").fill("123456")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Confirm and send").click()  # type: ignore[attr-defined]
    p.get_by_text("Your payout").first.wait_for()  # type: ignore[attr-defined]
    shots("maker sent it")
    payouts = [e for e in console_server.sandbox_executions() if e["operation_type"] == "PAYOUT"]
    assert len(payouts) == before + 1
    assert payouts[-1]["payee_amount"] in (750, 750.0, "750", "750.00")
