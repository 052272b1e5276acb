"""Fee & FX preview: what a payment will cost with each method, before any money moves.

Dollr's own quote, the same one the collect and payout pages show before confirming. Quotes are
asked for only when the person presses the button (and are cached), so reruns cost no call to Dollr.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from console.context import require_page, services
from console.widgets import money, show_error
from dollr_core.basics.access import Permission
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod, SourceStatus
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.basics.words import provider_name
from dollr_core.explain import FX_FEE, GATEWAY_FEE, PLATFORM_FEE
from dollr_core.flows import documents
from dollr_core.reports import predictor
from dollr_core.reports.predictor import MethodPreview, PreviewRequest, method_name

who = require_page(Permission.PREDICT_FEES)
svc = services()

ALL = "all"
AMOUNT_RESULT = "predictor:amount_result"
DOCUMENT_RESULT = "predictor:document_result"

OPERATION_WORDS = {
    OperationType.COLLECTION: "We collect money from a customer",
    OperationType.PAYOUT: "We pay money out to someone",
}
BEARER_WORDS = {
    FeeBearer.PAYER: "The payer pays the fees on top",
    FeeBearer.PAYEE: "The fees come out of what the payee receives",
}


def method_choice(value: str) -> str:
    return "Every available method, side by side" if value == ALL else method_name(value)


def rate_text(p: MethodPreview) -> str:
    if p.fx_rate is None:
        return "no exchange"
    sign = "≈" if p.fx_rate_derived else "="
    return f"1 {p.payee_currency} {sign} {p.fx_rate.normalize():f} {p.payer_currency}"


def show_results(previews: Sequence[MethodPreview], *, heading: str, pays: str, receives: str) -> None:
    """The table of exact figures, a chart comparing the methods, and who cannot do it."""
    st.subheader(heading)
    available = [p for p in previews if p.unavailable is None]
    if not available:
        st.warning("No method can carry this payment as entered.")
    else:
        best = predictor.cheapest(available)
        if best is not None and len(available) > 1:
            st.success(
                f"Lowest fees: **{method_name(best.method)}**, {money(best.fees, best.fee_currency)} in all."
            )
        table = [
            {
                "Method": method_name(p.method),
                "Carried by": provider_name(p.provider),
                pays: money(p.payer_amount, p.payer_currency),
                receives: money(p.payee_amount, p.payee_currency),
                PLATFORM_FEE: money(p.platform_fee, p.fee_currency),
                GATEWAY_FEE: money(p.gateway_fee, p.fee_currency),
                FX_FEE: money(p.fx_fee, p.fee_currency),
                "All fees": money(p.fees, p.fee_currency),
                "Exchange rate": rate_text(p),
            }
            for p in available
        ]
        st.dataframe(table, hide_index=True, width="stretch")
        if any(p.fx_rate_derived for p in available):
            st.caption(
                "≈ Dollr did not state its rate; it is worked out from the amounts, so it is approximate."
            )
        draw_charts(available, pays=pays)
    for p in previews:
        if p.unavailable is not None:
            st.caption(f"{method_name(p.method)}: not available — {p.unavailable}")


def draw_charts(available: Sequence[MethodPreview], *, pays: str) -> None:
    # Floats only here, for drawing; every figure shown as text above is the exact Decimal.
    fee_currency = available[0].fee_currency or ""
    fees = pd.DataFrame(
        [
            {"Method": method_name(p.method), "Fee": name, "Amount": float(amount)}
            for p in available
            for name, amount in (("Platform", p.platform_fee), ("Gateway", p.gateway_fee), ("FX", p.fx_fee))
        ]
    )
    paid = pd.DataFrame(
        [{"Method": method_name(p.method), "Amount": float(p.payer_amount or 0)} for p in available]
    )
    left, right = st.columns(2)
    left.altair_chart(
        alt.Chart(fees, title=f"Fees per method ({fee_currency})")
        .mark_bar()
        .encode(
            x=alt.X("Amount:Q", title=fee_currency),
            y=alt.Y("Method:N", title=None),
            color=alt.Color("Fee:N", title="Fee"),
            tooltip=["Method", "Fee", "Amount"],
        ),
        width="stretch",
    )
    payer_currency = available[0].payer_currency or ""
    right.altair_chart(
        alt.Chart(paid, title=f"{pays} ({payer_currency})")
        .mark_bar()
        .encode(
            x=alt.X("Amount:Q", title=payer_currency),
            y=alt.Y("Method:N", title=None),
            tooltip=["Method", "Amount"],
        ),
        width="stretch",
    )


st.title("Fee & FX preview")
st.caption(
    "See what a payment will cost with each method before any money moves. These are Dollr's own"
    " quotes: the same figures appear on the payment and its receipt afterwards."
)

by_amount, by_document = st.tabs(["An amount", "A published invoice or order"])

# --------------------------------------------------------------------------- an amount

with by_amount, st.form("predictor_form"):
    operation = st.radio(
        "What happens",
        list(OPERATION_WORDS),
        format_func=OPERATION_WORDS.__getitem__,
        horizontal=True,
        key="predictor_operation",
    )
    first, second, third = st.columns(3)
    amount = first.text_input(
        "Amount",
        key="predictor_amount",
        placeholder="e.g. 250.00",
        help="The invoice total, or what the recipient gets.",
    )
    currency = second.selectbox(
        "Currency of the amount",
        SUPPORTED_CURRENCIES,
        key="predictor_currency",
        help="What the invoice is in, or what the recipient's wallet receives.",
    )
    target = third.selectbox(
        "Currency the payer pays in",
        SUPPORTED_CURRENCIES,
        key="predictor_target",
        help="The customer's wallet currency for a collection; our wallet's currency for a payout."
        " When it differs, Dollr converts and adds an FX fee.",
    )
    bearer = st.radio(
        "Who pays the fees",
        list(BEARER_WORDS),
        format_func=BEARER_WORDS.__getitem__,
        horizontal=True,
        key="predictor_bearer",
    )
    method = st.selectbox(
        "Method", [ALL, *(m.value for m in PaymentMethod)], format_func=method_choice, key="predictor_method"
    )
    if st.form_submit_button("Compare costs", type="primary", key="predictor_submit"):
        try:
            request = PreviewRequest.checked(amount, currency, target, bearer, operation)
            chosen = None if method == ALL else [PaymentMethod(method)]
            st.session_state[AMOUNT_RESULT] = (request, predictor.preview(svc, who, request, chosen))
        except Exception as exc:
            st.session_state.pop(AMOUNT_RESULT, None)
            show_error(exc)

with by_amount:
    shown = st.session_state.get(AMOUNT_RESULT)
    if shown is not None:
        request, previews = shown
        collecting = request.operation is OperationType.COLLECTION
        show_results(
            previews,
            heading=f"{money(request.amount, request.currency)}, paid in {request.target_currency}",
            pays="Customer pays" if collecting else "Our wallet pays",
            receives="We receive" if collecting else "Recipient receives",
        )

# --------------------------------------------------------------------------- a published document

with by_document:
    waiting = documents.search_documents(svc.engine, status=SourceStatus.ACTIVE, limit=200)
    if not waiting:
        st.info("No published invoice or order is waiting for payment.")
    else:
        records = {r.id: r for r in waiting}
        chosen_id = st.selectbox(
            "Invoice or order",
            list(records),
            format_func=lambda i: (
                f"{records[i].number} · {records[i].customer_name or 'no name'}"
                f" · {money(records[i].total_amount, records[i].currency)}"
            ),
            key="predictor_document",
        )
        left, right = st.columns(2)
        doc_target = left.selectbox(
            "Currency the customer pays in", SUPPORTED_CURRENCIES, key="predictor_document_target"
        )
        doc_method = right.selectbox(
            "Method",
            [ALL, *(m.value for m in PaymentMethod if m is not PaymentMethod.WALLET)],
            format_func=method_choice,
            key="predictor_document_method",
        )
        if st.button("Preview this document", type="primary", key="predictor_document_submit"):
            record = records[chosen_id]
            try:
                methods = None if doc_method == ALL else [PaymentMethod(doc_method)]
                result = predictor.preview_document(svc, who, record, doc_target, methods)
                st.session_state[DOCUMENT_RESULT] = (record.number, record.currency, doc_target, result)
            except Exception as exc:
                st.session_state.pop(DOCUMENT_RESULT, None)
                show_error(exc)
        kept = st.session_state.get(DOCUMENT_RESULT)
        if kept is not None:
            number, doc_currency, paid_in, previews = kept
            st.caption("The total and who pays the fees come from the document itself.")
            show_results(
                previews,
                heading=f"{number} ({doc_currency}), paid in {paid_in}",
                pays="Customer pays",
                receives="We receive",
            )
