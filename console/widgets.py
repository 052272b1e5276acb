"""Small pieces of screen used by several pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from pydantic import ValidationError
from streamlit.errors import StreamlitPageNotFoundError

from console.context import services
from dollr_core.basics.money import money_text
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import local_time, payment_status, short_reference, time_said, zone_label
from dollr_core.errors import Refusal
from dollr_core.explain import NETWORK_TRANSACTION_ID, attempt_outcome, explain
from dollr_core.ledger.tables import Attempt, AttemptState

#: The autocomplete token of a password input whose value no password manager may save or fill
#: (the merchant passcode). Streamlit's default for passwords, "new-password", invites saving, and
#: browsers ignore "off" on password inputs; a one-time code is neither saved nor offered.
NEVER_SAVED = "one-time-code"

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")

#: A zero-width space (U+200B) before every "@". Streamlit's markdown links every bare e-mail
#: address (a mailto link) even when its "@" or dots are escaped, since it finds them in the text
#: after the escapes are read; a zero-width character before the "@" stops it and shows nothing
#: (checked in a browser on Streamlit 1.67). This one, unlike a word joiner, is ignored by
#: Playwright's text matching, so tests read the address as people do.
_NO_MAILTO = "\u200b@"


def plain(text: object) -> str:
    """Text shown inside markdown as it is: no link, image or emphasis it could carry, and an
    e-mail address stays text (no mailto link)."""
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("@", _NO_MAILTO)


def money(amount: Decimal | None, currency: str | None) -> str:
    return money_text(amount, currency) or "—"


def currency_choice(
    label: str, currencies: Sequence[str], *, key: str, where: Any = st, prefer: str | None = None, help: str
) -> str | None:
    """A currency box that always shows the currency the page goes on with.

    Streamlit keeps a keyed box's on-screen choice when its options change (one operator's
    currencies for another's, or none while the number is unknown), so the box could read "Choose
    an option" while the review used USD. Here each set of options is a box of its own, and the
    choice is kept under `key` (no widget's key) for the next box. No options: a disabled box."""
    if not currencies:
        where.selectbox(label, ["Found from the number"], key=f"{key}:none", disabled=True, help=help)
        return None
    kept = st.session_state.get(key)
    chosen: str = next(c for c in (kept, prefer, currencies[0]) if isinstance(c, str) and c in currencies)
    picked: str = where.selectbox(
        label,
        list(currencies),
        index=list(currencies).index(chosen),
        key=f"{key}:{'-'.join(currencies)}",
        help=help,
    )
    st.session_state[key] = picked
    return picked


# --------------------------------------------------------------------------- times and references


def company_zone() -> str:
    """The company's time zone (DOLLR_TIME_ZONE): every time on screen is in it."""
    return services().settings.time_zone


def when(moment: datetime | None, *, seconds: bool = False) -> str:
    """A moment as a table cell in the company's time zone; the column's heading names the zone
    (`time_heading`)."""
    return local_time(moment, company_zone(), seconds=seconds) if moment else "—"


def time_heading(label: str) -> str:
    """A time column's heading naming the zone once: "Started (Africa/Kigali time)"."""
    return f"{label} ({zone_label(company_zone())})"


def when_said(moment: datetime | None) -> str:
    """A moment inside a sentence, with its zone: "2026-12-01 14:05 (Africa/Kigali time)"."""
    return time_said(moment, company_zone())


def reference(full: str | None, *, label: str = "Payment reference", where: Any = st) -> None:
    """A reference as people read it: its first characters (enough to tell payments apart, and to
    find one on Payment status), with the whole reference one click away beside a copy button."""
    if not full:
        return
    with where.popover(
        f"{label}: {short_reference(full)}",
        icon=":material/content_copy:",
        help="Show the whole reference, to copy it",
    ):
        st.caption(f"The whole {label.lower()}; point at it for its copy button.")
        st.code(full, language=None, wrap_lines=True)


def show_error(exc: BaseException) -> None:
    """The failure in plain words, with what to do.

    A refusal of what someone entered or asked (ours, or a field that failed validation) is its
    sentence alone: a "technical details" box would only repeat it. Faults and Dollr's errors
    keep their details (a fault reference, Dollr's code) folded away for support."""
    said = explain(exc)
    st.error(f"{said.headline}  \n{said.advice}")
    if said.details and not isinstance(exc, Refusal | ValidationError):
        with st.expander("Technical details"):
            st.code(said.details, language=None)


def attempt_summary(attempt: Attempt) -> None:
    state = AttemptState(attempt.local_state)
    said = attempt_outcome(attempt)
    if state is AttemptState.COMPLETED:
        st.success(f"**{said.headline}** {said.advice}")
    elif state in (AttemptState.FAILED, AttemptState.REFUSED):
        st.error(f"**{said.headline}**  \n{said.advice}")
    elif state is AttemptState.ABANDONED:
        st.warning(f"**{said.headline}** {said.advice}")
    else:
        st.info(f"**{said.headline}**  \n{said.advice}")
    collecting = attempt.operation_type == "COLLECTION"
    paid = money(
        attempt.payer_amount or attempt.predicted_payer_amount,
        attempt.settled_payer_currency or attempt.payer_currency,
    )
    received = money(
        attempt.payee_amount or attempt.predicted_payee_amount, attempt.payee_currency or attempt.currency
    )
    party = f"{attempt.party_name} ({mask_phone(attempt.phone)})" if attempt.phone else "—"
    reference(attempt.reference_id)
    st.caption("Quote the reference to look this payment up on Payment status.")
    rows = {
        "Payment status at Dollr": payment_status(attempt.remote_status)
        if attempt.remote_status
        else "Not known yet",
        "Customer" if collecting else "Recipient": party,
        "Amount": money(attempt.amount, attempt.currency),
        "Customer pays" if collecting else "Our wallet is debited": paid,
        "We receive" if collecting else "Recipient gets": received,
    }
    if attempt.provider_transaction_id:
        rows[NETWORK_TRANSACTION_ID] = attempt.provider_transaction_id
    # A table on a desktop; on a phone, where its second column was cut off, one line per figure
    # (the containers' keys follow console/tables.py's convention, which console/look.css reads).
    with st.container(key=f"desktop-table-payment-{attempt.id}"):
        st.dataframe(
            {"What": list(rows.keys()), "Value": [str(v) for v in rows.values()]},
            hide_index=True,
            width="stretch",
        )
    with st.container(key=f"phone-rows-payment-{attempt.id}"):
        st.markdown("  \n".join(f"**{plain(what)}:** {plain(value)}" for what, value in rows.items()))


def live_status(reference_id: str, refresh: Callable[[str], Attempt], *, every: float = 2.0) -> None:
    """Follow one payment until it is final; polls only while it is not, then stops."""

    @st.fragment(run_every=every)
    def _follow() -> None:
        try:
            attempt = refresh(reference_id)
        except Exception as exc:  # keep following: a failed look is not a failed payment
            show_error(exc)
            return
        attempt_summary(attempt)
        if AttemptState(attempt.local_state).is_final and not st.session_state.get(f"final:{reference_id}"):
            st.session_state[f"final:{reference_id}"] = True
            st.rerun()  # one full rerun so the page shows its next steps and the polling stops

    if st.session_state.get(f"final:{reference_id}"):
        attempt = refresh(reference_id)
        attempt_summary(attempt)
    else:
        _follow()


def page_link(page: str, label: str, *, where: Any = st, icon: str | None = None, **query: str) -> None:
    """A link to another console page, in this tab so the sign-in carries over (plain text when a
    page runs on its own, as in tests)."""
    try:
        where.page_link(page, label=label, query_params=query or None, icon=icon)
    except StreamlitPageNotFoundError:  # the page runs on its own (as in tests): a plain link
        where.markdown(f"[{label}]({Path(page).stem}?{urlencode(query)})")


# --------------------------------------------------------------------------- toasts after a rerun

_TOASTS = "widgets:toasts"


def toast_later(message: str, icon: str = ":material/check_circle:") -> None:
    """Say what just happened on the next run: a callback or an `st.rerun()` would swallow a toast
    shown now, so it waits in session_state until `show_toasts` draws it."""
    st.session_state.setdefault(_TOASTS, []).append((message, icon))


def show_toasts() -> None:
    """Draw (once) the toasts queued by `toast_later`; call it near the top of a page."""
    for message, icon in st.session_state.pop(_TOASTS, []):
        st.toast(message, icon=icon)
