"""Approval rules: who must approve a payout, how long a decision lasts, what an operator may pay a day.

Per currency: above one threshold a payout needs one manager, above a higher one two different
managers; operators have a limit per payout and one per company day (all their payouts that day
together). A request nobody decides, or an approval nobody sends, returns to its maker after
`approval_expiry_hours`.

An admin edits the rules in the console (stored in `console_setting`, audited old → new). A rule
set explicitly in the install's settings (`DOLLR_APPROVAL_THRESHOLDS` …) wins and cannot be edited
in the console: that is how a locked-down install keeps them fixed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, func
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, Role, require, roles_with
from dollr_core.basics.money import SUPPORTED_CURRENCIES, parse_amount, quantize
from dollr_core.config import AMOUNT_SETTINGS, Settings
from dollr_core.errors import InputRefused
from dollr_core.ledger import audit
from dollr_core.ledger.columns import Money, utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import ConsoleSetting, Intent, IntentKind, IntentState

SETTING_KEY = "approval_rules"
#: The rules holding an amount per currency, in the order the Approvals page shows them.
AMOUNT_RULES = AMOUNT_SETTINGS
EDITABLE = (*AMOUNT_RULES, "approval_expiry_hours")

#: What each rule is called on screen and in the audit trail.
RULE_NAMES = {
    "approval_thresholds": "one manager approves above",
    "approval_two_approver_thresholds": "two managers approve above",
    "operator_payout_limits": "an operator pays at most, per payout",
    "operator_daily_limits": "an operator pays at most, per day",
    "approval_expiry_hours": "a request or approval lasts (hours)",
}

#: Payouts that count towards a day's total: all but those that moved no money and never will.
_NOT_COUNTED = (IntentState.REJECTED, IntentState.CANCELED, IntentState.FAILED)


class RulesError(InputRefused):
    """A rule change is refused; the message names the rule and the currency."""


@dataclass(frozen=True)
class ApprovalRules:
    """The rules in force: the console's values, except where the install's settings fix them."""

    approval_thresholds: dict[str, Decimal]
    approval_two_approver_thresholds: dict[str, Decimal]
    operator_payout_limits: dict[str, Decimal]
    operator_daily_limits: dict[str, Decimal]
    approval_expiry_hours: int
    company_timezone: str
    #: Rules set in the install's settings: shown, never editable in the console.
    locked: frozenset[str]

    def approvers_needed(self, currency: str, amount: Decimal) -> int:
        """0, 1 or 2 different managers for a single payout of `amount`.

        Two are needed above both thresholds (an install that raised only the first one does not
        get two-manager approvals below it).
        """
        one = self.approval_thresholds.get(currency)
        two = self.approval_two_approver_thresholds.get(currency)
        above_one = one is not None and amount > one
        if two is not None and amount > two and (above_one or one is None):
            return 2
        return 1 if above_one else 0

    @property
    def expiry(self) -> timedelta:
        return timedelta(hours=self.approval_expiry_hours)

    def day_bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The company day holding `now`, as UTC instants: [midnight, next midnight) in its time zone."""
        zone = ZoneInfo(self.company_timezone)
        local = (now or utcnow()).astimezone(zone)
        start = datetime.combine(local.date(), time.min, zone)
        end = datetime.combine(local.date() + timedelta(days=1), time.min, zone)
        return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def current(engine: Engine, settings: Settings) -> ApprovalRules:
    """The rules in force now."""
    with read_only(engine).connect() as conn:
        return _in_force(conn, settings)


def with_allowance(
    engine: Engine, settings: Settings, actor: Actor, currency: str, *, excluding: str | None = None
) -> tuple[ApprovalRules, DailyAllowance | None]:
    """The rules in force and `actor`'s allowance today in `currency` (None when no daily limit
    applies to them), in one read: every payout's prepare and confirm asks both."""
    with read_only(engine).connect() as conn:
        rules = _in_force(conn, settings)
        return rules, _allowance(conn, rules, actor, currency, excluding)


def _in_force(conn: Connection, settings: Settings) -> ApprovalRules:
    raw = conn.execute(_STORED).scalar()
    stored = dict(json.loads(raw)) if raw is not None else {}
    locked = frozenset(name for name in EDITABLE if name in settings.model_fields_set)
    values: dict[str, Any] = {}
    for name in EDITABLE:
        value = getattr(settings, name)
        if name not in locked and name in stored:
            raw = stored[name]
            value = int(raw) if name == "approval_expiry_hours" else {c: Decimal(a) for c, a in raw.items()}
        values[name] = value
    return ApprovalRules(**values, company_timezone=settings.time_zone, locked=locked)


#: Read at every payout's prepare and confirm: built once, run on a bare connection (a Session
#: and a statement built per call were 6 % of a payout's CPU).
_STORED = select(col(ConsoleSetting.value)).where(col(ConsoleSetting.key) == SETTING_KEY)


def update(
    engine: Engine, settings: Settings, actor: Actor, typed: Mapping[str, Mapping[str, str] | str]
) -> ApprovalRules:
    """Save an admin's changes: `typed` maps a rule to {currency: amount text} (empty: no limit),
    or for `approval_expiry_hours` to the hours as text. Audited old → new in the same transaction.
    """
    require(actor, Permission.MANAGE_USERS)
    before = current(engine, settings)
    for name in typed:
        if name not in EDITABLE:
            raise RulesError(f"There is no approval rule called {name!r}.")
        if name in before.locked:
            raise RulesError(
                f"“{RULE_NAMES[name]}” is fixed in this install's settings; it cannot be changed here."
            )
    new: dict[str, Any] = {}
    for name in EDITABLE:
        if name not in typed:
            continue
        value = typed[name]
        if name == "approval_expiry_hours":
            new[name] = _hours(str(value))
        else:
            assert isinstance(value, Mapping)
            new[name] = _amounts(name, value)
    after = _merged(before, new)
    for currency in SUPPORTED_CURRENCIES:
        one = after.approval_thresholds.get(currency)
        two = after.approval_two_approver_thresholds.get(currency)
        if one is not None and two is not None and two <= one:
            raise RulesError(
                f"{currency}: the amount above which two managers approve ({two:,}) must be higher than"
                f" the one above which one manager approves ({one:,})."
            )
    changes = _changes(before, after)
    if not changes:
        return before
    with Session(engine) as db:
        row = db.get(ConsoleSetting, SETTING_KEY, with_for_update=True)
        stored = dict(json.loads(row.value)) if row is not None else {}
        for name, value in new.items():
            stored[name] = value if isinstance(value, int) else {c: str(a) for c, a in value.items()}
        if row is None:
            row = ConsoleSetting(key=SETTING_KEY, value="", updated_by=actor.email)
        row.value, row.updated_by, row.updated_at = json.dumps(stored, sort_keys=True), actor.email, utcnow()
        db.add(row)
        audit.add(
            db, actor.email, "approval_rules_changed", target="approval rules", detail="; ".join(changes)
        )
        db.commit()
    return current(engine, settings)


def _hours(text: str) -> int:
    try:
        hours = int(text.strip())
    except ValueError:
        hours = 0
    if not 1 <= hours <= 720:
        raise RulesError("How long a request or approval lasts: write a whole number of hours from 1 to 720.")
    return hours


def _amounts(name: str, typed: Mapping[str, str]) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for currency, text in typed.items():
        if currency not in SUPPORTED_CURRENCIES:
            raise RulesError(f"“{RULE_NAMES[name]}”: {currency!r} is not a currency the console handles.")
        if not text.strip():
            continue  # no limit in this currency
        try:
            amount = parse_amount(text, currency)
        except ValueError as exc:
            raise RulesError(f"“{RULE_NAMES[name]}” in {currency}: {exc}") from None
        amounts[currency] = amount
    return amounts


def _merged(before: ApprovalRules, new: Mapping[str, Any]) -> ApprovalRules:
    values = {name: new.get(name, getattr(before, name)) for name in EDITABLE}
    return ApprovalRules(**values, company_timezone=before.company_timezone, locked=before.locked)


def _changes(before: ApprovalRules, after: ApprovalRules) -> list[str]:
    """Each change as “rule (currency): old → new”, for the audit trail."""
    changes: list[str] = []
    for name in EDITABLE:
        old, new = getattr(before, name), getattr(after, name)
        if name == "approval_expiry_hours":
            if old != new:
                changes.append(f"{RULE_NAMES[name]}: {old} → {new}")
            continue
        for currency in SUPPORTED_CURRENCIES:
            if old.get(currency) != new.get(currency):
                was, now = _shown(old.get(currency)), _shown(new.get(currency))
                changes.append(f"{RULE_NAMES[name]} ({currency}): {was} → {now}")
    return changes


def _shown(amount: Decimal | None) -> str:
    return "no limit" if amount is None else f"{amount:,}"


# --------------------------------------------------------------------------- daily limits


@dataclass(frozen=True)
class DailyAllowance:
    """What an operator has paid out today (company day) in one currency, and what is left."""

    currency: str
    limit: Decimal
    used: Decimal
    day_start: datetime
    timezone: str

    @property
    def left(self) -> Decimal:
        return max(self.limit - self.used, Decimal(0))


def _allowance(
    conn: Connection, rules: ApprovalRules, actor: Actor, currency: str, excluding: str | None
) -> DailyAllowance | None:
    """The operator's allowance today, or None when no daily limit applies to them in `currency`.

    Counts every single payout they made this company day that moved or may move money; the
    payout `excluding` (the one being reviewed) is left out so it is never counted twice.
    """
    limit = rules.operator_daily_limits.get(currency)
    if actor.role is not Role.OPERATOR or limit is None:
        return None
    start, end = rules.day_bounds()
    day = {"operator": actor.email.lower(), "currency": currency, "start": start, "end": end}
    # No intent has an empty key: excluding "" leaves every payout in.
    used = conn.execute(_PAID_TODAY, {**day, "excluding": excluding or ""}).scalar() or Decimal(0)
    return DailyAllowance(currency, limit, used, start, rules.company_timezone)


#: What an operator paid out in a day; built once (read at every payout's prepare and confirm).
_PAID_TODAY = select(func.sum(col(Intent.amount), type_=Money)).where(
    func.lower(Intent.operator) == bindparam("operator"),
    Intent.kind == IntentKind.PAYOUT,
    Intent.currency == bindparam("currency"),
    col(Intent.created_at) >= bindparam("start"),
    col(Intent.created_at) < bindparam("end"),
    col(Intent.state).not_in(_NOT_COUNTED),
    Intent.intent_key != bindparam("excluding"),
)


def over_daily_limit(allowance: DailyAllowance | None, amount: Decimal) -> str | None:
    """The sentence refusing `amount`, or None when it fits in today's allowance."""
    if allowance is None or allowance.used + amount <= allowance.limit:
        return None
    c = allowance.currency

    def shown(value: Decimal) -> str:
        return f"{c} {quantize(value, c):,}"

    return (
        f"This payout of {shown(amount)} would take you over your daily limit of {shown(allowance.limit)}:"
        f" you have paid out {shown(allowance.used)} today ({allowance.timezone} day), so"
        f" {shown(allowance.left)} is left. Pay the rest tomorrow, or {LARGER_PAYOUTS}"
    )


def _larger_payouts() -> str:
    """Who can pay more than an operator may, read from the roles table (never a guess)."""
    makers = " or ".join(role.value for role in roles_with(Permission.BULK_PAYOUTS))
    checkers = " or ".join(role.value for role in roles_with(Permission.APPROVE))
    return (
        f"ask someone with the {makers} role to send it as a payout batch on Bulk payouts,"
        f" where someone with the {checkers} role approves it."
    )


#: The advice an operator gets when a payout is more than they may send alone.
LARGER_PAYOUTS = _larger_payouts()
