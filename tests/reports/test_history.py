"""History queries on SQLite and PostgreSQL: filters, exact totals, paging, charts and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import Engine

from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor, Role
from dollr_core.reports import history, history_export, history_totals
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.services import Services

from .fakes import NOON, add, attempt

#: The history is a finance report: the report functions check the actor's permission.
FINANCE = Actor("fred@example.com", Role.FINANCE)


@pytest.fixture
def engine(services: Services) -> Engine:
    return services.engine


def refs(engine: Engine, flt: HistoryFilter) -> set[str]:
    return {r.reference_id for r in history.query_page(engine, flt, 1, 1000).rows}


def test_each_filter_narrows_the_rows(engine: Engine) -> None:
    rows = add(
        engine,
        attempt(party_name="Musa Kollie"),
        attempt(
            party_name="Amara Kamara",
            operation_type="COLLECTION",
            source_type="INVOICE",
            source_number="INV-2025-00042",
            phone="231771234567",
            method="ORANGE_MONEY_LBR",
        ),
        attempt(
            party_name="Aline Uwase",
            currency="RWF",
            amount="5000",
            method="MTN_MOMO_RWA",
            phone="250781234567",
            operator="fred@example.com",
        ),
        attempt(party_name="Joseph Doe", state="FAILED", created_at=NOON - timedelta(days=3)),
        attempt(party_name="Grace 100%_off", state="ACCEPTED", created_at=NOON + timedelta(days=1)),
        attempt(party_name="Paul Weah", state="UNKNOWN", provider_transaction_id="pp-777"),
    )
    musa, amara, aline, joseph, grace, paul = (r["reference_id"] for r in rows)
    day = NOON.date()

    assert refs(engine, HistoryFilter()) == {musa, amara, aline, joseph, grace, paul}
    assert refs(engine, HistoryFilter(since=day, until=day)) == {musa, amara, aline, paul}
    assert refs(engine, HistoryFilter(since=day + timedelta(days=1))) == {grace}
    assert refs(engine, HistoryFilter(until=day - timedelta(days=1))) == {joseph}
    assert refs(engine, HistoryFilter(operations=("COLLECTION",))) == {amara}
    assert refs(engine, HistoryFilter(outcomes=(Outcome.FAILED,))) == {joseph}
    assert refs(engine, HistoryFilter(outcomes=history.OPEN_OUTCOMES)) == {grace, paul}
    assert refs(engine, HistoryFilter(methods=("ORANGE_MONEY_LBR", "MTN_MOMO_RWA"))) == {amara, aline}
    assert refs(engine, HistoryFilter(currencies=("RWF",))) == {aline}
    assert refs(engine, HistoryFilter(operators=("fred@example.com",))) == {aline}
    # free text: name (any case), phone (as typed, with spaces and +), reference, document, txn id
    assert refs(engine, HistoryFilter(text="  KAMARA ")) == {amara}
    assert refs(engine, HistoryFilter(text="+250 78 123")) == {aline}
    assert refs(engine, HistoryFilter(text=musa[:8])) == {musa}
    assert refs(engine, HistoryFilter(text="inv-2025-00042")) == {amara}
    assert refs(engine, HistoryFilter(text="pp-777")) == {paul}
    # LIKE wildcards typed by a person are literal characters
    assert refs(engine, HistoryFilter(text="100%_off")) == {grace}
    assert refs(engine, HistoryFilter(text="%")) == {grace}
    assert refs(engine, HistoryFilter(text="_")) == {grace}
    # filters combine
    assert refs(engine, HistoryFilter(since=day, until=day, currencies=("USD",), text="ma")) == {amara}
    assert refs(engine, HistoryFilter(since=day, until=day, currencies=("RWF",), text="ma")) == set()


def test_totals_are_exact_decimals_per_operation_and_currency(engine: Engine, services: Services) -> None:
    add(engine, *(attempt(amount="0.10") for _ in range(1000)))  # floats would drift here
    add(
        engine,
        attempt(amount="1234567.89", state="FAILED"),
        attempt(amount="3.33", state="ACCEPTED"),
        # A USD invoice paid in LRD: the amount counts in USD, what the customer paid in LRD.
        attempt(
            operation_type="COLLECTION",
            amount="100.00",
            payer_amount=Decimal("19617.50"),
            settled_payer_currency="LRD",
            payer_currency="LRD",
            payee_amount=Decimal("100.00"),
        ),
        attempt(
            currency="RWF",
            amount="7000",
            payer_currency="RWF",
            settled_payer_currency="RWF",
            payee_currency="RWF",
            payer_amount=Decimal("7140"),
            payee_amount=Decimal("7000"),
        ),
    )
    totals = {(t.operation, t.currency): t for t in history_totals.totals(services, FINANCE, HistoryFilter())}
    usd = totals[("PAYOUT", "USD")]
    assert (usd.count, usd.completed, usd.failed, usd.open) == (1002, 1000, 1, 1)
    assert usd.amount == Decimal("1234671.22") and isinstance(usd.amount, Decimal)
    assert usd.completed_amount == Decimal("100.00")
    assert usd.payee_amount == Decimal("100.00")
    assert usd.payer_amount == Decimal("610.00")  # completed only: 1000 × 0.61
    collection_usd = totals[("COLLECTION", "USD")]
    assert (collection_usd.amount, collection_usd.payee_amount, collection_usd.payer_amount) == (
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal(0),
    )
    collection_lrd = totals[("COLLECTION", "LRD")]
    assert (collection_lrd.count, collection_lrd.payer_amount) == (0, Decimal("19617.50"))
    rwf = totals[("PAYOUT", "RWF")]
    assert (rwf.completed_amount, rwf.payer_amount) == (Decimal("7000"), Decimal("7140"))
    # a filter applies to the totals exactly as to the rows
    failed = history_totals.totals(services, FINANCE, HistoryFilter(outcomes=(Outcome.FAILED,)))
    assert [(t.operation, t.currency, t.count, t.amount) for t in failed] == [
        ("PAYOUT", "USD", 1, Decimal("1234567.89"))
    ]


def test_paging_is_newest_first_without_gaps_or_repeats(engine: Engine, services: Services) -> None:
    rows = add(engine, *(attempt(created_at=NOON + timedelta(minutes=i)) for i in range(23)))
    rows += add(engine, *(attempt() for _ in range(4)))  # five at NOON in all: the newer id comes first
    newest_first = [*reversed(rows[1:23]), *reversed(rows[23:]), rows[0]]
    first, second, third = (history.page(services, FINANCE, HistoryFilter(), n, 10) for n in (1, 2, 3))
    assert (first.total, first.pages, len(first.rows), len(second.rows), len(third.rows)) == (
        27,
        3,
        10,
        10,
        7,
    )
    seen = [r.reference_id for p in (first, second, third) for r in p.rows]
    assert len(set(seen)) == 27
    assert seen == [r["reference_id"] for r in newest_first]
    assert (third.first, third.last) == (21, 27)
    assert history.page(services, FINANCE, HistoryFilter(), 99, 10).page == 3  # past the end: the last page
    assert history.page(services, FINANCE, HistoryFilter(), 0, 10).page == 1
    empty = history.page(services, FINANCE, HistoryFilter(text="nobody"), 1, 10)
    assert (empty.total, empty.rows, empty.pages, empty.first) == (0, [], 1, 0)


def test_daily_and_breakdowns(engine: Engine, services: Services) -> None:
    monday, tuesday = NOON, NOON + timedelta(days=1)
    add(
        engine,
        attempt(created_at=monday, amount="5.00"),
        attempt(created_at=monday.replace(hour=23, minute=59), amount="7.00"),
        attempt(created_at=monday, state="FAILED", method="ORANGE_MONEY_LBR"),
        attempt(created_at=tuesday.replace(hour=0, minute=1), amount="1.25", currency="LRD"),
        attempt(created_at=tuesday, state="ACCEPTED"),
    )
    days = {
        (d.day, d.currency, d.outcome): (d.count, d.amount)
        for d in history_totals.daily(services, FINANCE, HistoryFilter())
    }
    assert days == {
        (monday.date(), "USD", Outcome.COMPLETED): (2, Decimal("12.00")),
        (monday.date(), "USD", Outcome.FAILED): (1, Decimal("10.00")),
        (tuesday.date(), "LRD", Outcome.COMPLETED): (1, Decimal("1.25")),
        (tuesday.date(), "USD", Outcome.PROCESSING): (1, Decimal("10.00")),
    }
    by_method = {r.key: r for r in history_totals.breakdown(services, FINANCE, HistoryFilter(), "method")}
    assert (by_method["MTN_MOMO_LBR"].count, by_method["MTN_MOMO_LBR"].open) == (4, 1)
    assert by_method["MTN_MOMO_LBR"].success_rate == Decimal(1)
    assert by_method["ORANGE_MONEY_LBR"].success_rate == Decimal(0)
    by_outcome = {
        r.key: r.count for r in history_totals.breakdown(services, FINANCE, HistoryFilter(), "outcome")
    }
    assert by_outcome == {"Completed": 3, "Failed": 1, "Processing": 1}
    with pytest.raises(ValueError):
        history_totals.breakdown(services, FINANCE, HistoryFilter(), "phone")  # type: ignore[arg-type]


def test_every_figure_in_one_pass_is_each_figure_asked_alone(engine: Engine, services: Services) -> None:
    """History's page asks for its totals, days and breakdowns at once (one GROUP BY); they are
    the figures the functions that ask for one of them give, for any filter."""
    add(
        engine,
        attempt(amount="5.00"),
        attempt(created_at=NOON + timedelta(days=1), state="FAILED", method="ORANGE_MONEY_LBR"),
        attempt(state="ACCEPTED", operation_type="COLLECTION", source_type="INVOICE", source_number="INV-1"),
        attempt(state="REFUSED", method=None, created_at=NOON - timedelta(days=2)),
        attempt(
            operation_type="COLLECTION",
            amount="20.00",
            payer_currency="LRD",
            settled_payer_currency="LRD",
            payer_amount=Decimal("3900.00"),
        ),
        attempt(currency="RWF", amount="7000", method="MTN_MOMO_RWA", payee_currency="RWF"),
        attempt(state="ABANDONED", party_name="Fatu Johnson"),
    )
    for flt in (
        HistoryFilter(),
        HistoryFilter(currencies=("USD",), operations=("PAYOUT",)),
        HistoryFilter(outcomes=(Outcome.FAILED, Outcome.REFUSED)),
        HistoryFilter(since=NOON.date(), until=NOON.date(), time_zone="Africa/Kigali"),
        HistoryFilter(text="nobody"),
    ):
        together = history_totals.figures(services, FINANCE, flt)
        assert together.totals == history_totals.totals(services, FINANCE, flt)
        assert together.daily == history_totals.daily(services, FINANCE, flt)
        assert together.by_method == history_totals.breakdown(services, FINANCE, flt, "method")
        assert together.by_outcome == history_totals.breakdown(services, FINANCE, flt, "outcome")
    assert history_totals.figures(services, FINANCE, HistoryFilter()).by_method[0].count == 4


def test_export_streams_exactly_the_filtered_rows(engine: Engine, services: Services) -> None:
    add(
        engine, *(attempt(created_at=NOON + timedelta(seconds=i % 5), amount=f"{i}.50") for i in range(1, 40))
    )
    add(
        engine,
        attempt(party_name='=HYPERLINK("http://evil")', state="FAILED", amount="2.00"),
        attempt(
            currency="RWF",
            amount="1400",
            payer_currency="RWF",
            settled_payer_currency="RWF",
            payee_currency="RWF",
            payer_amount=Decimal("1428"),
            payee_amount=Decimal("1400"),
        ),
    )
    flt = HistoryFilter(currencies=("USD",))
    chunks = list(history_export.export_csv(services, FINANCE, flt, chunk_rows=7))
    assert len(chunks) > 3, "streamed in chunks, not built at once"
    assert chunks[0].startswith(spreadsheet.BYTE_ORDER_MARK)  # Excel reads accented names right
    exported = list(csv.DictReader(io.StringIO("".join(chunks).removeprefix(spreadsheet.BYTE_ORDER_MARK))))
    shown = history.page(services, FINANCE, flt, 1, 1000).rows
    assert [r["Payment reference"] for r in exported] == [r.reference_id for r in shown]
    assert len(exported) == 40
    assert tuple(exported[0]) == history_export.EXPORT_HEADER
    evil = next(r for r in exported if r["Outcome"] == "Failed")
    assert evil["Name"].startswith("'=")  # never a formula in a spreadsheet
    assert evil["Reason"].startswith("the payer declined")
    assert {r["Amount"] for r in exported} >= {"1.50", "39.50", "2.00"}
    assert all(r["Currency"] == "USD" for r in exported)
    assert list(history_export.export_csv(services, FINANCE, HistoryFilter(text="nobody"))) == [
        chunks[0]
    ]  # header only


def test_the_workbook_export_holds_the_same_rows_as_the_csv(engine: Engine, services: Services) -> None:
    add(engine, *(attempt(amount=f"{i}.50") for i in range(1, 12)))
    add(engine, attempt(party_name='=HYPERLINK("http://evil")', state="FAILED", amount="2.00"))
    flt = HistoryFilter(currencies=("USD",))
    text = "".join(history_export.export_csv(services, FINANCE, flt, chunk_rows=5)).removeprefix(
        spreadsheet.BYTE_ORDER_MARK
    )
    from_csv = [list(r.values()) for r in csv.DictReader(io.StringIO(text))]
    sheet = openpyxl.load_workbook(
        io.BytesIO(history_export.export_xlsx(services, FINANCE, flt, chunk_rows=5))
    ).worksheets[0]
    [heading, *rows] = [[c.value or "" for c in row] for row in sheet.iter_rows()]
    assert tuple(heading) == history_export.EXPORT_HEADER
    evil = next(r for r in rows if r[heading.index("Outcome")] == "Failed")
    assert evil[heading.index("Name")] == '=HYPERLINK("http://evil")'  # text in a workbook, no apostrophe
    assert [[c.removeprefix("'") for c in r] for r in from_csv] == rows


def test_operators_lists_who_started_payments(engine: Engine, services: Services) -> None:
    assert history.operators(services, FINANCE) == []
    add(
        engine,
        attempt(),
        attempt(operator="fred@example.com"),
        attempt(operator="fred@example.com"),
        attempt(operator=""),  # started by no one named: not a choice
        attempt(operator="Zoe@example.com"),
        attempt(operator="zoe@example.com"),
    )
    assert history.operators(services, FINANCE) == [
        "Zoe@example.com",
        "fred@example.com",
        "olivia@example.com",
        "zoe@example.com",
    ]


def test_figures_are_remembered_per_filter_until_the_ledger_changes(engine: Engine) -> None:
    """An idle History rerun reuses counts and totals; a new payment or state change recomputes."""
    from dollr_core.reports import figures_cache, history_totals

    add(engine, attempt(amount="5.00"), attempt(amount="7.00", state="FAILED"))
    computed: list[HistoryFilter] = []

    def totals(flt: HistoryFilter) -> list[history_totals.CurrencyTotal]:
        def compute() -> list[history_totals.CurrencyTotal]:
            computed.append(flt)
            return history_totals.query_totals(engine, flt)

        return figures_cache.remembered(engine, "totals", flt, compute)

    everything, failed = HistoryFilter(), HistoryFilter(outcomes=(Outcome.FAILED,))
    first = totals(everything)
    assert totals(everything) == first and computed == [everything]  # the rerun asked nothing
    totals(failed)
    assert computed == [everything, failed]  # another filter is another question
    add(engine, attempt(amount="1.00"))  # a new payment moves the ledger's marker
    assert sum(t.count for t in totals(everything)) == 3
    assert computed == [everything, failed, everything]
