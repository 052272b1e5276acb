"""Screen pieces for Payment history: its filters (kept across pages), totals, charts and table.

They live here, not in the page, so that the page reads as a script of the screen and they are
compiled once per process: Streamlit compiles a page's own source (with its "magic" pass), once
per process when served but on every run under AppTest, which the page benches use. Every figure
comes from the ledger's SQL (`dollr_core.reports.history*`), remembered per filter as of one
reading of the ledger's change marker per run (`figures_cache.AsOf`); no call to Dollr is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import streamlit as st

from console.widgets import page_link, time_heading, when
from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor, Permission
from dollr_core.basics.enums import OperationType, PaymentMethod
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import short_reference, zone_label
from dollr_core.reports import figures_cache, history, history_export, history_totals
from dollr_core.reports.history import HistoryFilter, HistoryRow, Outcome, operation_name
from dollr_core.reports.predictor import method_name
from dollr_core.services import Services

PAGE = "history_page"
FILTER_SEEN = "history:filter"  # the filter the page number belongs to
TABLE = "history_table"  # the table of payments (its selected row)
TABLE_PAGE = "history:table_page"  # the page the selected row was picked on
SIZES = (25, 50, 100, 200)
#: The filters' values (and the rows per page and page), kept under a key no widget owns: Streamlit
#: forgets a widget's state once a run leaves its page, so opening a payment's status and coming
#: back reset every filter. Each widget's state starts from here when Streamlit has dropped it.
KEPT = "history:kept"
KEPT_WIDGETS = (
    "history_dates",
    "history_ops",
    "history_outcomes",
    "history_methods",
    "history_currencies",
    "history_operators",
    "history_text",
    "history_size",
    PAGE,
)
#: Exact amounts as numbers (sorted by value, not as text), the currency in a column beside them.
AMOUNT = st.column_config.NumberColumn(format="accounting")
TOTAL_AMOUNTS = ("Amount (all)", "Amount completed", "Payers paid (completed)", "Payees received (completed)")
#: Outcomes keep the same colour in every chart: green went through, red did not, amber is open.
OUTCOME_COLOURS = {
    Outcome.COMPLETED: "#2e7d32",
    Outcome.FAILED: "#c62828",
    Outcome.REFUSED: "#8e0000",
    Outcome.PROCESSING: "#f9a825",
    Outcome.CHECKING: "#ef6c00",
    Outcome.SENDING: "#90a4ae",
    Outcome.NOT_SENT: "#cfd8dc",
}

# --------------------------------------------------------------------------- the charts' specs

# Plain Vega-Lite, the data passed beside them: the specs Altair built for these charts, written
# out (building and validating them through Altair cost 60 ms on a page's first open).
_VIEW = {"view": {"continuousWidth": 300, "continuousHeight": 300}}  # Altair's default view
_OUTCOME_COLOUR = {
    "field": "Outcome",
    "type": "nominal",
    "scale": {"domain": [o.value for o in OUTCOME_COLOURS], "range": list(OUTCOME_COLOURS.values())},
}
_DAY = {"field": "Day", "type": "ordinal", "title": None}
PER_DAY_SPEC: dict[str, Any] = {
    "config": _VIEW,
    "title": "Payments per day",
    "mark": {"type": "bar"},
    "encoding": {
        "x": _DAY,
        "y": {
            "aggregate": "sum",
            "field": "Payments",
            "type": "quantitative",
            "title": "Payments",
            "axis": {"format": "d", "tickMinStep": 1},
        },
        "color": _OUTCOME_COLOUR,
        "tooltip": [
            {"field": "Day", "type": "ordinal"},
            {"field": "Outcome", "type": "nominal"},
            {"aggregate": "sum", "field": "Payments", "type": "quantitative"},
        ],
    },
}
VOLUME_SPEC: dict[str, Any] = {
    "config": _VIEW,
    "title": "Completed amount per day, per currency",
    "mark": {"type": "bar"},
    "height": 120,
    "encoding": {
        "x": _DAY,
        "y": {"aggregate": "sum", "field": "Amount", "type": "quantitative", "title": "Amount"},
        "color": {"field": "Currency", "type": "nominal"},
        "row": {"field": "Currency", "type": "nominal", "title": None},
        "tooltip": [
            {"field": "Day", "type": "ordinal"},
            {"field": "Currency", "type": "nominal"},
            {"aggregate": "sum", "field": "Amount", "type": "quantitative"},
        ],
    },
    "resolve": {"scale": {"y": "independent"}},
}


def split_spec(title: str) -> dict[str, Any]:
    """Payments per `title` (method or outcome), one bar each, split by outcome, longest first."""
    return {
        "config": _VIEW,
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "Payments", "type": "quantitative"},
            "y": {"field": title, "type": "nominal", "title": None, "sort": "-x"},
            "color": _OUTCOME_COLOUR,
            "tooltip": [
                {"field": title, "type": "nominal"},
                {"field": "Outcome", "type": "nominal"},
                {"field": "Payments", "type": "quantitative"},
            ],
        },
    }


def arrow(rows: Sequence[Mapping[str, object]]) -> Any:
    """Rows as an Arrow table, which Streamlit sends as it is: rows as dicts (or a DataFrame) are
    turned into a DataFrame and then into Arrow, several times the work, on every rerun."""
    return pa.Table.from_pylist(list(rows))


# --------------------------------------------------------------------------- what is asked


@dataclass(frozen=True)
class Figures:
    """What the page reads from the ledger besides its rows, remembered per filter until the ledger
    changes, all as of the one reading of the change marker made at the start of the run."""

    svc: Services
    who: Actor
    asof: figures_cache.AsOf

    @classmethod
    def now(cls, svc: Services, who: Actor) -> Figures:
        return cls(svc, who, figures_cache.AsOf(svc.engine))

    def operators(self) -> list[str]:
        return self.asof.remembered("operators", None, lambda: history.operators(self.svc, self.who))

    def of(self, flt: HistoryFilter) -> history_totals.HistoryFigures:
        """Totals, payments per day, and the breakdowns by method and by outcome."""
        return self.asof.remembered("figures", flt, lambda: history_totals.figures(self.svc, self.who, flt))


# --------------------------------------------------------------------------- filters


def restore_filters(today: date) -> None:
    """Give each filter widget its kept value (or its first value), before it is drawn: through
    the session state only, as a widget given both a value and a state warns."""
    kept = st.session_state.get(KEPT, {})
    first = {"history_dates": (today - timedelta(days=6), today), "history_size": 50}
    for key in KEPT_WIDGETS:
        if key not in st.session_state and (key in kept or key in first):
            st.session_state[key] = kept.get(key, first.get(key))


def keep_filters() -> None:
    st.session_state[KEPT] = {key: st.session_state[key] for key in KEPT_WIDGETS if key in st.session_state}


def date_range(today: date, zone: str) -> tuple[date | None, date | None]:
    picked = st.date_input(
        f"Started between ({zone_label(zone)} days)",
        max_value=today,
        key="history_dates",
        help="Pick the first and the last day. Clear it to see every day.",
    )
    if isinstance(picked, Sequence) and not isinstance(picked, str):
        days = list(picked)
        if len(days) == 2:
            return days[0], days[1]
        if len(days) == 1:
            return days[0], days[0]  # the second day is still being picked
        return None, None
    return (picked, picked) if isinstance(picked, date) else (None, None)


def filters(figures: Figures) -> HistoryFilter:
    zone = figures.svc.settings.time_zone
    today = datetime.now(ZoneInfo(zone)).date()  # the company's today
    restore_filters(today)
    with st.container(border=True):
        first, second, third = st.columns(3)
        with first:
            since, until = date_range(today, zone)
        operations = second.multiselect(
            "Type", [op.value for op in OperationType], format_func=operation_name, key="history_ops"
        )
        outcomes = third.multiselect(
            "Outcome", list(Outcome), format_func=lambda o: o.value, key="history_outcomes"
        )
        fourth, fifth, sixth = st.columns(3)
        methods = fourth.multiselect(
            "Method", [m.value for m in PaymentMethod], format_func=method_name, key="history_methods"
        )
        currencies = fifth.multiselect("Currency", SUPPORTED_CURRENCIES, key="history_currencies")
        people = sixth.multiselect("Started by", figures.operators(), key="history_operators")
        text = st.text_input(
            "Search",
            key="history_text",
            placeholder="Name, phone number, payment reference or invoice/order number",
        )
    keep_filters()
    return HistoryFilter(
        since=since,
        until=until,
        operations=tuple(operations),
        outcomes=tuple(Outcome(o) for o in outcomes),
        methods=tuple(methods),
        currencies=tuple(currencies),
        operators=tuple(people),
        text=text.strip(),
        time_zone=zone,
    )


# --------------------------------------------------------------------------- totals and downloads


def total_row(t: history_totals.CurrencyTotal) -> dict[str, object]:
    return {
        "Type": operation_name(t.operation),
        "Currency": t.currency,
        "Payments": t.count,
        "Completed": t.completed,
        "Failed": t.failed,
        "Still open": t.open,
        "Amount (all)": t.amount if t.count else None,
        "Amount completed": t.completed_amount if t.count else None,
        "Payers paid (completed)": t.payer_amount or None,
        "Payees received (completed)": t.payee_amount or None,
    }


def show_totals(totals: Sequence[history_totals.CurrencyTotal]) -> None:
    counted = [t for t in totals if t.count]
    done = sum(t.completed for t in counted)
    failed = sum(t.failed for t in counted)
    first, second, third, fourth = st.columns(4)
    first.metric("Payments", f"{sum(t.count for t in counted):,}")
    second.metric("Completed", f"{done:,}")
    third.metric("Failed or refused", f"{failed:,}")
    fourth.metric(
        "Success rate",
        f"{done / (done + failed):.1%}" if done + failed else "—",
        help="Completed ÷ (completed + failed or refused). Payments still open are left out.",
    )
    st.dataframe(
        arrow([total_row(t) for t in totals]),
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(TOTAL_AMOUNTS, AMOUNT),
    )
    st.caption(
        "Payers paid and payees received are counted in the currency the money moved in: a USD invoice"
        " paid in LRD adds to the USD amount and to the LRD payers' total."
    )


def downloads(svc: Services, who: Actor, flt: HistoryFilter, matching: int) -> None:
    """The matching payments as CSV and as Excel, each file built only when its button is clicked."""
    what = "this payment" if matching == 1 else f"these {matching:,} payments"
    period = f"payments-{flt.since or 'start'}-to-{flt.until or 'now'}"
    as_csv, as_xlsx = st.columns(2)
    as_csv.download_button(
        f"Download {what} (CSV)",
        data=lambda: "".join(history_export.export_csv(svc, who, flt)),
        file_name=f"{period}.csv",
        mime=spreadsheet.CSV_MIME,
        icon=":material/download:",
        key="history_csv",
        on_click="ignore",  # a rerun on click can lose the file (Streamlit 1.67)
        help="Exactly the payments the filters above select, with full phone numbers and exact amounts.",
    )
    as_xlsx.download_button(
        f"Download {what} (Excel)",
        data=lambda: history_export.export_xlsx(svc, who, flt),
        file_name=f"{period}.xlsx",
        mime=spreadsheet.XLSX_MIME,
        icon=":material/download:",
        key="history_xlsx",
        on_click="ignore",
        help="The same payments as an Excel workbook; every cell is text, so numbers keep their digits.",
    )


# --------------------------------------------------------------------------- charts


def show_charts(figures: history_totals.HistoryFigures) -> None:
    # Floats only inside the charts' data; every figure shown as text is the exact Decimal.
    per_day, per_method, per_outcome = st.tabs(["Per day", "By method", "By outcome"])
    days = figures.daily
    with per_day:
        if not days:
            st.caption("Nothing to chart.")
        else:
            per_day_rows = [
                {"Day": d.day.isoformat(), "Outcome": d.outcome.value, "Payments": d.count} for d in days
            ]
            st.vega_lite_chart(arrow(per_day_rows), PER_DAY_SPEC, width="stretch")
            volume = [
                {"Day": d.day.isoformat(), "Currency": d.currency, "Amount": float(d.amount)}
                for d in days
                if d.outcome is Outcome.COMPLETED
            ]
            if volume:
                st.vega_lite_chart(arrow(volume), VOLUME_SPEC, width="stretch")
    with per_method:
        split(figures.by_method, "Method", method_name)
    with per_outcome:
        split(figures.by_outcome, "Outcome", str)


def split(rows: Sequence[history_totals.BreakdownRow], title: str, name: Callable[[str], str]) -> None:
    if not rows:
        st.caption("Nothing to chart.")
        return
    bars = [
        {title: name(r.key), "Outcome": outcome.value, "Payments": n}
        for r in rows
        for outcome, n in r.per_outcome.items()
    ]
    st.vega_lite_chart(arrow(bars), split_spec(title), width="stretch")
    st.dataframe(
        arrow(
            [
                {
                    title: name(r.key),
                    "Payments": r.count,
                    "Completed": r.completed,
                    "Failed": r.failed,
                    "Still open": r.open,
                    "Success rate": f"{r.success_rate:.1%}" if r.success_rate is not None else "—",
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
    )


# --------------------------------------------------------------------------- the table of payments


def table_row(row: HistoryRow) -> dict[str, object]:
    return {
        time_heading("Started"): when(row.created_at),
        "Type": operation_name(row.operation),
        "Outcome": row.outcome.value,
        "Name": row.party_name,
        "Phone": mask_phone(row.phone) if row.phone else "",
        "Method": method_name(row.method),
        "Amount": row.amount,
        "Currency": row.currency,
        "Payer paid": row.payer_amount,
        "Paid in": row.payer_currency or "",
        "Payee received": row.payee_amount,
        "Received in": row.payee_currency or "",
        "Document": row.document_number or "",
        "Started by": row.operator,
        "Why it failed": row.reason,
        "Reference": short_reference(row.reference_id),  # whole in the export
    }


def open_links(who: Actor, rows: Sequence[HistoryRow], picked: Sequence[int]) -> None:
    """Links for the row the person picked. They open in this tab, so the sign-in carries over."""
    if not picked or picked[0] >= len(rows):
        st.caption("Select a row to open its payment status or its receipt.")
        return
    row = rows[picked[0]]
    left, right = st.columns(2)
    if who.can(Permission.LOOK_UP_STATUS):
        page_link(
            "pages/status.py",
            "Open its payment status",
            where=left,
            icon=":material/search:",
            reference=row.reference_id,
        )
    if row.has_receipt and row.document_number and who.can(Permission.VIEW_RECEIPTS):
        page_link(
            "pages/receipts.py",
            "Open its receipt",
            where=right,
            icon=":material/description:",
            number=row.document_number,
        )
    if row.operation == "COLLECTION" and row.outcome is Outcome.COMPLETED and who.can(Permission.REFUND):
        page_link("pages/refunds.py", "Refund it", icon=":material/undo:", reference=row.reference_id)


def show_rows(svc: Services, who: Actor, flt: HistoryFilter, total: int) -> None:
    """One page of the matching payments, newest first (read each run: a row's details, such as
    Dollr's last word on an open payment, change with no state change), and links for a picked one."""
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    size = left.selectbox("Rows per page", SIZES, key="history_size")
    if st.session_state.get(FILTER_SEEN) != (flt, size):  # a new question starts on its first page
        st.session_state[FILTER_SEEN] = (flt, size)
        st.session_state[PAGE] = 1
        st.session_state.pop(TABLE, None)
    pages = max(1, -(-total // size))
    st.session_state[PAGE] = min(int(st.session_state.get(PAGE, 1)), pages)
    number = right.number_input("Page", min_value=1, max_value=pages, step=1, key=PAGE)
    keep_filters()
    shown = history.page(svc, who, flt, int(number), size, total=total)
    if not shown.rows:
        st.info("No payment matches these filters.")
        return
    st.caption(f"Showing {shown.first:,}–{shown.last:,} of {shown.total:,}, newest first.")
    if st.session_state.get(TABLE_PAGE) != shown.page:  # a picked row belongs to its page
        st.session_state[TABLE_PAGE] = shown.page
        st.session_state.pop(TABLE, None)
    picked = st.dataframe(
        arrow([table_row(r) for r in shown.rows]),
        hide_index=True,
        width="stretch",
        # Who and how much stay in view when the table scrolls sideways (on a phone it must).
        column_config={
            "Name": st.column_config.TextColumn(pinned=True),
            "Amount": st.column_config.NumberColumn(format="accounting", pinned=True),
            "Currency": st.column_config.TextColumn(pinned=True),
            "Payer paid": AMOUNT,
            "Payee received": AMOUNT,
        },
        on_select="rerun",
        selection_mode="single-row",
        key=TABLE,
    )
    open_links(who, shown.rows, picked.selection.rows)
