"""Send money from our Dollr wallet to another person's or company's Dollr wallet.

`dollr_core.flows.transfers` finds or makes the recipient at Dollr, debits our wallet in the chosen
currency and sends the transfer through the execution protocol; above the approval limit a
manager approves first (Approvals page), then the maker sends it from here.
"""

from __future__ import annotations

import streamlit as st

from console.context import intent_key, new_intent, require_page, services
from console.widgets import live_status, money, plain, show_error
from dollr_core.basics.access import Permission
from dollr_core.basics.enums import RelationshipType
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.basics.words import relationship_name
from dollr_core.flows import transfers
from dollr_core.flows.directory import Person
from dollr_core.flows.money_out import MoneyOutRefused
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import IntentState
from dollr_core.payments import follow_up

who = require_page(Permission.TRANSFER)
svc = services()

FORM = "transfer"
SENT = "transfers:sent"

st.title("Wallet transfer")
st.caption("From our Dollr wallet to someone else's Dollr wallet. Dollr asks no passcode for transfers.")

key = intent_key(FORM)
sent = st.session_state.get(SENT)
if sent:
    live_status(sent, lambda ref: follow_up.refresh_payment(svc, ref, actor=who.email))
    if st.button("Make another transfer", key="transfers_again"):
        st.session_state.pop(SENT, None)
        new_intent(FORM)
        st.rerun()
    st.stop()

intent = get_intent(svc.engine, key)
if intent is not None and intent.state == IntentState.AWAITING_APPROVAL:
    st.info(
        f"The transfer of {money(intent.amount, intent.currency)} to {plain(intent.party_name)} is waiting"
        " for a manager's approval."
    )
    st.stop()
if intent is not None and intent.state == IntentState.REJECTED:
    st.error(f"Rejected by {plain(intent.decided_by)}: {plain(intent.decision_reason)}. Nothing was sent.")
    if st.button("Start again", key="transfers_restart"):
        new_intent(FORM)
        st.rerun()
    st.stop()
if intent is not None and intent.state == IntentState.READY and intent.decided_by:
    st.success(f"Approved by {plain(intent.decided_by)}.")
    if st.button("Send the approved transfer", type="primary", key="transfers_send_approved"):
        try:
            st.session_state[SENT] = transfers.confirm_transfer(svc, who, key).reference_id
        except Exception as exc:
            show_error(exc)
        else:
            st.rerun()
    st.stop()

with st.form("transfers_form"):
    name = st.text_input("Recipient's name", key="transfers_name")
    phone = st.text_input("Recipient's phone (their Dollr account)", key="transfers_phone")
    relationship = st.selectbox(
        "Who they are to us",
        list(RelationshipType),
        index=list(RelationshipType).index(RelationshipType.BENEFICIARY),
        format_func=relationship_name,
        key="transfers_relationship",
        help="Dollr asks who the recipient is to the company.",
    )
    left, right = st.columns([2, 1])
    amount = left.text_input("Amount", key="transfers_amount")
    currencies = sorted(SUPPORTED_CURRENCIES)
    currency = right.selectbox(
        "Currency", currencies, index=currencies.index("USD"), key="transfers_currency"
    )
    note = st.text_input("Note", key="transfers_note")
    if st.form_submit_button("Send transfer", type="primary", key="transfers_submit"):
        try:
            prepared = transfers.prepare_transfer(
                svc,
                who,
                key,
                recipient=Person.checked(name, phone),
                amount=amount,
                currency=str(currency),
                note=note,
                relationship=RelationshipType(str(relationship)),
            )
            if prepared.state == IntentState.READY:
                st.session_state[SENT] = transfers.confirm_transfer(svc, who, key).reference_id
        except (MoneyOutRefused, ValueError) as exc:
            st.error(str(exc))
        except Exception as exc:
            show_error(exc)
        else:
            st.rerun()
