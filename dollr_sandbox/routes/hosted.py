"""The hosted checkout page, the customer's side of Dollr: pay by wallet or card, pass 3-D Secure.

``GET /_sandbox/hosted/{token}`` answers JSON to programs and an HTML page to a browser (``Accept:
text/html``). The page's forms post to ``…/form`` and ``…/authenticate``, which do what the JSON
controls do and send the browser back to the page, so a person (or a browser test) pays and
authenticates the way a customer would, with no JavaScript.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dollr_core.basics.enums import CURRENCY_MINOR_UNITS, OperationType, PaymentMethod, SourceStatus
from dollr_sandbox import views
from dollr_sandbox.cards import DEFAULT_CARD, TEST_CARDS
from dollr_sandbox.deps import StateDep, json_body, plain
from dollr_sandbox.encoding import DecimalJSONResponse, format_datetime
from dollr_sandbox.errors import NotFound, Unprocessable, invalid, wrong_state
from dollr_sandbox.pricing import PricingError, round_to
from dollr_sandbox.records import Checkout, Execution, Source
from dollr_sandbox.routes.payments import collect
from dollr_sandbox.schemas import Currency, PaymentMethodId
from dollr_sandbox.state import SandboxState

router = APIRouter(prefix="/_sandbox", tags=["sandbox hosted page"])

DEFAULT_WALLET = "231880000000"


class HostedPayment(BaseModel):
    """What the customer picks on the hosted page. The wallet number's last four digits pick the
    outcome exactly as in API-embedded collections; for cards the test card does (``cards.py``)."""

    model_config = ConfigDict(extra="forbid")

    payment_method: PaymentMethod = PaymentMethod.MTN_MOMO_LBR
    currency: Currency | None = None
    account_number: str = DEFAULT_WALLET
    payment_method_id: PaymentMethodId = DEFAULT_CARD


class Authentication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    succeed: StrictBool = True


def _json(content: Any) -> Response:
    return DecimalJSONResponse(plain(content))


@dataclass(frozen=True)
class Hosted:
    """What a hosted-page token opens: a checkout's page (which expires), or a pay link's."""

    source: Source
    checkout: Checkout | None

    def expired(self, state: SandboxState) -> bool:
        expires_at = self.checkout.expires_at if self.checkout else None
        return expires_at is not None and state.now() >= expires_at


def by_token(state: SandboxState, token: str) -> Hosted:
    for checkout in state.checkouts.values():
        if checkout.token == token:
            source = state.source(checkout.source_id)
            if source is not None:
                return Hosted(source, checkout)
    for source in state.sources.values():
        if source.pay_token == token:
            return Hosted(source, None)
    raise NotFound("Checkout not found")


def waiting_for_authentication(state: SandboxState, source: Source) -> Execution | None:
    """The card payment on ``source`` that waits for the customer's 3-D Secure, if any."""
    for ex in state.executions.values():
        if ex.source_id == source.id and ex.requires_action and not ex.status.is_final:
            return ex
    return None


def pay_hosted(state: SandboxState, token: str, payment: HostedPayment) -> dict[str, Any]:
    """Act as the customer on the hosted page: start a collection with no session or account."""
    with state.transaction():
        page = by_token(state, token)
        source = page.source
        if page.expired(state):
            assert page.checkout is not None and page.checkout.expires_at is not None
            raise wrong_state(
                ("path", "token"),
                f"this checkout expired at {format_datetime(page.checkout.expires_at)}: create a new "
                "checkout, or fetch the pay link if the source is still ACTIVE",
            )
        try:
            state.pricing.gateway_fee(payment.payment_method, OperationType.COLLECTION)
        except PricingError as exc:
            raise invalid(("body", "payment_method"), exc.message) from None
        card = payment.payment_method is PaymentMethod.CREDIT_CARD
        ex = collect(
            state,
            source=source,
            account_method=payment.payment_method,
            currency=payment.currency or source.currency,
            reference_id=str(uuid.uuid4()),
            fingerprint="hosted",
            session=None,
            account=None,
            account_number=None if card else payment.account_number,
            account_name=None,
            payment_method_id=payment.payment_method_id if card else None,
            locs={
                "source": ("path", "token"),
                "target_currency": ("body", "currency"),
                "payment_method": ("body", "payment_method"),
                "amount": ("path", "token"),
            },
        )
        return views.execution(ex).model_dump()


def authenticate(state: SandboxState, reference_id: str, succeed: bool) -> dict[str, Any]:
    """The customer completes or fails 3-D Secure for one card payment (404 when none waits)."""
    with state.transaction():
        ex = state.authenticate(reference_id.lower(), succeed=succeed)
        if ex is None:
            raise NotFound(f"No card payment waits for 3-D Secure with reference_id {reference_id}")
        return views.execution(ex).model_dump()


def _page_data(state: SandboxState, page: Hosted, token: str) -> dict[str, Any]:
    source = page.source
    waiting = waiting_for_authentication(state, source)
    expires_at = page.checkout.expires_at if page.checkout else None
    return {
        "source_type": source.kind,
        "source_id": source.id,
        "source_number": source.number,
        "status": source.status,
        "currency": source.currency,
        "total_amount": source.total_amount,
        "expires_at": format_datetime(expires_at) if expires_at else None,
        "expired": page.expired(state),
        "pay": f"POST /_sandbox/hosted/{token}/pay",
        "awaiting_authentication": waiting.reference_id if waiting else None,
        "authenticate": f"POST /_sandbox/authentications/{waiting.reference_id}" if waiting else None,
    }


@router.get("/hosted/{token}")
async def hosted_page(request: Request, state: StateDep, token: str) -> Response:
    """The hosted payment page: data for programs, a page with forms for a browser."""
    with state.transaction():
        data = _page_data(state, by_token(state, token), token)
    if _wants_page(request):
        return HTMLResponse(_render(data, token))
    return _json(data)


@router.post("/hosted/{token}/pay")
async def hosted_pay(
    state: StateDep, token: str, body: Annotated[HostedPayment, Depends(json_body(HostedPayment))]
) -> Response:
    return _json(pay_hosted(state, token, body))


async def _form(request: Request) -> dict[str, str]:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    return {name: values[0] for name, values in fields.items() if values and values[0].strip()}


def _back(token: str) -> Response:
    return RedirectResponse(f"/_sandbox/hosted/{token}", status_code=303)


def _page_with_problem(state: SandboxState, token: str, problem: str) -> Response:
    with state.transaction():
        data = _page_data(state, by_token(state, token), token)
    return HTMLResponse(_render(data, token, problem), status_code=422)


@router.post("/hosted/{token}/form", include_in_schema=False)
async def hosted_form_pay(request: Request, state: StateDep, token: str) -> Response:
    """The page's Pay button: a wallet number, or a test card."""
    fields = await _form(request)
    if fields.get("payment_method") == PaymentMethod.CREDIT_CARD.value:
        fields.pop("account_number", None)
    else:
        fields.pop("payment_method_id", None)
    try:
        pay_hosted(state, token, HostedPayment.model_validate(fields))
    except ValidationError as exc:
        return _page_with_problem(state, token, "; ".join(str(e["msg"]) for e in exc.errors()))
    except Unprocessable as exc:
        return _page_with_problem(state, token, "; ".join(str(e["msg"]) for e in exc.errors))
    return _back(token)


@router.post("/hosted/{token}/authenticate", include_in_schema=False)
async def hosted_form_authenticate(request: Request, state: StateDep, token: str) -> Response:
    """The bank's 3-D Secure prompt on the page: Complete or Fail."""
    fields = await _form(request)
    with state.transaction():
        waiting = waiting_for_authentication(state, by_token(state, token).source)
    if waiting is None:
        return _page_with_problem(state, token, "No payment on this page waits for 3-D Secure.")
    authenticate(state, waiting.reference_id, fields.get("succeed") == "true")
    return _back(token)


@router.post("/authentications/{reference_id}")
async def authenticate_route(
    state: StateDep, reference_id: str, body: Annotated[Authentication, Depends(json_body(Authentication))]
) -> Response:
    return _json(authenticate(state, reference_id, body.succeed))


def _wants_page(request: Request) -> bool:
    """A browser asks for ``text/html`` first; programs (and the console's client) ask for JSON."""
    return "text/html" in request.headers.get("accept", "")


@router.get("/receipts/{token}")
async def hosted_receipt(request: Request, state: StateDep, token: str) -> Response:
    """The customer's receipt: JSON for programs, a printable page for the customer's browser."""
    with state.transaction():
        source = by_token(state, token).source
        paid_by = state.executions.get(source.paid_by) if source.paid_by else None
        if paid_by is None:
            if _wants_page(request):
                return HTMLResponse(_render_no_receipt(source.number, source.status.value), status_code=404)
            raise invalid(("path", "token"), f"{source.number} is {source.status.value}: no receipt yet")
        receipt = views.receipt(source, paid_by).model_dump()
    if _wants_page(request):
        return HTMLResponse(_render_receipt(receipt, source.number))
    return _json(receipt)


# --- the page ------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "fieldset{margin:1rem 0}label{display:block;margin:.4rem 0}.problem{color:#a00}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}"
    "th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #ddd;vertical-align:top}"
    ".num{text-align:right;white-space:nowrap}.muted{color:#666;font-size:.9em}"
    "@media print{.no-print{display:none}body{margin:0}}"
)
_HEAD = (
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
)


def _money(amount: Any, currency: str) -> str:
    return f"{currency} {round_to(amount, currency):,}"


def _render_receipt(receipt: dict[str, Any], number: str) -> str:
    """The receipt as the customer sees it: what they bought, what they paid, how and when."""
    e = html.escape
    currency = str(receipt["currency"])
    items = receipt.get("invoice_items") or receipt.get("order_items") or []
    kind = "Invoice" if "invoice_number" in receipt else "Order"
    rows = "".join(
        f"<tr><td>{e(str(i['name']))}</td><td class=num>{int(i['qty'])}</td>"
        f"<td class=num>{e(_money(i['amount'], str(i['currency'])))}</td></tr>"
        for i in items
    )
    paid_at = receipt.get("paid_at")
    figures = [
        ("Total", _money(receipt["total_amount"], currency)),
        ("You paid", _money(receipt["payer_amount"], str(receipt["payer_currency"]))),
        ("Paid with", str(getattr(receipt["payment_method"], "value", receipt["payment_method"]))),
        ("Paid on", format_datetime(paid_at) if paid_at else "—"),
        ("Payment reference", str(receipt["reference_id"])),
    ]
    if receipt.get("provider_transaction_id"):
        figures.append(("Provider's transaction", str(receipt["provider_transaction_id"])))
    table = "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in figures)
    return (
        f"{_HEAD}<title>Receipt for {e(number)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>Receipt</h1><p data-testid="receipt-number">{kind} {e(number)} — <strong>Paid</strong></p>'
        "<table><tr><th>Item</th><th class=num>Qty</th><th class=num>Amount</th></tr>"
        f"{rows}</table><table>{table}</table>"
        '<p class=no-print><button onclick="window.print()">Print this receipt</button></p>'
        "<p class=muted>Dollr sandbox: a test receipt, no real money moved.</p></body></html>"
    )


def _render_no_receipt(number: str, status: str) -> str:
    e = html.escape
    return (
        f"{_HEAD}<title>No receipt yet</title><style>{_STYLE}</style></head><body>"
        f"<h1>No receipt yet</h1><p>{e(number)} is not paid ({e(status)}), so there is no receipt for it "
        "yet. Pay it with the link the merchant sent you, then open this page again.</p></body></html>"
    )


def _options(values: list[str], chosen: str) -> str:
    return "".join(
        f'<option value="{html.escape(v)}"{" selected" if v == chosen else ""}>{html.escape(v)}</option>'
        for v in values
    )


def _render(data: dict[str, Any], token: str, problem: str | None = None) -> str:
    e = html.escape
    currency = str(data["currency"])
    total = round_to(data["total_amount"], currency)
    status = SourceStatus(data["status"])
    parts = [
        f"{_HEAD}<title>Pay {e(data['source_number'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Pay {e(data['source_number'])}</h1>",
        f'<p>Amount: <strong data-testid="amount">{e(currency)} {total}</strong></p>',
        f'<p>Status: <strong data-testid="status">{e(status.value)}</strong></p>',
    ]
    if problem:
        parts.append(f'<p class="problem" role="alert">{e(problem)}</p>')
    if data["awaiting_authentication"]:
        parts.append(
            f'<form method="post" action="/_sandbox/hosted/{e(token)}/authenticate">'
            "<fieldset><legend>3-D Secure</legend><p>Your bank asks you to confirm this payment.</p>"
            '<button name="succeed" value="true">Complete authentication</button> '
            '<button name="succeed" value="false">Fail authentication</button></fieldset></form>'
        )
    elif data["expired"]:
        parts.append(
            f"<p>This checkout expired at {e(str(data['expires_at']))}. "
            "Ask the merchant for a new payment link.</p>"
        )
    elif status is SourceStatus.PAID:
        parts.append(
            f'<p>Thank you: this is paid. <a href="/_sandbox/receipts/{e(token)}">See your receipt</a>.</p>'
        )
    elif status is SourceStatus.PROCESSING:
        parts.append("<p>A payment is in progress: this page shows its outcome when you reload it.</p>")
    elif status is SourceStatus.ACTIVE:
        methods = [m.value for m in PaymentMethod if m is not PaymentMethod.WALLET]
        parts.append(
            f'<form method="post" action="/_sandbox/hosted/{e(token)}/form"><fieldset>'
            "<legend>Payment</legend>"
            f'<label>Method <select name="payment_method">'
            f"{_options(methods, PaymentMethod.MTN_MOMO_LBR.value)}</select></label>"
            f'<label>Wallet number <input name="account_number" value="{DEFAULT_WALLET}"></label>'
            f'<label>Card <select name="payment_method_id">{_options(list(TEST_CARDS), DEFAULT_CARD)}'
            "</select></label>"
            f'<label>Pay in <select name="currency">{_options(list(CURRENCY_MINOR_UNITS), currency)}'
            "</select></label>"
            "<button>Pay</button></fieldset></form>"
        )
    parts.append("</body></html>")
    return "".join(parts)
