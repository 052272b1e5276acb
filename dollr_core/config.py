"""Settings: where Dollr is, who we are to it, where the ledger lives.

Read from `DOLLR_*` environment variables and, in the console, from Streamlit secrets (which win).
Defaults run the console on the embedded sandbox with no credentials at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dollr_core.basics.access import Role
from dollr_core.basics.constants import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_PASSCODE_PHONE,
)
from dollr_core.basics.enums import MerchantType
from dollr_core.errors import InputRefused

LIVE_BASE_URL = "https://api.heydollr.app"


#: Settings holding one amount per currency, written `USD=500,LRD=100000` in the environment.
AMOUNT_SETTINGS = (
    "approval_thresholds",
    "approval_two_approver_thresholds",
    "operator_payout_limits",
    "operator_daily_limits",
)


class Mode(StrEnum):
    SANDBOX = "sandbox"
    LIVE = "live"


class SettingsError(InputRefused):
    """A setting is missing or malformed; the message is one sentence naming it."""


class Settings(BaseModel):
    """Everything configurable. Build with `Settings.load()`; construct directly in tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode = Mode.SANDBOX
    #: None in sandbox mode means "start the embedded sandbox and use its address".
    base_url: str | None = None
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: SecretStr = SecretStr(SANDBOX_CLIENT_SECRET)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    data_dir: Path = Path("data")
    database_url: str | None = None
    #: Phone registered with the merchant passcode (payout executions send it with the code).
    passcode_phone: str = SANDBOX_PASSCODE_PHONE
    #: Who we are at Dollr (receipts show the merchant's name from M1).
    merchant_id: int = Field(default=1, ge=1)
    merchant_type: MerchantType = MerchantType.ORGANIZATION
    device_name: str = "Dollr Ops Console"
    device_ip: str = "127.0.0.1"
    #: Rows of a bulk payout paid at once, at most: the worker finds its own pace below this
    #: (`bulk/pace.py`) and halves it on a 429 or 5xx. At 16 a 1,000-row batch at 50 ms a call left
    #: half the machine waiting on the wire (8.0× one row at a time; 10.2× at 32, and 64 found 32).
    bulk_max_concurrency: int = Field(default=32, ge=1, le=64)
    #: A fixed number of rows at once instead of the pace the worker finds (None: it finds it).
    bulk_concurrency: int | None = Field(default=None, ge=1, le=64)
    #: Payouts above this amount (per currency) wait for a manager's approval.
    approval_thresholds: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal("500"), "LRD": Decimal("100000"), "RWF": Decimal("500000")}
    )
    #: Payouts above this amount (per currency) wait for two different managers.
    approval_two_approver_thresholds: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal("5000"), "LRD": Decimal("1000000"), "RWF": Decimal("5000000")}
    )
    #: The most an operator may pay out alone in one payout, per currency.
    operator_payout_limits: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal("2000"), "LRD": Decimal("400000"), "RWF": Decimal("2000000")}
    )
    #: The most an operator may pay out in one company day, all payouts together, per currency.
    operator_daily_limits: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal("5000"), "LRD": Decimal("1000000"), "RWF": Decimal("5000000")}
    )
    #: Hours after which an undecided request, or an unsent approval, returns to its maker.
    approval_expiry_hours: int = Field(default=24, ge=1, le=720)
    session_idle_minutes: int = Field(default=30, ge=1)
    #: A console session ends this many hours after signing in, however busy it was.
    session_lifetime_hours: int = Field(default=12, ge=1)
    #: A payout to the same number, of the same amount, within this many hours is a likely mistake.
    duplicate_window_hours: int = Field(default=24, ge=0)
    #: Our Dollr wallet per currency (ids from the portal): the wallet a transfer debits.
    wallet_ids: dict[str, int] = Field(default_factory=dict)
    #: Outgoing e-mail (notifications, invoices to customers): no host, no e-mail.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "dollr-console@localhost"
    #: The company's time zone (IANA name): its days decide statements and daily limits.
    time_zone: str = "UTC"
    #: A webhook (Slack-compatible) set here wins over the one an admin sets in the console.
    notification_webhook_url: str | None = None
    #: A payment still PROCESSING at Dollr this long after it was sent is reported to its maker.
    notify_processing_minutes: int = Field(default=30, ge=1)
    #: Roles that must use two-factor sign-in with their password (`admin,manager`; `none` for none).
    #: Company sign-in (OpenID Connect) users rely on their provider's.
    require_two_factor_roles: frozenset[Role] = frozenset({Role.ADMIN, Role.MANAGER})
    log_level: str = "INFO"

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Africa/Monrovia or UTC") from None
        return value

    @field_validator("require_two_factor_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        if isinstance(value, str):  # "admin,manager" from the environment; "none" or "" for none
            named = (part.strip().lower() for part in value.split(","))
            return [name for name in named if name not in ("", "none")]
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    @property
    def is_live(self) -> bool:
        return self.mode is Mode.LIVE

    @property
    def ledger_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ledger.db').as_posix()}"

    @property
    def sandbox_state_file(self) -> Path:
        return self.data_dir / "sandbox.sqlite3"

    def __repr__(self) -> str:  # secrets stay out of logs and tracebacks
        return f"Settings(mode={self.mode.value!r}, base_url={self.base_url!r}, client_id={self.client_id!r})"

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
    ) -> Settings:
        """Settings from `DOLLR_*` variables, overridden by a `[dollr]` table of Streamlit secrets."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name in cls.model_fields:
            value = environ.get(f"DOLLR_{name.upper()}")
            if value is not None and value != "":
                raw[name] = value
        for key in (*AMOUNT_SETTINGS, "wallet_ids"):
            if isinstance(raw.get(key), str):
                raw[key] = _parse_amounts(f"DOLLR_{key.upper()}", raw[key])
        if secrets:
            section = secrets.get("dollr", secrets)
            for name in cls.model_fields:
                if name in section:
                    raw[name] = section[name]
        try:
            settings = cls(**raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "settings"
            raise SettingsError(
                f"Setting DOLLR_{name.upper()} is invalid: {first['msg'].lower()}"
                f" (got {_shown(name, raw.get(name))})."
            ) from None
        keyless = settings.client_id == SANDBOX_CLIENT_ID or not settings.client_secret.get_secret_value()
        if settings.is_live and keyless:
            raise SettingsError(
                "Settings DOLLR_CLIENT_ID and DOLLR_CLIENT_SECRET must hold your live Dollr API keys."
            )
        return settings

    @property
    def http_connections(self) -> int:
        """Connections the client keeps for the whole console: a bulk payout's senders at their
        most, and room beside them for everyone else's screens."""
        return max(self.bulk_max_concurrency, self.bulk_concurrency or 0) + 8

    def resolved_base_url(self) -> str:
        if self.base_url:
            return self.base_url
        if self.is_live:
            return LIVE_BASE_URL
        raise SettingsError("Setting DOLLR_BASE_URL is empty: start the embedded sandbox first.")


def _parse_amounts(setting: str, text: str) -> dict[str, Decimal]:
    """`USD=500,LRD=100000` → {"USD": Decimal("500"), ...}."""
    amounts: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        currency, _, amount = part.partition("=")
        try:
            amounts[currency.strip().upper()] = Decimal(amount.strip())
        except InvalidOperation:
            raise SettingsError(
                f"Setting {setting} must look like USD=500,LRD=100000 (got {part!r})."
            ) from None
    return amounts


def _shown(name: str, value: object) -> str:
    if "secret" in name or "password" in name:
        return "a hidden value"
    return repr(value)
