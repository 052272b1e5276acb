"""A second payout to the same number of the same amount soon after the first is likely a mistake:
the console warns and sends it only after a deliberate "yes, pay again"; and after a payout went
out, "Start a new payout" opens an empty form instead of inviting the same payment again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.flows.payouts import LikelyDuplicate, confirm_payout, prepare_payout
from dollr_core.ledger.tables import AttemptState
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.conftest import make_services

from ..flows.helpers import PASSCODE, pay_out, settle
from .test_payout_page import confirm, payouts_at_dollr, review, texts

OPERATOR = Actor("olivia.operator@example.com", Role.OPERATOR)


@pytest.fixture
def warned(fresh_sandbox: Sandbox, ledger_url: str, tmp_path: Path) -> Services:
    return make_services(fresh_sandbox, ledger_url, str(tmp_path), duplicate_window_hours=24)


def _prepare(svc: Services, *, phone: str = "231880001234", amount: str = "25") -> str:
    key = uuid.uuid4().hex
    prepare_payout(svc, OPERATOR, key, name="Musa Kollie", phone=phone, amount=amount, currency="USD")
    return key


def test_a_repeat_payout_needs_a_deliberate_yes(warned: Services, fresh_sandbox: Sandbox) -> None:
    first = pay_out(warned, OPERATOR, uuid.uuid4().hex)
    again = _prepare(warned)
    with pytest.raises(
        LikelyDuplicate, match=r"already paid USD 25\.00 .*reference " + first.reference_id[:8]
    ):
        confirm_payout(warned, OPERATOR, again, PASSCODE)
    assert len(payouts_at_dollr(fresh_sandbox)) == 1  # nothing was sent
    second = confirm_payout(warned, OPERATOR, again, PASSCODE, pay_again=True)
    assert second.reference_id != first.reference_id
    assert len(payouts_at_dollr(fresh_sandbox)) == 2
    # Another amount, another number, or an earlier payout that failed: no warning.
    confirm_payout(warned, OPERATOR, _prepare(warned, amount="26"), PASSCODE)
    confirm_payout(warned, OPERATOR, _prepare(warned, phone="231880004321"), PASSCODE)
    pay_out(warned, OPERATOR, uuid.uuid4().hex, phone="231880000001", amount="7")  # declined
    settle(warned, fresh_sandbox)
    retry = confirm_payout(warned, OPERATOR, _prepare(warned, phone="231880000001", amount="7"), PASSCODE)
    assert retry.local_state != AttemptState.REFUSED


def test_a_repeat_is_not_questioned_once_it_is_on_its_way(warned: Services, fresh_sandbox: Sandbox) -> None:
    """The warning is for sending; confirming again an intent already sent only reports on it."""
    pay_out(warned, OPERATOR, uuid.uuid4().hex)
    key = _prepare(warned)
    sent = confirm_payout(warned, OPERATOR, key, PASSCODE, pay_again=True)
    assert confirm_payout(warned, OPERATOR, key, PASSCODE).reference_id == sent.reference_id
    assert sent.local_state != AttemptState.REFUSED


@pytest.mark.parametrize("duplicate_window_hours", [24])
def test_the_page_warns_and_asks_before_paying_again(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = confirm(review(page("pages/payout.py", role=Role.OPERATOR, email=OPERATOR.email).run()))
    settle(console, fresh_sandbox)
    at.run()
    at.button(key="payout_new").click()
    at.run()
    # After a payout that went out, the new form is empty: nothing invites paying them twice.
    assert at.text_input(key="payout_phone").value == ""
    assert at.text_input(key="payout_amount").value == ""
    at = review(at)
    assert "Possible double payment. Musa Kollie (••••1234) was already paid USD 25.00" in texts(at)
    confirm(at)  # the passcode alone is not enough
    assert "Tick “Yes, pay again” if it is meant." in texts(at)
    assert len(payouts_at_dollr(fresh_sandbox)) == 1
    at.checkbox(key="payout_pay_again").check()
    confirm(at)
    assert not at.exception
    assert len(payouts_at_dollr(fresh_sandbox)) == 2


def test_a_second_click_without_the_passcode_reports_on_the_first(
    warned: Services, fresh_sandbox: Sandbox
) -> None:
    """The form empties the passcode when submitted: a double click's second submit has none.
    It must find the payout the first click sent, not ask for the passcode."""
    key = _prepare(warned)
    sent = confirm_payout(warned, OPERATOR, key, PASSCODE)
    assert confirm_payout(warned, OPERATOR, key, "").reference_id == sent.reference_id
    assert len(payouts_at_dollr(fresh_sandbox)) == 1
    with pytest.raises(ValueError, match="Enter the merchant passcode"):
        confirm_payout(warned, OPERATOR, _prepare(warned, amount="3"), "")
