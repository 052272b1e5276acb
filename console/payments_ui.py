"""A short list of payments (Payment status search results, My payments), the same on every page."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from console.widgets import money, page_link, time_heading, when
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import short_reference
from dollr_core.reports.history import HistoryRow, operation_name


def payments_table(rows: Sequence[HistoryRow], *, key: str) -> HistoryRow | None:
    """The payments as a table, newest first; returns the one the person picked, if any."""
    picked = st.dataframe(
        {
            time_heading("When"): [when(r.created_at) for r in rows],
            "Kind": [operation_name(r.operation) for r in rows],
            "Who": [r.party_name or "—" for r in rows],
            "Phone": [mask_phone(r.phone) if r.phone else "—" for r in rows],
            "Amount": [money(r.amount, r.currency) for r in rows],
            "Status": [r.outcome.value for r in rows],
            "Reference": [short_reference(r.reference_id) for r in rows],
        },
        hide_index=True,
        width="stretch",
        key=key,
        on_select="rerun",
        selection_mode="single-row",
    )
    chosen = picked.selection.rows if picked is not None else []
    return rows[chosen[0]] if chosen and chosen[0] < len(rows) else None


def open_payment(row: HistoryRow) -> None:
    """Links from one payment to where it is followed, and to its receipt when it has one."""
    page_link(
        "pages/status.py",
        f"Where payment {short_reference(row.reference_id)} stands",
        reference=row.reference_id,
    )
    if row.has_receipt and row.document_number:
        page_link("pages/receipts.py", "Its receipt", number=row.document_number)
