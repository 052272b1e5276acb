"""Records as the contract shows them."""

from __future__ import annotations

from decimal import Context

from dollr_core.basics.enums import SourceType
from dollr_sandbox.pricing import round_to
from dollr_sandbox.records import (
    Counterparty,
    Execution,
    Item,
    Party,
    PaymentAccount,
    Source,
)
from dollr_sandbox.schemas import (
    CollectionExecutionOut,
    CounterpartyDetailOut,
    CounterpartyOut,
    ExecutionOut,
    InvoiceDetailOut,
    InvoiceOut,
    InvoiceReceiptOut,
    ItemOut,
    OrderDetailOut,
    OrderOut,
    OrderReceiptOut,
    PartyOut,
    PaymentAccountOut,
    ReceiptOut,
    SourceStatusOut,
)
from dollr_sandbox.state import SandboxState

_FX_DIGITS = Context(prec=15)


def party(record: Party) -> PartyOut:
    return PartyOut.model_validate(record.model_dump())


def counterparty(record: Counterparty) -> CounterpartyOut:
    return CounterpartyOut.model_validate(record.model_dump())


def counterparty_detail(state: SandboxState, record: Counterparty) -> CounterpartyDetailOut:
    linked = state.parties.get(record.party_id) if record.party_id is not None else None
    return CounterpartyDetailOut(
        **counterparty(record).model_dump(), party=party(linked) if linked is not None else None
    )


def item(record: Item) -> ItemOut:
    return ItemOut.model_validate(record.model_dump())


def source(record: Source) -> InvoiceOut | OrderOut:
    common = {
        "id": record.id,
        "status": record.status,
        "currency": record.currency,
        "note": record.note,
        "fee_bearer": record.fee_bearer,
        "as_payment_link": record.as_payment_link,
        "counterparty_id": record.counterparty_id,
        "reference_id": record.reference_id,
        "total_amount": round_to(record.total_amount, record.currency),
        "paid_at": record.paid_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }
    if record.kind is SourceType.INVOICE:
        return InvoiceOut(**common, invoice_number=record.number, due_date=record.due_date)
    return OrderOut(**common, order_number=record.number)


def source_detail(state: SandboxState, record: Source) -> InvoiceDetailOut | OrderDetailOut:
    linked = state.counterparties.get(record.counterparty_id)
    extra = {"counterparty": counterparty(linked) if linked is not None else None}
    items = [item(i) for i in record.items]
    base = source(record).model_dump()
    if record.kind is SourceType.INVOICE:
        return InvoiceDetailOut(**base, **extra, invoice_items=items)
    return OrderDetailOut(**base, **extra, order_items=items)


def source_status(record: Source) -> SourceStatusOut:
    return SourceStatusOut(
        source_id=record.id,
        source_type=record.kind,
        source_number=record.number,
        status=record.status,
        currency=record.currency,
        total_amount=round_to(record.total_amount, record.currency),
        paid_at=record.paid_at,
    )


def receipt(record: Source, paid_by: Execution) -> ReceiptOut:
    common = ReceiptOut(
        source_type=record.kind,
        source_id=record.id,
        reference_id=paid_by.reference_id,
        currency=record.currency,
        total_amount=round_to(record.total_amount, record.currency),
        fee_bearer=paid_by.fee_bearer,
        payer_amount=paid_by.payer_amount,
        payer_currency=paid_by.payer_currency,
        payee_amount=paid_by.payee_amount,
        payee_currency=paid_by.payee_currency,
        # Fifteen significant digits survive a JSON float round trip.
        fx_rate=paid_by.fx_rate.normalize(_FX_DIGITS),
        fx_currency_from=paid_by.base_currency,
        fx_currency_to=paid_by.payer_currency,
        platform_fee=paid_by.platform_fee,
        gateway_fee=paid_by.gateway_fee,
        fx_fee=paid_by.fx_fee,
        fee_currency=paid_by.base_currency,
        provider=paid_by.provider,
        payment_method=paid_by.method,
        provider_transaction_id=paid_by.provider_transaction_id,
        paid_at=record.paid_at,
    ).model_dump()
    items = [item(i) for i in record.items]
    if record.kind is SourceType.INVOICE:
        return InvoiceReceiptOut(**common, invoice_number=record.number, invoice_items=items)
    return OrderReceiptOut(**common, order_number=record.number, order_items=items)


def execution(record: Execution) -> ExecutionOut:
    fields = {
        "reference_id": record.reference_id,
        "status": record.status,
        "operation_type": record.operation_type,
        "payer_amount": record.payer_amount,
        "payer_currency": record.payer_currency,
        "payee_amount": record.payee_amount,
        "payee_currency": record.payee_currency,
        "provider_transaction_id": record.provider_transaction_id,
        "gateway_message": record.gateway_message,
        "wallet_message": record.wallet_message,
        "requires_action": record.requires_action,
        "client_secret": record.client_secret,
    }
    if record.payment_intent_id is not None:
        return CollectionExecutionOut(**fields, payment_intent_id=record.payment_intent_id)
    return ExecutionOut(**fields)


def payment_account(record: PaymentAccount) -> PaymentAccountOut:
    return PaymentAccountOut.model_validate(record.model_dump())
