"""The screenshot sweep: every page of every role's menu, on a desktop (1400 px) and a phone (390 px).

Each screen lands in screenshots/sweep/<width>/ for people to look at. The test fails on what a
person would call broken: an exception box, a traceback, "Page not found", or a main area wider
than the window (something cut off or scrolling sideways). All pages are visited before it fails,
so one run shows every problem."""

from __future__ import annotations

from typing import Any

from .conftest import Console, Shots, sign_in
from .test_access_browser import MENUS

WIDTHS = (1400, 390)

#: Horizontal overflow of the main area, in pixels beyond the window (0 when it fits).
OVERFLOW = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const page = document.documentElement.scrollWidth - window.innerWidth;
  return Math.max(page, main ? main.scrollWidth - main.clientWidth : 0);
}"""


def settle(tab: Any) -> None:
    """Wait until Streamlit has finished the run: the app says it is not running, and no element
    of the previous run is left (greyed out) on screen."""
    tab.locator("[data-testid=stMain] h1").first.wait_for()
    tab.wait_for_function(
        """() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'
                 && !document.querySelector('[data-stale=true]')"""
    )
    tab.wait_for_timeout(700)  # tables paint their canvas a moment after the run


def problems_on(tab: Any) -> list[str]:
    found = []
    if tab.locator("[data-testid=stException]").count():
        found.append("an exception box")
    text = tab.locator("body").inner_text()
    for words in ("Traceback (most recent call last)", "Page not found"):
        if words in text:
            found.append(repr(words))
    overflow = int(tab.evaluate(OVERFLOW))
    if overflow > 1:
        found.append(f"the main area is {overflow}px wider than the window")
    return found


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
    for role, menu in MENUS.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(45_000)  # the first run after start-up is slow on a busy machine
        try:
            sign_in(tab, console_server, role)
            for width in WIDTHS:
                tab.set_viewport_size({"width": width, "height": 900 if width < 800 else 1000})
                shots[width].page = tab
                for title in sorted(menu):
                    open_page(tab, title)
                    shots[width](f"{role} {title}")
                    broken += [f"{role} · {title} · {width}px: {p}" for p in problems_on(tab)]
        finally:
            context.close()
    assert not broken, "\n".join(broken)
