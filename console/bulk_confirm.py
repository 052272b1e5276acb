"""The Bulk payouts page's confirmations: approving or canceling a batch says first what will happen.

The button that asks is drawn with the batch as the page shows it; its callback keeps the words
(and, for an approval, the fingerprint) of that drawing, so the dialog states, and the decision
binds, what the person was looking at — not a newer state of the batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from console.widgets import money, plain
from dollr_core.basics.words import count
from dollr_core.bulk import progress
from dollr_core.ledger.tables import Batch, BatchRowState
from dollr_core.team import approvals

ASKING = "bulk:confirming"  # the question waiting for its "Yes"


@dataclass(frozen=True)
class Question:
    """A step on a batch that waits for a "Yes": what it is, on which batch, and what it says."""

    step: str  # "approve" or "cancel"
    batch_id: int
    said: tuple[str, ...]  # markdown lines, written from the batch as the page showed it
    shown: str = ""  # for an approval: the fingerprint of the preview drawn with the button


def ask(question: Question) -> None:
    """Button callback: nothing happens yet; the next run opens the dialog."""
    st.session_state[ASKING] = question


def stop_asking() -> None:
    st.session_state.pop(ASKING, None)


def _batch_line(verb: str, batch: Batch) -> str:
    maker = plain(batch.created_by)
    return f"You are {verb} **bulk payout #{batch.id} ({plain(batch.name)})**, made by {maker}."


def _totals_lines(totals: list[progress.CurrencyTotal]) -> list[str]:
    return [
        f"- {t.currency}: {count(t.rows, 'payment')}; recipients get {money(t.amount, t.currency)},"
        f" fees {money(t.fees, t.currency)}: **{money(t.debit, t.currency)} leaves our wallet**"
        for t in totals
    ]


def approving(shown: progress.Preview) -> Question:
    """The approval of the batch as previewed on the page."""
    batch = shown.batch
    if batch.approvals_needed >= 2 and not batch.first_approved_by:
        then = "Yours is the first of two approvals: a second manager must approve it too."
    else:
        then = f"{plain(batch.created_by)} can then start it with the passcode; money moves only then."
    return Question(
        "approve",
        batch.id or 0,
        (
            _batch_line("approving", batch),
            f"It makes {count(len(shown.rows), 'payment')}:",
            *_totals_lines(shown.totals),
            f"{then} No money moves now.",
        ),
        approvals.batch_fingerprint(batch, shown.rows),
    )


def canceling(unsent: progress.Preview, standing: progress.Progress | None) -> Question:
    """Canceling the batch: the rows not sent yet are dropped; rows already sent finish."""
    said = [_batch_line("canceling", unsent.batch)]
    if unsent.rows:
        said.append(f"{count(len(unsent.rows), 'payment')} not sent yet will not be made:")
        said += _totals_lines(unsent.totals)
    sent = standing.counts.get(BatchRowState.SENT, 0) if standing else 0
    paid = standing.counts.get(BatchRowState.PAID, 0) if standing else 0
    if sent:
        said.append(
            f"{count(sent, 'payment')} already sent cannot be called back:"
            f" {'it finishes' if sent == 1 else 'they finish'}, and the results show how."
        )
    if paid:
        said.append(f"{count(paid, 'payment')} already paid stay paid.")
    if not standing:
        said.append("Nothing of this batch has been sent.")
    said.append("A canceled batch cannot be started again.")
    return Question("cancel", unsent.batch.id or 0, tuple(said))


def _body(question: Question, yes: str, back: str, on_yes: Callable[[Question], None]) -> None:
    for line in question.said:
        st.markdown(line)
    left, right = st.columns(2)
    if left.button(yes, type="primary", key=f"bulk_{question.step}_yes", width="stretch"):
        stop_asking()
        on_yes(question)
        st.rerun()
    if right.button(back, key=f"bulk_{question.step}_no", width="stretch"):
        stop_asking()
        st.rerun()


@st.dialog("Approve this batch?", on_dismiss=stop_asking)
def _confirm_approval(question: Question, on_yes: Callable[[Question], None]) -> None:
    _body(question, "Yes, approve", "Go back", on_yes)


@st.dialog("Cancel this batch?", on_dismiss=stop_asking)
def _confirm_cancel(question: Question, on_yes: Callable[[Question], None]) -> None:
    _body(question, "Yes, cancel the batch", "No, keep it", on_yes)


def confirm_if_asked(batch_id: int, on_yes: Callable[[Question], None]) -> None:
    """Open the dialog of the question asked on this batch, if any (one on another batch is dropped)."""
    question = st.session_state.get(ASKING)
    if not isinstance(question, Question):
        return
    if question.batch_id != batch_id:
        stop_asking()
        return
    (_confirm_approval if question.step == "approve" else _confirm_cancel)(question, on_yes)
