"""The embedded Dollr sandbox: a strict, stateful simulator of every endpoint of the Dollr v1 API.

Run it
------
In-process::

    from dollr_sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig()) as sb:      # uvicorn on 127.0.0.1:<free port>, in a thread
        sb.base_url                           # "http://127.0.0.1:PORT"
        sb.advance_clock(5); sb.executions(); sb.wallets()
        sb.add_fault("/v1/executions", action="drop_response")

Standalone::

    python -m dollr_sandbox --host 127.0.0.1 --port 8765 [--state FILE] [--latency-ms N]
                                 [--unverified] [--lenient] [--data-envelope] [--rate-limit N]
                                 [--refuse-second-collection] [--no-operator-check] [--no-party-check]

``--state FILE`` keeps everything (records, balances, tokens, id counters, clock offset) in a SQLite
file, committed before each response leaves, so a restart loses nothing acknowledged.

Credentials
-----------
Client id ``sandbox``, client secret ``sandbox-secret`` (A1; tokens last 60 minutes of sandbox
clock). Merchant passcode ``123456`` registered with phone ``231880000000`` (or user id ``1``).
A wrong passcode on a payout gives, by default, an execution that is FAILED at once (PENDING →
FAILED) with a ``gateway_message`` saying so; ``wrong_passcode="403"`` or ``"422"``
(``--wrong-passcode``) answers it that way instead, storing nothing. Unverified merchants
(``verified=False``) get 403 on payout sessions and executions, transfers, refunds, payment links
(L1) and hosted checkout (K1). ``Bearer`` headers are read as sent: ``Bearer  x`` (padded) is a 401.
A missing field is ``{"msg": "field required", "type": "value_error.missing"}``, as the docs show.

Test numbers
------------
Executions go PENDING → PROCESSING after ``pending_seconds`` (1 s) and reach their outcome
``processing_seconds`` (3 s) later, on the sandbox clock. The last four digits of the mobile-money
wallet number (the payment account's ``insensitive_account_number``; for payouts the payout
account's) choose the outcome:

======  =====================================================================
 0001   FAILED: the payer declines (payouts: the operator rejects)
 0002   FAILED: insufficient funds (payouts: the recipient's wallet is full)
 0003   slow: PROCESSING for ``slow_seconds`` (180 s), then COMPLETED
 0004   never approved: PROCESSING for ``timeout_seconds`` (120 s), then FAILED
 other  COMPLETED
======  =====================================================================

Cards (``CREDIT_CARD`` + ``STRIPE``, no number) carry a Stripe test ``payment_method_id`` on PA1
(none pays like ``pm_card_visa``): ``pm_card_threeDSecure2Required`` and
``pm_card_authenticationRequired`` answer PROCESSING with ``requires_action: true`` and a
``client_secret`` ``pi_…_secret_…``, then wait for the customer: ``POST
/_sandbox/authentications/{reference_id}`` ``{"succeed": true|false}`` (``Sandbox.authenticate_card``,
or the buttons on the hosted page) completes or fails 3-D Secure, and an unauthenticated payment
FAILS after ``card_authentication_seconds`` (600 s). ``pm_card_chargeDeclined`` and
``pm_card_chargeDeclinedInsufficientFunds`` fail;
``pm_card_authenticationRequiredChargeDeclinedInsufficientFunds`` asks for 3DS, then fails.
Payouts debit the wallet by amount + fees at execute time (the
money is held, and released if the payout fails); a short wallet gives FAILED at once with a
``wallet_message``.

Fees and FX (``GET /_sandbox/pricing`` returns the live table)
---------------------------------------------------------------
All fees are on the base amount, in the base currency, rounded ROUND_HALF_UP to its minor units.

* Gateway: mobile money collection 1 %, payout 1.5 %, refund 0 %; card collection 2.9 % + USD 0.30
  (converted to the base currency); wallet payout/transfer/refund 0 %. Card payouts, card or MoMo
  transfers and wallet collections are not available (422).
* Platform, tier ``default``: collection 1.5 %, payout 0.5 %, transfer 0.5 %, refund 0 %
  (tier ``growth``: 1.0 / 0.25 / 0.25 / 0 %).
* FX: 1 USD = 190 LRD = 1400 RWF (cross rates derived); FX fee 0.75 % when the payer's currency
  differs from the base.
* PAYER bears: payer = convert(base + fees), payee = base. PAYEE bears: payer = convert(base),
  payee = base − fees. With these defaults a USD 100 MoMo collection paid in LRD has exactly the
  fees of the contract's PR1 example (platform 1.50, gateway 1.00, FX 0.75).

Choices where the contract leaves one
-------------------------------------
* Unknown ids in a *path or query* (and unknown references and numbers) are 404; an unknown id
  referenced from a *body* (``counterparty_id``, ``payment_account_id``, ``session_id``…) is 422 at
  that field. Wrong states are 422 (type ``value_error.state``).
* A checkout session or collection on a document that is PROCESSING is accepted and charged, as
  the docs warn Dollr live may do (§7.3): two completed collections credit the wallet twice and the
  source keeps the first as its receipt. ``refuse_collection_while_processing=True``
  (``--refuse-second-collection``) restores a 422.
* A mobile-money payment account whose number belongs to another operator by prefix is a 422 at
  ``body.method`` (``check_operator``); a collection paid from another party's account is a 422
  at ``body.payment_account_id`` (``check_account_party``).
* A hosted checkout's own URL stops working at its ``expires_at`` (paying is a 422 at
  ``("path", "token")``); the source's pay link (L1) does not expire.
* Checkout-created (K1) sources are ACTIVE at once, with ``fee_bearer`` PAYER and a pay link.
* A source needs at least one item to be published. Refunds are capped at the original
  collection's base amount, counting refunds already completed or in flight.
* ``data_envelope`` wraps successful /v1 bodies only; errors and ``/_sandbox`` stay bare.
* Faults and ``latency_ms`` apply to ``/v1`` paths only, so the controls always answer.
  ``drop_response`` carries the request out, sends the status line and headers, then breaks the
  connection: the client sees ``httpx.RemoteProtocolError``, never a 500.
* ``SandboxConfig(start_time=...)`` starts the sandbox clock at a given instant (e.g. the
  contract examples' 2025-06-01).

Sandbox-only endpoints (``/_sandbox``)
--------------------------------------
``POST/GET/DELETE /faults``, ``POST /clock/advance``, ``GET /clock``, ``GET /executions``,
``GET /wallets``, ``GET /pricing``, ``POST /reset``, ``GET/POST /config``, ``GET /requests``,
``POST /payment-accounts/{id}/active``, ``POST /authentications/{reference_id}``, and the hosted
checkout page ``GET /hosted/{token}`` (JSON, or an HTML page with forms for a browser),
``POST /hosted/{token}/pay``, ``GET /receipts/{token}``.
"""

from dollr_sandbox.app import create_app
from dollr_sandbox.config import SandboxConfig
from dollr_sandbox.faults import Fault, FaultAction, FaultSpec
from dollr_sandbox.pricing import Pricing, PricingConfig
from dollr_sandbox.server import Sandbox, SandboxError
from dollr_sandbox.state import SandboxState

__all__ = [
    "Fault",
    "FaultAction",
    "FaultSpec",
    "Pricing",
    "PricingConfig",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxState",
    "create_app",
]
