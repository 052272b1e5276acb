"""Issue 18 part 1: a document paid on Dollr's hosted page is followed and booked with no click."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.basics.enums import SourceType
from dollr_core.flows import documents, following
from dollr_core.flows.books import follow_books
from dollr_core.flows.collect import publish_new_document
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.ledger.tables import Attempt, DocumentRecord, PaymentDetail
from dollr_core.reports import dashboard, history, history_export
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.services import Services
from dollr_sandbox import Sandbox

CUSTOMER = Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR")


def published(svc: Services, actor: Actor, key: str, amount: str = "250.00") -> DocumentRecord:
    return publish_new_document(
        svc,
        actor,
        key,
        source_type=SourceType.INVOICE,
        customer=CUSTOMER,
        currency="USD",
        items=[LineItem("Strategy session", 1, Decimal(amount))],
    )


def pay_on_hosted_page(
    svc: Services, actor: Actor, sandbox: Sandbox, record: DocumentRecord, *, settle: bool = True, **how: str
) -> None:
    token = documents.pay_link(svc, actor, record).rstrip("/").rsplit("/", 1)[-1]
    sandbox.pay_hosted(token, **({"account_number": "231880005678"} | how))
    if settle:
        sandbox.advance_clock(10)


def make_due(svc: Services) -> None:
    with Session(svc.engine) as db:
        for row in db.exec(select(DocumentRecord)).all():
            row.next_check_at = None
            db.add(row)
        db.commit()


def test_pay_link_payment_reaches_history_and_dashboard_with_no_click(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    record = published(services, finance, "books-link-1")
    pay_on_hosted_page(services, finance, fresh_sandbox, record)

    follow_books(services, sync=False)  # the reconciler's pass: nobody pressed anything

    rows = history.page(services, finance, HistoryFilter(operations=("COLLECTION",))).rows
    assert len(rows) == 1
    row = rows[0]
    paid = next(e for e in fresh_sandbox.executions() if e["reference_id"] == row.reference_id)
    assert row.outcome is Outcome.COMPLETED and row.document_number == record.number
    assert row.payer_amount == Decimal(str(paid["payer_amount"]))
    assert row.payee_amount == Decimal(str(paid["payee_amount"]))
    assert row.provider_transaction_id == paid["provider_transaction_id"]
    assert row.operator == finance.email  # the console's own document, paid by its link
    assert row.has_receipt

    figures = dashboard.home_figures(services, finance)
    collected = [t for t in figures.today_totals if t.operation == "COLLECTION" and t.currency == "USD"]
    assert collected and collected[0].completed == 1 and collected[0].payee_amount == row.payee_amount
    assert [b.collected for b in figures.balances if b.currency == "USD"] == [row.payee_amount]
    export = "".join(history_export.export_csv(services, finance, HistoryFilter()))
    assert row.reference_id in export and (record.number or "") in export

    with Session(services.engine) as db:
        mirrored = db.get(DocumentRecord, record.id)
        detail = db.exec(select(PaymentDetail)).one()
    assert mirrored is not None and mirrored.status == "PAID"
    assert detail.origin == "PAY_LINK" and detail.platform_fee is not None and detail.gateway_fee is not None

    # A final document costs no call, and booking again adds nothing.
    make_due(services)
    before = fresh_sandbox.request_count
    assert following.follow_documents(services) == 0
    assert fresh_sandbox.request_count == before
    assert following.book_document_payment(services, mirrored, origin=detail.origin) is not None  # type: ignore[arg-type]
    with Session(services.engine) as db:
        assert len(db.exec(select(Attempt)).all()) == 1


def test_polling_backs_off_and_stops_at_cancel(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    record = published(services, finance, "books-link-2")
    assert following.follow_documents(services) == 1
    before = fresh_sandbox.request_count
    assert following.follow_documents(services) == 0  # not due yet: no call
    assert fresh_sandbox.request_count == before
    delays = [following.next_check_delay(n).total_seconds() for n in range(14)]
    assert delays == sorted(delays) and delays[0] == 15 and delays[-1] == 3600

    documents.cancel(services, finance, record)
    make_due(services)
    assert following.follow_documents(services) == 0  # CANCELED is final: never asked again


def test_card_payment_waiting_for_3ds_is_followed_closely(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    record = published(services, finance, "books-3ds")
    pay_on_hosted_page(
        services,
        finance,
        fresh_sandbox,
        record,
        settle=False,
        payment_method="CREDIT_CARD",
        payment_method_id="pm_card_threeDSecure2Required",
    )
    assert following.follow_documents(services) == 1
    with Session(services.engine) as db:
        row = db.get(DocumentRecord, record.id)
    assert row is not None and row.status == "PROCESSING"  # waiting for the customer
    assert row.check_count == 0  # looked at again within seconds, not the backed-off hour
    assert history.count(services, finance, HistoryFilter()) == 0  # nothing booked before PAID


def test_paid_seen_first_by_a_page_is_still_booked(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    record = published(services, finance, "books-seen-first")
    pay_on_hosted_page(services, finance, fresh_sandbox, record)
    documents.detail(services, finance, record.source_type, record.dollr_id)  # e.g. the receipts page
    with Session(services.engine) as db:
        seen = db.get(DocumentRecord, record.id)
    assert seen is not None and seen.status == "PAID"
    assert following.follow_documents(services) == 1
    assert history.count(services, finance, HistoryFilter(outcomes=(Outcome.COMPLETED,))) == 1
    make_due(services)
    assert following.follow_documents(services) == 0  # booked: never looked at again
