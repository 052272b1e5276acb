"""S1–S4 sessions, PA1 payment accounts, E1–E4 executions and ST1–ST5 status."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from dollr_core.basics.enums import (
    ExecutionStatus,
    FeeBearer,
    OperationType,
    PaymentMethod,
    SourceStatus,
    SourceType,
)
from dollr_sandbox import views
from dollr_sandbox.config import WrongPasscode
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import Forbidden, Loc, NotFound, invalid, wrong_state
from dollr_sandbox.pricing import PricingError, Quote, round_to
from dollr_sandbox.records import Execution, PaymentAccount, Session, SessionStatus, Source
from dollr_sandbox.schemas import (
    Body,
    CheckoutSessionCreate,
    CheckoutSessionOut,
    CollectionExecute,
    CollectionExecutionOut,
    ExecutionOut,
    PaymentAccountCreate,
    PaymentAccountOut,
    PayoutExecute,
    PayoutSessionCreate,
    PayoutSessionOut,
    RefundSessionCreate,
    RefundSessionOut,
    SessionExecute,
    SourceStatusOut,
    TransferSessionCreate,
    TransferSessionOut,
    amount_errors,
)
from dollr_sandbox.state import SandboxState

router = APIRouter()

_SESSION_NAMES = {
    OperationType.COLLECTION: "checkout",
    OperationType.PAYOUT: "payout",
    OperationType.TRANSFER: "transfer",
    OperationType.REFUND: "refund",
}
_NOT_PAYABLE = {
    SourceStatus.IDLE: "unpublished: publish it first",
    SourceStatus.PROCESSING: "PROCESSING: a collection is already in flight",
    SourceStatus.PAID: "already PAID",
    SourceStatus.CANCELED: "CANCELED: create a new source",
}


def gate(state: SandboxState, feature: str) -> None:
    """403 for a merchant still in onboarding (§6.3)."""
    if not state.config.verified:
        raise Forbidden(f"{feature} need a fully verified merchant (KYC/KYB pending)")


def _quote(
    state: SandboxState,
    locs: dict[str, Loc],
    *,
    amount: Decimal,
    base_currency: str,
    target_currency: str,
    method: PaymentMethod,
    operation: OperationType,
    fee_bearer: FeeBearer,
) -> Quote:
    """Price through the one engine; its complaints land on the field that caused them."""
    try:
        return state.pricing.quote(
            amount, base_currency, target_currency, method, operation, fee_bearer, state.config.fee_tier
        )
    except PricingError as exc:
        raise invalid(locs.get(exc.field, ("body",)), exc.message) from None


def _check_currency(state: SandboxState, method: PaymentMethod, currency: str, loc: Loc) -> None:
    try:
        state.pricing.check_currency(method, currency, "currency")
    except PricingError as exc:
        raise invalid(loc, exc.message) from None


def _future(state: SandboxState, expires_at: datetime, loc: Loc) -> None:
    if expires_at <= state.now():
        raise invalid(loc, "expires_at must be in the future")


def payable(state: SandboxState, source: Source, loc: Loc) -> None:
    """422 unless a collection may start on ``source``.

    ACTIVE sources are payable. So is a PROCESSING one, unless the switch refuses it: the docs warn
    that a second collection with a new reference while the first is in flight risks a double
    charge live (§7.3), so the sandbox charges it too rather than hide a client's double send.
    """
    if source.status is SourceStatus.ACTIVE:
        return
    if source.status is SourceStatus.PROCESSING and not state.config.refuse_collection_while_processing:
        return
    raise wrong_state(loc, f"{source.number} is {_NOT_PAYABLE[source.status]}")


def _new_session(state: SandboxState, operation: OperationType, **fields: Any) -> Session:
    now = state.now()
    fields.setdefault("expires_at", now + timedelta(seconds=state.config.session_ttl_seconds))
    session = Session(
        id=state.next_id("session"), operation=operation, created_at=now, updated_at=now, **fields
    )
    return state.sessions.put(session)


# --- sessions -------------------------------------------------------------------------------


@router.post("/sessions/checkout", response_model=CheckoutSessionOut, tags=["sessions"])
def checkout_session(
    state: StateDep, body: Annotated[CheckoutSessionCreate, Depends(json_body(CheckoutSessionCreate))]
) -> Response:
    with state.transaction():
        source = state.source(body.source_id)
        if source is None:
            raise invalid(("body", "source_id"), f"source {body.source_id} not found")
        if source.kind is not body.source_type:
            raise invalid(
                ("body", "source_type"),
                f"source {body.source_id} is an {source.kind.value}, not {body.source_type.value}",
            )
        payable(state, source, ("body", "source_id"))
        session = _new_session(state, OperationType.COLLECTION, source_id=source.id, source_type=source.kind)
        out = CheckoutSessionOut(
            id=session.id,
            source_id=source.id,
            source_type=source.kind,
            status=session.status.value,
            payment_account_id=None,
            expires_at=session.expires_at,
            created_at=session.created_at,
            updated_at=session.updated_at,
        )
        return reply(state, out)


def _account(
    state: SandboxState, account_id: int, operation: OperationType, loc: Loc, what: str = "payment account"
) -> PaymentAccount:
    account = state.accounts.get(account_id)
    if account is None:
        raise invalid(loc, f"{what} {account_id} not found")
    if account.operation_type is not operation:
        raise invalid(
            loc,
            f"{what} {account_id} was created with operation_type={account.operation_type.value}; "
            f"this needs one created with operation_type={operation.value}",
        )
    if not account.is_active:
        raise invalid(loc, f"{what} {account_id} is inactive")
    return account


@router.post("/sessions/payout", response_model=PayoutSessionOut, tags=["sessions"])
def payout_session(
    state: StateDep, body: Annotated[PayoutSessionCreate, Depends(json_body(PayoutSessionCreate))]
) -> Response:
    gate(state, "Payouts")
    with state.transaction():
        loc: Loc = ("body", "payout_account_id")
        account = _account(state, body.payout_account_id, OperationType.PAYOUT, loc, "payout account")
        _check_currency(state, account.method, body.currency, ("body", "currency"))
        wallet = state.wallet_for(body.currency)
        if wallet is None:
            raise invalid(("body", "currency"), f"the merchant has no {body.currency} wallet")
        session = _new_session(
            state,
            OperationType.PAYOUT,
            payout_account_id=account.id,
            amount=body.amount,
            currency=body.currency,
            wallet_id=wallet.id,
        )
        out = PayoutSessionOut(
            id=session.id,
            payout_account_id=account.id,
            amount=round_to(body.amount, body.currency),
            currency=body.currency,
            wallet_id=wallet.id,
            status=session.status.value,
            expires_at=session.expires_at,
            created_at=session.created_at,
        )
        return reply(state, out)


@router.post("/sessions/transfer", response_model=TransferSessionOut, tags=["sessions"])
def transfer_session(
    state: StateDep, body: Annotated[TransferSessionCreate, Depends(json_body(TransferSessionCreate))]
) -> Response:
    gate(state, "Transfers")
    with state.transaction():
        wallet = state.wallets.get(body.from_wallet_id)
        if wallet is None:
            raise invalid(("body", "from_wallet_id"), f"wallet {body.from_wallet_id} not found")
        if wallet.currency != body.currency:
            raise invalid(
                ("body", "currency"), f"wallet {wallet.id} holds {wallet.currency}, not {body.currency}"
            )
        if state.counterparties.get(body.to_counterparty_id) is None:
            raise invalid(("body", "to_counterparty_id"), f"counterparty {body.to_counterparty_id} not found")
        _future(state, body.expires_at, ("body", "expires_at"))
        session = _new_session(
            state,
            OperationType.TRANSFER,
            wallet_id=wallet.id,
            to_counterparty_id=body.to_counterparty_id,
            amount=body.amount,
            currency=body.currency,
            expires_at=body.expires_at,
        )
        out = TransferSessionOut(
            id=session.id,
            from_wallet_id=wallet.id,
            to_counterparty_id=body.to_counterparty_id,
            amount=round_to(body.amount, body.currency),
            currency=body.currency,
            status=session.status.value,
            expires_at=session.expires_at,
            created_at=session.created_at,
        )
        return reply(state, out)


@router.post("/sessions/refund", response_model=RefundSessionOut, tags=["sessions"])
def refund_session(
    state: StateDep, body: Annotated[RefundSessionCreate, Depends(json_body(RefundSessionCreate))]
) -> Response:
    gate(state, "Refunds")
    with state.transaction():
        original = state.collection_by_intent(body.original_payment_intent_id)
        if original is None or original.status is not ExecutionStatus.COMPLETED:
            raise invalid(
                ("body", "original_payment_intent_id"),
                f"no completed collection has payment intent {body.original_payment_intent_id}",
            )
        currency = original.payee_currency
        problems = amount_errors(body.amount, currency, ("body", "amount"))
        if problems:
            raise invalid(("body", "amount"), problems[0]["msg"], problems[0]["type"])
        remaining = original.base_amount - state.refunded_total(original.reference_id)
        if body.amount > remaining:
            raise invalid(
                ("body", "amount"), f"more than the refundable {currency} {round_to(remaining, currency)}"
            )
        _future(state, body.expires_at, ("body", "expires_at"))
        wallet = state.wallet_for(currency)
        session = _new_session(
            state,
            OperationType.REFUND,
            original_payment_intent_id=body.original_payment_intent_id,
            amount=body.amount,
            currency=currency,
            reason=body.reason,
            wallet_id=wallet.id if wallet else None,
            expires_at=body.expires_at,
        )
        out = RefundSessionOut(
            id=session.id,
            original_payment_intent_id=body.original_payment_intent_id,
            amount=round_to(body.amount, currency),
            currency=currency,
            reason=body.reason,
            status=session.status.value,
            expires_at=session.expires_at,
            created_at=session.created_at,
        )
        return reply(state, out)


# --- payment accounts -----------------------------------------------------------------------


@router.post("/payment-accounts/create", response_model=PaymentAccountOut, tags=["payment accounts"])
def create_payment_account(
    state: StateDep,
    operation_type: OperationType,
    body: Annotated[PaymentAccountCreate, Depends(json_body(PaymentAccountCreate))],
) -> Response:
    with state.transaction():
        if state.parties.get(body.party_id) is None:
            raise invalid(("body", "party_id"), f"party {body.party_id} not found")
        try:
            state.pricing.gateway_fee(body.method, operation_type)
        except PricingError as exc:
            raise invalid(("body", "method"), exc.message) from None
        _operator_matches(state, body)
        now = state.now()
        account = PaymentAccount(
            id=state.next_id("payment_account"),
            operation_type=operation_type,
            created_at=now,
            updated_at=now,
            **body.model_dump(),
        )
        return reply(state, views.payment_account(state.accounts.put(account)))


def _operator_matches(state: SandboxState, body: PaymentAccountCreate) -> None:
    """A wallet number belongs to the operator its prefix says (the error catalog's "wrong operator")."""
    number = body.insensitive_account_number
    if not (state.config.check_operator and body.method.is_mobile_money and number):
        return
    operator = state.operators.detect(number)
    if operator is not None and operator.payment_method is not body.method:
        raise invalid(
            ("body", "method"),
            f"invalid combination: {number[:5]}… is served by {operator.carrier} "
            f"({operator.payment_method.value}), not {body.method.value}; "
            "ask mmo-provider-info which method serves it",
            "value_error.combination",
        )


def _account_of_payer(state: SandboxState, account: PaymentAccount, source: Source, loc: Loc) -> None:
    """The account paying a document belongs to the party the document bills."""
    counterparty = state.counterparties.get(source.counterparty_id)
    payer = counterparty.party_id if counterparty is not None else None
    if state.config.check_account_party and payer is not None and account.party_id != payer:
        raise invalid(
            loc,
            f"payment account {account.id} belongs to party {account.party_id}, "
            f"not to party {payer} whom {source.number} bills",
        )


# --- executions -----------------------------------------------------------------------------


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
            f"session {session.id} is a {_SESSION_NAMES[session.operation]} session; "
            f"{operation.value} needs a {_SESSION_NAMES[operation]} session",
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
    _check_currency(state, account_method, currency, locs["target_currency"])
    quote = _quote(
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
def execute_collection(
    state: StateDep, body: Annotated[CollectionExecute, Depends(json_body(CollectionExecute))]
) -> Response:
    fingerprint = _fingerprint(OperationType.COLLECTION, body)
    with state.transaction():
        replayed = _replay(state, body.reference_id, fingerprint)
        if replayed is not None:
            return reply(state, views.execution(replayed))
        session = _session(state, body.session_id, OperationType.COLLECTION)
        loc: Loc = ("body", "payment_account_id")
        account = _account(state, _numeric(body.payment_account_id) or 0, OperationType.COLLECTION, loc)
        source = state.source(session.source_id or 0)
        if source is None:
            raise invalid(("body", "session_id"), "session not found")
        _account_of_payer(state, account, source, loc)
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
def execute_payout(
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
        account = _account(state, body.payout_account_id, OperationType.PAYOUT, loc, "payout account")
        passcode_ok = _passcode_ok(state, body)
        if not passcode_ok:
            _refuse_passcode(state)
        assert session.amount is not None and session.currency is not None
        quote = _quote(
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
def execute_transfer(
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
        quote = _quote(
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
def execute_refund(
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
        quote = _quote(
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
    def status(state: StateDep, reference_id: str) -> Response:
        with state.transaction():
            ex = state.executions.get(reference_id.lower())
            if ex is None or ex.operation_type is not operation:
                raise NotFound(f"No {name} with reference_id {reference_id}")
            return reply(state, views.execution(ex))


for _operation in OperationType:
    _status_route(_operation)


@router.get("/status/source", response_model=SourceStatusOut, tags=["status"])
def source_status(
    state: StateDep, source_type: Annotated[SourceType, Query()], source_id: Annotated[int, Query()]
) -> Response:
    with state.transaction():
        source = state.source(source_id)
        if source is None or source.kind is not source_type:
            raise NotFound(f"{source_type.value} {source_id} not found")
        return reply(state, views.source_status(source))
