"""What a batch will cost before it runs, and where every row stands while and after it runs.
Reads the ledger only (never Dollr), so pages may poll it freely."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor, Permission, require_any
from dollr_core.basics.money import quantize
from dollr_core.bulk.records import all_rows, get_batch
from dollr_core.bulk.row_outcomes import finish_if_done, sync_rows
from dollr_core.bulk.states import FINAL_ROWS, IN_FLIGHT_ROWS, ROW_STATUS
from dollr_core.ledger.tables import (
    Batch,
    BatchRow,
    BatchRowState,
)
from dollr_core.reports import dashboard, statements
from dollr_core.services import Services


@dataclass(frozen=True)
class CurrencyTotal:
    """What one currency of the batch costs, against what the wallet is believed to hold."""

    currency: str
    rows: int
    amount: Decimal  # what the recipients receive
    fees: Decimal
    debit: Decimal  # what leaves our wallet: amount + fees
    estimated_balance: Decimal  # from this console's own records (Dollr has no balance endpoint)
    sandbox_balance: Decimal | None = None  # the sandbox's true balance, in sandbox mode
    books_balance: Decimal | None = None  # from the books, once finance entered a starting balance

    @property
    def short_by(self) -> Decimal | None:
        """Short against a balance that is known (the books); the estimate alone is no evidence."""
        if self.books_balance is None or self.debit <= self.books_balance:
            return None
        return self.debit - self.books_balance

    @property
    def sandbox_short_by(self) -> Decimal | None:
        if self.sandbox_balance is None or self.debit <= self.sandbox_balance:
            return None
        return self.debit - self.sandbox_balance


@dataclass(frozen=True)
class Preview:
    batch: Batch
    rows: list[BatchRow]  # the rows that will be paid
    totals: list[CurrencyTotal]
    needs_fixing: int
    left_out: int


def preview(svc: Services, actor: Actor, batch_id: int) -> Preview:
    """Per-row fees, totals per currency and the balances they draw from. Reads the ledger only."""
    batch = get_batch(svc, actor, batch_id)
    rows = all_rows(svc.engine, batch_id)
    to_pay = [r for r in rows if r.state in (BatchRowState.VALID, BatchRowState.QUEUED)]
    balances = {b.currency: b.estimate for b in dashboard.balance_estimates(svc.engine)}
    sandbox = dashboard.sandbox_balances(svc)
    totals = []
    for currency in sorted({r.currency for r in to_pay}):
        mine = [r for r in to_pay if r.currency == currency]
        zero = Decimal(0)
        totals.append(
            CurrencyTotal(
                currency=currency,
                rows=len(mine),
                amount=sum((r.amount or zero for r in mine), zero),
                fees=sum((r.predicted_fees or zero for r in mine), zero),
                debit=sum((r.predicted_debit or r.amount or zero for r in mine), zero),
                estimated_balance=balances.get(currency, zero),
                sandbox_balance=None if sandbox is None else sandbox.get(currency, zero),
                books_balance=statements.balance_now(svc.engine, currency),
            )
        )
    return Preview(
        batch=batch,
        rows=to_pay,
        totals=totals,
        needs_fixing=sum(r.state == BatchRowState.INVALID for r in rows),
        left_out=sum(r.state == BatchRowState.EXCLUDED for r in rows),
    )


@dataclass(frozen=True)
class Progress:
    batch: Batch
    rows: list[BatchRow]  # every row that was (or is to be) sent
    counts: dict[BatchRowState, int]
    received: dict[str, Decimal]  # what the paid recipients received, per currency

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in FINAL_ROWS)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def in_flight(self) -> int:
        """Rows waiting to be sent or on their way: the batch's outcome is not final yet."""
        return sum(self.counts.get(s, 0) for s in IN_FLIGHT_ROWS)

    @property
    def failed(self) -> int:
        return self.counts.get(BatchRowState.FAILED, 0)


def progress(svc: Services, actor: Actor, batch_id: int) -> Progress:
    """Where every row stands. Reads the ledger only (never Dollr), so pages may poll it freely."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    sync_rows(svc.engine, batch_id)
    finish_if_done(svc.engine, batch_id)
    batch = get_batch(svc, actor, batch_id)
    rows = [
        r
        for r in all_rows(svc.engine, batch_id)
        if r.state not in (BatchRowState.VALID, BatchRowState.INVALID, BatchRowState.EXCLUDED)
    ]
    counts: dict[BatchRowState, int] = {}
    received: dict[str, Decimal] = {}
    for row in rows:
        state = BatchRowState(row.state)
        counts[state] = counts.get(state, 0) + 1
        if state is BatchRowState.PAID:
            received[row.currency] = received.get(row.currency, Decimal(0)) + (
                row.payee_amount or row.amount or 0
            )
    return Progress(batch=batch, rows=rows, counts=counts, received=received)


def row_fees(row: BatchRow) -> Decimal | None:
    """The fees Dollr charged on a paid row (what left the wallet minus what the recipient got)."""
    if row.payer_amount is None or row.payee_amount is None:
        return None
    return row.payer_amount - row.payee_amount


RESULT_COLUMNS = (
    "row", "name", "phone", "amount", "currency", "note", "reference", "status",
    "fees", "debited", "received", "dollr_reference_id", "failure_reason",
)  # fmt: skip


def results_csv(svc: Services, actor: Actor, batch_id: int) -> str:
    """Every row with its final status, Dollr reference, fees and failure reason, as CSV."""
    return spreadsheet.document(RESULT_COLUMNS, _result_lines(svc, actor, batch_id))


def results_xlsx(svc: Services, actor: Actor, batch_id: int) -> bytes:
    """The results as an Excel workbook."""
    return spreadsheet.workbook(RESULT_COLUMNS, _result_lines(svc, actor, batch_id), sheet="Results")


def _result_lines(svc: Services, actor: Actor, batch_id: int) -> list[list[object]]:
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    sync_rows(svc.engine, batch_id)
    return [
        [
            row.row_number,
            row.name,
            row.phone,
            _text(row.amount, row.currency) if row.amount is not None else row.amount_text,
            row.currency,
            row.note,
            row.own_reference,
            ROW_STATUS[BatchRowState(row.state)],
            _text(row_fees(row), row.currency),
            _text(row.payer_amount, row.currency),
            _text(row.payee_amount, row.currency),
            row.reference_id,
            row.failure_reason or row.problems,
        ]
        for row in all_rows(svc.engine, batch_id)
    ]


def _text(amount: Decimal | None, currency: str) -> str:
    """The amount to the currency's minor units, without thousands separators (for spreadsheets)."""
    if amount is None:
        return ""
    try:
        return str(quantize(amount, currency))
    except ValueError:
        return str(amount)
