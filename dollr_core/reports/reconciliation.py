"""The reconciliation report: for a period, the ledger's payments against Dollr's own word.

`start_run` lists every payment of the period that reached Dollr (one `ReconciliationItem` each)
and, from Dollr's invoice and order lists, every document paid in the period; `continue_run` looks
each payment up afresh (ST1–ST4), a few per second, and records what differs. The items are kept,
so a run interrupted by a crash, a rate limit or a closed tab resumes where it stopped. `report`
lists every difference with what to do about it; a clean report says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError, NotFoundError, RateLimitError
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import ExecutionStatus, OperationType, SourceStatus, SourceType
from dollr_core.basics.money import money_text
from dollr_core.basics.words import payment_status
from dollr_core.errors import InputRefused, NotFound
from dollr_core.flows import documents
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    ReconciliationItem,
    ReconciliationRun,
)
from dollr_core.reports.history import outcome_of
from dollr_core.reports.statements import day_start
from dollr_core.services import Services

#: Lookups per second while checking (Dollr rate-limits; a report is never urgent).
LOOKUPS_PER_SECOND = 5.0


class Finding(StrEnum):
    MATCHES = "matches"
    STATUS_DIFFERS = "status differs"
    AMOUNT_DIFFERS = "amount differs"
    ONLY_AT_DOLLR = "known at Dollr, not here"
    ONLY_HERE = "here, unknown at Dollr"
    STILL_OPEN = "still open"


#: What to do about each difference, in plain words.
ADVICE: dict[Finding, str] = {
    Finding.STATUS_DIFFERS: "Open it on Payment status and check with Dollr: the reconciler will adopt "
    "Dollr's status if the payment is still open here; a final status that differs needs Dollr support.",
    Finding.AMOUNT_DIFFERS: "Compare the receipt with Dollr's portal; if Dollr's figure is right, raise it "
    "with Dollr support and correct the books with a note.",
    Finding.ONLY_AT_DOLLR: "Run the sync (python -m dollr_core sync --once) to bring it into the ledger,"
    " then run this report again.",
    Finding.ONLY_HERE: "Dollr has no payment with this reference: check that it was not sent to another "
    "Dollr account, then ask Dollr support.",
    Finding.STILL_OPEN: "Nothing to do yet: the reconciler follows it until it ends.",
}

#: Ledger states and the Dollr statuses that agree with them.
_AGREES: dict[str, tuple[str, ...]] = {
    AttemptState.COMPLETED: (ExecutionStatus.COMPLETED,),
    AttemptState.FAILED: (ExecutionStatus.FAILED,),
    AttemptState.ACCEPTED: (ExecutionStatus.PENDING, ExecutionStatus.PROCESSING, ExecutionStatus.COMPLETED),
    AttemptState.UNKNOWN: tuple(ExecutionStatus),
    AttemptState.SENDING: tuple(ExecutionStatus),
}


def _period(svc: Services, first: date, last: date) -> tuple[datetime, datetime]:
    zone = svc.settings.time_zone
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


def start_run(svc: Services, actor: Actor, first: date, last: date) -> ReconciliationRun:
    """A new run for the period, with one unchecked item per payment and per document paid."""
    require(actor, Permission.VIEW_STATEMENTS)
    if last < first:
        raise InputRefused(f"The period ends ({last}) before it starts ({first}).")
    start, end = _period(svc, first, last)
    run = ReconciliationRun(period_from=start, period_to=end, started_by=actor.email)
    with Session(svc.engine) as db:
        db.add(run)
        db.flush()
        attempts = db.exec(
            select(Attempt).where(
                col(Attempt.created_at) >= start,
                col(Attempt.created_at) < end,
                col(Attempt.sent_at).is_not(None),
                col(Attempt.local_state).not_in((AttemptState.ABANDONED, AttemptState.REFUSED)),
            )
        ).all()
        for attempt in attempts:
            db.add(
                ReconciliationItem(
                    run_id=run.id or 0,
                    reference_id=attempt.reference_id,
                    operation_type=attempt.operation_type,
                )
            )
        db.commit()
        db.refresh(run)
    _documents_paid_at_dollr(svc, run)
    audit.record(
        svc.engine, actor.email, "reconciliation_started", target=f"run {run.id}", detail=f"{first} to {last}"
    )
    return run


def _documents_paid_at_dollr(svc: Services, run: ReconciliationRun) -> None:
    """Documents Dollr says were paid in the period whose payment the ledger does not hold."""
    with Session(svc.engine) as db:
        booked = {
            (a.source_type, a.source_id)
            for a in db.exec(
                select(Attempt).where(
                    Attempt.operation_type == OperationType.COLLECTION,
                    Attempt.local_state == AttemptState.COMPLETED,
                )
            ).all()
        }
    for kind in (SourceType.INVOICE, SourceType.ORDER):
        for listed in documents.documents_api(svc, kind).list(status=SourceStatus.PAID):
            paid = listed.paid_at
            if (
                paid is None
                or not (run.period_from <= paid < run.period_to)
                or (kind.value, listed.id) in booked
            ):
                continue
            with Session(svc.engine) as db:
                db.add(
                    ReconciliationItem(
                        run_id=run.id or 0,
                        reference_id=listed.number or f"{kind.value}-{listed.id}",
                        operation_type=OperationType.COLLECTION,
                        checked=True,
                        finding=Finding.ONLY_AT_DOLLR,
                        detail=f"{kind.value.title()} {listed.number} paid at Dollr on"
                        f" {paid:%Y-%m-%d %H:%M} UTC ({money_text(listed.total_amount, listed.currency)});"
                        " the ledger has no payment for it.",
                    )
                )
                try:
                    db.commit()
                except IntegrityError:
                    db.rollback()


def continue_run(
    svc: Services,
    run_id: int,
    *,
    budget: int = 200,
    per_second: float = LOOKUPS_PER_SECOND,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Check up to `budget` unchecked items, at most `per_second` lookups a second. Returns how
    many remain; a 429 from Dollr ends the pass early (the next call resumes)."""
    with Session(svc.engine) as db:
        items = list(
            db.exec(
                select(ReconciliationItem)
                .where(ReconciliationItem.run_id == run_id, col(ReconciliationItem.checked).is_(False))
                .order_by(col(ReconciliationItem.id))
                .limit(budget)
            ).all()
        )
    for n, item in enumerate(items):
        if n:
            sleep(1.0 / per_second)
        try:
            finding, detail = _check(svc, item)
        except RateLimitError:
            break
        except DollrError:
            continue  # a passing fault: this item stays unchecked for the next pass
        with Session(svc.engine) as db:
            row = db.get(ReconciliationItem, item.id)
            assert row is not None
            row.checked, row.finding, row.detail = True, finding, detail[:500]
            db.add(row)
            db.commit()
    remaining = _unchecked(svc, run_id)
    if remaining == 0:
        with Session(svc.engine) as db:
            run = db.get(ReconciliationRun, run_id)
            if run is not None and run.finished_at is None:
                run.state, run.finished_at = "FINISHED", utcnow()
                db.add(run)
                db.commit()
    return remaining


def _unchecked(svc: Services, run_id: int) -> int:
    with Session(svc.engine) as db:
        return len(
            db.exec(
                select(ReconciliationItem.id).where(
                    ReconciliationItem.run_id == run_id, col(ReconciliationItem.checked).is_(False)
                )
            ).all()
        )


def _check(svc: Services, item: ReconciliationItem) -> tuple[Finding, str]:
    """The finding, with a detail in words (the codes stay in the ledger and at Dollr for support)."""
    with Session(svc.engine) as db:
        attempt = db.exec(select(Attempt).where(Attempt.reference_id == item.reference_id)).one()
    ours_said = outcome_of(attempt.local_state).value
    try:
        execution = svc.client.status.execution(OperationType(item.operation_type), item.reference_id)
    except NotFoundError:
        return Finding.ONLY_HERE, f"The ledger says “{ours_said}”; Dollr does not know the reference."
    theirs = str(execution.status or "")
    theirs_said = payment_status(theirs) if theirs else "nothing"
    if theirs not in _AGREES.get(attempt.local_state, ()):
        return Finding.STATUS_DIFFERS, f"The ledger says “{ours_said}”, Dollr says “{theirs_said}”."
    if theirs in (ExecutionStatus.PENDING, ExecutionStatus.PROCESSING):
        return Finding.STILL_OPEN, f"Dollr says “{theirs_said}”."
    for name, ours, dollr, currency in (
        (
            "paid",
            attempt.payer_amount,
            execution.payer_amount,
            attempt.settled_payer_currency or attempt.payer_currency,
        ),
        ("received", attempt.payee_amount, execution.payee_amount, attempt.payee_currency),
    ):
        if ours is not None and dollr is not None and Decimal(ours) != Decimal(dollr):
            return (
                Finding.AMOUNT_DIFFERS,
                f"Amount {name}: the ledger says {_amount(ours, currency)}, Dollr says"
                f" {_amount(Decimal(dollr), currency)}.",
            )
    return Finding.MATCHES, f"Both say “{theirs_said}”."


def _amount(amount: Decimal, currency: str | None) -> str:
    """An amount in the words of money ("USD 24.00"), or exactly as stored when no currency is known."""
    return money_text(amount, currency) or f"{amount.normalize():f}"


@dataclass(frozen=True)
class Difference:
    reference: str
    operation: str
    finding: Finding
    detail: str

    @property
    def advice(self) -> str:
        return ADVICE.get(self.finding, "")


@dataclass(frozen=True)
class Report:
    run: ReconciliationRun
    checked: int
    unchecked: int
    differences: list[Difference]
    still_open: int

    @property
    def clean(self) -> bool:
        return self.unchecked == 0 and not self.differences

    @property
    def headline(self) -> str:
        if self.unchecked:
            return f"{self.unchecked} payment(s) still to check; run it again to carry on."
        if self.clean:
            return f"Clean: all {self.checked} payment(s) of the period agree with Dollr."
        found = len(self.differences)
        return f"{found} difference(s) between the ledger and Dollr, out of {self.checked} checked."


def report(svc: Services, actor: Actor, run_id: int) -> Report:
    require(actor, Permission.VIEW_STATEMENTS)
    with Session(svc.engine) as db:
        run = db.get(ReconciliationRun, run_id)
        if run is None:
            raise NotFound(f"No reconciliation run {run_id}.")
        items = list(
            db.exec(
                select(ReconciliationItem)
                .where(ReconciliationItem.run_id == run_id)
                .order_by(col(ReconciliationItem.id))
            ).all()
        )
    done = [i for i in items if i.checked]
    quiet = (Finding.MATCHES, Finding.STILL_OPEN)
    return Report(
        run=run,
        checked=len(done),
        unchecked=len(items) - len(done),
        differences=[
            Difference(i.reference_id, i.operation_type, Finding(i.finding), i.detail)
            for i in done
            if i.finding not in quiet
        ],
        still_open=sum(1 for i in done if i.finding == Finding.STILL_OPEN),
    )


def report_text(rep: Report) -> str:
    """The report as plain text (the CLI's output)."""
    run = rep.run
    lines = [
        f"Reconciliation {run.period_from:%Y-%m-%d} to {run.period_to:%Y-%m-%d} (exclusive), run {run.id}",
        rep.headline,
    ]
    for diff in rep.differences:
        lines += [
            f"- {diff.finding.value}: {diff.operation} {diff.reference}",
            f"  {diff.detail}",
            f"  What to do: {diff.advice}",
        ]
    return "\n".join(lines) + "\n"
