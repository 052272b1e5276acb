"""The console's web server: `streamlit run serve.py` (or `./dev console`).

Streamlit's own server (st.App) running app.py, plus the routes that set and clear the HttpOnly
session cookie (console/session_routes.py). `streamlit run app.py` still works, without them: a
sign-in then lasts one browser tab."""

from __future__ import annotations

import streamlit as st

from console.session_routes import routes

app = st.App("app.py", routes=routes())
