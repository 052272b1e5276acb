"""Access tokens (A1) and realtime keys (R1): HS256 JWTs signed with the state's own key.

An access token is valid while its ``jti`` is in the state and its expiry, on the sandbox clock,
has not passed; so advancing the clock expires it, and a reset revokes every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any

from dollr_sandbox.records import Token
from dollr_sandbox.state import SandboxState


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(state: SandboxState, claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(state.meta.signing_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


def _claims(state: SandboxState, token: str) -> dict[str, Any] | None:
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(state.meta.signing_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_unb64(signature), expected.digest()):
            return None
        claims = json.loads(_unb64(payload))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header exactly as sent, or None without one.

    Padding is not trimmed: ``Bearer  x `` carries the token `` x ``, which fails validation (401),
    as the docs list a padded header among the causes of a 401.
    """
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def issue_access_token(state: SandboxState) -> str:
    """Call inside a transaction."""
    now = state.now()
    expires_at = now + timedelta(minutes=state.config.token_expires_minutes)
    jti = secrets.token_hex(16)
    state.tokens.put(Token(jti=jti, expires_at=expires_at))
    return _sign(
        state,
        {
            "sub": state.config.client_id,
            "merchant_id": state.config.merchant_id,
            "jti": jti,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        },
    )


def merchant_of(state: SandboxState, token: str) -> int | None:
    """The merchant an access token was signed for (its expiry is not checked), or None."""
    claims = _claims(state, token)
    merchant = claims.get("merchant_id") if claims is not None else None
    return merchant if isinstance(merchant, int) else None


def access_token_is_valid(state: SandboxState, token: str) -> bool:
    """Call inside a transaction."""
    claims = _claims(state, token)
    if claims is None or "merchant_id" not in claims:
        return False
    record = state.tokens.get(str(claims.get("jti")))
    return record is not None and state.now() < record.expires_at


def issue_realtime_key(state: SandboxState, session_id: int, reference_id: str) -> str:
    now = state.now()
    return _sign(
        state,
        {
            "role": "authenticated",
            "session_id": session_id,
            "reference_id": reference_id,
            "channel": f"payment-intent:{session_id}:{reference_id}",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + state.config.realtime_key_seconds,
        },
    )
