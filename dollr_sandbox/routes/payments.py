"""Executions (E1–E4) and status lookups: money moves here, once per reference_id."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from dollr_core.basics.enums import (
    FeeBearer,
    OperationType,
    PaymentMethod,
    SourceStatus,
    SourceType,
)
from dollr_sandbox import views
from dollr_sandbox.config import WrongPasscode
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import Forbidden, Loc, NotFound, invalid
from dollr_sandbox.pricing import round_to
from dollr_sandbox.records import Execution, PaymentAccount, Session, SessionStatus, Source
from dollr_sandbox.routes.sessions import (
    SESSION_NAMES,
    account_for,
    account_of_payer,
    check_method_currency,
    gate,
    payable,
    quote_for,
)
from dollr_sandbox.schemas import (
    Body,
    CollectionExecute,
    CollectionExecutionOut,
    ExecutionOut,
    PayoutExecute,
    SessionExecute,
    SourceStatusOut,
)
from dollr_sandbox.state import SandboxState

router = APIRouter()


def _fingerprint(operation: OperationType, body: Body) -> str:
    canonical = json.dumps({"op": operation.value, "body": body.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(state: SandboxState, reference_id: str, fingerprint: str) -> Execution | None:
    """The stored execution for an identical retry; 422 when the key was used for something else (§7)."""
    existing = state.executions.get(reference_id)
    if existing is None:
        return None
    if existing.fingerprint != fingerprint:
        raise invalid(
            ("body", "reference_id"),
            f"reference_id already exists for a different {existing.operation_type.value} request: "
            "poll its status, or use a new reference_id with a new session",
            "value_error.duplicate",
        )
    return existing


def _numeric(raw_id: str | int) -> int | None:
    """A string id as its int, or None when it is not one (then nothing is found)."""
    text = str(raw_id)
    return int(text) if text.isascii() and text.isdigit() else None


def _session(state: SandboxState, raw_id: str | int, operation: OperationType) -> Session:
    loc: Loc = ("body", "session_id")
    session_id = _numeric(raw_id)
    session = state.sessions.get(session_id) if session_id is not None else None
    if session is None:
        raise invalid(loc, "session not found")
    if session.operation is not operation:
        raise invalid(
            loc,
            f"session {session.id} is a {SESSION_NAMES[session.operation]} session; "
            f"{operation.value} needs a {SESSION_NAMES[operation]} session",
        )
    if state.now() >= session.expires_at:
        raise invalid(loc, "session expired: create a new session and a new reference_id")
    if session.status is SessionStatus.USED:
        raise invalid(loc, "session already used: create a new session and a new reference_id")
    return session


def _use(state: SandboxState, session: Session, reference_id: str) -> None:
    session.status = SessionStatus.USED
    session.used_by = reference_id
    session.updated_at = state.now()
    state.sessions.put(session)


def collect(
    state: SandboxState,
    *,
    source: Source,
    account_method: PaymentMethod,
    currency: str,
    reference_id: str,
    fingerprint: str,
    session: Session | None,
    account: PaymentAccount | None,
    account_number: str | None,
    account_name: str | None,
    payment_method_id: str | None,
    locs: dict[str, Loc],
) -> Execution:
    """Start a collection on a payable source (API-embedded or hosted); call inside a transaction."""
    payable(state, source, locs["source"])
    check_method_currency(state, account_method, currency, locs["target_currency"])
    quote = quote_for(
        state,
        locs,
        amount=source.total_amount,
        base_currency=source.currency,
        target_currency=currency,
        method=account_method,
        operation=OperationType.COLLECTION,
        fee_bearer=source.fee_bearer,
    )
    ex = state.new_execution(
        reference_id=reference_id,
        operation=OperationType.COLLECTION,
        fingerprint=fingerprint,
        session_id=session.id if session else None,
        quote=quote,
        payment_account_id=account.id if account else None,
        payment_intent_id=state.next_id("payment_intent"),
        source_id=source.id,
        source_type=source.kind,
        account_number=account_number,
        account_name=account_name,
        payment_method_id=payment_method_id,
    )
    if session is not None:
        session.payment_account_id = account.id if account else None
        _use(state, session, reference_id)
    source.status = SourceStatus.PROCESSING
    source.updated_at = ex.created_at
    state.sources.put(source)
    return state.start(ex)


@router.post("/executions/collection", response_model=CollectionExecutionOut, tags=["executions"])
async def execute_collection(
    state: StateDep, body: Annotated[CollectionExecute, Depends(json_body(CollectionExecute))]
) -> Response:
    fingerprint = _fingerprint(OperationType.COLLECTION, body)
    with state.transaction():
        replayed = _replay(state, body.reference_id, fingerprint)
        if replayed is not None:
            return reply(state, views.execution(replayed))
        session = _session(state, body.session_id, OperationType.COLLECTION)
        loc: Loc = ("body", "payment_account_id")
        account = account_for(state, _numeric(body.payment_account_id) or 0, OperationType.COLLECTION, loc)
        source = state.source(session.source_id or 0)
        if source is None:
            raise invalid(("body", "session_id"), "session not found")
        account_of_payer(state, account, source, loc)
        ex = collect(
            state,
            source=source,
            account_method=account.method,
            currency=body.currency,
            reference_id=body.reference_id,
            fingerprint=fingerprint,
            session=session,
            account=account,
            account_number=account.insensitive_account_number,
            account_name=account.account_name,
            payment_method_id=account.payment_method_id,
            locs={
                "source": ("body", "session_id"),
                "target_currency": ("body", "currency"),
                "payment_method": loc,
                "amount": ("body", "session_id"),
            },
        )
        return reply(state, views.execution(ex))


def _passcode_ok(state: SandboxState, body: PayoutExecute) -> bool:
    token = body.passcode.token
    config = state.config
    if token.code != config.passcode:
        return False
    if token.phone is not None:
        return token.phone == config.passcode_phone
    return str(token.user_id) == config.passcode_user_id


def _refuse_passcode(state: SandboxState) -> None:
    """A wrong passcode answered 403 or 422 (the switch): nothing is stored, the session stays usable."""
    answer = state.config.wrong_passcode
    if answer is WrongPasscode.FORBIDDEN:
        raise Forbidden("Passcode verification failed: wrong passcode for this phone or user")
    if answer is WrongPasscode.UNPROCESSABLE:
        raise invalid(
            ("body", "passcode", "token", "code"),
            "wrong passcode for this phone or user",
            "value_error.passcode",
        )


def _debit(state: SandboxState, ex: Execution) -> Execution:
    """Reserve the payer amount and start, or fail at once with the wallet's message."""
    wallet = state.wallets.get(ex.wallet_id) if ex.wallet_id is not None else None
    if wallet is None:
        return state.fail_at_once(ex, wallet_message="No merchant wallet in this currency")
    if not state.hold(ex, wallet):
        return state.fail_at_once(ex, wallet_message=ex.wallet_message)
    return state.start(ex)


@router.post("/executions/payout", response_model=ExecutionOut, tags=["executions"])
async def execute_payout(
    state: StateDep, body: Annotated[PayoutExecute, Depends(json_body(PayoutExecute))]
) -> Response:
    gate(state, "Payouts")
    fingerprint = _fingerprint(OperationType.PAYOUT, body)
    with state.transaction():
        replayed = _replay(state, body.reference_id, fingerprint)
        if replayed is not None:
            return reply(state, views.execution(replayed))
        session = _session(state, body.session_id, OperationType.PAYOUT)
        loc: Loc = ("body", "payout_account_id")
        if body.payout_account_id != session.payout_account_id:
            raise invalid(
                loc, f"payout account {body.payout_account_id} is not the one of session {session.id}"
            )
        account = account_for(state, body.payout_account_id, OperationType.PAYOUT, loc, "payout account")
        passcode_ok = _passcode_ok(state, body)
        if not passcode_ok:
            _refuse_passcode(state)
        assert session.amount is not None and session.currency is not None
        quote = quote_for(
            state,
            {
                "payment_method": loc,
                "target_currency": ("body", "session_id"),
                "amount": ("body", "session_id"),
            },
            amount=session.amount,
            base_currency=session.currency,
            target_currency=session.currency,
            method=account.method,
            operation=OperationType.PAYOUT,
            fee_bearer=FeeBearer.PAYER,
        )
        ex = state.new_execution(
            reference_id=body.reference_id,
            operation=OperationType.PAYOUT,
            fingerprint=fingerprint,
            session_id=session.id,
            quote=quote,
            payout_account_id=account.id,
            account_number=account.insensitive_account_number,
            account_name=account.account_name,
            wallet_id=session.wallet_id,
        )
        _use(state, session, body.reference_id)
        if not passcode_ok:
            # Documented choice: a wrong passcode is an immediate FAILED (PENDING → FAILED), not a 403,
            # so the attempt is on record and the status endpoint explains it.
            ex = state.fail_at_once(
                ex, gateway_message="Passcode verification failed: wrong passcode for this phone or user"
            )
        else:
            ex = _debit(state, ex)
        return reply(state, views.execution(ex))


@router.post("/executions/transfer", response_model=ExecutionOut, tags=["executions"])
async def execute_transfer(
    state: StateDep, body: Annotated[SessionExecute, Depends(json_body(SessionExecute))]
) -> Response:
    gate(state, "Transfers")
    fingerprint = _fingerprint(OperationType.TRANSFER, body)
    with state.transaction():
        replayed = _replay(state, body.reference_id, fingerprint)
        if replayed is not None:
            return reply(state, views.execution(replayed))
        session = _session(state, body.session_id, OperationType.TRANSFER)
        assert session.amount is not None and session.currency is not None
        loc: Loc = ("body", "session_id")
        quote = quote_for(
            state,
            {"payment_method": loc, "amount": loc},
            amount=session.amount,
            base_currency=session.currency,
            target_currency=session.currency,
            method=PaymentMethod.WALLET,
            operation=OperationType.TRANSFER,
            fee_bearer=FeeBearer.PAYER,
        )
        ex = state.new_execution(
            reference_id=body.reference_id,
            operation=OperationType.TRANSFER,
            fingerprint=fingerprint,
            session_id=session.id,
            quote=quote,
            wallet_id=session.wallet_id,
            to_counterparty_id=session.to_counterparty_id,
        )
        _use(state, session, body.reference_id)
        return reply(state, views.execution(_debit(state, ex)))


@router.post("/executions/refund", response_model=ExecutionOut, tags=["executions"])
async def execute_refund(
    state: StateDep, body: Annotated[SessionExecute, Depends(json_body(SessionExecute))]
) -> Response:
    gate(state, "Refunds")
    fingerprint = _fingerprint(OperationType.REFUND, body)
    with state.transaction():
        replayed = _replay(state, body.reference_id, fingerprint)
        if replayed is not None:
            return reply(state, views.execution(replayed))
        session = _session(state, body.session_id, OperationType.REFUND)
        loc: Loc = ("body", "session_id")
        original = state.collection_by_intent(session.original_payment_intent_id or 0)
        assert original is not None and session.amount is not None and session.currency is not None
        remaining = original.base_amount - state.refunded_total(original.reference_id)
        if session.amount > remaining:
            raise invalid(
                loc,
                f"refund exceeds the refundable {session.currency} {round_to(remaining, session.currency)}",
            )
        quote = quote_for(
            state,
            {"payment_method": loc, "amount": loc},
            amount=session.amount,
            base_currency=session.currency,
            target_currency=session.currency,
            method=original.method,
            operation=OperationType.REFUND,
            fee_bearer=FeeBearer.PAYER,
        )
        ex = state.new_execution(
            reference_id=body.reference_id,
            operation=OperationType.REFUND,
            fingerprint=fingerprint,
            session_id=session.id,
            quote=quote,
            refund_of=original.reference_id,
            account_number=original.account_number,
            wallet_id=session.wallet_id,
            source_id=original.source_id,
            source_type=original.source_type,
        )
        _use(state, session, body.reference_id)
        return reply(state, views.execution(_debit(state, ex)))


# --- status ---------------------------------------------------------------------------------


def _status_route(operation: OperationType) -> None:
    name = operation.value.lower()

    @router.get(
        f"/status/{name}/{{reference_id}}",
        response_model=ExecutionOut,
        tags=["status"],
        name=f"status_{name}",
    )
    async def status(state: StateDep, reference_id: str) -> Response:
        with state.transaction():
            ex = state.executions.get(reference_id.lower())
            if ex is None or ex.operation_type is not operation:
                raise NotFound(f"No {name} with reference_id {reference_id}")
            return reply(state, views.execution(ex))


for _operation in OperationType:
    _status_route(_operation)


@router.get("/status/source", response_model=SourceStatusOut, tags=["status"])
async def source_status(
    state: StateDep, source_type: Annotated[SourceType, Query()], source_id: Annotated[int, Query()]
) -> Response:
    with state.transaction():
        source = state.source(source_id)
        if source is None or source.kind is not source_type:
            raise NotFound(f"{source_type.value} {source_id} not found")
        return reply(state, views.source_status(source))
