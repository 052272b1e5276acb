"""My payments: what the signed-in person sent or collected, newest first, with where each stands."""

from __future__ import annotations

import streamlit as st

from console.context import actor, services
from console.payments_ui import open_payment, payments_table
from dollr_core.reports import status_lookup

who = actor()  # every signed-in person has their own payments
svc = services()
SIZE = 25

st.title("My payments")
st.caption("Everything you sent or collected from this console, newest first. Pick one to follow it.")
number = int(st.session_state.get("mine_page", 1))
page = status_lookup.my_payments(svc, who, number, SIZE)
if not page.rows:
    st.info("You have not sent or collected any payment yet.")
else:
    chosen = payments_table(page.rows, key="mine_table")
    if chosen is not None:
        open_payment(chosen)
    if page.pages > 1:
        st.number_input(
            f"Page (of {page.pages}; {page.total} payments)", 1, page.pages, number, key="mine_page"
        )
