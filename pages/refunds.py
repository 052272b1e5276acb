"""Refund a completed collection, in full or in part, with a reason.

Arrive from a receipt or the History page (`?reference=<payment reference>`), or paste the
payment reference. `dollr_core.flows.refunds` checks the amount against what is left to refund and
sends it through the execution protocol; above the approval limit a manager approves first.
"""

from __future__ import annotations

import streamlit as st

from console.context import intent_key, new_intent, require_page, services
from console.widgets import live_status, money, plain, show_error
from dollr_core.basics.access import Permission
from dollr_core.basics.money import amount_text
from dollr_core.basics.words import intent_state
from dollr_core.flows import refunds
from dollr_core.flows.money_out import MoneyOutRefused
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import IntentState
from dollr_core.payments import follow_up

who = require_page(Permission.REFUND)
svc = services()

FORM = "refund"
SENT = "refunds:sent"  # the refund attempt on screen
REFERENCE = "refunds_reference"

arrived = st.query_params.get("reference")
if arrived and st.session_state.get("refunds:arrived") != arrived:
    st.session_state["refunds:arrived"] = arrived
    st.session_state[REFERENCE] = arrived

st.title("Refund a payment")
st.caption("Money goes back to the customer's wallet or card from a completed collection.")
reference = st.text_input(
    "Payment reference of the collection", key=REFERENCE, help="On its receipt and in History."
).strip()
if not reference:
    st.info("Open a paid invoice's receipt and press Refund, or paste its payment reference here.")
    st.stop()
try:
    info = refunds.refundable(svc, who, reference)
except MoneyOutRefused as exc:
    st.warning(str(exc))
    st.stop()

paid = info.collection
st.dataframe(
    {
        "What": ["Customer", "Document", "Paid", "Refunded or being refunded", "Left to refund"],
        "Value": [
            paid.party_name or "—",
            paid.source_number or "—",
            money(info.paid, info.currency),
            money(info.refunded, info.currency),
            money(info.remaining, info.currency),
        ],
    },
    hide_index=True,
    key="refunds_facts",
)
earlier = refunds.refunds_of(svc, paid.reference_id)
if earlier:
    st.markdown("**Refunds of this payment**")
    st.dataframe(
        [
            {
                "Amount": money(i.amount, i.currency),
                "State": intent_state(i.state),
                "Reason": i.note,
                "By": i.operator,
            }
            for i in earlier
        ],
        hide_index=True,
        key="refunds_earlier",
    )

key = intent_key(FORM)
sent = st.session_state.get(SENT)
if sent:
    live_status(sent, lambda ref: follow_up.refresh_payment(svc, ref, actor=who.email))
    if st.button("Make another refund", key="refunds_again"):
        st.session_state.pop(SENT, None)
        new_intent(FORM)
        st.rerun()
    st.stop()

intent = get_intent(svc.engine, key)
if intent is not None and intent.state == IntentState.AWAITING_APPROVAL:
    st.info(f"This refund of {money(intent.amount, intent.currency)} is waiting for a manager's approval.")
    st.stop()
if intent is not None and intent.state == IntentState.REJECTED:
    st.error(
        f"Rejected by {plain(intent.decided_by)}: {plain(intent.decision_reason)}. Nothing was refunded."
    )
    if st.button("Start again", key="refunds_restart"):
        new_intent(FORM)
        st.rerun()
    st.stop()
if intent is not None and intent.state == IntentState.READY and intent.decided_by:
    st.success(f"Approved by {plain(intent.decided_by)}.")
    if st.button("Send the approved refund", type="primary", key="refunds_send_approved"):
        try:
            st.session_state[SENT] = refunds.confirm_refund(svc, who, key).reference_id
        except Exception as exc:
            show_error(exc)
        else:
            st.rerun()
    st.stop()
if info.remaining <= 0:
    st.info("This payment has been refunded in full.")
    st.stop()

with st.form("refunds_form"):
    amount = st.text_input(
        f"Amount to refund ({info.currency})",
        value=amount_text(info.remaining, info.currency),
        key="refunds_amount",
    )
    reason = st.text_input("Reason", key="refunds_reason", placeholder="e.g. Goods returned")
    if st.form_submit_button("Refund", type="primary", key="refunds_submit"):
        try:
            prepared = refunds.prepare_refund(
                svc, who, key, reference_id=paid.reference_id, amount=amount, reason=reason
            )
            if prepared.state == IntentState.READY:
                st.session_state[SENT] = refunds.confirm_refund(svc, who, key).reference_id
        except (MoneyOutRefused, ValueError) as exc:
            st.error(str(exc))
        except Exception as exc:
            show_error(exc)
        else:
            st.rerun()
