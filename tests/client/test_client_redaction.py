"""Secrets never show in logs, errors or reprs; phones are masked in logged paths."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import DollrError, InvalidRequestError, PermissionDeniedError
from dollr_core.api.models import (
    Execution,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    PayoutExecute,
    RealtimeKey,
    TokenRequest,
    TokenResponse,
)
from dollr_core.basics.enums import OperationType
from dollr_core.basics.redact import RedactingFilter, redact_text, redact_value
from dollr_core.explain import explain
from dollr_core.ledger import audit, open_ledger

from .fakes import SECRET, TOKEN_PATH, FakeDollr, respond, token_value

PASSCODE = "864209"
REF = "660e8400-e29b-41d4-a716-446655440111"


def payout() -> PayoutExecute:
    return PayoutExecute(
        session_id=88,
        payout_account_id=18,
        reference_id=REF,
        passcode=Passcode(
            token=PasscodeToken(code=SecretStr(PASSCODE), phone="231880000000"),
            device=PasscodeDevice(
                name="Payout Server",
                type="SERVER",
                platform="NODE",
                user_agent="my-app/1.0",
                client_ip="203.0.113.10",
            ),
        ),
    )


@pytest.fixture
def sqlite_engine(tmp_path: object) -> Iterator[Engine]:
    engine = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    yield engine
    engine.dispose()


def secrets_absent(text: str) -> None:
    for secret in (SECRET, token_value(1), token_value(2), PASSCODE):
        assert secret not in text, secret


def test_passcode_only_in_the_request_body(client: DollrClient, fake: FakeDollr) -> None:
    body = payout()
    assert PASSCODE not in repr(body) and PASSCODE not in str(body)
    assert PASSCODE not in body.model_dump_json()
    assert PASSCODE not in str(body.model_dump())
    assert body.to_body()["passcode"]["token"]["code"] == PASSCODE
    fake.on("POST", "/v1/executions/payout", respond(200, {"reference_id": REF, "status": "PENDING"}))
    client.executions.payout(body)
    assert fake.calls()[0].body["passcode"]["token"]["code"] == PASSCODE


def test_nothing_secret_in_logs_errors_or_reprs(
    client: DollrClient, fake: FakeDollr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Dollr (FastAPI) echoes the input in 422 entries: the passcode must not survive it.
    echo = {
        "detail": [
            {
                "loc": ["body", "passcode", "token", "code"],
                "msg": "wrong passcode",
                "type": "value_error",
                "input": PASSCODE,
            },
            {
                "loc": ["body", "passcode", "token"],
                "msg": "bad token",
                "type": "value_error",
                "input": {"code": PASSCODE, "phone": "231880000000"},
            },
            {"loc": ["body"], "msg": f"Authorization: Bearer {token_value(1)} refused", "type": "x"},
        ]
    }
    fake.on("POST", "/v1/executions/payout", respond(422, echo))
    with pytest.raises(InvalidRequestError) as caught:
        client.executions.payout(payout())
    error = caught.value
    fake.on(
        "GET",
        "/v1/fees/tiers",
        respond(403, {"detail": f"token {token_value(1)} lacks scope; secret={SECRET}"}),
    )
    with pytest.raises(PermissionDeniedError) as caught_403:
        client.fees.tiers()
    texts = [
        caplog.text,
        str(error),
        repr(error),
        repr(error.body),
        str(error.errors),
        str(caught_403.value),
        repr(caught_403.value.body),
        repr(client),
        repr(client.stats),
        repr(client._tokens),
        repr(client.settings if hasattr(client, "settings") else client._settings),
    ]
    for text in texts:
        secrets_absent(text)
    assert error.message.startswith("Dollr rejected the request: passcode.token.code: wrong passcode; ")
    assert "231880000000" not in repr(error.body)


def test_token_endpoint_errors_hide_the_client_secret(client: DollrClient, fake: FakeDollr) -> None:
    body = {
        "detail": [{"loc": ["body", "client_secret"], "msg": "too short", "type": "x", "input": SECRET}],
        "echo": f"client_secret={SECRET}",
    }
    fake.on("POST", TOKEN_PATH, respond(422, body))
    with pytest.raises(DollrError) as caught:
        client.obtain_token()
    secrets_absent(repr(caught.value.body) + str(caught.value) + repr(caught.value))


def test_model_reprs_hide_tokens() -> None:
    token = TokenResponse.model_validate({"access_token": token_value(1), "expires_in": 60})
    key = RealtimeKey.model_validate({"access_token": token_value(2), "expires_in": 300})
    execution = Execution.model_validate({"reference_id": REF, "client_secret": "pi_123_secret_456"})
    request = TokenRequest(client_id="cid", client_secret=SecretStr(SECRET))
    for text in (repr(token), repr(key), str(token), repr(request), request.model_dump_json()):
        secrets_absent(text)
    assert "pi_123_secret_456" not in repr(execution)
    assert execution.client_secret is not None
    assert execution.client_secret.get_secret_value() == "pi_123_secret_456"


def test_one_info_line_per_request_with_masked_phone(
    client: DollrClient, fake: FakeDollr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's own request lines included
    fake.on(
        "GET",
        "/v1/predictions/mmo-provider-info",
        respond(503),
        respond(
            200, {"phone": "231771234567", "payment_method": "MTN_MOMO_LBR", "gateway_provider": "PAWAPAY"}
        ),
    )
    client.predictions.mmo_provider_info("231771234567", OperationType.COLLECTION)
    records = [r for r in caplog.records if r.name == "dollr_core.api.client"]
    assert len(records) == 3  # token, 503, 200
    assert all(r.levelno == logging.INFO for r in records)
    lines = [r.getMessage() for r in records]
    assert re.fullmatch(r"POST /v1/jwt/client/obtain/token -> 200 in \d+ ms \(attempt 1\)", lines[0])
    assert lines[1].startswith(
        "GET /v1/predictions/mmo-provider-info?phone=••••4567&operation_type=COLLECTION -> 503"
    )
    assert lines[1].endswith("(attempt 1)") and lines[2].endswith("-> 200 in 0 ms (attempt 2)")
    assert "231771234567" not in caplog.text  # no logger at all (httpx's and httpcore's included)
    assert fake.calls()[0].params["phone"] == "231771234567"  # the real number is still sent


def test_network_failure_is_logged(
    client: DollrClient, fake: FakeDollr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dollr_core.api.client")
    fake.on(
        "GET",
        "/v1/parties/retrieve/1",
        httpx.ReadTimeout("t", request=httpx.Request("GET", "https://x")),
        respond(200, {"id": 1, "fullname": "A", "phone": "231771234567"}),
    )
    client.parties.retrieve(1)
    assert "GET /v1/parties/retrieve/1 -> ReadTimeout" in caplog.text


def test_redact_helpers() -> None:
    assert redact_text("call 231771234567 now") == "call ••••4567 now"
    assert redact_text("+250788123456") == "••••3456"
    assert redact_text(f"/v1/status/payout/{REF}") == f"/v1/status/payout/{REF}"  # UUID groups are not phones
    assert redact_text("Bearer abc.def.ghi") == "Bearer <redacted>"
    assert redact_text("client_secret=xyz123&a=1") == "client_secret=<redacted>&a=1"
    assert redact_text('{"code": "864209", "x": 1}') == '{"code": "<redacted>", "x": 1}'
    assert redact_text("access_token: abc123") == "access_token: <redacted>"
    assert redact_text("passcode.token.code: wrong passcode") == "passcode.token.code: wrong passcode"
    assert redact_text("amount 19850.00") == "amount 19850.00"
    assert redact_text("the hidden value", ["hidden"]) == "the <redacted> value"
    assert redact_value({"phone": "231771234567", "nested": [{"access_token": "t", "ok": 1}]}) == {
        "phone": "••••4567",
        "nested": [{"access_token": "<redacted>", "ok": 1}],
    }


def test_redacting_filter_on_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.client.redaction")
    flt = RedactingFilter()
    flt.add_secret("topsecretvalue")
    log.addFilter(flt)
    try:
        with caplog.at_level(logging.INFO, logger="tests.client.redaction"):
            log.info("using %s for %s", "topsecretvalue", "231771234567")
        assert caplog.records[-1].getMessage() == "using <redacted> for ••••4567"
    finally:
        log.removeFilter(flt)


def test_numbers_in_error_messages_stay_readable_and_phone_fields_are_masked(
    client: DollrClient, fake: FakeDollr
) -> None:
    detail = [
        {
            "loc": ["body", "amount"],
            "msg": "Input should be less than or equal to 1000000000000",
            "type": "less_than_equal",
            "input": "5000000000000",
        },
        {
            "loc": ["body", "phone"],
            "msg": "231880009999 is not registered",
            "type": "value_error",
            "input": "231880009999",
        },
    ]
    fake.on("POST", "/v1/executions/payout", respond(422, {"detail": detail}))
    with pytest.raises(InvalidRequestError) as caught:
        client.executions.payout(payout())
    said = explain(caught.value)
    for text in (said.headline, said.details, str(caught.value), repr(caught.value.body)):
        assert "1000000000000" in text, text  # a limit, not a phone
        assert "231880009999" not in text, text  # the phone field, and its echo in the message
    assert "••••9999 is not registered" in said.headline
    assert redact_value({"detail": "limit 123456789012", "party_phone": "250780001234"}) == {
        "detail": "limit 123456789012",
        "party_phone": "••••1234",
    }


def test_the_audit_trail_keeps_amounts_readable(sqlite_engine: Engine) -> None:
    audit.record(sqlite_engine, "fred@example.com", "payout_approved", detail="RWF 150000000.00 to Aline")
    [kept] = audit.search(sqlite_engine, audit.AuditFilter())
    assert kept.detail == "RWF 150000000.00 to Aline"
