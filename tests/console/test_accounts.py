"""Passwords through the pages: the sign-in form password managers can fill, changing your own
password, an admin's reset shown once and replaced at the next sign-in, and merchant passcode
fields no password manager offers to save."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from console.widgets import NEVER_SAVED
from dollr_core.basics.access import Role
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import sign_in, users

from ..bulk.helpers import approved_batch
from .conftest import PASSWORD
from .test_bulk_page import CHECKER, MAKER, ROWS, opened
from .test_payout_page import review

NEW = "purple elephant dances"
OLIVIA = "operator@example.com"


def _texts(at: AppTest) -> str:
    return "\n".join(
        str(e.value)
        for kind in ("title", "markdown", "caption", "success", "error", "info")
        for e in at.get(kind)
    )


def test_the_sign_in_form_names_its_fields_for_password_managers(
    app: Callable[..., AppTest], console: Services
) -> None:
    users.add_user(console.engine, email=OLIVIA, role=Role.OPERATOR, password=PASSWORD)
    at = app().run()
    assert [(t.label, t.autocomplete) for t in at.text_input] == [
        ("E-mail", "username"),
        ("Password", "current-password"),
    ]


def test_merchant_passcodes_are_never_offered_for_saving(
    page: Callable[..., AppTest], console: Services
) -> None:
    payout = review(page("pages/payout.py", role=Role.OPERATOR).run())
    assert payout.text_input(key="payout_passcode").autocomplete == NEVER_SAVED
    bulk = opened(page, approved_batch(console, MAKER, CHECKER, ROWS).id or 0)
    assert bulk.text_input(key="bulk_passcode").autocomplete == NEVER_SAVED


def test_change_your_own_password_on_your_account(page: Callable[..., AppTest], console: Services) -> None:
    users.add_user(console.engine, email=OLIVIA, role=Role.OPERATOR, password=PASSWORD)
    at = page("pages/account.py", role=Role.OPERATOR).run()
    assert users.PASSWORD_POLICY in _texts(at)  # the policy, stated where the password is chosen
    current, new, again = at.text_input
    assert (current.autocomplete, new.autocomplete, again.autocomplete) == (
        "current-password",
        "new-password",
        "new-password",
    )
    current.input(PASSWORD)
    new.input(NEW)
    again.input("purple elephant dance")
    at.button[0].click()
    at.run()
    assert "two new passwords differ" in at.error[0].value

    at.text_input[0].input("not my password")
    at.text_input[1].input(NEW)
    at.text_input[2].input(NEW)
    at.button[0].click()
    at.run()
    assert "current password is not right" in at.error[0].value

    at.text_input[0].input(PASSWORD)
    at.text_input[1].input(NEW)
    at.text_input[2].input(NEW)
    at.button[0].click()
    at.run()
    assert not at.exception and not at.error
    assert "signed out" in at.success[0].value
    user = users.get_user(console.engine, OLIVIA)
    assert user is not None and at.session_state["session_generation"] == user.session_generation == 1
    assert sign_in.sign_in(console.engine, OLIVIA, NEW, client="t", sleep=lambda _s: None).email == OLIVIA


def test_an_admin_resets_and_the_user_chooses_a_new_password_at_sign_in(
    page: Callable[..., AppTest], app: Callable[..., AppTest], console: Services
) -> None:
    users.add_user(console.engine, email="admin@example.com", role=Role.ADMIN, password=PASSWORD)
    users.add_user(console.engine, email=OLIVIA, role=Role.OPERATOR, password=PASSWORD)
    admin = page("pages/users.py", role=Role.ADMIN).run()
    admin.selectbox(key="change_email").select(OLIVIA)
    admin.button(key="do_reset_password").click()
    admin.run()
    assert not admin.exception
    temporary = admin.code[0].value
    assert "shown only now" in admin.success[0].value
    admin.run()
    assert not admin.code  # shown once: gone at the next run
    [reset] = audit.search(console.engine, audit.AuditFilter(action="password_reset"))
    assert (reset.actor, reset.target) == ("admin@example.com", OLIVIA)

    at = app().run()
    at.text_input[0].input(OLIVIA)
    at.text_input[1].input(temporary)
    at.button[0].click()
    at.run()
    assert at.title[0].value == "Choose your own password"
    assert "signed_in_email" not in at.session_state  # no page of the console yet
    at.text_input[0].input(NEW)
    at.text_input[1].input(NEW)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert at.session_state["signed_in_email"] == OLIVIA
    assert sign_in.sign_in(console.engine, OLIVIA, NEW, client="t", sleep=lambda _s: None).email == OLIVIA
