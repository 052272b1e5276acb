"""The screenshot sweep: every page of the console, on a desktop (1400 px) and a phone (390 px).

Each page is opened once, as the least privileged role whose menu has it; the pages whose content
depends on the role (the Dashboard, Approvals) are opened as every role. (Every page as every role
took twice as long for the same screens.)

Each screen lands in screenshots/sweep/<width>/ for people to look at. The test fails on what a
person would call broken (screen_checks.problems_on): an exception box, a traceback, "Page not
found", a main area wider than the window (something cut off or scrolling sideways), or sidebar
captions below WCAG AA contrast. All pages are visited before it fails, so one run shows every
problem."""

from __future__ import annotations

from typing import Any

from .conftest import Console, Shots, run_finished, sign_in
from .screen_checks import problems_on, sideways_tables
from .test_access_browser import MENUS

WIDTHS = (1400, 390)
#: Pages whose every table is read on a phone without scrolling sideways (console/tables.py).
#: Other pages' wide tables are listed in the test's output for review, not failed (yet).
PHONE_TABLES = {"Approvals", "Users", "Audit trail"}
#: Pages that show each role something different.
PER_ROLE = {"Dashboard", "Approvals"}


def pages_to_visit() -> dict[str, list[str]]:
    """Per role (least privileged first), the pages it opens in the sweep."""
    plan: dict[str, list[str]] = {}
    seen: set[str] = set()
    for role, menu in MENUS.items():
        plan[role] = sorted(title for title in menu if title in PER_ROLE or title not in seen)
        seen |= menu
    return plan


def settle(tab: Any) -> None:
    """Wait for the page's title, the end of its run, then its tables' paint."""
    tab.locator("[data-testid=stMain] h1").first.wait_for()
    run_finished(tab)
    tab.wait_for_timeout(700)  # tables paint their canvas a moment after the run


def open_page(tab: Any, title: str) -> None:
    """Click the menu entry (sent to the link directly: on a phone the menu is folded away)."""
    link = tab.locator("[data-testid=stSidebarNav] a").filter(has=tab.get_by_text(title, exact=True))
    href = link.get_attribute("href")
    link.dispatch_event("click")  # on a phone the folded menu's links are "visible" but off-screen
    tab.wait_for_url(href)
    settle(tab)


def test_every_page_of_every_role_on_desktop_and_phone(browser: Any, console_server: Console) -> None:
    shots = {width: Shots(None, f"sweep/{width}") for width in WIDTHS}
    broken: list[str] = []
    wide: list[str] = []
    plan = pages_to_visit()
    assert set().union(*plan.values()) == set().union(*MENUS.values())  # no page left out
    for role, menu in plan.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(45_000)  # the first run after start-up is slow on a busy machine
        try:
            sign_in(tab, console_server, role)
            for width in WIDTHS:
                tab.set_viewport_size({"width": width, "height": 900 if width < 800 else 1000})
                shots[width].page = tab
                for title in menu:
                    open_page(tab, title)
                    shots[width](f"{role} {title}")
                    if title == "Audit trail" and width > 800:  # filters right above the table
                        tab.locator("[data-testid=stDataFrame]").first.hover()
                        tab.wait_for_timeout(400)  # the toolbar fades in
                        shots[width](f"{role} {title} with the table's toolbar")
                    broken += [f"{role} · {title} · {width}px: {p}" for p in problems_on(tab)]
                    if width < 800 and (hidden := sideways_tables(tab)):
                        said = f"{role} · {title} · {width}px: tables scroll sideways, hiding {hidden} px"
                        (broken if title in PHONE_TABLES else wide).append(said)
        finally:
            context.close()
    print("\n".join(["Tables that scroll sideways on a phone:", *wide]))
    assert not broken, "\n".join(broken)
