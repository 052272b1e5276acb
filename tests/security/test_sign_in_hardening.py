"""Sign-in under attack: the ledger is never held while a password is checked, and a failure
looks and costs the same whether or not the e-mail has an account."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import bcrypt
import pytest
from sqlalchemy import event

from dollr_core.basics.access import Actor, Role
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import sign_in, users
from tests.flows.helpers import pay_out

PASSWORD = "correct horse battery"
REAL = "olivia.operator@example.com"


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every password hash checked, in order (counted, not timed)."""
    checked: list[bytes] = []
    real_check = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real_check(password, hashed)

    monkeypatch.setattr(users.bcrypt, "checkpw", counting)
    yield checked


def _refusal(svc: Services, email: str, password: str, sleeps: list[float] | None = None) -> str:
    with pytest.raises(sign_in.SignInError) as refused:
        wait = sleeps.append if sleeps is not None else (lambda _seconds: None)
        sign_in.sign_in(svc.engine, email, password, client="tester", sleep=wait)
    return str(refused.value)


def test_no_write_transaction_is_open_while_a_password_is_checked(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sqlite_services
    users.add_user(svc.engine, email=REAL, role=Role.OPERATOR, password=PASSWORD)
    database = svc.engine.url.database
    assert database
    real_check = bcrypt.checkpw
    ledger_free: list[bool] = []

    def check_while_writing(password: bytes, hashed: bytes) -> bool:
        # What a payout would do at this instant: take the write lock, without waiting.
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            ledger_free.append(True)
        except sqlite3.OperationalError:
            ledger_free.append(False)
        finally:
            other.close()
        return real_check(password, hashed)

    monkeypatch.setattr(users.bcrypt, "checkpw", check_while_writing)
    _refusal(svc, REAL, "wrong password!")
    _refusal(svc, "nobody@example.com", "wrong password!")
    assert sign_in.sign_in(svc.engine, REAL, PASSWORD, client="tester", sleep=lambda _s: None).email == REAL
    assert ledger_free == [True, True, True]


def test_sign_in_spam_does_not_stall_payouts_on_sqlite(sqlite_services: Services, operator: Actor) -> None:
    svc = sqlite_services
    users.add_user(svc.engine, email=REAL, role=Role.OPERATOR, password=PASSWORD)

    # A payout waits at most 3 s for the write lock here (30 s in production), so a ledger held
    # during password checks shows up as "database is locked" instead of as a slow test.
    @event.listens_for(svc.engine, "connect")
    def _short_wait(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=3000")

    svc.engine.dispose()
    stop = threading.Event()
    unexpected: list[BaseException] = []

    def spam(n: int) -> None:
        attempt = 0
        while not stop.is_set():
            attempt += 1
            email = REAL if attempt % 2 else f"nobody.{n}.{attempt}@example.com"
            client = f"tab {n}.{attempt}"  # a flood from many addresses: the client throttle lets it in
            try:
                sign_in.sign_in(svc.engine, email, "wrong password!", client=client, sleep=stop.wait)
            except sign_in.SignInError:
                pass
            except BaseException as exc:  # every other failure is the finding
                unexpected.append(exc)

    spammers = [threading.Thread(target=spam, args=(n,)) for n in range(6)]
    for thread in spammers:
        thread.start()
    try:
        paid = [pay_out(svc, operator, f"spam-{i}").reference_id for i in range(6)]
    finally:
        stop.set()
        for thread in spammers:
            thread.join()
    assert not unexpected, unexpected[:3]
    submitted = audit.search(svc.engine, audit.AuditFilter(action="payout_submitted"))
    assert sorted(r.target for r in submitted) == sorted(paid)


def test_every_failure_reads_the_same_and_checks_one_hash(
    sqlite_services: Services, hash_checks: list[bytes]
) -> None:
    svc = sqlite_services
    users.add_user(svc.engine, email=REAL, role=Role.OPERATOR, password=PASSWORD)
    users.add_user(svc.engine, email="gone@example.com", role=Role.OPERATOR, password=PASSWORD)
    users.set_active(svc.engine, "gone@example.com", False, by=None)
    users.add_user(svc.engine, email="oidc@example.com", role=Role.OPERATOR, password=None)
    attempts: list[tuple[str, str]] = [
        (REAL, "wrong password!"),  # an account, the wrong password
        ("nobody@example.com", "wrong password!"),  # no account
        ("gone@example.com", PASSWORD),  # a disabled account, the right password
        ("oidc@example.com", "wrong password!"),  # an account without a password
        ("not an e-mail", "wrong password!"),
    ]
    messages, sleeps, checks = set(), [], []
    for email, password in attempts:
        waits: list[float] = []
        before = len(hash_checks)
        messages.add(_refusal(svc, email, password, waits))
        checks.append(len(hash_checks) - before)
        sleeps.append(waits)
    assert messages == {sign_in.WRONG}
    assert checks == [1] * len(attempts)
    assert sleeps == [[0.5]] * len(attempts)  # each the first failure for its e-mail


@pytest.mark.parametrize("email", [REAL, "nobody@example.com"])
def test_an_unknown_email_is_slowed_and_locked_like_a_real_one(
    sqlite_services: Services, hash_checks: list[bytes], email: str
) -> None:
    svc = sqlite_services
    users.add_user(svc.engine, email=REAL, role=Role.OPERATOR, password=PASSWORD)
    waits: list[float] = []
    messages = [_refusal(svc, email, "wrong password!", waits) for _ in range(sign_in.LOCK_AFTER)]
    assert messages[:-1] == [sign_in.WRONG] * (sign_in.LOCK_AFTER - 1)
    assert messages[-1] == "Too many failed sign-ins: this e-mail is now locked for 15 minutes."
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0]
    checks = len(hash_checks)
    locked = _refusal(svc, email, PASSWORD)
    assert locked == "Too many failed sign-ins: this e-mail is locked for about 15 more minute(s)."
    assert len(hash_checks) == checks  # a locked e-mail costs no hash, known or not
    assert sign_in.locked_until(svc.engine, email) is not None


def test_unlock_and_success_reset_the_count(sqlite_services: Services) -> None:
    svc = sqlite_services
    users.add_user(svc.engine, email=REAL, role=Role.OPERATOR, password=PASSWORD)
    for _ in range(sign_in.LOCK_AFTER):
        _refusal(svc, REAL, "wrong password!")
    users.unlock(svc.engine, REAL, by=None)
    assert sign_in.locked_until(svc.engine, REAL) is None
    assert sign_in.sign_in(svc.engine, REAL, PASSWORD, client="tester", sleep=lambda _s: None).email == REAL
    waits: list[float] = []
    _refusal(svc, REAL, "wrong password!", waits)
    assert waits == [0.5]


def test_one_client_is_throttled_before_any_hash_or_ledger_work(
    sqlite_services: Services, hash_checks: list[bytes]
) -> None:
    svc = sqlite_services
    for n in range(sign_in.CLIENT_ATTEMPTS):
        _refusal(svc, f"nobody.{n}@example.com", "wrong password!")
    records = len(audit.search(svc.engine, audit.AuditFilter(action="sign_in")))
    checks = len(hash_checks)
    assert _refusal(svc, REAL, PASSWORD) == (
        "Too many sign-in attempts from this device; wait a minute and try again."
    )
    assert len(hash_checks) == checks
    assert len(audit.search(svc.engine, audit.AuditFilter(action="sign_in"))) == records
    users.add_user(svc.engine, email=REAL, role=Role.OPERATOR, password=PASSWORD)
    assert sign_in.sign_in(svc.engine, REAL, PASSWORD, client="another", sleep=lambda _s: None).email == REAL
