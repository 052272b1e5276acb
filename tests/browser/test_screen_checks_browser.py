"""The sweep's checker (screen_checks.problems_on) sees each kind of broken screen: a page made to
look like Streamlit's (its data-testid names) is broken on purpose, one way at a time, and a healthy
one passes. No console is started: a blank tab of the shared browser is enough."""

from __future__ import annotations

from typing import Any

import pytest

from .screen_checks import problems_on, sideways_tables

HEALTHY = {
    "sidebar": '<div data-testid="stCaptionContainer" style="color:#545a58">Signed in as admin</div>',
    "main": (
        '<div data-testid="stElementContainer" style="height:24px">12 records.</div>'
        '<div data-testid="stElementContainer" style="margin-top:44px"><div data-testid="stFullScreenFrame">'
        '<div data-testid="stDataFrame" style="height:80px"></div></div></div>'
    ),
}


def screen(sidebar: str, main: str) -> str:
    return (
        '<body style="margin:0;font:14px sans-serif">'
        f'<div data-testid="stSidebar" style="background:#F2F5F4;width:200px">{sidebar}</div>'
        f'<div data-testid="stMain" style="overflow:auto">{main}</div></body>'
    )


BROKEN = {
    "an exception box": {"main": '<div data-testid="stException">ZeroDivisionError</div>'},
    "'Traceback (most recent call last)'": {"main": "<pre>Traceback (most recent call last):</pre>"},
    "'Page not found'": {"main": "<h1>Page not found</h1>"},
    "px wider than the window": {"main": '<div style="width:2000px">a row of columns too wide</div>'},
    "toolbar would cover '12 records.'": {
        "main": HEALTHY["main"].replace("margin-top:44px", "margin-top:16px"),
    },
    # Streamlit's own caption: the text colour at 60 % on the sidebar's grey, 4.3:1.
    "sidebar caption 'Signed in as admin' has a contrast of 4.27:1": {
        "sidebar": HEALTHY["sidebar"].replace("color:#545a58", "color:#1B1F1E;opacity:.6"),
    },
    "sidebar caption 'answering' has a contrast of 2.97:1": {
        "sidebar": '<div data-testid="stCaptionContainer" style="opacity:.6">'
        '<span style="color:rgb(12,90,68)">answering</span></div>',
    },
}


@pytest.fixture(scope="module")
def blank_tab(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 800})
    yield context.new_page()
    context.close()


def test_a_healthy_screen_passes(blank_tab: Any) -> None:
    blank_tab.set_content(screen(**HEALTHY))
    assert problems_on(blank_tab) == []


@pytest.mark.parametrize("expected", list(BROKEN))
def test_each_kind_of_broken_screen_is_caught(blank_tab: Any, expected: str) -> None:
    blank_tab.set_content(screen(**{**HEALTHY, **BROKEN[expected]}))
    found = problems_on(blank_tab)
    assert len(found) == 1 and expected in found[0], found


def test_a_table_that_scrolls_sideways_is_seen(blank_tab: Any) -> None:
    table = (
        '<div data-testid="stDataFrame" style="width:300px">'
        '<div class="dvn-scroller" style="overflow:auto">'
        '<div style="width:{}px;height:40px"></div></div></div>'
    )
    blank_tab.set_content(screen(sidebar="", main=table.format(900) + table.format(200)))
    assert sideways_tables(blank_tab) == [600]
