"""The Notifications page: each person chooses their e-mails; an admin sets the webhook (its secret
path never shown) and sees what was sent."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Role
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import notify

from .test_payout_page import texts


def test_a_manager_turns_one_kind_off(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/notifications.py", role=Role.MANAGER, email="mia.manager@example.com").run()
    assert not at.exception
    boxes = {c.label: c for c in at.checkbox}
    assert set(boxes) == {notify.KIND_NAMES[k] for k in notify.kinds_for(Role.MANAGER)}
    assert all(c.value for c in boxes.values())  # everything on until the person says otherwise
    boxes[notify.KIND_NAMES[notify.Kind.APPROVAL_WAITING]].uncheck()
    at.button[0].click()
    at.run()
    assert "Your choices are saved." in texts(at)
    assert notify.muted_kinds(console.engine, "mia.manager@example.com") == {
        "approval_waiting",
        "sign_in_locked",
    }
    assert "Team webhook" not in [h.value for h in at.subheader]  # admins only


def test_an_admin_sets_the_webhook_and_only_its_host_is_shown(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = page("pages/notifications.py", role=Role.ADMIN, email="ada.admin@example.com").run()
    assert "No webhook is set" in texts(at)
    at.text_input(key="webhook_url").input("not a url")
    at.button[[b.label for b in at.button].index("Save the webhook")].click()
    at.run()
    assert "Webhook URL: write the whole address" in texts(at)
    at.text_input(key="webhook_url").input("https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    at.button[[b.label for b in at.button].index("Save the webhook")].click()
    at.run()
    assert "Messages go to a webhook at hooks.slack.com." in texts(at)
    assert "XXXXSECRET" not in texts(at)
    [change] = audit.search(console.engine, audit.AuditFilter(action="notification_webhook_changed"))
    assert change.detail == "none → hooks.slack.com"
