"""Bulk payouts, through the page: pasted rows → checks → approval by another person → start with
the passcode → live progress → results and a retry. (File upload, the edit table and downloads are
not drivable here; their logic is tested directly in tests/bulk.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from console.widgets import plain
from dollr_core.basics.access import Actor, Role
from dollr_core.bulk import drafts, recipient_file, records, running, worker
from dollr_core.ledger.tables import Attempt, AuditRecord, BatchRow, BatchRowState, BatchState, LedgerEvent
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..bulk.helpers import PASSCODE, approved_batch, rows_of, rows_text, run_to_end

PAGE = "pages/bulk.py"
MAKER = Actor("finance@example.com", Role.FINANCE)
CHECKER = Actor("manager@example.com", Role.MANAGER)
ROWS = rows_text(
    "Musa Kollie,231880005678,25,USD,stipend,ST-1",
    "Aline Uwase,250780005678,15000,RWF,,ST-2",
    "Declined Person,231880000001,5,USD,,ST-3",  # the operator rejects it
)


@pytest.fixture(autouse=True)
def _stop_workers(console: Services) -> Iterator[None]:
    yield
    worker.stop(console, timeout=30)


def metric(at: AppTest, label: str) -> str:
    return next(str(m.value) for m in at.metric if m.label == label)


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.info, *at.warning, *at.success, *at.error, *at.caption)]
    return "\n".join(str(p) for p in parts)


def opened(
    page: Callable[..., AppTest], batch_id: int, role: Role = Role.FINANCE, email: str | None = None
) -> AppTest:
    at = page(PAGE, role=role, email=email)
    at.query_params["batch"] = str(batch_id)
    return at.run()


def test_pasted_rows_become_a_checked_draft_that_goes_for_approval(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = page(PAGE).run()
    assert not at.exception
    at.text_input(key="bulk_name").input("March stipends")
    at.text_area(key="bulk_paste").input(ROWS + "Bad Number,12345,5,USD,,\n")
    at.button(key="bulk_create").click().run()
    assert not at.exception
    assert (metric(at, "Ready to pay"), metric(at, "Need fixing"), metric(at, "Left out")) == ("3", "1", "0")
    assert "8 to 15 digits" in at.dataframe[0].value["Problem"].iloc[0]
    [batch] = records.list_batches(console, MAKER)
    assert batch.name == "March stipends" and batch.state == BatchState.DRAFT

    at.button(key="bulk_exclude").click().run()
    assert (metric(at, "Need fixing"), metric(at, "Left out")) == ("0", "1")
    totals = next(d.value for d in at.dataframe if "Payments" in d.value.columns)
    assert list(totals["Currency"]) == ["RWF", "USD"]
    assert list(totals["Leaves our wallet"]) == ["RWF 15,300", "USD 30.62"]
    assert "short" not in texts(at)  # no balance is known: the estimate alone never alarms

    at.button(key="bulk_submit").click().run()
    assert records.get_batch(console, MAKER, batch.id or 0).state == BatchState.AWAITING_APPROVAL
    assert "Waiting for a manager's approval" in texts(at)
    assert not [b for b in at.button if b.key == "bulk_approve"]  # the maker cannot approve


def test_a_different_manager_approves_from_the_page(page: Callable[..., AppTest], console: Services) -> None:
    batch = drafts.create_batch(console, MAKER, "April", recipient_file.parse_rows(ROWS))
    drafts.submit_for_approval(console, MAKER, batch.id or 0)
    at = opened(page, batch.id or 0, Role.MANAGER)
    assert not at.exception
    assert len(next(d.value for d in at.dataframe if "Recipient gets" in d.value.columns)) == 3
    at.button(key="bulk_reject").click().run()  # a rejection needs a reason
    assert "Say why you reject it" in at.error[0].value
    at.text_input(key="bulk_reason").input("checked against payroll")
    at.button(key="bulk_approve").click().run()
    at.button(key="bulk_approve_yes").click().run()  # the dialog: "Yes, approve"
    approved = records.get_batch(console, CHECKER, batch.id or 0)
    assert approved.state == BatchState.APPROVED and approved.decided_by == CHECKER.email
    assert not [b for b in at.button if b.key == "bulk_start"]  # managers approve; finance starts


def test_start_with_the_passcode_watch_it_and_get_the_results(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    batch_id = approved_batch(console, MAKER, CHECKER, ROWS).id or 0
    at = opened(page, batch_id)
    assert f"Approved by {plain('manager@example.com')}" in texts(at)
    at.text_input(key="bulk_passcode").input(PASSCODE)
    at.button(key="bulk_start").click().run()
    assert not at.exception
    assert at.session_state["bulk_passcode"] == ""  # cleared as soon as the worker had it
    assert records.get_batch(console, MAKER, batch_id).state == BatchState.RUNNING
    assert at.get("progress"), "a progress bar while paying"
    run_to_end(console, batch_id, fresh_sandbox)

    at.run()  # the live part re-reads the ledger; the finished batch shows its results
    assert (metric(at, "Paid"), metric(at, "Failed")) == ("2", "1")
    rows = at.dataframe[0].value
    assert list(rows["Status"]) == ["paid", "paid", "failed"]
    assert all(rows["Dollr reference"]) and "rejected" in rows["Why it failed"].iloc[2]
    assert len(fresh_sandbox.executions()) == 3
    with Session(console.engine) as db:  # the passcode is nowhere in the ledger or the audit trail
        stored = [a.request_json or "" for a in db.exec(select(Attempt)).all()]
        stored += [e.detail or "" for e in db.exec(select(LedgerEvent)).all()]
        stored += [r.detail or "" for r in db.exec(select(AuditRecord)).all()]
    assert stored and not any(PASSCODE in text for text in stored)

    at.button(key="bulk_retry").click().run()
    [retry] = [b for b in records.list_batches(console, MAKER) if b.retry_of == batch_id]
    assert at.selectbox(key="bulk_pick").value == retry.id
    assert [r.name for r in rows_of(console, retry.id or 0)] == ["Declined Person"]


def test_a_wrong_passcode_pauses_and_the_page_asks_again(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    batch_id = approved_batch(console, MAKER, CHECKER, ROWS).id or 0
    at = opened(page, batch_id)
    at.text_input(key="bulk_passcode").input("999999")
    at.button(key="bulk_start").click().run()
    run_to_end(console, batch_id, fresh_sandbox)
    at.run()
    assert records.get_batch(console, MAKER, batch_id).state == BatchState.PAUSED
    assert "did not accept the merchant passcode" in texts(at)
    at.text_input(key="bulk_passcode").input(PASSCODE)
    at.button(key="bulk_start").click().run()
    run_to_end(console, batch_id, fresh_sandbox)
    assert [r.state for r in rows_of(console, batch_id)].count(BatchRowState.PAID) == 2


def test_approving_a_batch_asks_first_and_says_what_happens(
    page: Callable[..., AppTest], console: Services
) -> None:
    batch = drafts.create_batch(console, MAKER, "May stipends", recipient_file.parse_rows(ROWS))
    drafts.submit_for_approval(console, MAKER, batch.id or 0)
    at = opened(page, batch.id or 0, Role.MANAGER)
    at.button(key="bulk_approve").click().run()
    assert not at.exception
    said = texts(at)
    maker = plain(MAKER.email)
    assert f"You are approving **bulk payout #{batch.id} (May stipends)**, made by {maker}." in said
    assert "It makes 3 payments:" in said
    assert "- USD: 2 payments; recipients get USD 30.00" in said and "- RWF: 1 payment" in said
    assert "leaves our wallet" in said and "No money moves now." in said
    assert records.get_batch(console, MAKER, batch.id or 0).state == BatchState.AWAITING_APPROVAL

    at.button(key="bulk_approve_no").click().run()  # "Go back": nothing is decided
    assert not [b for b in at.button if b.key == "bulk_approve_yes"]
    assert records.get_batch(console, MAKER, batch.id or 0).state == BatchState.AWAITING_APPROVAL

    at.button(key="bulk_approve").click().run()
    at.button(key="bulk_approve_yes").click().run()
    assert records.get_batch(console, MAKER, batch.id or 0).state == BatchState.APPROVED
    assert [t.value for t in at.toast] == [f"Bulk payout #{batch.id} is approved: {maker} can start it now."]
    at.run()  # the toast was for what just happened: the next run does not repeat it
    assert not at.toast


def test_cancel_from_the_page_asks_first_and_drops_rows_not_yet_sent(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    batch_id = approved_batch(console, MAKER, CHECKER, ROWS).id or 0
    at = opened(page, batch_id)
    at.button(key="bulk_cancel").click().run()
    said = texts(at)
    assert f"You are canceling **bulk payout #{batch_id} (Test batch)**" in said
    assert (
        "3 payments not sent yet will not be made:" in said and "Nothing of this batch has been sent." in said
    )
    at.button(key="bulk_cancel_no").click().run()  # "No, keep it"
    assert records.get_batch(console, MAKER, batch_id).state == BatchState.APPROVED

    at.button(key="bulk_cancel").click().run()
    at.button(key="bulk_cancel_yes").click().run()
    assert records.get_batch(console, MAKER, batch_id).state == BatchState.CANCELED
    assert not fresh_sandbox.executions()
    assert "canceled" in texts(at)
    assert [t.value for t in at.toast] == [
        f"Bulk payout #{batch_id} is canceled: nothing more of it will be sent."
    ]


def test_canceling_a_paying_batch_says_what_is_already_on_its_way(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    batch_id = approved_batch(console, MAKER, CHECKER, ROWS).id or 0
    running.start_batch(console, MAKER, batch_id, PASSCODE)
    worker.stop(console, batch_id)
    with Session(console.engine) as db:  # one row handed over, as if the worker had sent it
        row = db.exec(select(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.row_number == 1)).one()
        row.state = BatchRowState.SENT
        db.add(row)
        db.commit()
    at = opened(page, batch_id)
    at.button(key="bulk_cancel").click().run()
    said = texts(at)
    assert "2 payments not sent yet will not be made:" in said
    assert "1 payment already sent cannot be called back: it finishes" in said


def test_a_console_restarted_mid_batch_carries_on_with_the_passcode(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    batch_id = approved_batch(console, MAKER, CHECKER, ROWS).id or 0
    running.start_batch(console, MAKER, batch_id, PASSCODE)
    worker.stop(console, batch_id)  # as if the console had been restarted: RUNNING, and nobody paying
    at = opened(page, batch_id)
    assert "Nothing is paying this batch right now" in texts(at)
    at.text_input(key="bulk_passcode").input(PASSCODE)
    at.button(key="bulk_start").click().run()
    run_to_end(console, batch_id, fresh_sandbox)
    assert [r.state for r in rows_of(console, batch_id)].count(BatchRowState.PAID) == 2
    assert len(fresh_sandbox.executions()) == 3


def test_operators_cannot_open_bulk_payouts(page: Callable[..., AppTest], console: Services) -> None:
    at = page(PAGE, role=Role.OPERATOR).run()
    assert "does not give access" in at.error[0].value


@pytest.mark.parametrize("link", ["²", "1" * 23, "-3", "0", "12abc", "2147483648"])
def test_a_malformed_batch_link_says_it_is_not_valid(
    page: Callable[..., AppTest], console: Services, link: str
) -> None:
    at = page(PAGE, role=Role.FINANCE)
    at.query_params["batch"] = link
    at.run()
    assert not at.exception
    assert any("This link is not valid" in str(w.value) for w in at.warning)
    assert "batch" not in at.query_params
