"""`DollrClient`: one method per Dollr v1 endpoint, grouped in typed namespaces.

    with DollrClient(settings) as client:
        party = client.parties.create(PartyCreate(fullname="Amara Kamara", phone="231771234567"))
        invoice = client.invoices.create(InvoiceCreate(...))

Requests are pydantic models validated when built; responses are tolerant pydantic models.
Sending, authentication and retries live in `_transport` (policy table there). Errors are the
classes of `dollr_core.api.errors`. Executions (E1–E4) and realtime keys are never retried here:
on an error with `outcome_unknown`, look the reference up with `client.status.execution`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import httpx

from dollr_core.api.auth import TokenCache
from dollr_core.api.models import TokenRequest, TokenResponse
from dollr_core.api.resources import (
    TOKEN_PATH,
    USER_AGENT,
    Checkouts,
    Counterparties,
    Documents,
    Executions,
    Fees,
    Links,
    Merchants,
    Parties,
    PaymentAccounts,
    Predictions,
    RealtimeKeys,
    Sessions,
    Status,
    parse_response,
)
from dollr_core.api.transport import ClientStats, HttpClient, Retry, Sender
from dollr_core.basics.enums import SourceType
from dollr_core.config import Settings

__all__ = ["ClientStats", "Documents", "DollrClient"]


class DollrClient:
    """A Dollr v1 client over one pool of connections (`transport.HttpClient`). Thread-safe; close
    it (or use `with`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self.base_url = settings.resolved_base_url()
        self._http = HttpClient(
            self.base_url,
            transport=transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            # Keep every connection alive: with fewer kept than opened, ~1 in 500 requests under load
            # hit a dead pooled connection (encode/httpcore#1110).
            limits=httpx.Limits(
                max_connections=settings.http_connections,
                max_keepalive_connections=settings.http_connections,
            ),
            headers={"User-Agent": USER_AGENT},
        )
        self.stats = ClientStats()
        self._sender = Sender(
            self._http,
            max_retries=settings.max_retries,
            sleep=sleep,
            clock=clock,
            rng=rng,
            stats=self.stats,
            secrets=[settings.client_secret.get_secret_value()],
        )
        self._tokens = TokenCache(self.obtain_token, clock, on_change=self._sender.token_changed)
        self._sender.tokens = self._tokens
        #: Dollr's clock as measured from its responses (see `server_clock`).
        self.server_clock = self._sender.server_clock
        #: When the next request may leave: Dollr's 429 hold and the rate learned (`pacing`).
        self.pacer = self._sender.pacer

        self.parties = Parties(self._sender)
        self.counterparties = Counterparties(self._sender)
        self.invoices = Documents(self._sender, SourceType.INVOICE)
        self.orders = Documents(self._sender, SourceType.ORDER)
        self.checkouts = Checkouts(self._sender)
        self.sessions = Sessions(self._sender)
        self.payment_accounts = PaymentAccounts(self._sender)
        self.executions = Executions(self._sender)
        self.status = Status(self._sender)
        self.predictions = Predictions(self._sender)
        self.fees = Fees(self._sender)
        self.links = Links(self._sender)
        self.merchants = Merchants(self._sender)
        self.realtime_keys = RealtimeKeys(self._sender)

    def __repr__(self) -> str:
        return f"DollrClient(base_url={self.base_url!r}, client_id={self._settings.client_id!r})"

    def obtain_token(self) -> TokenResponse:
        """A1: a fresh access token (the client calls this itself; the cache is not updated)."""
        body = TokenRequest(client_id=self._settings.client_id, client_secret=self._settings.client_secret)
        payload = self._sender.request(
            "POST", TOKEN_PATH, body=body, retry=Retry.SAFE, authenticated=False, token_request=True
        )
        return parse_response(TokenResponse, payload, "POST", TOKEN_PATH)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
