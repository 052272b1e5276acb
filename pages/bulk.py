"""Bulk payouts: pay many people from one spreadsheet, safely.

Upload or paste rows → every row is checked (fix or leave out the ones with problems) → preview
of fees, totals and balances → a manager who did not make it approves → a finance person starts
it with the merchant passcode → the rows are paid in the background while this page shows their
progress (from the ledger only) → results to download, and failed rows retried as a new batch.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pandas as pd
import streamlit as st

from console import bulk_confirm
from console.context import require_page, services
from console.tables import table_on_any_screen
from console.widgets import NEVER_SAVED, money, page_link, plain, show_error, show_toasts, toast_later
from dollr_core.basics import spreadsheet, validation
from dollr_core.basics.access import Permission
from dollr_core.basics.money import SUPPORTED_CURRENCIES
from dollr_core.basics.phone import mask_phone
from dollr_core.bulk import drafts, progress, recipient_file, records, running, states, worker
from dollr_core.bulk.drafts import EditedRow
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.bulk.states import ROW_STATUS
from dollr_core.ledger.tables import Batch, BatchRow, BatchRowState, BatchState
from dollr_core.team import approvals

who = require_page(Permission.BULK_PAYOUTS, Permission.APPROVE)
svc = services()
maker = who.can(Permission.BULK_PAYOUTS)

PICK = "bulk_pick"  # the batch on screen (None: a new one)
OPEN = "bulk:open"  # a batch to put on screen at the next run
PASSCODE = "bulk_passcode"
ERROR = "bulk:error"  # a failure from a button callback, shown once
MADE = "bulk:made"  # fingerprint of the rows last turned into a batch → its id (no double batches)
SHOWN = "bulk:shown"  # the batch the last run showed, so a changed label in the picker keeps it


# --------------------------------------------------------------------------- small helpers


def open_batch(batch_id: int) -> None:
    st.session_state[OPEN] = batch_id
    st.rerun()


def failed(exc: Exception) -> None:
    """Keep a callback's failure for this run; its traceback (which saw the passcode) is dropped."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    st.session_state[ERROR] = exc


def table(rows: list[dict[str, Any]], phone_key: str = "") -> None:
    """A table; with a `phone_key`, read on a phone as one short block per row (console/tables.py)."""
    if phone_key:
        table_on_any_screen(rows, key=phone_key, heading=("Row", "Name"))
    else:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def run_action(action: Any, *args: Any, then: str | None = None) -> None:
    """Call a dollr_core step; show what went wrong in plain words, or rerun to show the result."""
    try:
        action(svc, who, *args)
    except Exception as exc:
        show_error(exc)
        return
    if then:
        toast_later(then)
    st.rerun()


# --------------------------------------------------------------------------- step 1: the file


def new_batch() -> None:
    st.subheader("1. Recipients")
    st.markdown(
        "One line per person: **name**, **phone** (with the country code, e.g. 231880001234),"
        " **amount** (what the person receives; fees come on top), **currency** (USD, LRD or RWF),"
        " and if you like a **note** and your own **reference** (a reference already paid in"
        " another batch is refused, so a file sent twice pays nobody twice)."
    )
    as_csv, as_xlsx = st.columns(2)
    as_csv.download_button(
        "Download the template (CSV)",
        recipient_file.template_csv(),
        file_name="bulk-payout-template.csv",
        mime=spreadsheet.CSV_MIME,
        key="bulk_template",
    )
    as_xlsx.download_button(
        "Download the template (Excel)",
        recipient_file.template_xlsx(),
        file_name="bulk-payout-template.xlsx",
        mime=spreadsheet.XLSX_MIME,
        key="bulk_template_xlsx",
    )
    st.text_input("Name of this batch", key="bulk_name", placeholder="e.g. March stipends")
    upload = st.file_uploader(
        "Upload the filled-in file (CSV or Excel .xlsx)", type=["csv", "txt", "xlsx"], key="bulk_file"
    )
    st.text_area(
        "…or paste the rows from a spreadsheet, heading line included",
        key="bulk_paste",
        height=160,
        placeholder="name,phone,amount,currency,note,reference",
    )
    if st.button("Check the rows", type="primary", key="bulk_create"):
        data: bytes | str = (
            upload.getvalue() if upload is not None else st.session_state.get("bulk_paste", "")
        )
        stamp = hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()
        made = st.session_state.get(MADE)
        if made and made[0] == stamp:  # a double click: that batch exists already
            open_batch(made[1])
        try:
            with st.spinner("Checking every row with Dollr…"):
                batch = drafts.create_batch(
                    svc, who, st.session_state.get("bulk_name", ""), recipient_file.parse_rows(data)
                )
        except Exception as exc:
            show_error(exc)
            return
        st.session_state[MADE] = (stamp, batch.id)
        open_batch(batch.id or 0)


# --------------------------------------------------------------------------- step 2: checks and fixes


def editor_frame(rows: list[BatchRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": r.id,
                "Row": r.row_number,
                "Leave out": r.state == BatchRowState.EXCLUDED,
                "Name": r.name,
                "Phone": r.phone,
                "Amount": r.amount_text,
                "Currency": r.currency,
                "Note": r.note,
                "Reference": r.own_reference or "",
                "Problems": r.problems,
            }
            for r in rows
        ],
        columns=[
            "id",
            "Row",
            "Leave out",
            "Name",
            "Phone",
            "Amount",
            "Currency",
            "Note",
            "Reference",
            "Problems",
        ],
    )


def edited_rows(frame: pd.DataFrame) -> list[EditedRow]:
    def text(value: Any) -> str:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    return [
        EditedRow(
            row_id=int(line["id"]) if text(line["id"]) else None,
            values=RowInput(
                text(line["Name"]),
                text(line["Phone"]),
                text(line["Amount"]),
                text(line["Currency"]),
                text(line["Note"]),
                text(line["Reference"]),
            ),
            excluded=bool(line["Leave out"]) if text(line["Leave out"]) else False,
        )
        for line in frame.to_dict("records")
    ]


def checks(batch: Batch) -> None:
    batch_id = batch.id or 0
    rows = records.batch_rows(svc, who, batch_id)
    ready = sum(r.state == BatchRowState.VALID for r in rows)
    broken = [r for r in rows if r.state == BatchRowState.INVALID]
    left_out = sum(r.state == BatchRowState.EXCLUDED for r in rows)
    st.subheader("2. Check and fix")
    first, second, third = st.columns(3)
    first.metric("Ready to pay", ready)
    second.metric("Need fixing", len(broken))
    third.metric("Left out", left_out)
    if broken:
        st.warning(f"{len(broken)} row(s) need fixing: correct them in the table below, or leave them out.")
        table(
            [{"Row": r.row_number, "Name": r.name, "Phone": r.phone, "Problem": r.problems} for r in broken]
        )
        if maker and st.button(f"Leave out the {len(broken)} row(s) that need fixing", key="bulk_exclude"):
            run_action(drafts.exclude_rows, batch_id, then="Rows left out.")
    if not maker:
        return
    version = st.session_state.setdefault(f"bulk:editor:{batch_id}", 0)
    with st.expander("Edit the rows", expanded=bool(broken)):
        st.caption("Change any cell, tick “Leave out”, add rows at the bottom or delete them; then save.")
        edited = st.data_editor(
            editor_frame(rows),
            key=f"bulk_editor:{batch_id}:{version}",
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            column_order=[
                "Row",
                "Leave out",
                "Name",
                "Phone",
                "Amount",
                "Currency",
                "Note",
                "Reference",
                "Problems",
            ],
            column_config={
                "Row": st.column_config.NumberColumn(disabled=True, width="small"),
                "Currency": st.column_config.SelectboxColumn(options=list(SUPPORTED_CURRENCIES)),
                "Problems": st.column_config.TextColumn(disabled=True, width="large"),
            },
        )
        save, again = st.columns(2)
        if save.button("Save changes and check again", key="bulk_save"):
            st.session_state[f"bulk:editor:{batch_id}"] = version + 1  # a fresh table after saving
            run_action(drafts.save_rows, batch_id, edited_rows(edited), then="Saved and checked.")
        if again.button("Check every row with Dollr again", key="bulk_recheck"):
            run_action(drafts.recheck, batch_id, then="Checked again.")


# --------------------------------------------------------------------------- step 3: preview


def preview(batch: Batch, heading: str = "3. Preview") -> progress.Preview:
    """The rows to be paid, their fees and the totals; returns what was shown."""
    shown = progress.preview(svc, who, batch.id or 0)
    st.subheader(heading)
    if not shown.rows:
        st.caption("No row is ready to pay yet.")
        return shown
    table(
        [
            {
                "Row": r.row_number,
                "Name": r.name,
                "Wallet": f"{r.carrier or ''} {mask_phone(r.phone)}".strip(),
                "Recipient gets": money(r.amount, r.currency),
                "Fees": money(r.predicted_fees, r.currency),
                "Leaves our wallet": money(r.predicted_debit, r.currency),
                "Note": r.note,
                "Reference": r.own_reference or "",
            }
            for r in shown.rows
        ],
        phone_key="bulk-preview",
    )
    sandbox = any(t.sandbox_balance is not None for t in shown.totals)
    totals = []
    for t in shown.totals:
        line = {
            "Currency": t.currency,
            "Payments": t.rows,
            "Recipients get": money(t.amount, t.currency),
            "Fees": money(t.fees, t.currency),
            "Leaves our wallet": money(t.debit, t.currency),
            "Estimated balance*": money(t.estimated_balance, t.currency),
        }
        if sandbox:
            line["Sandbox wallet (test money)"] = money(t.sandbox_balance, t.currency)
        totals.append(line)
    st.markdown("**Totals**")
    table(totals)
    st.caption(
        "*Estimated from this console's own records (collections received minus payments sent):"
        " Dollr does not report wallet balances, and money moved outside this console is not included."
    )
    for t in shown.totals:
        if t.short_by is not None:
            st.warning(
                f"{t.currency}: the estimated balance is {money(t.short_by, t.currency)} short of what this"
                " batch takes. Check the real balance in the Dollr merchant portal before starting."
            )
        if t.sandbox_short_by is not None:
            st.error(f"{t.currency}: the sandbox wallet is {money(t.sandbox_short_by, t.currency)} short.")
    return shown


# --------------------------------------------------------------------------- step 4: approval


def decide(batch_id: int, approve: bool, shown: str) -> None:
    """Reject's callback, and approve's once confirmed: `shown` is the fingerprint of the preview
    drawn with the button (not a newer one)."""
    decision = approvals.Decision(approve, st.session_state.get("bulk_reason", ""), shown)
    try:
        decided = approvals.decide_batch(svc, who, batch_id, decision)
    except Exception as exc:
        failed(exc)
        return
    if decided.state == BatchState.AWAITING_APPROVAL:
        toast_later("Your approval is recorded: a second manager must approve it too.")
    elif decided.state == BatchState.APPROVED:
        toast_later(f"Bulk payout #{batch_id} is approved: {plain(decided.created_by)} can start it now.")
    else:
        toast_later(f"Bulk payout #{batch_id} is rejected; {plain(decided.created_by)} can see your reason.")


def ask_to_cancel(batch_id: int) -> None:
    """Cancel's callback: the dialog states what canceling does to the batch as it stands now."""
    try:
        unsent = progress.preview(svc, who, batch_id)
        standing = progress.progress(svc, who, batch_id) if states.is_live(unsent.batch) else None
    except Exception as exc:
        failed(exc)
        return
    bulk_confirm.ask(bulk_confirm.canceling(unsent, standing))


def confirmed(question: bulk_confirm.Question) -> None:
    """The dialog's "Yes": the step is taken, and a toast on the next run says it was."""
    if question.step == "approve":
        decide(question.batch_id, True, question.shown)
        return
    try:
        running.cancel_batch(svc, who, question.batch_id)
    except Exception as exc:
        failed(exc)
        return
    toast_later(f"Bulk payout #{question.batch_id} is canceled: nothing more of it will be sent.")


def approval(batch: Batch, shown: progress.Preview) -> None:
    st.subheader("4. Approval")
    if approvals.may_decide(who, batch.created_by):
        st.text_input("Reason (needed to reject; the maker will read it)", key="bulk_reason")
        yes, no = st.columns(2)
        question = bulk_confirm.approving(shown)
        yes.button(
            "Approve this batch",
            type="primary",
            key="bulk_approve",
            on_click=bulk_confirm.ask,
            args=(question,),
        )
        no.button("Reject", key="bulk_reject", on_click=decide, args=(batch.id or 0, False, question.shown))
        return
    st.info(
        f"Waiting for a manager's approval (sent by {plain(batch.created_by)}). Nobody approves their own."
    )
    page_link("pages/approvals.py", "See it on Approvals")
    if maker and st.button("Take it back to change it", key="bulk_withdraw"):
        run_action(drafts.withdraw, batch.id or 0, then="Back to draft.")


# --------------------------------------------------------------------------- step 5: paying


def start_with_passcode(batch_id: int) -> None:
    """Form callback: the passcode is read once and dropped; from here on only the worker holds it."""
    passcode: str = st.session_state.get(PASSCODE) or ""
    st.session_state[PASSCODE] = ""
    try:
        running.start_batch(svc, who, batch_id, passcode)
    except Exception as exc:
        failed(exc)
    finally:
        del passcode


def passcode_step(batch: Batch, label: str) -> None:
    """A form, as on Pay someone: the passcode reaches the server whole, however the field is left."""
    with st.form(f"bulk_passcode_form:{batch.id}", clear_on_submit=True):
        st.text_input(
            "Merchant passcode",
            type="password",
            key=PASSCODE,
            autocomplete=NEVER_SAVED,
            help=(
                "From the Dollr merchant portal. Held in memory by the background worker only; never stored."
            ),
        )
        st.form_submit_button(
            label, type="primary", key="bulk_start", on_click=start_with_passcode, args=(batch.id or 0,)
        )


def controls(batch: Batch) -> None:
    """Start, pause, resume and cancel: what the batch's state allows."""
    batch_id = batch.id or 0
    problem = worker.problem(svc, batch_id)
    if problem and batch.state == BatchState.PAUSED:
        st.error(f"The batch was paused: {problem}")
    if not maker:
        if batch.state == BatchState.RUNNING and st.button("Pause", key="bulk_pause"):
            run_action(running.pause_batch, batch_id, then="Paused.")
        return
    if batch.state == BatchState.APPROVED:
        st.success(f"Approved by {plain(batch.decided_by)}. Enter the merchant passcode to start paying.")
        passcode_step(batch, "Start paying")
    elif batch.state == BatchState.RUNNING and not worker.is_running(svc, batch_id):
        st.warning(
            "Nothing is paying this batch right now (the console was restarted)."
            " Enter the passcode to carry on: no row is paid twice."
        )
        passcode_step(batch, "Carry on paying")
    elif batch.state == BatchState.RUNNING and st.button("Pause", key="bulk_pause"):
        run_action(running.pause_batch, batch_id, then="Paused: rows already sent still finish.")
    elif batch.state == BatchState.PAUSED:
        if worker.holds_passcode(svc, batch_id):
            if st.button("Resume", type="primary", key="bulk_resume"):
                run_action(running.resume_batch, batch_id, then="Resumed.")
        else:
            passcode_step(batch, "Resume paying")
    if states.can_cancel(batch):
        st.button("Cancel this batch", key="bulk_cancel", on_click=ask_to_cancel, args=(batch_id,))


def progress_table(standing: progress.Progress) -> None:
    table(
        [
            {
                "Row": r.row_number,
                "Name": r.name,
                "Wallet": mask_phone(r.phone),
                "Amount": money(r.amount, r.currency),
                "Status": ROW_STATUS[BatchRowState(r.state)],
                "Fees": money(progress.row_fees(r), r.currency),
                "Dollr reference": r.reference_id or "",
                "Why it failed": r.failure_reason or "",
            }
            for r in standing.rows
        ],
        phone_key="bulk-rows",
    )


def counts(standing: progress.Progress) -> None:
    c = standing.counts
    paid, failures, moving, waiting, dropped = st.columns(5)
    paid.metric("Paid", c.get(BatchRowState.PAID, 0))
    failures.metric("Failed", c.get(BatchRowState.FAILED, 0))
    moving.metric("In progress", c.get(BatchRowState.SENT, 0))
    waiting.metric("Waiting", c.get(BatchRowState.QUEUED, 0))
    dropped.metric("Canceled", c.get(BatchRowState.CANCELED, 0))


@st.fragment(run_every=2)
def live(batch_id: int, drawn: BatchState) -> None:
    """Progress and every row's status, re-read from the ledger (never from Dollr) every 2 s.

    The page around it was drawn for the batch in state `drawn`; when the batch has moved on
    (the worker paused it, someone canceled it, it finished) the whole page is drawn again.
    """
    standing = progress.progress(svc, who, batch_id)
    if standing.batch.state != drawn or not (states.is_live(standing.batch) or standing.in_flight):
        st.rerun()  # the batch moved on, or its last rows settled: the page shows where it stands
    st.progress(standing.fraction, text=f"{standing.done} of {standing.total} payments finished")
    counts(standing)
    progress_table(standing)


def results(batch: Batch, standing: progress.Progress) -> None:
    batch_id = batch.id or 0
    st.subheader("Results")
    counts(standing)
    for currency, amount in sorted(standing.received.items()):
        st.caption(f"Recipients received {money(amount, currency)} in all.")
    progress_table(standing)
    as_csv, as_xlsx = st.columns(2)
    as_csv.download_button(
        "Download the results (CSV)",
        progress.results_csv(svc, who, batch_id),
        file_name=f"bulk-payout-{batch_id}-results.csv",
        mime=spreadsheet.CSV_MIME,
        key="bulk_results",
    )
    as_xlsx.download_button(
        "Download the results (Excel)",
        progress.results_xlsx(svc, who, batch_id),
        file_name=f"bulk-payout-{batch_id}-results.xlsx",
        mime=spreadsheet.XLSX_MIME,
        key="bulk_results_xlsx",
    )
    if (
        maker
        and standing.failed
        and st.button(f"Retry the {standing.failed} failed row(s) as a new batch", key="bulk_retry")
    ):
        try:
            retry = drafts.retry_failed(svc, who, batch_id)
        except Exception as exc:
            show_error(exc)
        else:
            open_batch(retry.id or 0)


# --------------------------------------------------------------------------- the page

st.title("Bulk payouts")
st.caption("Pay many people at once from a spreadsheet: checked first, approved by a manager, then paid.")
show_toasts()

if "batch" in st.query_params:  # a link from Approvals or a colleague
    try:
        st.session_state[OPEN] = validation.link_id(st.query_params["batch"], "batch")
    except ValueError as exc:
        st.session_state[OPEN] = None
        st.warning(f"{exc} Choose the batch below.")
    del st.query_params["batch"]
if OPEN in st.session_state:
    st.session_state[SHOWN] = st.session_state.pop(OPEN)
if SHOWN in st.session_state:
    # The picker remembers its choice by the label it showed, and a label says the batch's state:
    # once the state moves on (approved, finished) the old label matches nothing and the picker
    # would fall back to "Make a new batch". The batch on screen is kept here, by its number.
    st.session_state[PICK] = st.session_state[SHOWN]


def picked() -> None:
    st.session_state[SHOWN] = st.session_state.get(PICK)


known = {b.id: b for b in records.list_batches(svc, who)}
wanted = st.session_state.get(PICK)
if wanted is not None and wanted not in known:  # an older batch, opened from a link
    try:
        known[wanted] = records.get_batch(svc, who, wanted)
    except states.BulkError:
        st.session_state[PICK] = st.session_state[SHOWN] = None
chosen = st.selectbox(
    "Batch",
    [None, *known],
    format_func=lambda i: (
        ("Make a new batch" if maker else "Choose a batch")
        if i is None
        else f"#{i} {known[i].name} — {states.status(known[i])}"
    ),
    key=PICK,
    on_change=picked,
)
st.session_state[SHOWN] = chosen
problem = st.session_state.pop(ERROR, None)
if problem is not None:
    show_error(problem)

if chosen is None:
    bulk_confirm.stop_asking()  # a question left open on a batch no longer on screen
    if maker:
        new_batch()
    else:
        st.info("Choose a batch above. Batches waiting for your approval are also listed on Approvals.")
    st.stop()

batch = known[chosen]
state = BatchState(batch.state)
standing = progress.progress(svc, who, chosen) if state in states.PROGRESS_BATCHES else None
if standing is not None and standing.batch.state != batch.state:  # it finished just now
    st.rerun()
st.markdown(f"**#{batch.id} {plain(batch.name)}** · by {plain(batch.created_by)} · {states.status(batch)}")
if state is BatchState.DRAFT:
    checks(batch)
    preview(batch)
    if maker and st.button("Send for approval", type="primary", key="bulk_submit"):
        run_action(drafts.submit_for_approval, chosen, then="Sent to the managers for approval.")
    controls(batch)
elif state is BatchState.AWAITING_APPROVAL:
    approval(batch, preview(batch))
    controls(batch)
elif state is BatchState.REJECTED:
    st.error(
        f"Rejected by {plain(batch.decided_by)}, who said: {plain(batch.decision_reason)}. Nothing was sent."
    )
    preview(batch, "What it would have paid")
elif state is BatchState.APPROVED:
    preview(batch)
    controls(batch)
elif standing is not None and (states.is_live(batch) or standing.in_flight):
    st.subheader("5. Paying")
    controls(batch)
    live(chosen, state)
elif standing is not None:
    results(batch, standing)
bulk_confirm.confirm_if_asked(chosen, confirmed)
