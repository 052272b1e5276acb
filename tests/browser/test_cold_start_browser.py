"""A console just installed and started: its very first page load never shows the raw file names
of pages/ ("bulk", "payout", …) in the sidebar (issue 14, point 1; the fix is in serve.py).

Streamlit runs a process's first page load as a "pages/ directory" app until a first
st.navigation call says otherwise; the names show while that first run is slow (a new ledger is
being set up, say). So this test starts a console of its own on a new, empty ledger, records every
menu entry the browser ever draws from the first byte on, and then creates the first admin, whose
menu must be recorded too (the recorder works)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .conftest import PASSWORD, ROOT, Console, Shots, free_port, start_streamlit, stop, wait_for

#: Every label the sidebar's menu shows, however briefly (icon names left out).
RECORD_MENU = """
window.__menu = new Set();
const label = (link) => {
  const words = [];
  const walk = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const text = walk.currentNode;
    if (!text.parentElement.closest('[data-testid=stIconMaterial]')) words.push(text.textContent);
  }
  return words.join('').trim();
};
new MutationObserver(() => {
  for (const link of document.querySelectorAll('[data-testid=stSidebarNav] a')) {
    window.__menu.add(label(link));
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""

FILE_NAMES = {p.stem for p in (ROOT / "pages").glob("*.py")} | {"app", "serve"}


def test_a_new_console_never_shows_file_names_in_the_menu(
    browser: Any, console_server: Console, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **console_server.env,  # the shared sandbox; a ledger of its own, new and empty
        "DOLLR_DATA_DIR": str(tmp_path),
        "DOLLR_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db",
    }
    with open(tmp_path / "new-console.log", "w") as logs:
        server = start_streamlit(port, env, logs)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            wait_for(f"http://127.0.0.1:{port}/_stcore/health")
            tab = context.new_page()
            tab.set_default_timeout(45_000)  # a first run on a busy machine is slow
            tab.add_init_script(RECORD_MENU)
            tab.goto(dataclasses.replace(console_server, url=f"http://127.0.0.1:{port}").url)
            tab.get_by_role("heading", name="Welcome to the Dollr Ops Console").wait_for()
            shots = Shots(tab, "cold_start")
            shots("first load")
            on_first_load = set(tab.evaluate("() => [...window.__menu]"))

            tab.get_by_label("Your e-mail").fill("admin@example.com")
            tab.get_by_label("Choose a password").fill(PASSWORD)
            tab.get_by_role("button", name="Create and sign in").click()
            tab.locator("[data-testid=stSidebarNav] a").first.wait_for()
            shots("the first admin's menu")
            seen = set(tab.evaluate("() => [...window.__menu]"))
        finally:
            context.close()
            stop(server)
    assert not on_first_load & FILE_NAMES, f"file names on the first load: {sorted(on_first_load)}"
    assert "Dashboard" in seen and not seen & FILE_NAMES, sorted(seen)
