"""Approvals: large payouts and every bulk batch wait for a manager who did not make them.

Managers approve or reject (with a reason the maker will read); makers follow their own items
here and send an approved payout from Pay someone with the merchant passcode. Everyone sees the
approval rules in force; an admin changes them here.
"""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from console.context import require_page, services
from console.tables import table_on_any_screen
from console.widgets import money, page_link, plain, show_error, show_toasts, time_heading, toast_later, when
from dollr_core.basics.access import Permission
from dollr_core.basics.money import SUPPORTED_CURRENCIES, amount_text
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import a_or_an
from dollr_core.flows import payouts
from dollr_core.ledger.tables import Batch, BatchState, Intent, IntentKind, IntentState
from dollr_core.team import approval_rules, approvals

who = require_page(Permission.APPROVE, Permission.PAY_OUT, Permission.BULK_PAYOUTS, Permission.MANAGE_USERS)
svc = services()
CONFIRMING = "approvals:confirming"  # the approval waiting for "Yes, approve" in the dialog
ERROR = "approvals:error"  # why the last decision was refused, shown once


def mine(maker: str) -> bool:
    return maker.lower() == who.email.lower()


def decide(kind: str, target: str, approve: bool, shown: str) -> None:
    """Button callback: approve or reject one item as it was shown when the button was drawn.

    A callback gets the arguments of the run that drew the button, so `shown` is the fingerprint
    of what the manager was looking at, not of what the ledger holds by the time they click.
    """
    reason = st.session_state.get(f"reason:{target}", "")
    decision = approvals.Decision(approve=approve, reason=reason, shown=shown)
    try:
        if kind == "payout":
            decided = approvals.decide_payout(svc, who, target, decision)
            if decided.state == IntentState.AWAITING_APPROVAL:
                toast_later("Your approval is recorded: a second manager must approve it too.")
                return
        else:
            batch = approvals.decide_batch(svc, who, int(target), decision)
            if batch.state == BatchState.AWAITING_APPROVAL:
                toast_later("Your approval is recorded: a second manager must approve it too.")
                return
    except Exception as exc:
        st.session_state[ERROR] = exc
        return
    verb = "approved" if approve else "rejected"
    toast_later(f"The {kind} is {verb}; its maker can see it now.")


def ask_to_confirm(kind: str, target: str, shown: str, what: str, then: str) -> None:
    """Approve's callback: nothing is decided yet; the dialog asks first, keeping what was shown."""
    st.session_state[CONFIRMING] = (kind, target, shown, what, then)


def stop_confirming() -> None:
    st.session_state.pop(CONFIRMING, None)


@st.dialog("Approve?", on_dismiss=stop_confirming)
def confirm_approval(kind: str, target: str, shown: str, what: str, then: str) -> None:
    """States what approving does before it is recorded; the decision binds what the card showed."""
    st.markdown(f"You are approving **{what}**.")
    st.markdown(then)
    yes, back = st.columns(2)
    if yes.button("Yes, approve", type="primary", key="approvals:confirm", width="stretch"):
        stop_confirming()
        decide(kind, target, True, shown)
        st.rerun()
    if back.button("Go back", key="approvals:confirm_back", width="stretch"):
        stop_confirming()
        st.rerun()


def decision_controls(kind: str, target: str, maker: str, shown: str, what: str, then: str) -> None:
    """Reason, Approve and Reject for one item; `shown` is the fingerprint of what the card shows,
    `what` and `then` say in the confirmation what is approved and what happens next."""
    st.text_input(
        "Reason (needed to reject; the maker will read it)",
        key=f"reason:{target}",
        placeholder="e.g. amount does not match the invoice",
    )
    own = mine(maker)
    approve, reject = st.columns(2)
    approve.button(
        "Approve",
        type="primary",
        key=f"approve:{target}",
        disabled=own,
        help="You made this, so someone else must approve it." if own else None,
        on_click=ask_to_confirm,
        args=(kind, target, shown, what, then),
    )
    reject.button(
        "Reject", key=f"reject:{target}", disabled=own, on_click=decide, args=(kind, target, False, shown)
    )
    if own:
        st.caption("You made this, so you cannot approve or reject it: another manager must.")


def details(rows: dict[str, str]) -> None:
    """Label → value as a plain table (nothing anyone typed is rendered as markup)."""
    st.dataframe({"What": list(rows), "Value": list(rows.values())}, hide_index=True, width="stretch")


def money_out_card(intent: Intent) -> None:
    """A refund or a wallet transfer waiting for approval."""
    refund = intent.kind == IntentKind.REFUND
    with st.container(border=True):
        what = "Refund" if refund else "Wallet transfer"
        st.markdown(f"**{what} of {money(intent.amount, intent.currency)}** to {plain(intent.party_name)}")
        details(
            {
                "Document": intent.source_number or "—",
                "Reason" if refund else "Note": intent.note or "—",
                "Made by": intent.operator,
                time_heading("Made at"): when(intent.created_at),
            }
        )
        decision_controls(
            "payout",
            intent.intent_key,
            intent.operator,
            approvals.payout_fingerprint(intent),
            f"a {what.lower()} of {money(intent.amount, intent.currency)} to {intent.party_name}",
            f"{plain(intent.operator)} can then send it; the money leaves our wallet when they do.",
        )


def payout_card(intent: Intent) -> None:
    if intent.kind in (IntentKind.REFUND, IntentKind.TRANSFER):
        money_out_card(intent)
        return
    quote = payouts.quote_of(intent)
    fees = quote.platform_fee + quote.gateway_fee + quote.fx_fee
    with st.container(border=True):
        st.markdown(f"**{money(quote.amount, quote.currency)}** to {a_or_an(quote.carrier)} wallet")
        if intent.approvals_needed >= 2:
            st.caption(
                f"Needs two different managers. Approved so far by {plain(intent.first_approved_by)};"
                " one more needed."
                if intent.first_approved_by
                else "Needs two different managers: yours is the first approval."
            )
        details(
            {
                "Recipient": quote.name,
                "Wallet": f"{quote.carrier} {mask_phone(quote.phone)}",
                "Fees": money(fees, quote.currency),
                "Our wallet is debited": money(quote.wallet_debit, quote.currency),
                "Made by": intent.operator,
                time_heading("Made at"): when(intent.created_at),
                "Note": intent.note or "—",
            }
        )
        decision_controls(
            "payout",
            intent.intent_key,
            intent.operator,
            approvals.payout_fingerprint(intent),
            f"a payout of {money(quote.amount, quote.currency)} to {quote.name}"
            f" ({quote.carrier} {mask_phone(quote.phone)}), our wallet debited"
            f" {money(quote.wallet_debit, quote.currency)}",
            next_step(
                intent.approvals_needed, intent.first_approved_by, intent.operator, "send it from Pay someone"
            ),
        )


def batch_card(batch: Batch) -> None:
    totals = approvals.batch_totals(svc, who, batch.id or 0)
    with st.container(border=True):
        st.markdown(f"**Bulk payout #{batch.id}**: {totals.rows} payments")
        rows = {
            "Name": batch.name,
            "Made by": batch.created_by,
            time_heading("Made at"): when(batch.created_at),
        }
        for currency, amount in sorted(totals.amounts.items()):
            rows[f"Recipients get ({currency})"] = money(amount, currency)
            if currency in totals.fees:
                rows[f"Fees ({currency})"] = money(totals.fees[currency], currency)
            if currency in totals.debits:
                rows[f"Our wallet is debited ({currency})"] = money(totals.debits[currency], currency)
        if batch.approvals_needed >= 2:
            st.caption(
                f"Needs two different managers. Approved so far by {plain(batch.first_approved_by)};"
                " one more needed."
                if batch.first_approved_by
                else "Needs two different managers: yours is the first approval."
            )
        details(rows)
        amounts = ", ".join(money(amount, currency) for currency, amount in sorted(totals.amounts.items()))
        decision_controls(
            "batch",
            str(batch.id),
            batch.created_by,
            totals.fingerprint,
            f"bulk payout #{batch.id} ({batch.name}): {totals.rows} payments, {amounts} in all",
            next_step(
                batch.approvals_needed, batch.first_approved_by, batch.created_by, "start it on Bulk payouts"
            ),
        )


def next_step(needed: int, first_approved_by: str | None, maker: str, action: str) -> str:
    """What approving leads to, in the words of the confirmation."""
    if needed >= 2 and not first_approved_by:
        return (
            "Yours is the first of two approvals: a second manager must approve it too. No money moves now."
        )
    return f"{plain(maker)} can then {action}; the money moves only when they do. No money moves now."


def payout_state(intent: Intent) -> str:
    state = IntentState(intent.state)
    if state is IntentState.AWAITING_APPROVAL:
        if intent.approvals_needed >= 2:
            if intent.first_approved_by:
                return f"Approved by {plain(intent.first_approved_by)}; waiting for a second manager."
            return "Waiting for two different managers' approval."
        return "Waiting for a manager's approval."
    if state is IntentState.OPEN and intent.decision_reason:
        return f"Returned to you: {plain(intent.decision_reason)}"
    if state is IntentState.READY and intent.decided_by:
        by = plain(intent.decided_by)
        return f"Approved by {by}: go to Pay someone to send it with the merchant passcode."
    if state is IntentState.REJECTED:
        reason = plain(intent.decision_reason)
        return f"Rejected by {plain(intent.decided_by)}. Reason: {reason}. Nothing was sent."
    if state is IntentState.COMPLETED:
        return "Approved and paid."
    if state is IntentState.FAILED:
        return "Approved, sent, and failed: see Pay someone for why."
    if state is IntentState.EXECUTING:
        return "Approved and being sent."
    return "Being prepared."


def send_again(intent_key: str) -> None:
    """Button callback: a payout that came back (its request or approval expired) goes out again."""
    try:
        approvals.submit_for_approval(svc, who, intent_key)
    except Exception as exc:
        st.session_state[ERROR] = exc
        return
    toast_later("Sent for approval again.")


def amount_or_none(amount: Decimal | None, currency: str) -> str:
    return "no limit" if amount is None else money(amount, currency)


def rules_table(rules: approval_rules.ApprovalRules) -> None:
    """The rules in force, one row per rule and a column per currency."""
    table = [
        {
            "Rule": approval_rules.RULE_NAMES[name].capitalize(),
            **{c: amount_or_none(getattr(rules, name).get(c), c) for c in SUPPORTED_CURRENCIES},
        }
        for name in approval_rules.AMOUNT_RULES
    ]
    table_on_any_screen(table, key="approval-rules", heading=("Rule",))
    st.caption(
        f"A request nobody decides, or an approval nobody sends, returns to its maker after"
        f" {rules.approval_expiry_hours} hours. Daily limits count every payout an operator made in the"
        f" company's day ({rules.company_timezone}). Nobody approves their own payout."
    )


def rules_editor(rules: approval_rules.ApprovalRules) -> None:
    """The admin's form; rules fixed in the install's settings are shown but cannot be changed."""
    with st.expander("Change the approval rules"), st.form("rules_form"):
        for name in approval_rules.AMOUNT_RULES:
            fixed = name in rules.locked
            st.markdown(
                f"**{approval_rules.RULE_NAMES[name].capitalize()}**"
                + (" (fixed by the settings)" if fixed else "")
            )
            for column, currency in zip(
                st.columns(len(SUPPORTED_CURRENCIES)), SUPPORTED_CURRENCIES, strict=True
            ):
                value = getattr(rules, name).get(currency)
                column.text_input(
                    currency,
                    value="" if value is None else amount_text(value, currency),  # 500.00, not 5E+2
                    key=f"rule:{name}:{currency}",
                    disabled=fixed,
                    help="Empty: no limit in this currency.",
                )
        st.text_input(
            "A request or approval lasts (hours)",
            value=str(rules.approval_expiry_hours),
            key="rule:approval_expiry_hours",
            disabled="approval_expiry_hours" in rules.locked,
        )
        st.form_submit_button("Save the rules", type="primary", on_click=save_rules, args=(rules.locked,))


def save_rules(locked: frozenset[str]) -> None:
    typed: dict[str, dict[str, str] | str] = {
        name: {c: st.session_state.get(f"rule:{name}:{c}", "") for c in SUPPORTED_CURRENCIES}
        for name in approval_rules.AMOUNT_RULES
        if name not in locked
    }
    if "approval_expiry_hours" not in locked:
        typed["approval_expiry_hours"] = st.session_state.get("rule:approval_expiry_hours", "")
    try:
        approval_rules.update(svc.engine, svc.settings, who, typed)
    except Exception as exc:
        st.session_state[ERROR] = exc
        return
    toast_later("The approval rules are saved; the audit trail shows what changed.")


def my_items() -> None:
    st.subheader("What you sent for approval")
    shown = False
    if who.can(Permission.PAY_OUT):
        for intent in approvals.my_payouts(svc, who, limit=20):
            shown = True
            with st.container(border=True):
                st.markdown(f"**{money(intent.amount, intent.currency)}** to {mask_phone(intent.phone)}")
                said = payout_state(intent)
                if intent.state == IntentState.REJECTED:
                    st.error(said)
                elif intent.state == IntentState.READY:
                    st.success(said)
                    page_link("pages/payout.py", "Send it on Pay someone", intent=intent.intent_key)
                elif intent.state == IntentState.OPEN and intent.decision_reason:
                    st.warning(said)
                    st.button(
                        "Send for approval again",
                        key=f"again:{intent.intent_key}",
                        on_click=send_again,
                        args=(intent.intent_key,),
                    )
                else:
                    st.info(said)
    if who.can(Permission.BULK_PAYOUTS):
        for batch in approvals.my_batches(svc, who, limit=20):
            shown = True
            with st.container(border=True):
                st.markdown(f"**Bulk payout #{batch.id}**")
                if batch.state == BatchState.REJECTED:
                    st.error(
                        f"Rejected by {plain(batch.decided_by)}. Reason: {plain(batch.decision_reason)}."
                        " Nothing was sent."
                    )
                elif batch.state == BatchState.APPROVED:
                    st.success(f"Approved by {plain(batch.decided_by)}: start it on Bulk payouts.")
                elif batch.first_approved_by:
                    st.info(f"Approved by {plain(batch.first_approved_by)}; waiting for a second manager.")
                else:
                    st.info("Waiting for a manager's approval.")
    if not shown:
        st.caption("Nothing yet. Payouts above the approval limit, and every bulk payout, show up here.")


st.title("Approvals")
st.caption("Large payouts and bulk payouts wait here until a manager who did not make them says yes.")
show_toasts()
refused = st.session_state.pop(ERROR, None)
if refused is not None:
    show_error(refused)

if who.can(Permission.APPROVE):
    payouts_waiting = approvals.pending_payouts(svc, who)
    batches_waiting = approvals.pending_batches(svc, who)
    st.subheader(f"Payouts waiting for approval ({len(payouts_waiting)})")
    for intent in payouts_waiting:
        payout_card(intent)
    if not payouts_waiting:
        st.caption("None right now.")
    st.subheader(f"Bulk payouts waiting for approval ({len(batches_waiting)})")
    for batch in batches_waiting:
        batch_card(batch)
    if not batches_waiting:
        st.caption("None right now.")

    confirming = st.session_state.get(CONFIRMING)
    if confirming:
        confirm_approval(*confirming)

if who.can(Permission.PAY_OUT) or who.can(Permission.BULK_PAYOUTS):
    my_items()

st.subheader("Approval rules")
rules = approval_rules.current(svc.engine, svc.settings)
rules_table(rules)
if who.can(Permission.MANAGE_USERS):
    rules_editor(rules)
