"""Pay someone: money from the company's Dollr wallet to a person's mobile-money wallet.

Recipient → mobile network (found from the number) → amount → review → merchant passcode → live status.
The payout is one intent, keyed when the form is first shown: a rerun, a double click or a second
tab finds it and only follows it. The passcode lives in memory for one call and is then dropped.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from console.context import intent_key, new_intent, require_page, services
from console.documents_ui import country_label
from console.widgets import NEVER_SAVED, currency_choice, live_status, money, page_link, plain, show_error
from dollr_core.api.models import MmoProviderInfo
from dollr_core.basics.access import Permission
from dollr_core.basics.money import quantize
from dollr_core.basics.phone import mask_phone
from dollr_core.explain import FX_FEE, GATEWAY_FEE, PLATFORM_FEE
from dollr_core.flows import payouts
from dollr_core.flows.directory import search_customers
from dollr_core.ledger.intents import find_attempt
from dollr_core.ledger.tables import AttemptState, Intent, IntentState
from dollr_core.payments import follow_up, protocol
from dollr_core.team import approvals

who = require_page(Permission.PAY_OUT)
svc = services()

FORM = "payout"
PASSCODE = "payout_passcode"
PAY_AGAIN = "payout_pay_again"  # the deliberate yes to a payout like a recent one
ADOPTED = "payout:adopted"  # an existing payout of mine this session follows (link or list)
REVIEWED = "payout:reviewed"  # (intent key, inputs) of the last review shown
#: "New recipient" in the saved-recipients box: not None, which Streamlit shows as no choice at all.
NEW_RECIPIENT = -1
NETWORK = "payout:network"  # (phone, mobile network, problem) for the last number looked at


# --------------------------------------------------------------------------- state


def current_key() -> str:
    adopted: str | None = st.session_state.get(ADOPTED)
    return adopted or intent_key(FORM)


def adopt(key: str) -> None:
    st.session_state[ADOPTED] = key
    st.session_state.pop(REVIEWED, None)


def start_new(intent: Intent | None, keep_details: bool) -> None:
    """A fresh payout: an empty form, or, after one that did not go through, its details again.

    After a payout that went out nothing is carried over: a form filled with the same person and
    amount invites paying them twice."""
    st.session_state.pop(ADOPTED, None)
    st.session_state.pop(REVIEWED, None)
    new_intent(FORM)
    for field in ("payout_saved", "payout_name", "payout_phone", "payout_amount", "payout_note"):
        st.session_state.pop(field, None)
    if intent is not None and keep_details:
        st.session_state["payout_name"] = intent.party_name
        st.session_state["payout_phone"] = intent.phone
        if intent.amount is not None:
            st.session_state["payout_amount"] = str(quantize(intent.amount, intent.currency))
        st.session_state["payout_currency"] = intent.currency
        st.session_state["payout_note"] = intent.note


def fill_saved(people: dict[int, Any]) -> None:
    chosen = people.get(st.session_state.get("payout_saved", NEW_RECIPIENT))
    if chosen is not None:
        st.session_state["payout_name"] = chosen.fullname
        st.session_state["payout_phone"] = chosen.phone


def request_confirm(key: str) -> None:
    """The confirm button's callback. Callbacks run whole before the next run starts, so the
    passcode is taken here, not in the run: a second click that lands while the first click's run
    is still drawing interrupts that run, and its form arrives cleared; it finds the passcode the
    first click took and sends nothing of its own (absorbed, not "enter the passcode")."""
    typed = st.session_state.pop(PASSCODE, None) or ""
    held = f"payout:passcode:{key}"
    if typed and held not in st.session_state:
        st.session_state[held] = typed
    st.session_state[f"payout:confirming:{key}"] = True


def without_traceback(exc: Exception) -> Exception:
    """Kept for the next run: the traceback's frames held the passcode, so drop them."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    return exc


# --------------------------------------------------------------------------- pieces of screen


def adopt_from_link() -> None:
    """`?intent=<key>` (from Approvals or a colleague's link) opens that payout if it is mine."""
    wanted = st.query_params.get("intent")
    if not wanted:
        return
    if payouts.own_payout(svc, who, wanted) is not None:
        adopt(wanted)
    else:
        st.warning("That payout is not one of yours, so it cannot be opened here.")
    del st.query_params["intent"]


def waiting_for_you(key: str) -> None:
    waiting = [i for i in approvals.approved_to_send(svc, who) if i.intent_key != key]
    if not waiting:
        return
    with st.expander(f"Payouts waiting for you ({len(waiting)}): approved, ready to send", expanded=True):
        for item in waiting:
            text, button = st.columns([5, 1], vertical_alignment="center")
            text.write(
                f"{money(item.amount, item.currency)} to {plain(item.party_name)} ({mask_phone(item.phone)}),"
                f" approved by {plain(item.decided_by)}"
            )
            button.button(
                "Open", key=f"payout_open:{item.intent_key}", on_click=adopt, args=(item.intent_key,)
            )


def show_network(phone: str) -> MmoProviderInfo | None:
    """The recipient's mobile network, shown as soon as the number is valid (asked once per number)."""
    if not phone.strip():
        st.caption("The mobile network is found from the number.")
        return None
    memo = st.session_state.get(NETWORK)
    if memo is None or memo[0] != phone:
        try:
            memo = (phone, payouts.recipient_operator(svc, who, phone), None)
        except ValueError as exc:  # a bad number stays bad until it changes
            memo = (phone, None, without_traceback(exc))
        except Exception as exc:  # Dollr could not be asked: try again on the next run
            show_error(exc)
            return None
        st.session_state[NETWORK] = memo
    _, info, problem = memo
    if problem is not None:
        show_error(problem)
        return None
    if info is None:
        return None
    st.success(
        f"Mobile network: **{info.carrier}** · {country_label(info.country)}."
        f" Pays out in {', '.join(info.currencies)}."
    )
    return info


def recipient_and_amount() -> tuple[tuple[str, ...], MmoProviderInfo | None]:
    st.subheader("1. Recipient")
    found = st.text_input(
        "Find a saved recipient", key="payout_find", placeholder="Name or part of the number"
    )
    people = {c.id: c for c in search_customers(svc.engine, found, limit=20) if c.id is not None}
    st.selectbox(
        "Saved recipients",
        [NEW_RECIPIENT, *people],
        format_func=lambda i: (
            "New recipient" if i == NEW_RECIPIENT else f"{people[i].fullname} ({mask_phone(people[i].phone)})"
        ),
        key="payout_saved",
        on_change=fill_saved,
        args=(people,),
    )
    name = st.text_input("Recipient's full name", key="payout_name")
    phone = st.text_input(
        "Mobile-money number",
        key="payout_phone",
        help="With the country code, e.g. 231880001234 (Liberia) or 250781234567 (Rwanda).",
    )
    info = show_network(phone)
    st.subheader("2. Amount")
    left, right = st.columns([2, 1])
    amount = left.text_input(
        "Amount the recipient gets",
        key="payout_amount",
        help="Fees come on top and are shown before you confirm.",
    )
    currency = currency_choice(
        "Currency",
        list(info.currencies) if info else [],
        key="payout_currency",
        where=right,
        help="What this mobile network pays out in.",
    )
    note = st.text_input("Note for your records (optional)", key="payout_note")
    return (name, phone, amount, currency or "", note), info


def review(quote: payouts.PayoutQuote, heading: str = "3. Review") -> None:
    st.subheader(heading)
    fees = quote.platform_fee + quote.gateway_fee + quote.fx_fee
    gets, debited = st.columns(2)
    gets.metric("Recipient gets", money(quote.amount, quote.currency))
    debited.metric("Our wallet is debited", money(quote.wallet_debit, quote.currency))
    rows = {
        "Recipient": quote.name,
        "Wallet": f"{quote.carrier} {mask_phone(quote.phone)}",
        PLATFORM_FEE: money(quote.platform_fee, quote.currency),
        GATEWAY_FEE: money(quote.gateway_fee, quote.currency),
    }
    if quote.fx_fee:
        rows[FX_FEE] = money(quote.fx_fee, quote.currency)
    rows["Fees in total"] = money(fees, quote.currency)
    st.dataframe({"What": list(rows), "Amount": list(rows.values())}, hide_index=True, width="stretch")
    st.caption("Fees are Dollr's quote; the receipt shows the final amounts.")
    daily_limit(quote)


def daily_limit(quote: payouts.PayoutQuote) -> None:
    """An operator's day so far, before they confirm: what this payout leaves of the daily limit."""
    if quote.state not in (IntentState.OPEN, IntentState.READY):
        return
    allowance = payouts.daily_allowance(svc, who, quote.currency, quote.intent_key)
    if allowance is None:
        return
    after = allowance.left - quote.amount
    said = (
        f"Your daily limit: {money(allowance.limit, quote.currency)}. Paid out today"
        f" ({allowance.timezone} day): {money(allowance.used, quote.currency)}."
    )
    if after < 0:
        st.error(
            f"{said} This payout would go over it: {money(allowance.left, quote.currency)} is left today."
        )
    else:
        st.info(f"{said} After this payout, {money(after, quote.currency)} is left today.")


def confirm_step(intent: Intent, heading: str = "4. Confirm") -> None:
    """Passcode → Confirm. The button is disabled while the payout is being sent. A payout that
    repeats a recent one to the same number needs a deliberate "yes, pay again" as well."""
    key = intent.intent_key
    st.subheader(heading)
    earlier = payouts.likely_duplicate(svc, intent) if intent.current_attempt_id is None else None
    if earlier is not None:
        st.warning(
            f"Possible double payment. {payouts.duplicate_warning(earlier)} Pay again only if this is a"
            " second, separate payment."
        )
    flag = f"payout:confirming:{key}"
    busy = bool(st.session_state.get(flag))
    problem = st.session_state.pop(f"payout:confirm_error:{key}", None)
    if problem is not None and not busy:
        show_error(problem)
    with st.form("payout_confirm_form", clear_on_submit=True):
        st.text_input(
            "Merchant passcode",
            type="password",
            key=PASSCODE,
            autocomplete=NEVER_SAVED,
            help="The passcode from the Dollr merchant portal: sent with this payout only, never stored.",
        )
        if earlier is not None:
            st.checkbox("Yes, pay again: this is a separate payment", key=PAY_AGAIN)
        st.form_submit_button(
            "Sending…" if busy else "Confirm and send",
            type="primary",
            key="payout_confirm",
            disabled=busy,
            on_click=request_confirm,
            args=(key,),
        )
    if busy:
        send(key)


def send(key: str) -> None:
    pay_again = bool(st.session_state.pop(PAY_AGAIN, False))
    passcode = ""
    try:
        with st.spinner("Sending the payout to Dollr…"):
            # Dropped from the session right before the call (no Streamlit call in between, where
            # a rerun could stop this one): nothing keeps the passcode afterwards.
            passcode = st.session_state.pop(f"payout:passcode:{key}", None) or ""
            payouts.confirm_payout(svc, who, key, passcode, pay_again=pay_again)
    except Exception as exc:
        st.session_state[f"payout:confirm_error:{key}"] = without_traceback(exc)
    finally:
        del passcode
        st.session_state.pop(f"payout:confirming:{key}", None)
    st.rerun()


def new_payout_button(intent: Intent, *, keep_details: bool, primary: bool = True) -> None:
    st.button(
        "Start a new payout",
        key="payout_new",
        type="primary" if primary else "secondary",
        on_click=start_new,
        args=(intent, keep_details),
    )


# --------------------------------------------------------------------------- views by state


def follow(intent: Intent) -> None:
    """Sent: its live status until final, then the next step. Never a confirm button here."""
    st.session_state.pop(f"payout:confirming:{intent.intent_key}", None)  # a late double click
    reference = protocol.current_attempt(svc.engine, intent.intent_key).reference_id
    st.subheader("Your payout")
    live_status(reference, lambda ref: follow_up.refresh_payment(svc, ref, actor=who.email))
    attempt = find_attempt(svc.engine, reference)
    state = AttemptState(attempt.local_state) if attempt else AttemptState.UNKNOWN
    if state is AttemptState.COMPLETED:
        new_payout_button(intent, keep_details=False)
    elif attempt is not None and state in (AttemptState.FAILED, AttemptState.REFUSED):
        st.warning(payouts.failure_advice(attempt))
        new_payout_button(intent, keep_details=True)
    else:
        st.caption(
            "You can leave this page: the payout keeps going and is checked in the background."
            " Look it up any time on Payment status with the reference above."
        )
    page_link("pages/status.py", "Open it on Payment status", reference=reference)


def rejected(intent: Intent) -> None:
    if intent.state == IntentState.REJECTED:
        st.error(
            f"A manager ({plain(intent.decided_by)}) rejected this payout."
            f" Their reason: {plain(intent.decision_reason)}"
        )
    else:
        st.warning("This payout was withdrawn.")
    st.caption("Nothing was sent.")
    review(payouts.quote_of(intent), "The payout")
    new_payout_button(intent, keep_details=True)


def returned(intent: Intent) -> None:
    """The request or approval expired: the payout is the maker's again, to send again or withdraw."""
    st.warning(f"This payout came back to you. {plain(intent.decision_reason)}")
    review(payouts.quote_of(intent), "The payout")
    again, withdraw = st.columns(2)
    if again.button("Send for approval again", type="primary", key="payout_send_again"):
        try:
            approvals.submit_for_approval(svc, who, intent.intent_key)
        except Exception as exc:
            show_error(exc)
        else:
            st.rerun()
    if withdraw.button("Withdraw it", key="payout_withdraw"):
        try:
            approvals.withdraw_payout(svc, who, intent.intent_key)
        except Exception as exc:
            show_error(exc)
        else:
            st.rerun()


def waiting(intent: Intent) -> None:
    managers = "two different managers" if intent.approvals_needed >= 2 else "a manager"
    st.info(
        f"Sent for approval: {managers} must approve this payout before it can be sent. Once approved, it"
        " shows here (and under “Payouts waiting for you”), and you confirm it with the merchant passcode."
    )
    if intent.first_approved_by:
        st.caption(f"Approved so far by {plain(intent.first_approved_by)}; one more manager must approve.")
    review(payouts.quote_of(intent), "The payout")
    page_link("pages/approvals.py", "Follow it on Approvals")
    again, new = st.columns(2)
    again.button("Check again", key="payout_check")
    with new:
        new_payout_button(intent, keep_details=False, primary=False)


def ready_to_send(intent: Intent) -> None:
    """Approved by a manager, or an earlier try never reached Dollr: the passcode sends it."""
    if intent.decided_by:
        st.success(f"Approved by {plain(intent.decided_by)}. Enter the merchant passcode to send it.")
    else:
        st.info("An earlier try never reached Dollr, so nothing was paid. Confirm again to send it.")
    review(payouts.quote_of(intent), "The payout")
    confirm_step(intent, "Confirm")
    new_payout_button(intent, keep_details=False, primary=False)


def prepare(key: str, intent: Intent | None) -> None:
    """The form, then its review, then (when no approval is needed) the confirm step."""
    inputs, info = recipient_and_amount()
    reviewed = intent is not None and st.session_state.get(REVIEWED) == (key, inputs)
    if st.button(
        "Review" if not reviewed else "Review again",
        type="secondary" if reviewed else "primary",
        key="payout_review",
        disabled=info is None,
    ):
        name, phone, amount, currency, note = inputs
        try:
            payouts.prepare_payout(
                svc, who, key, name=name, phone=phone, amount=amount, currency=currency, note=note
            )
        except Exception as exc:
            show_error(exc)
        else:
            st.session_state[REVIEWED] = (key, inputs)
            st.rerun()
    if not reviewed or intent is None:
        return
    review(payouts.quote_of(intent))
    if intent.needs_approval and intent.state == IntentState.OPEN:
        st.warning(
            "This payout is above the approval limit: two different managers must approve it before it"
            " can be sent."
            if intent.approvals_needed >= 2
            else "This payout is above the approval limit: a manager must approve it before it can be sent."
        )
        if st.button("Send for approval", type="primary", key="payout_send_for_approval"):
            try:
                approvals.submit_for_approval(svc, who, key)
            except Exception as exc:
                show_error(exc)
            else:
                adopt(key)  # from now on this page follows it
                st.rerun()
    elif intent.state == IntentState.READY:
        confirm_step(intent)


# --------------------------------------------------------------------------- the page

st.title("Pay someone")
st.caption("Send money from the company's Dollr wallet to a person's mobile-money wallet.")

adopt_from_link()
key = current_key()
waiting_for_you(key)
intent = payouts.own_payout(svc, who, key)
state = IntentState(intent.state) if intent is not None else None

if intent is not None and state in (IntentState.EXECUTING, IntentState.COMPLETED, IntentState.FAILED):
    follow(intent)
elif intent is not None and state in (IntentState.REJECTED, IntentState.CANCELED):
    rejected(intent)
elif intent is not None and state is IntentState.READY and (intent.decided_by or intent.current_attempt_id):
    ready_to_send(intent)
elif intent is not None and state is IntentState.AWAITING_APPROVAL and st.session_state.get(ADOPTED) == key:
    waiting(intent)
elif (
    intent is not None
    and state is IntentState.OPEN
    and intent.needs_approval
    and intent.decision_reason
    and st.session_state.get(ADOPTED) == key
):
    returned(intent)
else:
    prepare(key, intent)
