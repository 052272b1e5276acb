"""What each batch and row state means, and which states allow what: the one place for these rules.

A batch goes DRAFT → AWAITING_APPROVAL → APPROVED → RUNNING (⇄ PAUSED) → FINISHED, or ends
REJECTED or CANCELED. While it is a draft its rows are checked and may be fixed or left out; a
manager who did not create it approves it; a finance person starts it with the merchant passcode,
which only the worker holds, in memory. Every row is paid through the execution protocol with an
intent key of its own, stored on the row before anything is sent, so a restart resumes the batch
without paying any row twice.
"""

from __future__ import annotations

from dollr_core.errors import InputRefused
from dollr_core.ledger.tables import Batch, BatchRowState, BatchState


class BulkError(InputRefused):
    """The batch cannot do what was asked; the message says why in plain words."""


#: Rows that are (or may be) money on its way.
IN_FLIGHT_ROWS = (BatchRowState.QUEUED, BatchRowState.SENT)
#: Rows whose story is over.
FINAL_ROWS = (BatchRowState.PAID, BatchRowState.FAILED, BatchRowState.CANCELED)
#: Rows of a draft (checked, not yet handed over for payment).
DRAFT_ROWS = (BatchRowState.VALID, BatchRowState.INVALID, BatchRowState.EXCLUDED)
#: Batch states in which rows may still be sent: the batch is "live" on screen.
LIVE_BATCHES = (BatchState.RUNNING, BatchState.PAUSED)
#: Batch states a person may cancel (rows already sent still finish).
CANCELLABLE_BATCHES = (BatchState.DRAFT, BatchState.AWAITING_APPROVAL, BatchState.APPROVED, *LIVE_BATCHES)
#: Batch states whose rows have a progress to show (a canceled batch may have sent some).
PROGRESS_BATCHES = (*LIVE_BATCHES, BatchState.FINISHED, BatchState.CANCELED)
#: Batch states that never change again.
ENDED_BATCHES = (BatchState.FINISHED, BatchState.CANCELED, BatchState.REJECTED)

#: How a row's state reads on screen and in the results file.
ROW_STATUS = {
    BatchRowState.VALID: "ready",
    BatchRowState.INVALID: "needs fixing",
    BatchRowState.EXCLUDED: "left out",
    BatchRowState.QUEUED: "waiting",
    BatchRowState.SENT: "in progress",
    BatchRowState.PAID: "paid",
    BatchRowState.FAILED: "failed",
    BatchRowState.CANCELED: "canceled (not sent)",
}

#: What each batch state means, for the screen.
BATCH_STATUS = {
    BatchState.DRAFT: "draft: rows can be fixed",
    BatchState.AWAITING_APPROVAL: "waiting for a manager's approval",
    BatchState.APPROVED: "approved: ready to start",
    BatchState.RUNNING: "paying",
    BatchState.PAUSED: "paused",
    BatchState.FINISHED: "finished",
    BatchState.CANCELED: "canceled",
    BatchState.REJECTED: "rejected",
}


def status(batch: Batch) -> str:
    """The batch's state in words."""
    return BATCH_STATUS[BatchState(batch.state)]


def is_live(batch: Batch) -> bool:
    """Rows of this batch may still be sent (running, or paused)."""
    return batch.state in LIVE_BATCHES


def can_cancel(batch: Batch) -> bool:
    return batch.state in CANCELLABLE_BATCHES
