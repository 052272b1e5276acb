"""Payment history from the ledger: the filter, the rows and their pages, all computed in SQL.

Every query takes a `HistoryFilter` and turns it into one WHERE clause (`filtered`), so the rows on
screen, the totals above them (`history_totals`), the charts and the download (`history_export`)
always describe the same payments. Nothing loads every row: pages use LIMIT/OFFSET on the ids.

The report functions take the services and the acting person and check `VIEW_HISTORY`; the
`query_*` functions do not, for reports that check their own permission (a person's own payments,
receipts, the home page) and for the server's command line.

Days are UTC days, and a payment belongs to the day it was started (`Attempt.created_at`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select
from sqlmodel import col

from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.validation import printable
from dollr_core.explain import failure_reason
from dollr_core.ledger.tables import Attempt, AttemptState
from dollr_core.services import Services

__all__ = [
    "FAILED_OUTCOMES",
    "OPEN_OUTCOMES",
    "OPERATION_NAMES",
    "HistoryFilter",
    "HistoryPage",
    "HistoryRow",
    "Outcome",
    "count",
    "operation_name",
    "operators",
    "outcome_of",
    "page",
    "query_count",
    "query_newest",
    "query_page",
]

ZERO = Decimal(0)

#: Operations as people call them.
OPERATION_NAMES: dict[str, str] = {
    "COLLECTION": "Collection (money in)",
    "PAYOUT": "Payout (money out)",
    "TRANSFER": "Transfer",
    "REFUND": "Refund",
}


def operation_name(operation: str) -> str:
    return OPERATION_NAMES.get(operation, operation.title())


class Outcome(StrEnum):
    """Where a payment stands, in the words the console uses (one per ledger state)."""

    COMPLETED = "Completed"
    FAILED = "Failed"
    REFUSED = "Refused by Dollr"
    PROCESSING = "Processing"
    CHECKING = "Being checked with Dollr"
    SENDING = "Being sent"
    NOT_SENT = "Never reached Dollr"


_OUTCOME_OF_STATE: dict[AttemptState, Outcome] = {
    AttemptState.COMPLETED: Outcome.COMPLETED,
    AttemptState.FAILED: Outcome.FAILED,
    AttemptState.REFUSED: Outcome.REFUSED,
    AttemptState.ACCEPTED: Outcome.PROCESSING,
    AttemptState.UNKNOWN: Outcome.CHECKING,
    AttemptState.PREPARING: Outcome.SENDING,
    AttemptState.SENDING: Outcome.SENDING,
    AttemptState.ABANDONED: Outcome.NOT_SENT,
}

#: Payments whose outcome is not known yet.
OPEN_OUTCOMES = (Outcome.PROCESSING, Outcome.CHECKING, Outcome.SENDING)
#: Payments that ended without money moving (ABANDONED ones never reached Dollr and are left out).
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.REFUSED)


def outcome_of(local_state: str) -> Outcome:
    try:
        return _OUTCOME_OF_STATE[AttemptState(local_state)]
    except ValueError:
        return Outcome.CHECKING  # a state this code does not know yet is not final


def states_of(outcomes: Sequence[Outcome]) -> list[str]:
    wanted = set(outcomes)
    return [state.value for state, outcome in _OUTCOME_OF_STATE.items() if outcome in wanted]


@dataclass(frozen=True)
class HistoryFilter:
    """What the person asked to see. Empty tuples mean "any"; `until` is inclusive."""

    since: date | None = None
    until: date | None = None
    operations: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    methods: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    #: Part of a name, phone number, payment reference, document number or operator's transaction
    #: id, or an amount ("250", "USD 1,000.50").
    text: str = ""
    #: Whose days `since` and `until` are: the company's time zone (`Settings.time_zone`).
    time_zone: str = "UTC"

    def starts(self, day: date) -> datetime:
        """The UTC moment the company's `day` begins."""
        return datetime.combine(day, time(), ZoneInfo(self.time_zone)).astimezone(UTC)


A = Attempt
PAYER_CURRENCY = func.coalesce(col(A.settled_payer_currency), col(A.payer_currency), col(A.currency))
PAYEE_CURRENCY = func.coalesce(col(A.payee_currency), col(A.currency))


def _like(text: str) -> str:
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _contains(column: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match. SQLite's LIKE already ignores case (ASCII, as its lower()
    does), and without lower() it is twice as fast; elsewhere ILIKE."""
    if dialect == "sqlite":
        return cast("ColumnElement[bool]", column.like(pattern, escape="/"))
    return cast("ColumnElement[bool]", column.ilike(pattern, escape="/"))


def _conditions(flt: HistoryFilter, dialect: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if flt.since is not None:
        where.append(col(A.created_at) >= flt.starts(flt.since))
    if flt.until is not None:
        where.append(col(A.created_at) < flt.starts(flt.until + timedelta(days=1)))
    if flt.operations:
        where.append(col(A.operation_type).in_(flt.operations))
    if flt.outcomes:
        where.append(col(A.local_state).in_(states_of(flt.outcomes)))
    if flt.methods:
        where.append(col(A.method).in_(flt.methods))
    if flt.currencies:
        where.append(col(A.currency).in_(flt.currencies))
    if flt.operators:
        where.append(col(A.operator).in_(flt.operators))
    text = " ".join(printable(flt.text).split()).lower()  # a NUL would make PostgreSQL fail
    if text:
        pattern = _like(text)
        matches = [
            _contains(col(column), pattern, dialect)
            for column in (A.party_name, A.reference_id, A.source_number, A.provider_transaction_id)
        ]
        digits = re.sub(r"[\s\-().+]", "", text)
        if digits.isdigit():
            matches.append(col(A.phone).like(_like(digits), escape="/"))
        amount = amount_in(text)
        if amount is not None:
            matches.append(col(A.amount) == amount)
        where.append(or_(*matches))
    return where


_AMOUNT = re.compile(r"^(?:[a-z]{3}\s*)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,4})?(?:\s*[a-z]{3})?$")


def amount_in(text: str) -> Decimal | None:
    """The amount a search text stands for ("250", "USD 1,000.50", "25.5 usd"), else None."""
    found = _AMOUNT.match(text.strip().lower())
    if found is None:
        return None
    value = Decimal(found.group(1).replace(",", "") + (found.group(2) or ""))
    return value if 0 < value < Decimal(10) ** 12 else None


def filtered(query: Any, flt: HistoryFilter, engine: Engine) -> Any:
    conditions = _conditions(flt, engine.dialect.name)
    return query.where(and_(*conditions)) if conditions else query


# --------------------------------------------------------------------------- rows and pages


@dataclass(frozen=True)
class HistoryRow:
    """One payment attempt as the history shows it."""

    id: int
    created_at: datetime
    reference_id: str
    operation: str
    outcome: Outcome
    remote_status: str | None
    local_state: str
    party_name: str
    phone: str
    method: str | None
    amount: Decimal | None
    currency: str
    #: What the payer paid and the payee received: set for completed payments only.
    payer_amount: Decimal | None
    payer_currency: str | None
    payee_amount: Decimal | None
    payee_currency: str | None
    source_type: str | None
    document_number: str | None
    provider_transaction_id: str | None
    operator: str
    final_at: datetime | None
    #: Why it failed, in plain words ("" unless it failed or was refused).
    reason: str

    @property
    def has_receipt(self) -> bool:
        """Receipts exist for documents paid by a completed collection."""
        return self.outcome is Outcome.COMPLETED and bool(self.document_number)


ROW_COLUMNS = (
    col(A.id),
    col(A.created_at),
    col(A.reference_id),
    col(A.operation_type),
    col(A.remote_status),
    col(A.local_state),
    col(A.party_name),
    col(A.phone),
    col(A.method),
    col(A.amount),
    col(A.currency),
    col(A.payer_amount),
    PAYER_CURRENCY.label("payer_cur"),
    col(A.payee_amount),
    PAYEE_CURRENCY.label("payee_cur"),
    col(A.source_type),
    col(A.source_number),
    col(A.provider_transaction_id),
    col(A.operator),
    col(A.final_at),
    col(A.gateway_message),
    col(A.wallet_message),
    col(A.last_error),
)

#: Newest first; `id` breaks ties so paging and export never skip or repeat a row.
NEWEST_FIRST = (col(A.created_at).desc(), col(A.id).desc())


@lru_cache(maxsize=2048)  # the same few gateway messages repeat across thousands of rows
def _reason(outcome: Outcome, gateway: str | None, wallet: str | None, error: str | None) -> str:
    if outcome is Outcome.FAILED:
        if error in (gateway, wallet):
            error = None  # the same words are often stored as the error too: say them once
        return failure_reason(
            Attempt(
                reference_id="",
                intent_id=0,
                operation_type="",
                gateway_message=gateway,
                wallet_message=wallet,
                last_error=error,
            )
        )
    if outcome is Outcome.REFUSED:
        return error or "Dollr gave no reason"
    if outcome is Outcome.NOT_SENT:
        return "The payment session expired before the payment reached Dollr; nothing was charged."
    return ""


def row_from(r: Any) -> HistoryRow:
    outcome = outcome_of(r.local_state)
    # Dollr states amounts for failed and pending executions too; only money that moved is shown.
    moved = outcome is Outcome.COMPLETED and r.payer_amount is not None
    return HistoryRow(
        id=r.id,
        created_at=r.created_at,
        reference_id=r.reference_id,
        operation=r.operation_type,
        outcome=outcome,
        remote_status=r.remote_status,
        local_state=r.local_state,
        party_name=r.party_name,
        phone=r.phone,
        method=r.method,
        amount=r.amount,
        currency=r.currency,
        payer_amount=r.payer_amount if moved else None,
        payer_currency=r.payer_cur if moved else None,
        payee_amount=r.payee_amount if moved else None,
        payee_currency=r.payee_cur if moved else None,
        source_type=r.source_type,
        document_number=r.source_number,
        provider_transaction_id=r.provider_transaction_id,
        operator=r.operator,
        final_at=r.final_at,
        reason=_reason(outcome, r.gateway_message, r.wallet_message, r.last_error),
    )


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    total: int  # rows matching the filter, across all pages
    page: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def query_count(engine: Engine, flt: HistoryFilter) -> int:
    """How many payments match (no permission check: for reports that check their own)."""
    with engine.connect() as conn:
        return int(conn.execute(filtered(select(func.count()).select_from(A), flt, engine)).scalar_one())


def query_page(
    engine: Engine, flt: HistoryFilter, page: int = 1, size: int = 50, *, total: int | None = None
) -> HistoryPage:
    """One page of matching payments, newest first, and how many match in all (no permission
    check: for reports that check their own, such as a person's own payments or receipts).

    Pass `total` when it is already known (e.g. from the totals) to save a COUNT query.
    """
    size = max(1, min(int(size), 1000))
    total = query_count(engine, flt) if total is None else total
    last_page = max(1, -(-total // size))
    number = max(1, min(int(page), last_page))
    rows = _newest_rows(engine, flt, size, (number - 1) * size)
    return HistoryPage(rows=rows, total=total, page=number, size=size)


def query_newest(engine: Engine, flt: HistoryFilter, limit: int = 20) -> list[HistoryRow]:
    """The newest `limit` matching payments (no count, no permission check: for a quick list)."""
    return _newest_rows(engine, flt, limit, 0)


def _newest_rows(engine: Engine, flt: HistoryFilter, limit: int, offset: int) -> list[HistoryRow]:
    """Rows `offset`..`offset + limit` of the matches, newest first.

    The page's ids are picked first, from the indexes alone where the filter allows (state, type,
    day), and only those rows are read: sorting every match's full row to keep ten cost 50 ms
    on 100,000 payments (the Dashboard's failures), the ids alone 1 ms."""
    ids = filtered(select(col(A.id)), flt, engine).order_by(*NEWEST_FIRST).limit(limit).offset(offset)
    picked = ids.subquery("picked")
    query = select(*ROW_COLUMNS).join(picked, col(A.id) == picked.c.id).order_by(*NEWEST_FIRST)
    with engine.connect() as conn:
        return [row_from(r) for r in conn.execute(query)]


def count(svc: Services, actor: Actor, flt: HistoryFilter) -> int:
    """How many payments match, for someone who may browse the history."""
    require(actor, Permission.VIEW_HISTORY)
    return query_count(svc.engine, flt)


def page(
    svc: Services,
    actor: Actor,
    flt: HistoryFilter,
    page: int = 1,
    size: int = 50,
    *,
    total: int | None = None,
) -> HistoryPage:
    """One page of the history, newest first, for someone who may browse it (see `query_page`)."""
    require(actor, Permission.VIEW_HISTORY)
    return query_page(svc.engine, flt, page, size, total=total)


def operators(svc: Services, actor: Actor) -> list[str]:
    """Everyone who started a payment recorded in the ledger (for the operator filter).

    Read by hopping along the operator index from one name to the next (a recursive query, one
    index probe per person): DISTINCT read all of the index, 100,000 entries for a few names."""
    require(actor, Permission.VIEW_HISTORY)
    operator = col(A.operator)
    first = select(func.min(operator).label("name")).where(operator > "")
    found = first.cte("found", recursive=True)
    following = select(func.min(operator)).where(operator > found.c.name).scalar_subquery()
    found = found.union_all(select(following).where(found.c.name.is_not(None)))
    with svc.engine.connect() as conn:
        names = conn.execute(select(found.c.name).where(found.c.name.is_not(None))).scalars()
        return sorted(str(o) for o in names)
