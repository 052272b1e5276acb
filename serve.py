"""The console's web server: `streamlit run serve.py` (or `./dev console`).

Streamlit's own server (st.App) running app.py, plus the routes that set and clear the HttpOnly
session cookie (console/session_routes.py). `streamlit run app.py` still works, without them: a
sign-in then lasts one browser tab."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from console.session_routes import routes

# The menu is st.navigation's (console/navigation.py). Until a first st.navigation call clears this
# flag, Streamlit runs the process's first page load as a "pages/ directory" app, whose sidebar
# lists the raw file names of pages/ for a moment (client.showSidebarNavigation would hide both).
PagesManager.uses_pages_directory = False
app = st.App("app.py", routes=routes())
