"""Receipts: find a paid invoice or order and show, download or print its receipt.

Arrive from another page (`st.session_state["receipt_number"]`) or a link (`?number=INV-…`), or
type a number. A PAID document's receipt is kept once fetched, and "not paid yet" for a few
seconds, so reruns cost no call to Dollr.
"""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

from console.context import require_page, services
from console.widgets import money, page_link, reference, show_error, time_heading, when
from dollr_core.basics.access import Permission
from dollr_core.basics.words import intent_state, short_reference
from dollr_core.flows import documents, refunds
from dollr_core.reports import payment_receipts, receipts
from dollr_core.reports.history import operation_name
from dollr_core.reports.payment_receipts import PaymentReceipt
from dollr_core.reports.receipts import ReceiptUnavailable, ReceiptView

who = require_page(Permission.VIEW_RECEIPTS)
svc = services()

HAND_OVER = "receipt_number"  # set by the collect and invoice pages before switching here
SEARCH = "receipts_search"
SHOWN = "receipts:number"  # the number whose receipt is on screen
MISSING = "receipts:missing"  # numbers already looked up and not found (asked once, not per rerun)


def take_hand_over() -> None:
    """Open the number another page or the address asked for (once; typing a new one wins)."""
    arrived = st.session_state.pop(HAND_OVER, None) or st.query_params.get("number")
    if arrived and arrived != st.session_state.get("receipts:arrived"):
        st.session_state["receipts:arrived"] = arrived
        st.session_state[SEARCH] = arrived
        st.session_state[SHOWN] = arrived


def show_receipt(view: ReceiptView) -> None:
    st.subheader(view.title)
    left, right = st.columns(2)
    with left:
        st.markdown("**From**")
        for line in (view.merchant.name, view.merchant.phone, view.merchant.email):
            if line:
                st.text(line)
    with right:
        st.markdown("**Customer**")
        for line in (view.customer.name, view.customer.phone, view.customer.email):
            if line:
                st.text(line)
    if view.note:
        st.text(f"Note: {view.note}")

    st.markdown("**Items**")
    st.dataframe(
        [
            {
                "Item": item.name,
                "Qty": item.qty,
                "Unit price": money(item.unit_amount, item.currency),
                "Amount": money(item.total, item.currency),
            }
            for item in view.items
        ],
        hide_index=True,
        width="stretch",
    )
    st.markdown("**Payment**")
    figures = [{"What": label, "Value": value} for label, value in view.lines(short_references=True)]
    st.dataframe(figures, hide_index=True, width="stretch", height=35 * (len(figures) + 1) + 3)
    reference(view.reference_id)

    slug = view.number.replace("/", "-")
    first, second, third = st.columns(3)
    first.download_button(
        "Download PDF",
        data=lambda: receipts.receipt_pdf(view),  # made only when clicked
        file_name=f"receipt-{slug}.pdf",
        mime="application/pdf",
        type="primary",
        icon=":material/picture_as_pdf:",
        key="receipts_pdf",
        on_click="ignore",  # a rerun on click can lose the file (Streamlit 1.67)
    )
    if second.button("Printable page", icon=":material/print:", key="receipts_print"):
        print_view(view)
    if view.receipt_url:
        third.link_button("Customer's receipt on Dollr", view.receipt_url, icon=":material/open_in_new:")
        st.caption("Send this link to the customer for their own copy:")
        st.code(view.receipt_url, language=None)
    else:
        third.caption("Dollr gave no customer link for this receipt.")


@st.dialog("Printable receipt", width="large")
def print_view(view: ReceiptView) -> None:
    """The receipt laid out for paper in its own frame, so Print prints the receipt alone."""
    st.caption("Press Print (or Ctrl+P / ⌘P inside the receipt) to print it or save it as a PDF.")
    components.html(receipts.receipt_html(view, print_button=True), height=720, scrolling=True)


def refund_controls(view: ReceiptView) -> None:
    """Refunds already made of this payment, and the way to make one."""
    record = documents.record_by_number(svc.engine, view.number)
    made = refunds.refunds_of_document(svc, record.source_type, record.dollr_id) if record else []
    if made:
        st.markdown("**Refunds**")
        st.dataframe(
            [
                {
                    "Amount": money(i.amount, i.currency),
                    "State": intent_state(i.state),
                    "Reason": i.note,
                    "By": i.operator,
                }
                for i in made
            ],
            hide_index=True,
            key="receipts_refunds",
        )
    if who.can(Permission.REFUND) and view.reference_id:
        page_link(
            "pages/refunds.py", "Refund this payment", icon=":material/undo:", reference=view.reference_id
        )


def document_receipts() -> None:
    take_hand_over()
    with st.form("receipts_find", border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        typed = left.text_input(
            "Invoice or order number",
            key=SEARCH,
            placeholder="e.g. INV-2025-00042",
            help="The number printed on the invoice or order (its Dollr id works too).",
        )
        if right.form_submit_button("Find receipt", type="primary", key="receipts_find_button"):
            st.session_state[SHOWN] = typed.strip()
            st.session_state.get(MISSING, set()).discard(typed.strip())  # asked on purpose: look again

    number = str(st.session_state.get(SHOWN) or "").strip()
    if not number:
        st.info("Enter an invoice or order number to see its receipt.")
        return
    if number in st.session_state.setdefault(MISSING, set()):
        st.warning(f"No invoice or order was found for {number!r}; check the number.")
        return
    st.query_params["number"] = number

    try:
        found = receipts.load_receipt(svc, who, number)
    except LookupError as exc:
        st.session_state[MISSING].add(number)
        st.warning(str(exc))
        return
    except Exception as exc:
        show_error(exc)
        return

    if isinstance(found, ReceiptUnavailable):
        st.warning(f"No receipt for {found.number} yet." if found.status != "CANCELED" else "No receipt.")
        st.info(found.reason)
        st.caption("Press Find receipt to check again (Dollr's answer is kept for a few seconds).")
    else:
        show_receipt(found)
        refund_controls(found)


def show_payment_receipt(view: PaymentReceipt) -> None:
    st.subheader(view.title)
    figures = [{"What": label, "Value": value} for label, value in view.lines(short_references=True)]
    st.dataframe(figures, hide_index=True, width="stretch", height=35 * (len(figures) + 1) + 3)
    reference(view.reference_id)
    if view.refund_of:
        reference(view.refund_of, label="Reference of the refunded payment")
    st.download_button(
        "Download PDF",
        data=lambda: payment_receipts.payment_receipt_pdf(view),
        file_name=f"receipt-{view.reference_id}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        key="receipts_payment_pdf",
        on_click="ignore",
    )


def every_payment() -> None:
    """Browse completed payments of every kind; a payout, refund or transfer has its receipt here."""
    text = st.text_input(
        "Search", key="receipts_browse_text", placeholder="name, phone, payment reference, document…"
    )
    rows = payment_receipts.browse(svc, who, text)
    if not rows:
        st.info("No completed payment matches.")
        return
    picked = st.dataframe(
        [
            {
                time_heading("Completed"): when(r.final_at or r.created_at),
                "Type": operation_name(r.operation),
                "Name": r.party_name,
                "Amount": money(r.amount, r.currency),
                "Document": r.document_number or "",
                "Payment reference": short_reference(r.reference_id),
            }
            for r in rows
        ],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="receipts_browse",
    )
    chosen = picked.selection.rows if picked else []
    if chosen:
        show_payment_receipt(payment_receipts.payment_receipt(svc, who, rows[chosen[0]].reference_id))


st.title("Receipts")
by_document, by_payment = st.tabs(["Invoices & orders", "Every payment"])
with by_document:
    document_receipts()
with by_payment:
    every_payment()
