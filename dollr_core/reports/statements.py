"""Statements: per currency and period, what came in, what went out, every fee, and the balances.

A statement starts from the opening balance finance entered once per currency (`OpeningBalance`,
audited) and adds every completed payment since, so its closing balance is always its opening
balance plus its lines. Days, weeks and months are the company's (setting `DOLLR_TIME_ZONE`).

Each completed payment is one line, traceable by its payment reference, in the wallet currency it
moved:

* a collection credits what we received (`payee_amount`); when we bore the fees (PAYEE), the
  line shows what the customer paid us before them and each fee taken off;
* a payout, transfer or refund debits what left the wallet (`payer_amount`, fees included); the
  line shows what reached the other side and each fee on top.

Fee kinds come from the receipt when the ledger has one (`PaymentDetail`), else from the quote the
person confirmed; whatever the kinds do not explain is shown as the gateway fee, so the line always
adds up to the money that moved.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy import Engine, and_, func, or_
from sqlmodel import Session, col, select

from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import OperationType
from dollr_core.basics.money import amount_text, check_currency, money_text, parse_amount, to_decimal
from dollr_core.errors import InputRefused
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import Attempt, AttemptState, OpeningBalance, PaymentDetail
from dollr_core.reports.receipts import set_up_fonts
from dollr_core.services import Services

ZERO = Decimal(0)
#: Operations that take money out of our wallet, in the order a statement lists their totals.
MONEY_OUT = (OperationType.PAYOUT, OperationType.TRANSFER, OperationType.REFUND)


class StatementError(InputRefused):
    """The statement cannot be made as asked; the message says why in one sentence."""


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """Days `first` to `last` (inclusive) in the company's time zone."""

    first: date
    last: date
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise StatementError(f"The period ends ({self.last}) before it starts ({self.first}).")

    @property
    def start(self) -> datetime:
        return day_start(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return day_start(self.last + timedelta(days=1), self.zone)

    @property
    def label(self) -> str:
        return (
            f"{self.first:%d %b %Y}"
            if self.first == self.last
            else f"{self.first:%d %b %Y} – {self.last:%d %b %Y}"
        )

    @classmethod
    def day(cls, day: date, zone: str = "UTC") -> Period:
        return cls(day, day, zone)

    @classmethod
    def week(cls, day: date, zone: str = "UTC") -> Period:
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=6), zone)

    @classmethod
    def month(cls, text: str, zone: str = "UTC") -> Period:
        """From "2026-11"."""
        try:
            year, month = (int(part) for part in text.strip().split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise StatementError(f"The month must look like 2026-11 (got {text!r}).") from None
        return cls(first, date(year, month, calendar.monthrange(year, month)[1]), zone)


def day_start(day: date, zone: str) -> datetime:
    """Midnight of the day in the zone, as UTC."""
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


# --------------------------------------------------------------------------- opening balances


def opening_balance(engine: Engine, currency: str) -> OpeningBalance | None:
    with Session(engine) as db:
        return db.exec(select(OpeningBalance).where(OpeningBalance.currency == currency)).first()


def opening_balances(engine: Engine) -> list[OpeningBalance]:
    with Session(engine) as db:
        return list(db.exec(select(OpeningBalance).order_by(col(OpeningBalance.currency))).all())


def enter_opening_balance(
    svc: Services, actor: Actor, *, currency: str, amount: str | Decimal, as_of: date
) -> OpeningBalance:
    """The wallet's balance at the start of `as_of` (company time): entered once per currency."""
    require(actor, Permission.KEEP_BOOKS)
    check_currency(currency)
    try:
        value = Decimal(0) if to_decimal(amount) == 0 else parse_amount(amount, currency)
    except ValueError:
        value = parse_amount(amount, currency)  # its sentence says what is wrong with the amount
    existing = opening_balance(svc.engine, currency)
    if existing is not None:
        raise StatementError(
            f"The {currency} opening balance was already entered by {existing.entered_by}"
            f" on {existing.entered_at:%d %b %Y}; it is entered only once."
        )
    row = OpeningBalance(
        currency=currency,
        amount=value,
        as_of=day_start(as_of, svc.settings.time_zone),
        entered_by=actor.email,
    )
    with Session(svc.engine) as db:
        db.add(row)
        db.commit()
        db.refresh(row)
    audit.record(
        svc.engine,
        actor.email,
        "opening_balance_entered",
        target=currency,
        detail=f"{currency} {value} at the start of {as_of}",
    )
    return row


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class StatementLine:
    """One completed payment as it moved our wallet's money."""

    at: datetime
    reference_id: str
    operation: str
    party_name: str
    document_number: str | None
    #: What the customer paid us (collections) or what reached the other side (money out).
    amount: Decimal
    platform_fee: Decimal
    gateway_fee: Decimal
    fx_fee: Decimal
    #: The change to our balance: + for money in, − for money out (fees included).
    net: Decimal

    @property
    def fees(self) -> Decimal:
        return self.platform_fee + self.gateway_fee + self.fx_fee


def _moment() -> object:
    return func.coalesce(col(Attempt.final_at), col(Attempt.created_at))


def _in_currency(currency: str) -> object:
    """Collections credit the payee currency; money out debits the payer currency."""
    credited = func.coalesce(col(Attempt.payee_currency), col(Attempt.currency))
    debited = func.coalesce(
        col(Attempt.settled_payer_currency), col(Attempt.payer_currency), col(Attempt.currency)
    )
    return or_(
        and_(col(Attempt.operation_type) == OperationType.COLLECTION.value, credited == currency),
        and_(col(Attempt.operation_type) != OperationType.COLLECTION.value, debited == currency),
    )


def lines(engine: Engine, currency: str, start: datetime, end: datetime) -> list[StatementLine]:
    """Every completed payment that moved `currency` in [start, end), oldest first."""
    moment = _moment()
    with Session(engine) as db:
        rows = db.exec(
            select(Attempt, PaymentDetail)
            .join(PaymentDetail, col(PaymentDetail.intent_id) == col(Attempt.intent_id), isouter=True)
            .where(
                Attempt.local_state == AttemptState.COMPLETED,
                _in_currency(currency),  # type: ignore[arg-type]
                moment >= start,  # type: ignore[operator]
                moment < end,  # type: ignore[operator]
            )
            .order_by(moment, col(Attempt.id))  # type: ignore[arg-type]
        ).all()
    return [movement(attempt, detail) for attempt, detail in rows]


def movement(attempt: Attempt, detail: PaymentDetail | None) -> StatementLine:
    """How one completed payment moved our wallet: amount, each fee, and the change to the balance."""
    kinds = (
        (detail.platform_fee, detail.gateway_fee, detail.fx_fee)
        if detail is not None and detail.platform_fee is not None
        else (attempt.predicted_platform_fee, attempt.predicted_gateway_fee, attempt.predicted_fx_fee)
    )
    if attempt.op is OperationType.COLLECTION:
        net = attempt.payee_amount if attempt.payee_amount is not None else attempt.amount or ZERO
        same_currency = (attempt.payee_currency or attempt.currency) == attempt.currency
        billed = attempt.amount if same_currency and attempt.amount is not None else net
        fees = max(billed - net, ZERO)  # PAYER bore the fees: nothing was taken off ours
        platform, gateway, fx = _split(fees, kinds)
        amount = net + fees
    else:
        debit = attempt.payer_amount if attempt.payer_amount is not None else attempt.amount or ZERO
        reached = attempt.payee_amount if attempt.payee_amount is not None else attempt.amount or debit
        same_currency = (attempt.payee_currency or attempt.currency) == (
            attempt.settled_payer_currency or attempt.payer_currency or attempt.currency
        )
        fees = max(debit - reached, ZERO) if same_currency else ZERO
        platform, gateway, fx = _split(fees, kinds)
        amount = debit - fees
        net = -debit
    return StatementLine(
        at=attempt.final_at or attempt.created_at,
        reference_id=attempt.reference_id,
        operation=attempt.operation_type,
        party_name=attempt.party_name,
        document_number=attempt.source_number,
        amount=amount,
        platform_fee=platform,
        gateway_fee=gateway,
        fx_fee=fx,
        net=net,
    )


def _split(
    total: Decimal, kinds: tuple[Decimal | None, Decimal | None, Decimal | None]
) -> tuple[Decimal, ...]:
    """The fee total by kind: platform and FX as recorded (never more than the total), the rest gateway."""
    platform = min(kinds[0] or ZERO, total)
    fx = min(kinds[2] or ZERO, total - platform)
    return platform, total - platform - fx, fx


# --------------------------------------------------------------------------- the statement


@dataclass(frozen=True)
class Statement:
    currency: str
    period: Period
    opening: Decimal
    opening_source: OpeningBalance
    lines: list[StatementLine]

    @property
    def money_in(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.operation == OperationType.COLLECTION), ZERO)

    def money_out(self, operation: OperationType) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.operation == operation), ZERO)

    @property
    def platform_fees(self) -> Decimal:
        return sum((ln.platform_fee for ln in self.lines), ZERO)

    @property
    def gateway_fees(self) -> Decimal:
        return sum((ln.gateway_fee for ln in self.lines), ZERO)

    @property
    def fx_fees(self) -> Decimal:
        return sum((ln.fx_fee for ln in self.lines), ZERO)

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((ln.net for ln in self.lines), ZERO)

    def summary(self) -> list[tuple[str, Decimal]]:
        """The figures in reading order; each is added (money in) or taken off (the rest)."""
        rows = [("Opening balance", self.opening), ("Money in: collections", self.money_in)]
        rows += [(f"Money out: {op.value.lower()}s", -self.money_out(op)) for op in MONEY_OUT]
        rows += [
            ("Fees: platform", -self.platform_fees),
            ("Fees: gateway", -self.gateway_fees),
            ("Fees: FX", -self.fx_fees),
            ("Closing balance", self.closing),
        ]
        return rows

    @property
    def opening_note(self) -> str:
        source = self.opening_source
        return (
            f"Starting balance {money_text(source.amount, self.currency)} entered by {source.entered_by}"
            f" on {source.entered_at:%d %b %Y}, as at {source.as_of:%d %b %Y %H:%M} UTC."
        )


def statement(svc: Services, actor: Actor, currency: str, period: Period) -> Statement:
    require(actor, Permission.VIEW_STATEMENTS)
    return build_statement(svc.engine, currency, period)


def build_statement(engine: Engine, currency: str, period: Period) -> Statement:
    check_currency(currency)
    source = opening_balance(engine, currency)
    if source is None:
        raise StatementError(
            f"No {currency} opening balance has been entered yet;"
            " finance enters it once on the Statements page."
        )
    if period.start < source.as_of:
        raise StatementError(
            f"The {currency} opening balance holds from {source.as_of:%d %b %Y};"
            " choose a period from then on."
        )
    before = lines(engine, currency, source.as_of, period.start)
    opening = source.amount + sum((ln.net for ln in before), ZERO)
    return Statement(currency, period, opening, source, lines(engine, currency, period.start, period.end))


def balance_now(engine: Engine, currency: str) -> Decimal | None:
    """The wallet's balance from the books: the starting balance plus every completed payment
    since; None until finance has entered the starting balance for the currency."""
    source = opening_balance(engine, currency)
    if source is None:
        return None
    moved = lines(engine, currency, source.as_of, utcnow() + timedelta(days=1))
    return source.amount + sum((ln.net for ln in moved), ZERO)


# --------------------------------------------------------------------------- CSV and PDF

STATEMENT_HEADER = (
    "Completed (UTC)",
    "Payment reference",
    "Type",
    "Name",
    "Document",
    "Amount",
    "Platform fee",
    "Gateway fee",
    "FX fee",
    "Balance change",
)


def statement_csv(st: Statement) -> str:
    """The summary, then every line; amounts exact in the currency's minor units."""
    cur = st.currency
    head = [[f"Statement {cur}", st.period.label], ["Opening balance note", st.opening_note or ""]]
    head += [[label, amount_text(value, cur)] for label, value in st.summary()]
    body = [
        [
            ln.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            ln.reference_id,
            ln.operation,
            ln.party_name or "",
            ln.document_number or "",
            amount_text(ln.amount, cur),
            amount_text(ln.platform_fee, cur),
            amount_text(ln.gateway_fee, cur),
            amount_text(ln.fx_fee, cur),
            amount_text(ln.net, cur),
        ]
        for ln in st.lines
    ]
    return spreadsheet.BYTE_ORDER_MARK + spreadsheet.lines([*head, [], list(STATEMENT_HEADER), *body])


def statement_pdf(st: Statement, *, compress: bool = True) -> bytes:
    cur = st.currency
    pdf = FPDF(format="A4", orientation="landscape")
    family, for_pdf = set_up_fonts(pdf)
    pdf.set_compression(compress)
    pdf.set_title(for_pdf(f"Statement {cur} {st.period.label}"))
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font(family, "B", 14)
    pdf.cell(pdf.epw, 8, for_pdf(f"Statement {cur} · {st.period.label}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    pdf.multi_cell(pdf.epw, 5, for_pdf(st.opening_note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    with pdf.table(col_widths=(60, 30), first_row_as_headings=False, width=120, align="LEFT") as table:
        for label, value in st.summary():
            row = table.row()
            row.cell(for_pdf(label))
            row.cell(for_pdf(money_text(value, cur)))
    pdf.ln(4)
    pdf.set_font(family, size=7)
    with pdf.table(col_widths=(26, 50, 18, 34, 24, 20, 16, 16, 14, 22)) as table:
        header = table.row()
        for title in STATEMENT_HEADER:
            header.cell(title)
        for ln in st.lines:
            row = table.row()
            for text in (
                ln.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                ln.reference_id,
                ln.operation,
                ln.party_name,
                ln.document_number or "",
                amount_text(ln.amount, cur),
                amount_text(ln.platform_fee, cur),
                amount_text(ln.gateway_fee, cur),
                amount_text(ln.fx_fee, cur),
                amount_text(ln.net, cur),
            ):
                row.cell(for_pdf(text))
    pdf.ln(3)
    pdf.set_font(family, "I", 8)
    pdf.cell(pdf.epw, 4, for_pdf(f"Printed {utcnow():%d %b %Y, %H:%M} UTC from the Dollr Ops Console."))
    return bytes(pdf.output())
