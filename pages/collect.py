"""Collect a payment: a customer pays a published invoice or order from their mobile-money wallet,
or on Dollr's payment page through a link.

Never twice: the form's intent key is claimed once by the execution protocol, and as soon as the
intent (or the document, from any window) has a payment under way, the page shows that payment
instead of a confirm button.
"""

from __future__ import annotations

import streamlit as st

from console import documents_ui as ui
from console.context import intent_key, new_intent, require_page, services
from console.widgets import live_status, money
from dollr_core.basics.access import Permission
from dollr_core.basics.enums import OperationType, SourceStatus, SourceType
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.explain import FX_FEE, GATEWAY_FEE, PLATFORM_FEE
from dollr_core.flows import collect, documents, payment_links
from dollr_core.ledger.intents import find_attempt
from dollr_core.ledger.tables import Attempt, AttemptState, DocumentRecord
from dollr_core.payments import follow_up

who = require_page(Permission.COLLECT)
svc = services()
ui.apply_pending()

WHAT = "collect:what"  # an existing document, or a new sale
DOCUMENT = "collect:document"  # the chosen document (our mirror's row id)
WALLET = "collect:wallet"
HOW = "collect:how"
SALE_ITEMS = "collect:sale_items"  # the new sale's lines, kept until it is created
SALE_LINK = "collect:sale_link"  # the payment link made for a new sale: (mirror row id, url)


def refresh(reference_id: str) -> Attempt:
    return follow_up.refresh_payment(svc, reference_id, actor=who.email)


def select_document(record: DocumentRecord) -> None:
    ui.set_on_next_run(WHAT, "existing")
    ui.set_on_next_run(DOCUMENT, record.id)


def take_hand_over() -> None:
    """Open the document another page (or the address) asked for."""
    number = st.session_state.pop(ui.COLLECT_NUMBER, None)
    if number is None and DOCUMENT not in st.session_state:
        number = st.query_params.get("number")
    record = documents.record_by_number(svc.engine, number) if number else None
    if record is not None:
        st.session_state[WHAT] = "existing"
        st.session_state[DOCUMENT] = record.id


# --------------------------------------------------------------------------- a payment under way


def follow(attempt: Attempt, *, mine: bool) -> None:
    """Show one payment until it ends, then what to do next."""
    st.subheader(f"Payment for {attempt.source_number or 'the document'}")
    live_status(attempt.reference_id, refresh)
    now = find_attempt(svc.engine, attempt.reference_id) or attempt
    state = AttemptState(now.local_state)
    number = now.source_number or ""
    if state is AttemptState.COMPLETED:
        ui.receipt_button(
            number, key="collect:receipt", allowed=who.can(Permission.VIEW_RECEIPTS), primary=True
        )
    elif state.is_final and mine:
        if st.button(
            "Try again",
            type="primary",
            key="collect:retry",
            icon=":material/replay:",
            help="Starts a new payment request for the same invoice or order.",
        ):
            new_intent("collect")
            record = documents.record_by_number(svc.engine, number) if number else None
            if record is not None:
                select_document(record)
            ui.set_on_next_run(WALLET, now.phone)
            st.rerun()
    elif not state.is_final:
        st.caption(
            "You may leave this page: the console keeps following the payment, and its outcome "
            "appears on **Payment status**."
        )
    if mine and st.button("Collect another payment", key="collect:another", icon=":material/add:"):
        new_intent("collect")
        ui.set_on_next_run(DOCUMENT, None)
        ui.set_on_next_run(WALLET, "")
        st.query_params.clear()
        st.rerun()


# --------------------------------------------------------------------------- step 1


def pick_existing() -> DocumentRecord | None:
    text = st.text_input("Find it", placeholder="Number, customer name or phone", key="collect:search")
    found = documents.search_documents(svc.engine, text=text, status=SourceStatus.ACTIVE)
    if not found and not st.session_state.get(DOCUMENT):
        st.info(
            "No published invoice or order matches. Publish one on **Invoices & orders**, "
            "or choose **A new sale**."
        )
    record = ui.document_picker(
        found,
        engine=svc.engine,
        key=DOCUMENT,
        label="Invoice or order",
        placeholder="Choose a published invoice or order",
    )
    if record is not None and record.number and st.query_params.get("number") != record.number:
        st.query_params["number"] = record.number  # a refresh of the browser reopens it
    return record


def new_sale() -> tuple[ui.CustomerInput, SourceType, str, list[documents.LineItem]]:
    customer = ui.customer_input(svc.engine, "collect:customer")
    kind_col, currency_col = st.columns(2)
    kind = kind_col.radio(
        "Invoice or order?",
        [SourceType.INVOICE, SourceType.ORDER],
        format_func=ui.kind_label,
        horizontal=True,
        key="collect:sale_kind",
    )
    currency = currency_col.selectbox("Currency", SUPPORTED_CURRENCIES, key="collect:sale_currency")
    lines: list[documents.LineItem] = st.session_state.setdefault(SALE_ITEMS, [])
    for index, line in enumerate(lines):
        cols = st.columns([4, 1, 2, 1.6])
        cols[0].text(line.name)
        cols[1].text(f"× {line.qty}")
        cols[2].text(money(line.unit_amount * line.qty, currency))
        if cols[3].button("Remove", key=f"collect:sale_remove:{index}"):
            lines.pop(index)
            st.rerun()
    name, qty, price = ui.item_inputs("collect:sale_item", currency)
    if ui.action("Add item", key="collect:sale_add", primary=False, icon=":material/add:"):
        try:
            lines.append(documents.LineItem.checked(name, qty, price, currency))
        except ValueError as exc:
            ui.fail("collect:sale_add", exc)
        ui.clear_item_inputs("collect:sale_item")
        st.rerun()
    if lines:
        st.metric("Total", money(documents.lines_total(lines), currency))
    return customer, SourceType(kind), currency, lines


def forget_sale() -> None:
    new_intent("sale")
    st.session_state[SALE_ITEMS] = []


# --------------------------------------------------------------------------- step 2


def wallet_payment(record: DocumentRecord) -> None:
    key = intent_key("collect")
    phone = st.text_input(
        "Customer's mobile-money number",
        key=WALLET,
        placeholder="e.g. 231880005678",
        help="With the country code (231 Liberia, 250 Rwanda). It may differ from the number on the invoice.",
    )
    if not phone.strip():
        return
    info = ui.remember(
        "collect:network", phone.strip(), lambda: svc.lookups.operator(phone, OperationType.COLLECTION)
    )
    if info is None:
        return
    st.success(
        f"Mobile network: **{info.carrier}** · {ui.country_label(info.country)}", icon=":material/sim_card:"
    )
    currencies = info.currencies or [record.currency]
    currency = st.selectbox(
        "Currency the customer pays in",
        currencies,
        index=currencies.index(record.currency) if record.currency in currencies else 0,
        key="collect:pay_currency",
        help="If it differs from the invoice's currency, Dollr converts it.",
    )
    quote = ui.remember(
        "collect:quote",
        (key, record.id, phone.strip(), currency),
        lambda: collect.prepare_collection(
            svc, who, key, record=record, phone=phone, payer_currency=currency
        ),
    )
    if quote is None:
        return
    pays, receives = st.columns(2)
    pays.metric("The customer pays", money(quote.payer_amount, quote.payer_currency))
    receives.metric("We receive", money(quote.payee_amount, quote.payee_currency))
    fees = {
        PLATFORM_FEE: money(quote.platform_fee, quote.payee_currency),
        GATEWAY_FEE: money(quote.gateway_fee, quote.payee_currency),
    }
    rate = collect.exchange_rate(quote)
    if rate is None:
        fees["Exchange rate"] = "No exchange: same currency"
    else:
        fees[FX_FEE] = money(quote.fx_fee, quote.payee_currency)
        fees["Exchange rate"] = (
            f"1 {quote.payee_currency} = {rate.normalize():f} {quote.payer_currency} (about)"
        )
    fees["Who pays the fees"] = ui.fee_bearer_label(record.fee_bearer)
    ui.facts(fees)
    st.caption("This is Dollr's quote; the receipt shows the final amounts.")
    if ui.action(
        f"Ask the wallet to pay {money(quote.payer_amount, quote.payer_currency)}",
        key="collect:confirm",
        icon=":material/send_to_mobile:",
        help="The customer gets a request on their phone and approves it there.",
    ):
        try:
            collect.confirm_collection(svc, who, key)
        except Exception as exc:
            ui.fail("collect:confirm", exc)
        st.rerun()  # the intent now has its attempt: the page shows it instead of this button


def link_payment(record: DocumentRecord) -> None:
    if not record.as_payment_link:
        st.info("This one was made without a payment link. Ask the customer's wallet to pay instead.")
        return
    url = ui.remember(
        f"collect:link:{record.id}", record.number, lambda: documents.pay_link(svc, who, record)
    )
    if url:
        st.markdown("Send this link to the customer. They pay on Dollr's page, by mobile money or card:")
        st.code(url, language=None)
        st.caption(
            "The invoice shows **Paid** once they have paid (use *Check with Dollr* on Invoices & orders)."
        )


def sale_link(
    customer: ui.CustomerInput, kind: SourceType, currency: str, lines: list[documents.LineItem]
) -> None:
    if ui.action("Create the payment link", key="collect:sale_checkout", icon=":material/link:"):
        try:
            made = payment_links.create_checkout(
                svc,
                who,
                intent_key("sale"),
                source_type=kind,
                customer=customer.person(),
                currency=currency,
                items=payment_links.checkout_lines(lines, currency),
            )
        except Exception as exc:
            ui.fail("collect:sale_checkout", exc)
        st.session_state[SALE_LINK] = (made.record.id, made.url)
        forget_sale()
        st.rerun()


def sale_document(
    customer: ui.CustomerInput, kind: SourceType, currency: str, lines: list[documents.LineItem]
) -> None:
    if not who.can(Permission.MANAGE_INVOICES):
        st.info("Your role cannot make invoices. Send the customer a payment link instead, or ask finance.")
        return
    st.caption("First the invoice is made and published; then you ask the customer's wallet to pay it.")
    if ui.action(
        f"Create the {ui.kind_label(kind).lower()}", key="collect:sale_create", icon=":material/note_add:"
    ):
        try:
            record = collect.publish_new_document(
                svc,
                who,
                intent_key("sale"),  # a rerun or double click finds this document again
                source_type=kind,
                customer=customer.person(),
                currency=currency,
                items=lines,
            )
        except Exception as exc:
            ui.fail("collect:sale_create", exc)
        forget_sale()
        select_document(record)
        st.rerun()


def made_link() -> bool:
    """The payment link just made for a new sale, until the person moves on."""
    if SALE_LINK not in st.session_state:
        return False
    record_id, url = st.session_state[SALE_LINK]
    record = documents.record_by_id(svc.engine, record_id)
    st.success(f"Payment link ready for **{record.number if record else 'the new sale'}**.")
    if url:
        st.code(url, language=None)
    if st.button("Start another sale", key="collect:sale_again", icon=":material/add:"):
        del st.session_state[SALE_LINK]
        st.rerun()
    return True


def not_payable(record: DocumentRecord) -> bool:
    """Explain why the document cannot be collected now; show its payment if one is under way."""
    under_way = collect.latest_collection(svc, record)
    if under_way is not None and not AttemptState(under_way.local_state).is_final:
        st.warning("A payment for this document is already under way (perhaps from another window).")
        follow(under_way, mine=False)
        return True
    status = SourceStatus(record.status)
    if status is SourceStatus.ACTIVE:
        return False
    reasons = {
        SourceStatus.IDLE: "This is still a draft: publish it on **Invoices & orders** first.",
        SourceStatus.PROCESSING: "A payment for this document is in progress.",
        SourceStatus.PAID: "This document is already paid.",
        SourceStatus.CANCELED: "This document was cancelled: make a new one.",
    }
    st.info(reasons[status])
    if status is SourceStatus.PAID:
        ui.receipt_button(
            record.number, key="collect:paid_receipt", allowed=who.can(Permission.VIEW_RECEIPTS)
        )
    return True


# --------------------------------------------------------------------------- the page

st.title("Collect a payment")
st.caption(
    "Get paid for an invoice or order: from the customer's mobile-money wallet, or with a payment link."
)

held = collect.collection_attempt(svc, intent_key("collect"))
if held is not None and AttemptState(held.local_state).is_final and ui.COLLECT_NUMBER in st.session_state:
    new_intent("collect")  # another page asks for a new collection; the last one is over
    held = None
if held is not None:
    follow(held, mine=True)
    st.stop()
if made_link():
    st.stop()
take_hand_over()

st.subheader("1. What is the customer paying for?")
what = st.radio(
    "What is the customer paying for?",
    ["existing", "new"],
    format_func={"existing": "An invoice or order we already made", "new": "A new sale"}.get,
    horizontal=True,
    key=WHAT,
    label_visibility="collapsed",
)
record = pick_existing() if what == "existing" else None
sale = new_sale() if what == "new" else None
if record is not None:
    ui.facts(
        {
            "Number": record.number or "",
            "Customer": f"{record.customer_name} · {record.customer_phone}",
            "Amount": money(record.total_amount, record.currency),
            "Status": ui.status_label(record.status),
        }
    )
    if not_payable(record):
        st.stop()
if record is None and (sale is None or not sale[3]):
    if sale is not None:
        st.caption("Add at least one item; then choose how the customer pays.")
    st.stop()

st.subheader("2. How will the customer pay?")
how = st.radio(
    "How will the customer pay?",
    ["wallet", "link"],
    format_func={
        "wallet": "Ask the customer's mobile-money wallet to pay",
        "link": "Send the customer a payment link",
    }.get,
    captions=[
        "The customer approves a request on their phone, right now.",
        "The customer pays on Dollr's page, by mobile money or card, when they like.",
    ],
    key=HOW,
    label_visibility="collapsed",
)
if record is not None and how == "wallet":
    wallet_payment(record)
elif record is not None:
    link_payment(record)
elif sale is not None and how == "wallet":
    sale_document(*sale)
elif sale is not None:
    sale_link(*sale)
