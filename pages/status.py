"""Payment status: where one payment, or one invoice or order, stands, in plain words.

Look up by payment reference (any kind of payment) or by invoice / order number or id. The
payment's own status and the invoice's status are shown side by side and never mixed: a payment
still PROCESSING does not mean the invoice failed. Dollr is asked only when someone looks up
(or follows a link here); reruns show the last answer.
"""

from __future__ import annotations

import streamlit as st

from console.context import require_page, services
from console.payments_ui import open_payment, payments_table
from console.widgets import money, plain, reference, show_error, time_heading, when, when_said
from dollr_core.basics.access import Permission
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import document_status, payment_status, short_reference
from dollr_core.explain import NETWORK_TRANSACTION_ID
from dollr_core.reports import status_lookup

who = require_page(Permission.LOOK_UP_STATUS)
svc = services()
RESULT = "status:result"  # the last answer, shown again on reruns without asking Dollr
LINKED = "status:linked"  # the query-parameter value already looked up

KINDS = {
    "COLLECTION": "Collection (money in)",
    "PAYOUT": "Payout (money out)",
    "TRANSFER": "Transfer",
    "REFUND": "Refund",
}
#: Who pays and who receives, in the words of each kind of payment.
SIDES = {
    "COLLECTION": ("Customer pays", "We receive"),
    "PAYOUT": ("Our wallet is debited", "Recipient gets"),
}


def run_lookup(text: str) -> None:
    try:
        with st.spinner("Asking Dollr…"):
            st.session_state[RESULT] = status_lookup.look_up(svc, who, text)
    except Exception as exc:
        st.session_state.pop(RESULT, None)
        show_error(exc)


def details(rows: dict[str, str]) -> None:
    """Label → value as a plain table (nothing anyone typed is rendered as markup)."""
    st.dataframe({"What": list(rows), "Value": list(rows.values())}, hide_index=True, width="stretch")


def payment_side(payment: status_lookup.PaymentStatus | None, *, for_document: bool) -> None:
    st.metric(
        "Payment status",
        payment_status(payment.status)
        if payment and payment.status
        else ("Not at Dollr" if payment else "—"),
    )
    if payment is None:
        st.info(
            "This console has sent no payment for it. If the customer paid on Dollr's hosted page,"
            " the document's status (beside this) is the one to trust."
            if for_document
            else "No payment found."
        )
        return
    st.write(payment.meaning)
    if payment.reason:
        st.error(f"Why it failed: {payment.reason}")
    kind = payment.operation_type or ""
    pays, receives = SIDES.get(kind, ("Payer pays", "Payee receives"))
    rows = {
        "Reference": short_reference(payment.reference_id),
        "Kind": KINDS.get(kind, kind or "—"),
        pays: money(payment.payer_amount, payment.payer_currency),
        receives: money(payment.payee_amount, payment.payee_currency),
    }
    if payment.provider_transaction_id:
        rows[NETWORK_TRANSACTION_ID] = payment.provider_transaction_id
    if payment.status:
        rows["Status code at Dollr (for support)"] = payment.status
    details(rows)
    reference(payment.reference_id)


def document_side(document: status_lookup.DocumentStatus | None) -> None:
    if document is None:
        st.metric("Invoice / order status", "—")
        st.info("Not linked to an invoice or order: payouts, transfers and refunds have none.")
        return
    st.metric(f"{document.label} status", document_status(document.status))
    st.write(document.meaning)
    if not document.fresh:
        st.caption("Dollr could not be asked just now: this is the last status we saw.")
    rows = {
        "Number": document.number or "—",
        "Customer": document.customer_name or "—",
        "Total": money(document.total_amount, document.currency),
    }
    if document.paid_at:
        rows["Paid at"] = when_said(document.paid_at)
    rows["Status code at Dollr (for support)"] = document.status
    details(rows)


def side_by_side(
    payment: status_lookup.PaymentStatus | None,
    document: status_lookup.DocumentStatus | None,
    *,
    for_document: bool,
) -> None:
    left, right = st.columns(2)
    with left, st.container(border=True):
        payment_side(payment, for_document=for_document)
    with right, st.container(border=True):
        document_side(document)


def show(
    result: status_lookup.ReferenceLookup | status_lookup.DocumentLookup | status_lookup.PaymentSearch,
) -> None:
    if isinstance(result, status_lookup.PaymentSearch):
        whose = "you sent or collected" if result.own_only else "in this console"
        if not result.found:
            st.warning(
                f"No payment {whose} matches “{result.query}”. Try part of the name, the last digits of"
                " the phone number, the amount, or the reference from the receipt."
            )
            return
        st.markdown(f"**Payments {whose} that match**, newest first — pick one to see where it stands:")
        chosen = payments_table(result.matches, key="status_matches")
        if chosen is not None:
            open_payment(chosen)
        return
    if isinstance(result, status_lookup.ReferenceLookup):
        if not result.found:
            st.warning(
                "Not found: neither this console nor Dollr has a payment with this reference."
                " Check that you copied all of it."
            )
            return
        side_by_side(result.payment, result.document, for_document=False)
        if result.attempt is not None:
            attempt = result.attempt
            st.caption(
                f"Sent from this console by {plain(attempt.operator)} on"
                f" {when_said(attempt.created_at)}"
                + (f", to / from {mask_phone(attempt.phone)}" if attempt.phone else "")
                + "."
            )
        return
    if not result.found:
        st.warning("Not found: no invoice or order has this number or id. Check it, e.g. INV-2025-00042.")
        return
    side_by_side(result.latest, result.document, for_document=True)
    if len(result.attempts) > 1:
        st.markdown("**Every payment this console sent for it**")
        payments = [status_lookup.payment_of(a) for a in result.attempts]
        st.dataframe(
            {
                "Reference": [short_reference(p.reference_id) for p in payments],
                "Payment status": [
                    payment_status(p.status) if p.status else "Not at Dollr" for p in payments
                ],
                "Payer pays": [money(p.payer_amount, p.payer_currency) for p in payments],
                time_heading("Sent at"): [when(a.created_at) for a in result.attempts],
            },
            hide_index=True,
            width="stretch",
        )


st.title("Payment status")
st.caption(
    "Where a payment stands: find it by the name, the phone's last digits, the amount, its reference"
    " (the first 8 characters are enough),"
    " or an invoice or order number. The payment and the invoice each have their own status: they are"
    " shown side by side."
)

# Other pages link here with ?reference=… or ?number=…: that is a request to look, once per link.
linked = st.query_params.get("reference") or st.query_params.get("number")
if linked and st.session_state.get(LINKED) != linked:
    st.session_state[LINKED] = linked
    st.session_state["status_query"] = linked
    run_lookup(linked)

with st.form("status_form", border=False):
    text = st.text_input(
        "Reference, invoice / order number, name, phone or amount",
        key="status_query",
        placeholder="e.g. Musa Kollie, 1234 (last digits of the phone), USD 25, INV-2025-00042",
    )
    if st.form_submit_button("Look up", type="primary", key="status_lookup"):
        run_lookup(text)

with st.expander("What the statuses mean"):
    st.markdown(
        "**Payment status**: one attempt to move money.\n"
        f"- {payment_status('PENDING')}: Dollr has it and is handing it to the mobile network or card"
        " company.\n"
        f"- {payment_status('PROCESSING')}: {status_lookup.execution_meaning('PROCESSING', 'COLLECTION')}\n"
        f"- {payment_status('COMPLETED')}: the money has moved."
        f" {payment_status('FAILED')}: no money moved.\n\n"
        f"**Invoice / order status**: the document's own life: {document_status('IDLE')} →"
        f" {document_status('ACTIVE')} (published, can be paid) → {document_status('PROCESSING')} →"
        f" {document_status('PAID')}, or {document_status('CANCELED')}. A failed payment leaves the"
        f" invoice {document_status('ACTIVE').lower()}, ready for another payment.\n\n"
        "Dollr's own codes (for support) are under each payment's details."
    )

answer = st.session_state.get(RESULT)
if answer is not None:
    show(answer)
