"""Invoices & orders: draft a bill for a customer, list what they buy, publish it, find it again.

Lists come from the ledger's mirror of Dollr; a document's items are fetched when it is opened or
changed, never on an idle rerun.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import streamlit as st

from console import documents_ui as ui
from console.context import intent_key, new_intent, require_page, services
from console.widgets import money, page_link, plain, show_toasts, toast_later, when_said
from dollr_core.api.models import DocumentDetail, Item
from dollr_core.basics.access import Permission
from dollr_core.basics.enums import SourceStatus, SourceType
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.basics.words import intent_state
from dollr_core.flows import documents, refunds
from dollr_core.flows.collect import latest_collection
from dollr_core.ledger.tables import AttemptState, DocumentRecord
from dollr_core.reports import document_copies

who = require_page(Permission.MANAGE_INVOICES)
svc = services()
ui.apply_pending()

OPEN = "invoices:open"  # the document being worked on (our mirror's row id)
CREATED = "invoices:created"  # the draft this form just made (the form steps aside until "New draft")
EDITING = "invoices:editing"  # the item being edited
CANCELLING = "invoices:cancelling"  # the document whose cancellation awaits a yes
PANEL = "invoices:panel"  # where failures that change what the panel offers are shown


def detail_slot(record: DocumentRecord) -> str:
    return f"invoices:detail:{record.id}"


def draft_form() -> None:
    created = (
        documents.record_by_id(svc.engine, st.session_state[CREATED]) if CREATED in st.session_state else None
    )
    if created is not None:
        st.success(f"Draft **{created.number}** was made and is open below.")
        if st.button("New draft", key="invoices:another", icon=":material/add:"):
            del st.session_state[CREATED]
            st.rerun()
        return
    customer = ui.customer_input(svc.engine, "invoices:customer")
    kind = st.radio(
        "Invoice or order?",
        [SourceType.INVOICE, SourceType.ORDER],
        format_func=ui.kind_label,
        captions=["A formal bill, with a due date if you like.", "A sale from a shop or online."],
        horizontal=True,
        key="invoices:kind",
    )
    currency = st.selectbox("Currency", SUPPORTED_CURRENCIES, key="invoices:currency")
    fee_bearer = ui.fee_bearer_input("invoices:fees")
    due: date | None = None
    if kind is SourceType.INVOICE:
        due = st.date_input(
            "Due date (optional)", value=None, min_value=date.today(), key="invoices:due", format="YYYY-MM-DD"
        )
    note = st.text_area(
        "Note for the customer",
        key="invoices:note",
        max_chars=500,
        placeholder="e.g. Consulting services, June",
    )
    pay_link = st.toggle(
        "Let the customer pay online with a payment link",
        value=True,
        key="invoices:link",
        help="Dollr's own payment page, where the customer pays by mobile money or card.",
    )
    if ui.action("Create the draft", key="invoices:create", icon=":material/note_add:"):
        try:
            record = documents.create_document(
                svc,
                who,
                draft_key=intent_key("draft"),  # a rerun or double click finds this draft again
                source_type=SourceType(kind),
                customer=customer.person(),
                currency=currency,
                note=note,
                fee_bearer=fee_bearer,
                as_payment_link=pay_link,
                due_date=ui.end_of_day(due),
            )
        except Exception as exc:
            ui.fail("invoices:create", exc)
        new_intent("draft")
        st.session_state[CREATED] = record.id
        ui.set_on_next_run(OPEN, record.id)
        st.rerun()


def find_section() -> None:
    text_col, status_col, kind_col = st.columns([3, 2, 2])
    text = text_col.text_input("Search", placeholder="Number, customer name or phone", key="invoices:search")
    status = status_col.selectbox(
        "Status",
        [None, *SourceStatus],
        format_func=lambda s: "Any status" if s is None else ui.status_label(s),
        key="invoices:status",
    )
    kind = kind_col.selectbox(
        "Type",
        [None, SourceType.INVOICE, SourceType.ORDER],
        format_func=lambda k: "Invoices and orders" if k is None else ui.kind_label(k) + "s",
        key="invoices:type",
    )
    found = documents.search_documents(svc.engine, text=text, status=status, source_type=kind)
    if found:
        ui.documents_table(found)
    else:
        st.info("Nothing matches. Make a new draft in the other tab.")
    ui.document_picker(
        found,
        engine=svc.engine,
        key=OPEN,
        label="Open one to work on it",
        placeholder="Choose an invoice or order…",
    )


def item_rows(record: DocumentRecord, detail: DocumentDetail, *, editable: bool) -> None:
    """One line per item that stays a line on a phone: name with "qty × price" under it, the line
    total, and (on a draft) Edit / Remove. Columns that do not wrap keep a row from becoming a stack."""
    spec = [5, 3, 3] if editable else [5, 3]
    if not detail.items:
        st.info("No items yet. Add the first one below.")
    else:
        heads = st.columns(spec, wrap=False)
        heads[0].caption("Item")
        heads[1].caption("Line total")
    for number, item in enumerate(detail.items, start=1):
        if editable and st.session_state.get(EDITING) == item.id:
            edit_item(record, item)
            continue
        cols = st.columns(spec, wrap=False, vertical_alignment="center")
        cols[0].text(f"{number}. {item.name}")
        cols[0].caption(f"{item.qty} × {money(item.amount, record.currency)}")
        cols[1].text(money(item.amount * item.qty, record.currency))
        if editable:
            with cols[2].container(horizontal=True, gap="small"):
                if st.button("Edit", key=f"invoices:edit:{item.id}"):
                    st.session_state[EDITING] = item.id
                    st.rerun()
                remove = ui.action("Remove", key=f"invoices:remove:{item.id}", primary=False)
            if remove:
                change_items(
                    record,
                    functools.partial(documents.remove_item, svc, who, record, item.id),
                    f"invoices:remove:{item.id}",
                )
                st.rerun()
    total = (
        detail.total_amount
        if detail.total_amount is not None
        else sum((i.amount * i.qty for i in detail.items), Decimal(0))
    )
    st.metric("Total", money(total, record.currency))


def edit_item(record: DocumentRecord, item: Item) -> None:
    with st.container(border=True):
        name, qty, price = ui.item_inputs(f"invoices:item:{item.id}", record.currency, item=item)
        save_col, stop_col = st.columns(2)
        with save_col:
            save = ui.action("Save changes", key=f"invoices:save:{item.id}")
        if stop_col.button("Stop editing", key=f"invoices:stop:{item.id}"):
            del st.session_state[EDITING]
            st.rerun()
    if save:
        try:
            line = documents.LineItem.checked(name, qty, price, record.currency)
        except ValueError as exc:
            ui.fail(f"invoices:save:{item.id}", exc)
        change_items(
            record, lambda: documents.update_item(svc, who, record, item.id, line), f"invoices:save:{item.id}"
        )
        del st.session_state[EDITING]
        st.rerun()


def add_item(record: DocumentRecord) -> None:
    st.markdown("**Add an item**")
    name, qty, price = ui.item_inputs("invoices:new_item", record.currency)
    if ui.action("Add item", key="invoices:add_item", primary=False, icon=":material/add:"):
        try:
            line = documents.LineItem.checked(name, qty, price, record.currency)
        except ValueError as exc:
            ui.fail("invoices:add_item", exc)
        change_items(record, lambda: documents.add_item(svc, who, record, line), "invoices:add_item")
        ui.clear_item_inputs("invoices:new_item")
        st.rerun()


def change_items(record: DocumentRecord, change: Callable[[], DocumentDetail], button: str) -> None:
    """Run a change (or a fresh look) on Dollr and keep the document it returns; a failure shows at
    `button`."""
    try:
        ui.keep(detail_slot(record), record.id, change())
    except Exception as exc:
        ui.fail(button, exc)


def cancel_controls(record: DocumentRecord) -> None:
    what = ui.kind_label(record.source_type).lower()
    if ui.action(f"Cancel this {what}…", key="invoices:cancel", primary=False, icon=":material/block:"):
        st.session_state[CANCELLING] = record.id
        st.rerun()
    if st.session_state.get(CANCELLING) == record.id:
        confirm_cancel(record)


def stop_cancelling() -> None:
    st.session_state.pop(CANCELLING, None)


@st.dialog("Cancel it?", on_dismiss=stop_cancelling)
def confirm_cancel(record: DocumentRecord) -> None:
    """What cancelling does, stated before it is done; nothing changes until "Yes, cancel it"."""
    what = ui.kind_label(record.source_type).lower()
    st.markdown(
        f"**{ui.kind_label(record.source_type)} {record.number}** for {plain(record.customer_name)},"
        f" {money(record.total_amount, record.currency)}."
    )
    if record.status == SourceStatus.ACTIVE:
        st.markdown("It is published: its payment link stops working and the customer can no longer pay it.")
    st.warning(
        f"Cancel {record.number}? The customer will no longer be able to pay it, and it cannot be undone:"
        f" to bill them again, make a new {what}."
    )
    yes_col, no_col = st.columns(2)
    if yes_col.button("Yes, cancel it", type="primary", key="invoices:cancel_yes", width="stretch"):
        stop_cancelling()
        try:
            documents.cancel(svc, who, record)
        except Exception as exc:
            ui.fail(PANEL, exc)  # the document may have changed state: say it at the top
        ui.forget(detail_slot(record))
        toast_later(f"{record.number} is cancelled: the customer can no longer pay it.")
        st.rerun()
    if no_col.button("No, keep it", key="invoices:cancel_no", width="stretch"):
        stop_cancelling()
        st.rerun()


def pay_link(record: DocumentRecord) -> None:
    if not record.as_payment_link:
        st.caption("This one was made without a payment link: collect it from the customer's wallet instead.")
        return
    url = ui.remember(
        f"invoices:link:{record.id}", record.number, lambda: documents.pay_link(svc, who, record)
    )
    if url:
        st.markdown("**Payment link** — send it to the customer (copy with the button on the right):")
        st.code(url, language=None)
        send_copies(record, url)


def send_copies(record: DocumentRecord, url: str) -> None:
    """The document to the customer: e-mail, a PDF with the link's QR code, or an SMS text."""
    with st.expander("Send it to the customer"):
        with st.form(f"invoices:email:{record.id}", border=False):
            to = st.text_input("Customer's e-mail", key="invoices:email_to")
            if st.form_submit_button("E-mail the invoice and its pay link", key="invoices:email_send"):
                try:
                    document_copies.email_document(svc, who, record, to=to)
                except document_copies.CannotSend as exc:
                    st.error(str(exc))
                except Exception as exc:
                    ui.fail(PANEL, exc)
                else:
                    st.success(f"Sent to {to.strip()}.")
        st.download_button(
            "Download the PDF (with the QR code)",
            data=lambda: _pdf_copy(record),
            file_name=f"{record.number}.pdf",
            mime="application/pdf",
            key="invoices:pdf",
            on_click="ignore",
            icon=":material/picture_as_pdf:",
        )
        st.markdown("**SMS text** — copy it into your phone:")
        st.code(document_copies.compose_sms(record, url), language=None)
        if st.button("I sent it by SMS", key="invoices:sms_sent"):
            document_copies.record_copy(svc, who, record, document_copies.Channel.SMS, record.customer_phone)
            st.success("Recorded.")
        copies = document_copies.copies_of(svc, record)
        if copies:
            st.caption(
                "Sent: "
                + "; ".join(
                    plain(f"{c.channel.lower()} to {c.recipient or '—'} by {c.sent_by} ({c.outcome})")
                    for c in copies
                )
            )


def _pdf_copy(record: DocumentRecord) -> bytes:
    data = document_copies.invoice_pdf(svc, who, record)
    document_copies.record_copy(svc, who, record, document_copies.Channel.PDF)
    return data


def document_panel(record: DocumentRecord) -> None:
    what = ui.kind_label(record.source_type)
    st.subheader(f"{what} {record.number}")
    ui.show_failure(PANEL)
    detail = ui.remember(
        detail_slot(record),
        record.id,
        lambda: documents.detail(svc, who, record.source_type, record.dollr_id),
    )
    record = documents.record_by_id(svc.engine, record.id or 0) or record  # a fetch may have moved it on
    status = SourceStatus(record.status)
    ui.facts(
        {
            "Status": ui.status_label(status),
            "Customer": f"{record.customer_name} · {record.customer_phone}",
            "Amount": money(record.total_amount, record.currency),
            "Who pays Dollr's fees": ui.fee_bearer_label(record.fee_bearer),
            "Due date": f"{detail.due_date:%Y-%m-%d}" if detail and detail.due_date else "—",
            "Note": record.note or "—",
            "Paid at": when_said(record.paid_at),
        }
    )
    with st.expander("Details for support"):
        st.caption(f"Status at Dollr: `{record.status}` · Dollr's id: `{record.dollr_id}`")
    if detail is not None:
        st.markdown("**Items**")
        item_rows(record, detail, editable=status is SourceStatus.IDLE)
        if status is SourceStatus.IDLE:
            add_item(record)
        else:
            done = "was cancelled" if status is SourceStatus.CANCELED else "was published"
            st.caption(f"The items are locked: this {what.lower()} {done}.")
    if status is SourceStatus.IDLE:
        st.divider()
        st.caption("Publishing locks the items and lets the customer pay.")
        if ui.action(f"Publish this {what.lower()}", key="invoices:publish", icon=":material/publish:"):
            try:
                documents.publish(svc, who, record)
            except Exception as exc:
                ui.fail(PANEL, exc)
            st.rerun()
    if status in (SourceStatus.ACTIVE, SourceStatus.PROCESSING):
        st.divider()
        pay_link(record)
        collectable = who.can(Permission.COLLECT) and status is SourceStatus.ACTIVE and record.number
        if collectable and st.button(
            "Collect this payment now", key="invoices:collect", icon=":material/point_of_sale:"
        ):
            ui.go_to("pages/collect.py", number=record.number or "", hand_over=ui.COLLECT_NUMBER)
    if status is SourceStatus.PROCESSING:
        st.info(
            "A payment is in progress; it cannot be cancelled until its outcome is known. Paid on"
            " Dollr's page, it may be waiting for the customer (e.g. to confirm a card with 3-D Secure)."
        )
    if status is SourceStatus.PAID:
        ui.receipt_button(record.number, key="invoices:receipt", allowed=who.can(Permission.VIEW_RECEIPTS))
        paid = latest_collection(svc, record)
        if paid is not None and paid.local_state == AttemptState.COMPLETED and who.can(Permission.REFUND):
            page_link(
                "pages/refunds.py", "Refund this payment", icon=":material/undo:", reference=paid.reference_id
            )
        refunded = refunds.refunds_of_document(svc, record.source_type, record.dollr_id)
        if refunded:
            st.markdown("**Refunds** (make one from the receipt)")
            st.dataframe(
                [
                    {"Amount": money(i.amount, i.currency), "State": intent_state(i.state), "Reason": i.note}
                    for i in refunded
                ],
                hide_index=True,
            )
    if record.made_outside:
        st.caption(
            "Made outside the console (in Dollr's portal or by another integration); brought in by the sync."
        )
    if status in (SourceStatus.IDLE, SourceStatus.ACTIVE):
        cancel_controls(record)
    st.divider()
    refresh_col, close_col = st.columns(2)
    if refresh_col.button(
        "Check with Dollr",
        key="invoices:refresh",
        icon=":material/refresh:",
        help="Fetch this document again, e.g. after the customer paid by link.",
    ):
        ui.forget(f"invoices:link:{record.id}")
        change_items(
            record, lambda: documents.detail(svc, who, record.source_type, record.dollr_id), PANEL
        )  # before the rerun, so the list above shows what Dollr said too
        st.rerun()
    if close_col.button("Close", key="invoices:close", icon=":material/close:"):
        ui.set_on_next_run(OPEN, None)
        st.rerun()


if OPEN not in st.session_state and (linked := st.query_params.get("number")):
    found = documents.record_by_number(svc.engine, linked)  # a link such as ?number=INV-2026-00042
    st.session_state[OPEN] = found.id if found else None

st.title("Invoices & orders")
show_toasts()
st.caption("Bill a customer: make a draft, add what they buy, publish it, then collect the payment.")
new_tab, find_tab = st.tabs(["New draft", "Find invoices & orders"])
with new_tab:
    draft_form()
with find_tab:
    find_section()
opened = documents.record_by_id(svc.engine, st.session_state[OPEN]) if st.session_state.get(OPEN) else None
if opened is not None:
    st.divider()
    document_panel(opened)
