"""Two-factor sign-in: enrolment, codes accepted once, recovery codes, the lock-out covering wrong
codes, the roles that must use it, and an admin's reset — on SQLite and PostgreSQL."""

from __future__ import annotations

import pyotp
import pytest
from sqlmodel import Session, select

from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.ledger import audit
from dollr_core.ledger.tables import RecoveryCode
from dollr_core.services import Services
from dollr_core.team import passwords, sign_in, two_factor, users

PASSWORD = "correct horse battery"
MIA = "mia.manager@example.com"
ADA = Actor("ada.admin@example.com", Role.ADMIN)
REQUIRED = frozenset({Role.ADMIN, Role.MANAGER})


def _no_wait(_seconds: float) -> None:
    pass


def _sign_in(svc: Services, email: str = MIA) -> sign_in.SignIn:
    return sign_in.sign_in(svc.engine, email, PASSWORD, client="tester", sleep=_no_wait)


def _code(svc: Services, generation: int, typed: str, email: str = MIA) -> None:
    sign_in.check_second_factor(svc.engine, email, generation, typed, client="tester", sleep=_no_wait)


def _step(svc: Services, signed: sign_in.SignIn, *, done: bool = False) -> sign_in.Step | None:
    return sign_in.next_step(
        svc.engine, signed.email, signed.generation, second_factor_done=done, required_roles=REQUIRED
    )


def _enrol(svc: Services, email: str = MIA) -> tuple[str, list[str]]:
    enrolment = two_factor.new_enrolment(email)
    assert enrolment.uri.startswith("otpauth://totp/") and enrolment.qr_png().startswith(b"\x89PNG")
    with pytest.raises(users.UserError, match="does not match"):
        sign_in.enable_two_factor(svc.engine, email, enrolment.secret, "12345x")
    codes = sign_in.enable_two_factor(svc.engine, email, enrolment.secret, pyotp.TOTP(enrolment.secret).now())
    return enrolment.secret, codes


@pytest.fixture
def mia(services: Services) -> Services:
    users.add_user(services.engine, email=MIA, role=Role.MANAGER, password=PASSWORD)
    users.add_user(services.engine, email=ADA.email, role=Role.ADMIN, password=PASSWORD)
    return services


def test_a_required_role_enrols_right_after_the_password(mia: Services) -> None:
    signed = _sign_in(mia)
    assert _step(mia, signed) is sign_in.Step.ENROL
    users.add_user(mia.engine, email="olivia@example.com", role=Role.OPERATOR, password=PASSWORD)
    assert _step(mia, _sign_in(mia, "olivia@example.com")) is None  # optional for the others

    _secret, codes = _enrol(mia)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert _step(mia, signed) is sign_in.Step.SECOND_FACTOR  # any sign-in from now on needs a code
    with Session(mia.engine) as db:
        stored = [r.code_hash for r in db.exec(select(RecoveryCode)).all()]
    assert sorted(stored) == sorted(two_factor.hash_recovery_code(c) for c in codes)
    assert not set(codes) & set(stored)  # only hashes are kept
    assert sign_in.recovery_codes_left(mia.engine, MIA) == 10
    [enabled] = audit.search(mia.engine, audit.AuditFilter(action="two_factor_enabled"))
    assert enabled.target == MIA


def test_a_password_alone_no_longer_signs_in_and_a_code_works_once(mia: Services) -> None:
    secret, _codes = _enrol(mia)
    signed = _sign_in(mia)
    assert _step(mia, signed) is sign_in.Step.SECOND_FACTOR
    [password_step] = [
        r for r in audit.search(mia.engine, audit.AuditFilter(action="sign_in")) if r.actor == MIA
    ]
    assert password_step.outcome == "password_ok"  # not a sign-in yet
    totp = pyotp.TOTP(secret)
    enrolled_at = users.get_user(mia.engine, MIA).totp_last_step  # type: ignore[union-attr]
    assert enrolled_at is not None
    # The code the enrolment used is refused from now on, and so is any older one.
    with pytest.raises(sign_in.SignInError) as refused:
        _code(mia, signed.generation, totp.generate_otp(enrolled_at))
    assert str(refused.value) == sign_in.WRONG_CODE
    with pytest.raises(sign_in.SignInError):
        _code(mia, signed.generation, totp.generate_otp(enrolled_at - 1))
    next_code = totp.generate_otp(enrolled_at + 1)  # the next window's, within the allowed drift
    _code(mia, signed.generation, next_code)
    assert _step(mia, signed, done=True) is None
    again = _sign_in(mia)
    with pytest.raises(sign_in.SignInError, match="used already"):
        _code(mia, again.generation, next_code)  # the same code, another tab: refused


def test_recovery_codes_sign_in_once_each(mia: Services) -> None:
    _secret, codes = _enrol(mia)
    signed = _sign_in(mia)
    _code(mia, signed.generation, codes[0].upper().replace("-", " "))  # typed loosely
    assert sign_in.recovery_codes_left(mia.engine, MIA) == 9
    signed = _sign_in(mia)
    with pytest.raises(sign_in.SignInError, match="used already"):
        _code(mia, signed.generation, codes[0])
    _code(mia, signed.generation, codes[1])
    assert [r.target for r in audit.search(mia.engine, audit.AuditFilter(action="recovery_code_used"))] == [
        MIA,
        MIA,
    ]


def test_wrong_codes_lock_the_email_however_often_the_password_is_typed(mia: Services) -> None:
    _secret, codes = _enrol(mia)
    waits: list[float] = []
    for attempt in range(sign_in.LOCK_AFTER):
        signed = _sign_in(mia)  # the right password each time: it does not restart the count
        with pytest.raises(sign_in.SignInError) as refused:
            sign_in.check_second_factor(
                mia.engine, MIA, signed.generation, "000000", client="tester", sleep=waits.append
            )
        if attempt < sign_in.LOCK_AFTER - 1:
            assert str(refused.value) == sign_in.WRONG_CODE
    assert "now locked" in str(refused.value)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0]  # slowed down like wrong passwords
    with pytest.raises(sign_in.SignInError, match="locked for about"):
        _code(mia, signed.generation, codes[0])  # a right code is refused while locked
    with pytest.raises(sign_in.SignInError, match="locked for about"):
        _sign_in(mia)
    assert sign_in.recovery_codes_left(mia.engine, MIA) == 10  # the refused code was not spent


def test_a_second_factor_from_an_older_session_is_refused(mia: Services) -> None:
    _secret, codes = _enrol(mia)
    signed = _sign_in(mia)
    passwords.reset_password(mia.engine, MIA, by=ADA)  # the password changed since it was typed
    with pytest.raises(sign_in.SignInError):
        _code(mia, signed.generation, codes[0])
    with pytest.raises(sign_in.SignInError, match="sign in again"):
        _step(mia, signed)


def test_an_admin_resets_two_factor_and_the_role_enrols_again(mia: Services) -> None:
    _enrol(mia)
    signed = _sign_in(mia)
    with pytest.raises(AccessDenied):
        sign_in.reset_two_factor(mia.engine, ADA.email, by=Actor(MIA, Role.MANAGER))
    with pytest.raises(users.UserError, match="Another admin"):
        sign_in.reset_two_factor(mia.engine, ADA.email, by=ADA)
    sign_in.reset_two_factor(mia.engine, MIA, by=ADA)
    assert users.current_actor(mia.engine, MIA, signed.generation) is None  # signed out
    assert sign_in.recovery_codes_left(mia.engine, MIA) == 0
    assert _step(mia, _sign_in(mia)) is sign_in.Step.ENROL
    [reset] = audit.search(mia.engine, audit.AuditFilter(action="two_factor_reset"))
    assert (reset.actor, reset.target) == (ADA.email, MIA)
    with pytest.raises(users.UserError, match="no two-factor"):
        sign_in.reset_two_factor(mia.engine, MIA, by=ADA)


def test_company_sign_in_users_rely_on_their_provider(mia: Services) -> None:
    users.add_user(mia.engine, email="boss@example.com", role=Role.ADMIN, password=None)
    signed = sign_in.actor_for_oidc(mia.engine, "boss@example.com")
    assert _step(mia, signed) is None  # an admin, yet no enrolment: the provider has the factor
    with pytest.raises(users.UserError, match="company account"):
        sign_in.enable_two_factor(mia.engine, "boss@example.com", pyotp.random_base32(), "123456")
