"""Finding one's payments again: My payments, and Payment status by name, phone digits, amount or
document number — an operator only among their own, a manager among all."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.reports import status_lookup
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..flows.helpers import collect, pay_out, settle
from .test_payout_page import texts

OLIVIA = Actor("olivia.operator@example.com", Role.OPERATOR)
OTTO = Actor("otto.operator@example.com", Role.OPERATOR)
MANAGER = Actor("mia.manager@example.com", Role.MANAGER)
FINANCE = Actor("fred.finance@example.com", Role.FINANCE)


def _references(found: status_lookup.PaymentSearch | object) -> set[str]:
    assert isinstance(found, status_lookup.PaymentSearch), found
    return {row.reference_id for row in found.matches}


def test_find_by_name_phone_digits_amount_and_document(console: Services, fresh_sandbox: Sandbox) -> None:
    mine = pay_out(console, OLIVIA, uuid.uuid4().hex, phone="231880001234", amount="25")
    theirs = pay_out(console, OTTO, uuid.uuid4().hex, phone="231880009876", amount="47.35")
    paid = collect(console, FINANCE, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    # An operator finds only their own payments, by any of what they remember of it.
    assert _references(status_lookup.look_up(console, OLIVIA, "musa")) == {mine.reference_id}
    assert _references(status_lookup.look_up(console, OLIVIA, "1234")) == {mine.reference_id}
    assert _references(status_lookup.look_up(console, OLIVIA, "USD 25")) == {mine.reference_id}
    assert _references(status_lookup.look_up(console, OLIVIA, "25.00")) == {mine.reference_id}
    # (a text made only of digits also matches inside references, so the amounts here have cents)
    assert _references(status_lookup.look_up(console, OLIVIA, "47.35")) == set()  # Otto's, not hers
    assert _references(status_lookup.look_up(console, MANAGER, "47.35")) == {theirs.reference_id}
    # A manager may browse the whole history, so finds everyone's.
    assert _references(status_lookup.look_up(console, MANAGER, "Musa Kollie")) == {
        mine.reference_id,
        theirs.reference_id,
    }
    assert _references(status_lookup.look_up(console, MANAGER, "9876")) == {theirs.reference_id}
    # A document number still opens the document's status.
    assert paid.source_number
    assert isinstance(
        status_lookup.look_up(console, MANAGER, paid.source_number), status_lookup.DocumentLookup
    )


def test_my_payments_lists_only_mine_newest_first(console: Services, fresh_sandbox: Sandbox) -> None:
    first = pay_out(console, OLIVIA, uuid.uuid4().hex, amount="10")
    pay_out(console, OTTO, uuid.uuid4().hex, amount="11")
    second = pay_out(console, OLIVIA, uuid.uuid4().hex, amount="12")
    page = status_lookup.my_payments(console, OLIVIA)
    assert [r.reference_id for r in page.rows] == [second.reference_id, first.reference_id]


def test_the_pages_find_a_payment_by_name(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    pay_out(console, OLIVIA, uuid.uuid4().hex, phone="231880001234", amount="25")
    at = page("pages/status.py", role=Role.OPERATOR, email=OLIVIA.email).run()
    at.text_input(key="status_query").input("Musa")
    at.button(key="status_lookup").click()
    at.run()
    assert not at.exception
    assert "Not found" not in texts(at)
    assert "Payments you sent or collected that match" in texts(at)
    [table] = at.dataframe
    assert list(table.value["Who"]) == ["Musa Kollie"] and list(table.value["Amount"]) == ["USD 25.00"]

    mine = page("pages/mine.py", role=Role.OPERATOR, email=OLIVIA.email).run()
    assert not mine.exception
    [rows] = mine.dataframe
    assert list(rows.value["Who"]) == ["Musa Kollie"]
    assert list(rows.value["Phone"]) == ["••••1234"]
