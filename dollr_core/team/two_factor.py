"""Two-factor sign-in's parts: TOTP secrets and codes (pyotp, RFC 6238), the enrolment QR code
(segno), and one-time recovery codes (kept only as hashes).

Which codes a person may still use is decided in `users`, which stores the newest accepted time
step and marks recovery codes used, each with a conditional update that only one attempt wins.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno

ISSUER = "Dollr Ops Console"
RECOVERY_CODES = 10
#: Codes of the steps either side of now are accepted too: a phone's clock drifts, people type slowly.
_DRIFT_STEPS = 1
#: Letters and digits nobody confuses when copying a code by hand (no 0/O, 1/l/I).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class Enrolment:
    """A new secret shown to the person: as a QR code for the app, and as text to type instead."""

    secret: str
    uri: str

    @property
    def secret_in_groups(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))

    def qr_png(self) -> bytes:
        out = io.BytesIO()
        segno.make(self.uri, error="m").save(out, kind="png", scale=6, border=4)
        return out.getvalue()


def new_enrolment(email: str) -> Enrolment:
    secret = pyotp.random_base32()
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER))


def is_totp_code(typed: str) -> bool:
    """Six digits (spaces allowed, as apps show them): an authenticator code, not a recovery code."""
    digits = typed.replace(" ", "")
    return len(digits) == 6 and digits.isascii() and digits.isdigit()


def matching_step(secret: str, typed: str, *, now: float | None = None) -> int | None:
    """The time step whose code this is (now, or one step either side), or None."""
    if not is_totp_code(typed):
        return None
    code = typed.replace(" ", "")
    totp = pyotp.TOTP(secret)
    current = totp.timecode(time.time() if now is None else now)
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `k7mq2-xr4tn`: about 50 random bits each, so a plain hash keeps them safe."""
    return [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]


def hash_recovery_code(typed: str) -> str:
    """The stored form of a recovery code, however it was typed (case, spaces and dashes ignored)."""
    normal = "".join(ch for ch in typed.lower() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()
