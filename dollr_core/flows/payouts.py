"""Paying a person's mobile-money wallet: beneficiary → operator → account → quote → approve → pay.

`prepare_payout` does everything that moves no money and may be repeated as the form changes;
`confirm_payout` hands the prepared intent to the execution protocol with the merchant passcode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, NotRequired, TypedDict, Unpack

from pydantic import BaseModel, SecretStr
from sqlmodel import Session, col, select

from dollr_core.api.errors import InvalidRequestError, RequestValidationError
from dollr_core.api.models import (
    AmountAndFeePrediction,
    AmountAndFeesQuery,
    MmoProviderInfo,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    PayoutExecute,
    PayoutSessionCreate,
)
from dollr_core.basics.access import Actor, Permission, Role, require, require_any
from dollr_core.basics.constants import VERSION
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod, Provider, RelationshipType
from dollr_core.basics.money import money_text, parse_amount
from dollr_core.basics.phone import mask_phone, normalize_phone
from dollr_core.basics.validation import NOTE_LENGTH, check_text
from dollr_core.basics.words import short_reference
from dollr_core.errors import InputRefused
from dollr_core.explain import failure_reason
from dollr_core.flows.directory import Person, ensure_payee
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.intents import NewIntent, get_intent
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentKind, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_core.team import approval_rules, approvals


class PayoutRefused(InputRefused):
    """The payout cannot go ahead as asked; the message says why in plain words."""


@dataclass(frozen=True)
class PayoutQuote:
    """What the review screen states before the passcode is asked for."""

    intent_key: str
    name: str
    phone: str
    carrier: str
    method: PaymentMethod
    amount: Decimal  # what the recipient gets
    currency: str
    platform_fee: Decimal
    gateway_fee: Decimal
    fx_fee: Decimal
    wallet_debit: Decimal  # amount + fees, what leaves our wallet
    needs_approval: bool
    state: IntentState


class PayoutForm(TypedDict):
    """What a payout form says: `prepared_payout`'s keyword arguments."""

    name: str
    phone: str
    amount: str | Decimal
    currency: str
    note: NotRequired[str]
    batch_id: NotRequired[int | None]


def prepare_payout(svc: Services, actor: Actor, intent_key: str, **form: Unpack[PayoutForm]) -> PayoutQuote:
    """Check the inputs, find or create the beneficiary and account, and quote the fees; the
    intent is written (`prepared_payout`, then its `open`)."""
    prepared = prepared_payout(svc, actor, intent_key, **form)
    return prepared.quote(prepared.intent.open(svc.engine))


@dataclass(frozen=True)
class PreparedPayout:
    """A payout checked, its payee made and its fees quoted, its intent not written yet."""

    intent: NewIntent
    carrier: str
    prediction: AmountAndFeePrediction

    def quote(self, intent: Intent) -> PayoutQuote:
        return _quote(intent, self.carrier, self.prediction)


def send_row_payout(
    svc: Services, actor: Actor, prepared: PreparedPayout, passcode: str | SecretStr
) -> Attempt:
    """Send a bulk row's prepared payout: its session, then its intent, claim, reference_id and
    body in one transaction (`protocol.open_and_submit`). When its intent is in the ledger
    already (an earlier run of the row), it is brought in line and sent as `confirm_payout`
    sends it."""
    new = prepared.intent
    require(actor, Permission.BULK_PAYOUTS)
    secret = passcode if isinstance(passcode, SecretStr) else SecretStr(passcode.strip())
    if not secret.get_secret_value():
        raise PayoutRefused("Enter the merchant passcode to confirm the payout.")
    plan = PayoutPlan(svc, new.unsaved(), secret)
    attempt = protocol.open_and_submit(svc.engine, svc.client, new, plan, actor=actor.email)
    if attempt is not None:
        return attempt
    new.open(svc.engine)
    return confirm_payout(svc, actor, new.intent_key, secret)


def prepared_payout(
    svc: Services,
    actor: Actor,
    intent_key: str,
    *,
    name: str,
    phone: str,
    amount: str | Decimal,
    currency: str,
    note: str = "",
    batch_id: int | None = None,
) -> PreparedPayout:
    """`prepare_payout` without writing the intent: for a bulk row, whose intent is written as
    it is sent (`send_row_payout`)."""
    require(actor, Permission.PAY_OUT if batch_id is None else Permission.BULK_PAYOUTS)
    person = Person.checked(name, phone)
    note = check_text(note.strip(), "note", max_length=NOTE_LENGTH, multiline=True)
    value = parse_amount(amount, currency)
    rules, allowance = approval_rules.with_allowance(
        svc.engine, svc.settings, actor, currency, excluding=intent_key
    )
    limit = rules.operator_payout_limits.get(currency)
    if actor.role is Role.OPERATOR and limit is not None and value > limit:
        raise PayoutRefused(
            f"Operators may pay out at most {currency} {limit:,} at once. For more,"
            f" {approval_rules.LARGER_PAYOUTS}"
        )
    too_much = approval_rules.over_daily_limit(allowance, value)
    if batch_id is None and too_much:
        raise PayoutRefused(too_much)
    info = svc.lookups.operator(person.phone, OperationType.PAYOUT)
    if currency not in (info.currencies or []):
        raise PayoutRefused(
            f"{info.carrier} wallets in {info.country} receive {', '.join(info.currencies or [])},"
            f" not {currency}."
        )
    if info.payment_method is None:
        raise PayoutRefused("Dollr could not tell which mobile network serves this number.")
    method = PaymentMethod(info.payment_method)
    provider = Provider(info.gateway_provider or method.provider)
    payee = ensure_payee(
        svc.engine,
        svc.client,
        person,
        RelationshipType.BENEFICIARY,
        operation=OperationType.PAYOUT,
        method=method,
        provider=provider,
        number=person.phone,
        country_code=info.country,
    )
    customer, account = payee.customer, payee.account
    prediction = svc.lookups.prediction(
        AmountAndFeesQuery(
            base_amount=value,
            base_currency=currency,
            target_currency=currency,
            payment_method=method,
            operation_type=OperationType.PAYOUT,
            provider=provider,
            fee_bearer=FeeBearer.PAYER,
        )
    )
    approvers = 0 if batch_id is not None else rules.approvers_needed(currency, value)
    needs_approval = approvers > 0
    intent = NewIntent(
        intent_key,
        kind=IntentKind.PAYOUT,
        operation_type=OperationType.PAYOUT,
        operator=actor.email,
        state=IntentState.OPEN if needs_approval else IntentState.READY,
        terms={"phone": person.phone, "name": person.fullname, "amount": value, "currency": currency},
        fields={
            "party_name": person.fullname,
            "phone": person.phone,
            "dollr_party_id": customer.dollr_party_id,
            "method": method,
            "provider": provider,
            "account_id": account.dollr_account_id,
            "amount": value,
            "currency": currency,
            "payer_currency": currency,
            "note": note,
            "batch_id": batch_id,
            "needs_approval": needs_approval,
            "approvals_needed": max(approvers, 1),
            **_predicted(prediction),
        },
    )
    return PreparedPayout(intent, info.carrier or method.value, prediction)


def _predicted(prediction: AmountAndFeePrediction) -> dict[str, Any]:
    return {
        "predicted_payer_amount": prediction.payer_amount,
        "predicted_payee_amount": prediction.payee_amount,
        "predicted_platform_fee": prediction.platform_fee,
        "predicted_gateway_fee": prediction.gateway_fee,
        "predicted_fx_fee": prediction.fx_fee,
    }


def _quote(intent: Intent, carrier: str, prediction: AmountAndFeePrediction) -> PayoutQuote:
    zero = Decimal(0)
    return PayoutQuote(
        intent_key=intent.intent_key,
        name=intent.party_name,
        phone=intent.phone,
        carrier=carrier,
        method=PaymentMethod(str(intent.method)),
        amount=intent.amount or zero,
        currency=intent.currency,
        platform_fee=prediction.platform_fee or zero,
        gateway_fee=prediction.gateway_fee or zero,
        fx_fee=prediction.fx_fee or zero,
        wallet_debit=prediction.payer_amount,
        needs_approval=intent.needs_approval,
        state=IntentState(intent.state),
    )


@dataclass
class PayoutPlan:
    """Opens the payout session and builds the execute body. Holds the passcode only in memory."""

    svc: Services
    intent: Intent
    passcode: SecretStr
    operation_type: OperationType = OperationType.PAYOUT

    def open_session(self) -> protocol.OpenedSession:
        assert self.intent.account_id is not None and self.intent.amount is not None
        session = self.svc.client.sessions.payout(
            PayoutSessionCreate(
                payout_account_id=self.intent.account_id,
                amount=self.intent.amount,
                currency=self.intent.currency,
            )
        )
        return protocol.OpenedSession(session.id, session.expires_at)

    def build(self, session_id: int, reference_id: str) -> BaseModel:
        settings = self.svc.settings
        assert self.intent.account_id is not None
        return PayoutExecute(
            session_id=str(session_id),
            payout_account_id=self.intent.account_id,
            reference_id=reference_id,
            passcode=Passcode(
                token=PasscodeToken(code=self.passcode, phone=settings.passcode_phone),
                device=PasscodeDevice(
                    name=settings.device_name,
                    type="SERVER",
                    platform="PYTHON",
                    user_agent=f"dollr-ops-console/{VERSION}",
                    client_ip=settings.device_ip,
                ),
            ),
        )


class LikelyDuplicate(PayoutRefused):
    """The same number was paid the same amount a short while ago: send only if meant."""


def likely_duplicate(svc: Services, intent: Intent) -> Attempt | None:
    """The newest earlier payout to the same number of the same amount and currency, within
    `duplicate_window_hours`, that moved money or may have (failed and refused ones do not count)."""
    hours = svc.settings.duplicate_window_hours
    if not hours or intent.batch_id is not None or intent.amount is None:
        return None  # a batch's rows are checked, and approved, as a whole
    since = utcnow() - timedelta(hours=hours)
    gone = (AttemptState.FAILED, AttemptState.REFUSED, AttemptState.ABANDONED)
    with Session(read_only(svc.engine)) as db:
        return db.exec(
            select(Attempt)
            .where(
                Attempt.operation_type == OperationType.PAYOUT,
                Attempt.phone == intent.phone,
                Attempt.currency == intent.currency,
                Attempt.amount == intent.amount,
                col(Attempt.created_at) >= since,
                col(Attempt.intent_id) != intent.id,
                col(Attempt.local_state).not_in(gone),
            )
            .order_by(col(Attempt.created_at).desc())
        ).first()


def confirm_payout(
    svc: Services, actor: Actor, intent_key: str, passcode: str | SecretStr, *, pay_again: bool = False
) -> Attempt:
    """Send the prepared payout once; a repeat call reports on the attempt already made.

    A payout that looks like one made a short while ago (`likely_duplicate`) is sent only with
    `pay_again`: the person said yes, it is meant."""
    require_any(actor, Permission.PAY_OUT, Permission.BULK_PAYOUTS)  # before revealing anything
    intent = get_intent(svc.engine, intent_key)
    if intent is None:
        raise protocol.IntentNotReady("This payout was not prepared; start again from the form.")
    require(actor, Permission.PAY_OUT if intent.batch_id is None else Permission.BULK_PAYOUTS)
    if intent.operator.lower() != actor.email.lower():
        raise PayoutRefused(f"This payout was prepared by {intent.operator}; only they can send it.")
    if intent.batch_id is None:
        _still_allowed(svc, actor, intent)
    secret = passcode if isinstance(passcode, SecretStr) else SecretStr(passcode.strip())
    if not secret.get_secret_value():
        if intent.current_attempt_id is not None:  # a second click after the first sent it
            return protocol.current_attempt(svc.engine, intent_key)
        raise PayoutRefused("Enter the merchant passcode to confirm the payout.")
    earlier = likely_duplicate(svc, intent) if intent.current_attempt_id is None else None
    if earlier is not None and not pay_again:
        raise LikelyDuplicate(duplicate_warning(earlier) + " Tick “Yes, pay again” if it is meant.")
    plan = PayoutPlan(svc, intent, secret)
    return protocol.submit(svc.engine, svc.client, intent_key, plan, actor=actor.email, as_left=intent)


def _still_allowed(svc: Services, actor: Actor, intent: Intent) -> None:
    """Before sending: an approval that expired meanwhile, or a day's limit reached in another tab,
    stops the payout here (the intent is not claimed yet, so nothing is sent)."""
    unsent_approval = intent.needs_approval and intent.state == IntentState.READY
    if unsent_approval and intent.current_attempt_id is None:
        expired = approvals.expire_decisions(svc)
        if any(e.intent_key == intent.intent_key for e in expired):
            raise PayoutRefused(
                "The manager's approval of this payout expired before it was sent:"
                " send it for approval again."
            )
    if intent.state != IntentState.READY or intent.amount is None:
        return  # already sent: the protocol reports on the attempt made
    _, allowance = approval_rules.with_allowance(
        svc.engine, svc.settings, actor, intent.currency, excluding=intent.intent_key
    )
    too_much = approval_rules.over_daily_limit(allowance, intent.amount)
    if too_much:
        raise PayoutRefused(too_much)


def daily_allowance(
    svc: Services, actor: Actor, currency: str, intent_key: str
) -> approval_rules.DailyAllowance | None:
    """What the actor may still pay out today in `currency`, besides the payout `intent_key`."""
    return approval_rules.with_allowance(svc.engine, svc.settings, actor, currency, excluding=intent_key)[1]


# --------------------------------------------------------------------------- for the console

#: The operator's name as the recipient knows it, per mobile-money method.
CARRIERS: dict[str, str] = {
    PaymentMethod.MTN_MOMO_LBR: "MTN",
    PaymentMethod.MTN_MOMO_RWA: "MTN",
    PaymentMethod.ORANGE_MONEY_LBR: "Orange",
    PaymentMethod.ORANGE_MONEY_RWA: "Orange",
    PaymentMethod.AIRTEL_RWA: "Airtel",
}


def carrier_of(method: str | None) -> str:
    return CARRIERS.get(str(method), str(method or "unknown mobile network"))


def recipient_operator(svc: Services, actor: Actor, phone: str) -> MmoProviderInfo:
    """Which operator serves the recipient's number and the currencies it pays out in (cached).

    Raises ValueError (a bad number) or PayoutRefused (no operator we can pay) in plain words.
    """
    require_any(actor, Permission.PAY_OUT, Permission.BULK_PAYOUTS)
    number = normalize_phone(phone)
    try:
        info = svc.lookups.operator(number, OperationType.PAYOUT)
    except (InvalidRequestError, RequestValidationError):
        raise PayoutRefused(
            "No mobile network we can pay serves this number: check it, including the country code."
        ) from None
    if info.payment_method is None or not info.currencies:
        raise PayoutRefused("Dollr could not tell which mobile network serves this number.")
    return info


def quote_of(intent: Intent) -> PayoutQuote:
    """The review of a prepared payout from the ledger alone (no call to Dollr), e.g. once approved."""
    zero = Decimal(0)
    amount = intent.amount or zero
    platform, gateway, fx = (
        intent.predicted_platform_fee or zero,
        intent.predicted_gateway_fee or zero,
        intent.predicted_fx_fee or zero,
    )
    return PayoutQuote(
        intent_key=intent.intent_key,
        name=intent.party_name,
        phone=intent.phone,
        carrier=carrier_of(intent.method),
        method=PaymentMethod(str(intent.method)),
        amount=amount,
        currency=intent.currency,
        platform_fee=platform,
        gateway_fee=gateway,
        fx_fee=fx,
        wallet_debit=intent.predicted_payer_amount or amount + platform + gateway + fx,
        needs_approval=intent.needs_approval,
        state=IntentState(intent.state),
    )


def own_payout(svc: Services, actor: Actor, intent_key: str) -> Intent | None:
    """The actor's own single payout with this key; None for anyone else's (links carry any key)."""
    require(actor, Permission.PAY_OUT)
    intent = get_intent(svc.engine, intent_key)
    if (
        intent is None
        or intent.kind != IntentKind.PAYOUT
        or intent.batch_id is not None
        or intent.operator.lower() != actor.email.lower()
    ):
        return None
    return intent


def duplicate_warning(earlier: Attempt) -> str:
    """One sentence on the earlier payout this one repeats."""
    when = earlier.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{earlier.party_name or 'This number'} ({mask_phone(earlier.phone)}) was already paid"
        f" {money_text(earlier.amount, earlier.currency)} on {when}"
        f" (reference {short_reference(earlier.reference_id)}, sent by {earlier.operator})."
    )


def failure_advice(attempt: Attempt) -> str:
    """The safe next step after a payout that did not go through, in plain words."""
    reason = failure_reason(attempt).lower()
    if attempt.wallet_message or "wallet balance" in reason:
        # Dollr debits our own wallet for amount + fees: a short balance is ours to fix first.
        return (
            "Our Dollr wallet does not hold enough for the amount plus fees. Top up the wallet first,"
            " then start a new payout. Nothing was paid."
        )
    if "passcode" in reason:
        return (
            "Nothing was paid. Start a new payout (the details are kept) and enter the correct merchant"
            " passcode."
        )
    return (
        "Nothing was paid. Check the recipient's number and mobile network with them, then start a new payout"
        " if it should still go."
    )
