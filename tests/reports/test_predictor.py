"""The fee & FX preview quotes exactly what the sandbox then charges for the same payment."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod, SourceType
from dollr_core.flows import documents
from dollr_core.flows.collect import (
    NewCollection,
    collect_new_document,
    confirm_collection,
    prepare_collection,
)
from dollr_core.flows.directory import Person
from dollr_core.reports import predictor
from dollr_core.reports.predictor import PreviewRequest
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import executions_by_reference, pay_out, settle

OPERATOR = Actor("olivia@example.com", Role.OPERATOR)
FINANCE = Actor("fred@example.com", Role.FINANCE)
MANAGER = Actor("mia@example.com", Role.MANAGER)
MTN = PaymentMethod.MTN_MOMO_LBR


def _assert_same(quote: predictor.MethodPreview, executed: dict[str, object]) -> None:
    assert quote.unavailable is None
    assert (quote.payer_amount, quote.payer_currency) == (
        executed["payer_amount"],
        executed["payer_currency"],
    )
    assert (quote.payee_amount, quote.payee_currency) == (
        executed["payee_amount"],
        executed["payee_currency"],
    )
    assert quote.platform_fee == executed["platform_fee"]
    assert quote.gateway_fee == executed["gateway_fee"]
    assert quote.fx_fee == (executed["fx_fee"] or Decimal(0))


def test_payout_quote_equals_the_executed_payout(sqlite_services: Services, fresh_sandbox: Sandbox) -> None:
    request = PreviewRequest.checked("40", "USD", "USD", FeeBearer.PAYER, OperationType.PAYOUT)
    [quote] = predictor.preview(sqlite_services, MANAGER, request, [MTN])
    attempt = pay_out(sqlite_services, OPERATOR, uuid.uuid4().hex, amount="40")
    settle(sqlite_services, fresh_sandbox)
    executed = executions_by_reference(fresh_sandbox)[attempt.reference_id]
    assert executed["status"] == "COMPLETED"
    _assert_same(quote, executed)
    assert quote.fx_rate is None  # no exchange


@pytest.mark.parametrize(
    ("bearer", "paid_in"), [(FeeBearer.PAYER, "LRD"), (FeeBearer.PAYEE, "USD"), (FeeBearer.PAYEE, "LRD")]
)
def test_collection_quote_equals_the_executed_collection(
    sqlite_services: Services, fresh_sandbox: Sandbox, bearer: FeeBearer, paid_in: str
) -> None:
    request = PreviewRequest.checked("262.50", "USD", paid_in, bearer, OperationType.COLLECTION)
    quotes = {q.method: q for q in predictor.preview(sqlite_services, FINANCE, request)}
    assert set(quotes) == (
        {MTN, PaymentMethod.ORANGE_MONEY_LBR} | ({PaymentMethod.CREDIT_CARD} if paid_in == "USD" else set())
    )
    order = NewCollection(
        customer=Person.checked("Amara Kamara", "231771234567"),
        currency="USD",
        items=[
            documents.LineItem("Consulting", 1, Decimal("250.00")),
            documents.LineItem("Travel", 1, Decimal("12.50")),
        ],
        wallet_phone="231880005678",
        fee_bearer=bearer,
        payer_currency=paid_in,
    )
    attempt = collect_new_document(sqlite_services, FINANCE, uuid.uuid4().hex, order)
    settle(sqlite_services, fresh_sandbox)
    executed = executions_by_reference(fresh_sandbox)[attempt.reference_id]
    assert executed["status"] == "COMPLETED"
    _assert_same(quotes[MTN], executed)
    if paid_in == "USD":
        assert quotes[MTN].fx_rate is None
    else:
        assert quotes[MTN].fx_rate == executed["fx_rate"] == Decimal(190)  # worked out from the amounts
        assert quotes[MTN].fx_rate_derived


def test_document_quote_equals_its_collection(sqlite_services: Services, fresh_sandbox: Sandbox) -> None:
    svc = sqlite_services
    record = documents.create_document(
        svc,
        FINANCE,
        draft_key=uuid.uuid4().hex,
        source_type=SourceType.ORDER,
        customer=Person.checked("Amara Kamara", "231771234567"),
        currency="USD",
        note="Shoes",
        fee_bearer=FeeBearer.PAYEE,
    )
    documents.add_item(svc, FINANCE, record, documents.LineItem("Shoes", 3, Decimal("19.99")))
    record = documents.publish(svc, FINANCE, record)
    quotes = {q.method: q for q in predictor.preview_document(svc, MANAGER, record, "LRD")}
    assert set(quotes) == {MTN, PaymentMethod.ORANGE_MONEY_LBR}

    key = uuid.uuid4().hex
    prepare_collection(svc, FINANCE, key, record=record, phone="231880005678", payer_currency="LRD")
    calls = fresh_sandbox.request_count
    again = predictor.preview_document(svc, MANAGER, record, "LRD", [MTN])
    assert fresh_sandbox.request_count == calls, "a repeated quote comes from the cache"
    assert again == [quotes[MTN]]
    attempt = confirm_collection(svc, FINANCE, key)
    settle(svc, fresh_sandbox)
    _assert_same(quotes[MTN], executions_by_reference(fresh_sandbox)[attempt.reference_id])

    paid = documents.find_document(svc, FINANCE, record.number or "")
    assert paid is not None
    with pytest.raises(ValueError, match="not paid yet"):
        predictor.preview_document(svc, MANAGER, paid, "USD")


def test_methods_for_each_corridor() -> None:
    lbr = [MTN, PaymentMethod.ORANGE_MONEY_LBR]
    rwa = [PaymentMethod.AIRTEL_RWA, PaymentMethod.MTN_MOMO_RWA, PaymentMethod.ORANGE_MONEY_RWA]
    assert predictor.methods_for(OperationType.COLLECTION, "USD", "USD") == [*lbr, PaymentMethod.CREDIT_CARD]
    assert predictor.methods_for(OperationType.COLLECTION, "USD", "LRD") == lbr
    assert predictor.methods_for(OperationType.COLLECTION, "USD", "RWF") == rwa
    assert predictor.methods_for(OperationType.PAYOUT, "USD", "USD") == [*lbr, PaymentMethod.WALLET]
    assert predictor.methods_for(OperationType.PAYOUT, "RWF", "USD") == [*rwa, PaymentMethod.WALLET]


def test_a_method_that_cannot_is_marked_not_dropped(sqlite_services: Services) -> None:
    request = PreviewRequest.checked("0.01", "USD", "USD", FeeBearer.PAYEE, OperationType.COLLECTION)
    [card] = predictor.preview(sqlite_services, FINANCE, request, [PaymentMethod.CREDIT_CARD])
    assert card.payer_amount is None
    assert card.unavailable and "fees" in card.unavailable
    assert predictor.cheapest([card]) is None


def test_inputs_and_roles_are_checked(sqlite_services: Services) -> None:
    with pytest.raises(ValueError, match="decimal places"):
        PreviewRequest.checked("1.001", "USD", "USD", "PAYER", "PAYOUT")
    with pytest.raises(ValueError, match="currencies"):
        PreviewRequest.checked("1", "USD", "EUR", "PAYER", "PAYOUT")
    with pytest.raises(ValueError, match="collections and payouts"):
        PreviewRequest.checked("1", "USD", "USD", "PAYER", "REFUND")
    request = PreviewRequest.checked("1", "USD", "USD", "PAYER", "PAYOUT")
    with pytest.raises(AccessDenied):
        predictor.preview(sqlite_services, OPERATOR, request)
