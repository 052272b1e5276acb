"""Tables that read on any screen.

A table of many columns scrolls sideways inside itself on a phone, so a row cannot be read at a
glance. `table_on_any_screen` draws the table for a desktop and, for a phone, the same rows as short
blocks of text (the key columns in bold, the rest after them); look.css shows the one that fits
the window (the phone view under 640 px)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from console.widgets import plain

#: The most rows the phone view lists (the desktop table, and the downloads, have them all).
PHONE_ROWS = 100


def phone_text(rows: Sequence[Mapping[str, object]], heading: Sequence[str]) -> str:
    """Each row as a paragraph: the `heading` columns in bold, then the other non-empty columns
    ("Role: admin"; a value that names its column already, "USD 500.00" under USD, stands alone)."""

    def field(name: str, value: object) -> str:
        text = str(value)
        return plain(text) if text.startswith(name) else f"{plain(name)}: {plain(text)}"

    return "\n\n".join(
        " · ".join(f"**{plain(row[c])}**" for c in heading if row.get(c))
        + "  \n"
        + " · ".join(field(name, value) for name, value in row.items() if value and name not in heading)
        for row in rows
    )


def table_on_any_screen(rows: Sequence[Mapping[str, object]], *, key: str, heading: Sequence[str]) -> None:
    """`rows` as a table on a desktop and as readable blocks on a phone (see the module's note)."""
    with st.container(key=f"desktop-table-{key}"):
        st.dataframe(list(rows), hide_index=True, width="stretch")
    with st.container(key=f"phone-rows-{key}"):
        if not rows:
            st.caption("Nothing to show.")
            return
        st.markdown(phone_text(rows[:PHONE_ROWS], heading))
        if len(rows) > PHONE_ROWS:
            st.caption(
                f"The first {PHONE_ROWS} of {len(rows)}: a wider screen, or the download, shows them all."
            )
