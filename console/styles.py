"""The console's own style rules, beyond what the theme in .streamlit/config.toml can set."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

LOOK = Path(__file__).with_name("look.css")


def apply_look() -> None:
    """Put look.css on the page (a style-only element: it takes no room)."""
    st.html(LOOK)
