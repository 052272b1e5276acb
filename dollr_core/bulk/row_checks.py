"""The checks on every row of a draft: format, operator, amount and currency rules, copies within
the file and references other batches paid; Dollr is asked once per distinct number and quote."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from dollr_core.api import pacing
from dollr_core.api.errors import DollrError, InvalidRequestError, NotFoundError
from dollr_core.api.models import AmountAndFeePrediction, AmountAndFeesQuery, MmoProviderInfo
from dollr_core.basics import validation
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod, Provider
from dollr_core.basics.money import SUPPORTED_CURRENCIES, check_currency, parse_amount
from dollr_core.basics.phone import normalize_phone
from dollr_core.bulk.pace import Pace, refusal
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.explain import explain
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import (
    REFERENCE_HOLDING_ROWS,
    BatchRow,
    BatchRowState,
)
from dollr_core.services import Services


@dataclass
class _Check:
    """What the checks found out about one row."""

    problems: list[str] = field(default_factory=list)
    phone: str | None = None  # normalized, when the number is well formed
    amount: Decimal | None = None
    currency: str | None = None  # when supported
    info: MmoProviderInfo | None = None


def _own_checks(row: BatchRow) -> _Check:
    """Everything that needs no call to Dollr: name, number format, currency, amount, lengths."""
    check = _Check()
    if not row.name:
        check.problems.append("Enter the recipient's name.")
    try:
        check.phone = normalize_phone(row.phone)
    except ValueError as exc:
        check.problems.append(str(exc))
    try:
        check.currency = check_currency(row.currency)
    except ValueError:
        check.problems.append(f"Currency: write one of {', '.join(SUPPORTED_CURRENCIES)}.")
    try:
        check.amount = parse_amount(row.amount_text, check.currency or "USD")
    except ValueError as exc:
        check.problems.append(str(exc))
    return check


def fill_row(row: BatchRow, values: RowInput) -> list[str]:
    """Copy what was typed onto the row, trimmed to the column sizes; say what did not fit.

    A line break or control character in a cell makes the row invalid, naming the cell (a quoted
    line break is never silently joined, a Unicode line separator never splits the row); the row
    keeps a printable copy (U+FFFD where the character was) for the person to correct.
    """
    problems = []
    typed = (
        ("name", values.name),
        ("phone number", values.phone),
        ("amount", values.amount),
        ("currency", values.currency),
        ("note", values.note),
        ("reference", values.own_reference),
    )
    for label, text in typed:
        if problem := validation.character_problem(text, label):
            problems.append(problem)
    name = " ".join(validation.printable(values.name).split())
    note = validation.printable(values.note).strip()
    reference = validation.printable(values.own_reference).strip()
    for label, text, limit in (("name", name, 200), ("note", note, 500), ("reference", reference, 100)):
        if len(text) > limit:
            problems.append(f"The {label} is too long ({limit} characters at most); it was cut.")
    row.name = name[:200]
    row.phone = validation.printable(values.phone).strip()[:32]
    row.amount_text = validation.printable(values.amount).strip()[:40]
    row.currency = validation.printable(values.currency).strip().upper()[:8]
    row.note = note[:500]
    row.own_reference = reference[:100] or None
    return problems


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


def _ask_all(svc: Services, keys: Iterable[_K], ask: Callable[[_K], _V]) -> dict[_K, _V | DollrError]:
    """Ask Dollr once per distinct key, as many at a time as the pace allows (`bulk/pace.py`:
    it grows while Dollr keeps up, halves when it refuses); errors are answers too."""
    distinct = list(dict.fromkeys(keys))
    pace = Pace.for_settings(svc.settings, proven=True)  # a look-up spends no money: no trial row

    def one(key: _K) -> _V | DollrError:
        started, retries = pace.now(), svc.client.stats.refusals
        try:
            with pacing.patient() as waited:  # many look-ups at once: they wait their turn
                answer: _V | DollrError = ask(key)
        except DollrError as exc:
            answer = exc
        # The client retries an unanswered look-up by itself: its count tells (anyone's, but
        # Dollr is the merchant's, whoever was refused). A 429 is the client's rate pacer's.
        if svc.client.stats.refusals > retries or (isinstance(answer, DollrError) and refusal(answer)):
            pace.refused(started_at=started)
        else:
            pace.succeeded(waited.answering)  # Dollr's answer alone: no wait for the pacer or the ledger
        return answer

    answers: dict[_K, _V | DollrError] = {}
    waiting = deque(distinct)
    asking: dict[Future[_V | DollrError], _K] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(pace.ceiling, len(distinct)))) as pool:
        while waiting or asking:
            while waiting and len(asking) < pace.limit:
                key = waiting.popleft()
                asking[pool.submit(one, key)] = key
            done, _ = wait(asking, return_when=FIRST_COMPLETED)
            for future in done:
                answers[asking.pop(future)] = future.result()
    return {key: answers[key] for key in distinct}


def _operator_problem(exc: DollrError) -> str:
    if isinstance(exc, InvalidRequestError | NotFoundError):
        return "No mobile network serves this number; check it."
    return "Dollr could not check this number just now; press “Check again” in a moment."


_QuoteKey = tuple[PaymentMethod, Provider, Decimal, str]


def check_rows(
    svc: Services, rows: list[BatchRow], *, ask: set[int] | None, batch_id: int | None, left_out: set[int]
) -> list[BatchRowState]:
    """Check every row; set its problems, operator and predicted fees (in place); return the state
    each row should be in (ready, needs fixing, or left out: the rows in `left_out`, indexes into
    `rows`). The states are stored through `ledger.transitions` by whoever stores the rows.

    Dollr is asked only for rows in `ask` (indexes into `rows`; None: all) and for rows never
    checked successfully, once per distinct number and once per distinct quote.
    """
    checks = [_own_checks(row) for row in rows]
    needs_dollr = [
        i
        for i, (row, check) in enumerate(zip(rows, checks, strict=True))
        if check.phone
        and check.currency
        and (ask is None or i in ask or row.carrier is None or row.predicted_debit is None)
    ]
    operators = _ask_all(
        svc,
        (checks[i].phone or "" for i in needs_dollr),
        lambda phone: svc.lookups.operator(phone, OperationType.PAYOUT),
    )
    quotes: dict[int, _QuoteKey] = {}
    for i in needs_dollr:
        check, answer = checks[i], operators[checks[i].phone or ""]
        if isinstance(answer, DollrError):
            check.problems.append(_operator_problem(answer))
        elif answer.payment_method is None:
            check.problems.append("Dollr could not tell which mobile network serves this number.")
        elif check.currency not in (answer.currencies or []):
            check.problems.append(
                f"{answer.carrier} wallets in {answer.country} receive {', '.join(answer.currencies or [])},"
                f" not {check.currency}."
            )
        else:
            check.info = answer
            method = PaymentMethod(answer.payment_method)
            if check.amount is not None and check.currency is not None:
                provider = Provider(answer.gateway_provider or method.provider)
                quotes[i] = (method, provider, check.amount, check.currency)
    predictions = _ask_all(svc, quotes.values(), lambda key: svc.lookups.prediction(_fee_query(*key)))

    for i, (row, check) in enumerate(zip(rows, checks, strict=True)):
        row.phone = check.phone or row.phone
        row.amount = check.amount
        if i in quotes:
            prediction = predictions[quotes[i]]
            if isinstance(prediction, DollrError):
                row.predicted_fees = row.predicted_debit = None
                check.problems.append(f"Dollr could not quote the fees: {explain(prediction).headline}")
            else:
                row.predicted_fees, row.predicted_debit = _fees(prediction), prediction.payer_amount
        elif i in needs_dollr or not check.phone or not check.currency:
            row.predicted_fees = row.predicted_debit = None
        if check.info is not None:
            row.carrier = check.info.carrier or str(check.info.payment_method)
        elif i in needs_dollr or not check.phone:
            row.carrier = None
    _file_checks(svc.engine, rows, checks, batch_id=batch_id, left_out=left_out)
    for row, check in zip(rows, checks, strict=True):
        row.problems = " ".join(check.problems)[:1000]
        row.updated_at = utcnow()
    return [
        BatchRowState.EXCLUDED
        if i in left_out
        else BatchRowState.INVALID
        if check.problems
        else BatchRowState.VALID
        for i, check in enumerate(checks)
    ]


def _fee_query(
    method: PaymentMethod, provider: Provider, amount: Decimal, currency: str
) -> AmountAndFeesQuery:
    return AmountAndFeesQuery(
        base_amount=amount,
        base_currency=currency,
        target_currency=currency,
        payment_method=method,
        operation_type=OperationType.PAYOUT,
        provider=provider,
        fee_bearer=FeeBearer.PAYER,
    )


def _fees(prediction: AmountAndFeePrediction) -> Decimal:
    zero = Decimal(0)
    return (prediction.platform_fee or zero) + (prediction.gateway_fee or zero) + (prediction.fx_fee or zero)


def _file_checks(
    engine: Engine, rows: list[BatchRow], checks: list[_Check], *, batch_id: int | None, left_out: set[int]
) -> None:
    """Copies within the file, and references another batch has paid or is paying.

    The first of several copies is the one kept; a row left out still says which row it copies.
    """
    first_copy: dict[tuple[str, Decimal, str, str], int] = {}
    first_reference: dict[str, int] = {}
    pairs = list(zip(rows, checks, strict=True))
    included = [pair for i, pair in enumerate(pairs) if i not in left_out]
    excluded = [pair for i, pair in enumerate(pairs) if i in left_out]
    for remember, chosen in ((True, included), (False, excluded)):
        for row, check in chosen:
            if check.phone and check.amount is not None and check.currency:
                key = (check.phone, check.amount, check.currency, (row.own_reference or "").lower())
                if key in first_copy:
                    check.problems.append(
                        f"Same recipient, amount, currency and reference as row {first_copy[key]}:"
                        " leave one out, or give each payment its own reference."
                    )
                elif remember:
                    first_copy[key] = row.row_number
            reference = (row.own_reference or "").lower()
            if reference and reference in first_reference:
                check.problems.append(
                    f"Reference {row.own_reference} is also on row {first_reference[reference]};"
                    " each payment needs its own reference."
                )
            elif reference and remember:
                first_reference[reference] = row.row_number
    with Session(engine) as db:
        elsewhere = references_elsewhere(db, [r.own_reference for r in rows if r.own_reference], batch_id)
    for row, check in zip(rows, checks, strict=True):
        if row.own_reference and row.own_reference.lower() in elsewhere:
            check.problems.append(elsewhere[row.own_reference.lower()])


def references_elsewhere(db: Session, references: list[str], batch_id: int | None) -> dict[str, str]:
    """Reference (lower-case) → why another batch already used it (paid, or being paid)."""
    if not references:
        return {}
    wanted = {r.lower() for r in references}
    found: dict[str, str] = {}
    query = select(BatchRow.own_reference, BatchRow.batch_id, BatchRow.state).where(
        func.lower(BatchRow.own_reference).in_(wanted),
        col(BatchRow.state).in_(REFERENCE_HOLDING_ROWS),
    )
    if batch_id is not None:
        query = query.where(BatchRow.batch_id != batch_id)
    for reference, other, state in db.exec(query).all():
        if reference is None:
            continue
        verb = "was already paid" if state == BatchRowState.PAID else "is being paid"
        found.setdefault(reference.lower(), f"Reference {reference} {verb} in batch {other}.")
    return found
