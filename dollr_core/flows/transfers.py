"""Wallet transfers: from our Dollr wallet to a counterparty's Dollr wallet.

The person names who receives it (their Dollr party and counterparty are found or made), the
amount and a note; the wallet debited is ours in that currency (setting `DOLLR_WALLET_IDS`, or
in sandbox mode the embedded sandbox's own). Above the approval threshold a manager approves
first. Dollr asks no passcode for transfers (E3 takes the session and the reference only); the
transfer goes through the execution protocol and pays exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from dollr_core.api.errors import DollrError
from dollr_core.api.models import AmountAndFeesQuery, TransferExecute, TransferSessionCreate
from dollr_core.api.sandbox_controls import sandbox_wallets
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod, Provider, RelationshipType
from dollr_core.basics.money import parse_amount
from dollr_core.basics.validation import NOTE_LENGTH, check_text
from dollr_core.flows.directory import Person, ensure_counterparty, ensure_party
from dollr_core.flows.money_out import (
    MoneyOutRefused,
    attach_detail,
    details_of,
    needs_approval,
    own_intent,
    submit,
)
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import EDITABLE, get_intent, open_intent
from dollr_core.ledger.tables import Attempt, Intent, IntentKind, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services

SESSION_LIFETIME = timedelta(minutes=15)


def our_wallet(svc: Services, currency: str) -> int:
    """The id of our Dollr wallet in this currency: the one a transfer session debits."""
    configured = svc.settings.wallet_ids.get(currency)
    if configured is not None:
        return configured
    if svc.sandbox_url is not None and not svc.settings.is_live:
        for wallet in sandbox_wallets(svc.sandbox_url):
            if wallet.currency == currency:
                return wallet.id
    raise MoneyOutRefused(
        f"No {currency} wallet is configured: set DOLLR_WALLET_IDS (e.g. {currency}=3) to the id Dollr's"
        " portal shows for it."
    )


def prepare_transfer(
    svc: Services,
    actor: Actor,
    intent_key: str,
    *,
    recipient: Person,
    amount: str | Decimal,
    currency: str,
    note: str = "",
    relationship: RelationshipType = RelationshipType.BENEFICIARY,
) -> Intent:
    """Find or make the recipient at Dollr, quote the fee, and store the transfer ready to send."""
    require(actor, Permission.TRANSFER)
    existing = get_intent(svc.engine, intent_key)
    if existing is not None and IntentState(existing.state) not in EDITABLE:
        return existing
    value = parse_amount(amount, currency)
    note = " ".join(check_text(note, "note", max_length=NOTE_LENGTH, multiline=True).split())
    wallet = our_wallet(svc, currency)
    party = ensure_party(svc.engine, svc.client, recipient)
    counterparty = ensure_counterparty(svc.engine, svc.client, party.dollr_party_id, relationship)
    predicted = _quote(svc, value, currency)
    approval = needs_approval(svc, value, currency)
    intent = open_intent(
        svc.engine,
        intent_key,
        kind=IntentKind.TRANSFER,
        operation_type=OperationType.TRANSFER,
        operator=actor.email,
        state=IntentState.AWAITING_APPROVAL if approval else IntentState.READY,
        terms={"to": counterparty.dollr_counterparty_id, "amount": value, "currency": currency},
        party_name=party.fullname,
        phone=party.phone,
        dollr_party_id=party.dollr_party_id,
        dollr_counterparty_id=counterparty.dollr_counterparty_id,
        method=PaymentMethod.WALLET,
        provider=Provider.PLATFORM,
        amount=value,
        currency=currency,
        payer_currency=currency,
        note=note,
        needs_approval=approval,
        **predicted,
    )
    attach_detail(svc, intent, to_counterparty_id=counterparty.dollr_counterparty_id, from_wallet_id=wallet)
    audit.record(
        svc.engine,
        actor.email,
        "transfer_sent_for_approval" if approval else "transfer_prepared",
        target=f"counterparty {counterparty.dollr_counterparty_id}",
        detail=f"{currency} {value} to {party.fullname} from wallet {wallet}",
    )
    return intent


def _quote(svc: Services, amount: Decimal, currency: str) -> dict[str, Any]:
    """What Dollr says the transfer costs (a quote; none when Dollr will not quote it)."""
    try:
        prediction = svc.lookups.prediction(
            AmountAndFeesQuery(
                base_amount=amount,
                base_currency=currency,
                target_currency=currency,
                payment_method=PaymentMethod.WALLET,
                operation_type=OperationType.TRANSFER,
                provider=Provider.PLATFORM,
                fee_bearer=FeeBearer.PAYER,
            )
        )
    except DollrError:
        return {}
    return {
        "predicted_payer_amount": prediction.payer_amount,
        "predicted_payee_amount": prediction.payee_amount,
        "predicted_platform_fee": prediction.platform_fee,
        "predicted_gateway_fee": prediction.gateway_fee,
        "predicted_fx_fee": prediction.fx_fee,
    }


@dataclass
class TransferPlan:
    svc: Services
    intent: Intent
    from_wallet_id: int
    operation_type: OperationType = OperationType.TRANSFER

    def open_session(self) -> protocol.OpenedSession:
        assert self.intent.amount is not None and self.intent.dollr_counterparty_id is not None
        ends = utcnow() + SESSION_LIFETIME
        session = self.svc.client.sessions.transfer(
            TransferSessionCreate(
                from_wallet_id=self.from_wallet_id,
                to_counterparty_id=self.intent.dollr_counterparty_id,
                currency=self.intent.currency,
                amount=self.intent.amount,
                expires_at=ends,
            )
        )
        return protocol.OpenedSession(session.id, session.expires_at or ends)

    def build(self, session_id: int, reference_id: str) -> BaseModel:
        return TransferExecute(session_id=str(session_id), reference_id=reference_id)


def confirm_transfer(svc: Services, actor: Actor, intent_key: str) -> Attempt:
    """Send the prepared transfer once; a repeat call reports on the attempt already made."""
    require(actor, Permission.TRANSFER)
    intent = own_intent(svc, actor, intent_key, IntentKind.TRANSFER)
    detail = details_of(svc, intent)
    if detail is None or detail.from_wallet_id is None:
        raise MoneyOutRefused("This transfer was not prepared; start again from the form.")
    return submit(svc, actor, intent, TransferPlan(svc, intent, detail.from_wallet_id))
