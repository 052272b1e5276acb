"""Screen pieces for the "Get paid" pages (Invoices & orders, Collect a payment).

Words shown to operations staff, the customer picker, document lists, and three small patterns
that keep Streamlit reruns harmless: values set for the next run, action buttons drawn disabled
while they work, and session memos so an idle rerun asks Dollr nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, NoReturn, TypeVar

import streamlit as st
from sqlalchemy import Engine

from console.widgets import money, show_error, time_heading, when
from dollr_core.api.errors import NetworkError, RateLimitError, ServerError
from dollr_core.api.models import Item
from dollr_core.basics.enums import FeeBearer, SourceType
from dollr_core.basics.words import document_status
from dollr_core.flows.directory import Person, search_customers
from dollr_core.flows.documents import record_by_id
from dollr_core.ledger.tables import Customer, DocumentRecord

#: Hand-over between pages: the document number the next page should open.
COLLECT_NUMBER = "collect_number"
RECEIPT_NUMBER = "receipt_number"

KIND_WORDS: dict[str, str] = {SourceType.INVOICE: "Invoice", SourceType.ORDER: "Order"}

FEE_BEARER_WORDS: dict[FeeBearer, str] = {
    FeeBearer.PAYER: "Customer pays the fees on top",
    FeeBearer.PAYEE: "Fees come out of what we receive",
}
FEE_BEARER_HELP: dict[FeeBearer, str] = {
    FeeBearer.PAYER: "The customer pays the total plus Dollr's fees; we receive the full total.",
    FeeBearer.PAYEE: "The customer pays exactly the total; Dollr's fees are taken from what we receive.",
}

COUNTRIES: dict[str, str] = {"LR": "Liberia", "RW": "Rwanda"}


def status_label(status: str) -> str:
    """Plain words, e.g. "Paid"; Dollr's own value shows in a record's details, for support."""
    return document_status(status)


def kind_label(source_type: str) -> str:
    return KIND_WORDS.get(source_type, source_type.title())


def fee_bearer_label(value: str) -> str:
    try:
        return FEE_BEARER_WORDS[FeeBearer(value)]
    except ValueError:
        return value


def country_label(code: str | None) -> str:
    if not code:
        return "Not given"
    return f"{COUNTRIES[code]} ({code})" if code in COUNTRIES else code


def end_of_day(day: date | None) -> datetime | None:
    """A due date means the whole day: it ends at 23:59:59 UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC) if day else None


# --------------------------------------------------------------------------- rerun-safe patterns


_PENDING = "documents_ui:pending"


def set_on_next_run(key: str, value: object) -> None:
    """Give the widget `key` a value from code. Streamlit refuses changes to a widget already drawn
    in this run, so the value is applied by `apply_pending` at the top of the next run."""
    st.session_state.setdefault(_PENDING, {})[key] = value


def apply_pending() -> None:
    """Call first thing on a page, before any widget is drawn."""
    for key, value in st.session_state.pop(_PENDING, {}).items():
        st.session_state[key] = value


def _busy(key: str) -> str:
    return f"{key}:busy"


def _error(key: str) -> str:
    return f"{key}:error"


def _mark_busy(key: str) -> None:
    st.session_state[_busy(key)] = True


def action(
    label: str, *, key: str, help: str | None = None, primary: bool = True, icon: str | None = None
) -> bool:
    """A button that is drawn disabled during the run its click started (the browser cannot send
    a second click meanwhile), with the error of its last click shown under it.

    The click is read from the flag its callback sets, because a button drawn disabled reports
    no click. The flows behind every action are idempotent anyway: this is comfort, not the guard.
    """
    clicked = bool(st.session_state.pop(_busy(key), False))
    st.button(
        label,
        key=key,
        help=help,
        icon=icon,
        type="primary" if primary else "secondary",
        disabled=clicked,
        on_click=_mark_busy,
        args=(key,),
    )
    show_failure(key)
    return clicked


def show_failure(key: str) -> None:
    """The error `fail(key, …)` left for this run, if any."""
    failure = st.session_state.pop(_error(key), None)
    if failure is not None:
        show_error(failure)


def fail(key: str, exc: BaseException) -> NoReturn:
    """End the action started by button `key`: rerun with the button enabled and the error under it."""
    st.session_state[_error(key)] = exc
    st.rerun()


T = TypeVar("T")


@dataclass(frozen=True)
class _Memo:
    version: Hashable
    value: Any = None
    error: BaseException | None = None


def remember(slot: str, version: Hashable, compute: Callable[[], T]) -> T | None:
    """`compute()` once per `version` for this browser session, so reruns cost no call to Dollr.

    A failure is remembered too and shown (with a "Try again" button when the trouble may pass)
    instead of being retried on every rerun. Returns None after showing a failure.
    """
    memo = st.session_state.get(slot)
    if not isinstance(memo, _Memo) or memo.version != version:
        try:
            memo = _Memo(version, value=compute())
        except Exception as exc:  # shown in plain words below; the person decides to retry
            memo = _Memo(version, error=exc)
        st.session_state[slot] = memo
    if memo.error is not None:
        show_error(memo.error)
        # Only a passing trouble is worth retrying as is; otherwise the person changes the input.
        if isinstance(memo.error, ServerError | NetworkError | RateLimitError) and st.button(
            "Try again", key=f"{slot}:retry"
        ):
            forget(slot)
            st.rerun()
        return None
    value: T = memo.value
    return value


def keep(slot: str, version: Hashable, value: object) -> None:
    """Store a fresh answer (e.g. the document Dollr returned after an edit) for `remember`."""
    st.session_state[slot] = _Memo(version, value=value)


def forget(slot: str) -> None:
    st.session_state.pop(slot, None)


def go_to(page: str, *, number: str, hand_over: str) -> NoReturn:
    """Open another console page on this document (session state and the address both carry it)."""
    st.session_state[hand_over] = number
    st.switch_page(page, query_params={"number": number})


def receipt_button(number: str | None, *, key: str, allowed: bool, primary: bool = False) -> None:
    """Open the Receipts page on this (paid) document, for people whose role shows receipts."""
    if (
        number
        and allowed
        and st.button(
            "Open the receipt",
            key=key,
            type="primary" if primary else "secondary",
            icon=":material/description:",
        )
    ):
        go_to("pages/receipts.py", number=number, hand_over=RECEIPT_NUMBER)


# --------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerInput:
    """What the person chose or typed about the customer; checked only when they act on it."""

    saved: Customer | None
    new: tuple[str, str, str, str | None] | None

    def person(self) -> Person:
        if self.saved is not None:
            c = self.saved
            return Person.checked(c.fullname, c.phone, c.email, c.country_code)
        if self.new is None:
            raise ValueError("Choose a saved customer, or add a new one.")
        return Person.checked(*self.new)


def customer_input(engine: Engine, prefix: str) -> CustomerInput:
    """Pick a saved customer (searchable by name or phone) or type a new one."""
    anyone = bool(search_customers(engine, limit=1))
    mode = st.radio(
        "Customer",
        ["saved", "new"],
        index=0 if anyone else 1,
        format_func={"saved": "A saved customer", "new": "A new customer"}.get,
        horizontal=True,
        key=f"{prefix}:mode",
    )
    if mode == "saved":
        text = st.text_input(
            "Search saved customers", placeholder="Name or phone number", key=f"{prefix}:search"
        )
        found = {c.id: c for c in search_customers(engine, text)}
        if not found:
            st.info("No saved customer matches. Choose **A new customer** to add one.")
        chosen = st.selectbox(
            "Saved customer",
            list(found),
            index=None,
            format_func=lambda cid: f"{found[cid].fullname} · {found[cid].phone}",
            placeholder="Choose the customer",
            key=f"{prefix}:saved",
        )
        return CustomerInput(saved=found.get(chosen) if chosen is not None else None, new=None)
    name = st.text_input("Customer's full name", key=f"{prefix}:name", max_chars=200)
    left, right = st.columns(2)
    phone = left.text_input(
        "Phone number",
        key=f"{prefix}:phone",
        placeholder="e.g. 231771234567",
        help="With the country code: 231 for Liberia, 250 for Rwanda.",
    )
    email = right.text_input("E-mail (optional)", key=f"{prefix}:email")
    country = st.selectbox(
        "Country (optional)", [None, *COUNTRIES], format_func=country_label, key=f"{prefix}:country"
    )
    return CustomerInput(saved=None, new=(name, phone, email, country))


def fee_bearer_input(key: str) -> FeeBearer:
    choice = st.radio(
        "Who pays Dollr's fees?",
        list(FEE_BEARER_WORDS),
        format_func=FEE_BEARER_WORDS.get,
        captions=[FEE_BEARER_HELP[b] for b in FEE_BEARER_WORDS],
        key=key,
    )
    return FeeBearer(choice or FeeBearer.PAYER)


def item_inputs(prefix: str, currency: str, *, item: Item | None = None) -> tuple[str, int, str]:
    """Name, quantity and unit price of one line as typed, prefilled from `item` when editing
    (check them with `LineItem.checked`)."""
    left, middle, right = st.columns([3, 1, 2])
    name = left.text_input(
        "Item", value=item.name if item else "", key=f"{prefix}:name", placeholder="e.g. Strategy session"
    )
    qty = middle.number_input(
        "Quantity", min_value=1, step=1, value=item.qty if item else "min", key=f"{prefix}:qty"
    )
    price = right.text_input(
        f"Unit price ({currency})",
        value=str(item.amount) if item else "",
        key=f"{prefix}:price",
        placeholder="e.g. 250.00",
    )
    return name, int(qty), price


def clear_item_inputs(prefix: str) -> None:
    set_on_next_run(f"{prefix}:name", "")
    set_on_next_run(f"{prefix}:qty", 1)
    set_on_next_run(f"{prefix}:price", "")


# --------------------------------------------------------------------------- documents


def document_label(record: DocumentRecord) -> str:
    """One line for pickers: number and customer (plain text, never markdown).

    Only what never changes: the browser sends back the chosen label, so a label that changed
    (a new total, a new status) would silently drop the choice.
    """
    number = record.number or f"{kind_label(record.source_type)} #{record.dollr_id}"
    return f"{number} · {record.customer_name or 'unknown customer'}"


def documents_table(records: Sequence[DocumentRecord]) -> None:
    st.dataframe(
        {
            "Number": [r.number or "" for r in records],
            "Type": [kind_label(r.source_type) for r in records],
            "Customer": [r.customer_name for r in records],
            "Amount": [money(r.total_amount, r.currency) for r in records],
            "Status": [status_label(r.status) for r in records],
            time_heading("Created"): [when(r.created_at) for r in records],
            "Created by": [r.created_by for r in records],
        },
        hide_index=True,
        width="stretch",
    )


def facts(rows: dict[str, str]) -> None:
    """A two-column table of labelled values (safe for anything a person typed)."""
    st.dataframe({"What": list(rows), "Value": list(rows.values())}, hide_index=True, width="stretch")


def document_picker(
    records: Sequence[DocumentRecord], *, engine: Engine, key: str, label: str, placeholder: str
) -> DocumentRecord | None:
    """Choose one of `records`; the current choice stays listed even when a search hides it."""
    by_id = {r.id: r for r in records if r.id is not None}
    current = st.session_state.get(key)
    if isinstance(current, int) and current not in by_id:
        kept = record_by_id(engine, current)
        if kept is not None:
            by_id = {current: kept, **by_id}
    chosen = st.selectbox(
        label,
        list(by_id),
        index=None,
        format_func=lambda rid: document_label(by_id[rid]),
        placeholder=placeholder,
        key=key,
    )
    return by_id.get(chosen) if chosen is not None else None
