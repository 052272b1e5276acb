"""What a person reads on the console's pages: advice names someone who can act on it, balances
say what is known, and no raw code or jargon reaches the screen (issue 14, points 9, 10, 11, 13)."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from console.navigation import PAGES
from dollr_core.basics.access import Actor, Role
from dollr_core.services import Services

from .test_payout_page import review, texts


def test_over_the_limit_advice_names_a_role_that_can_pay_it(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = review(page("pages/payout.py", role=Role.OPERATOR).run(), amount="2500")
    said = texts(at)
    assert "Operators may pay out at most USD 2,000 at once" in said
    assert "finance colleague" not in said
    bulk = next(p for p in PAGES if p.title == "Bulk payouts")
    assert "the finance role" in said and "Bulk payouts" in said
    assert bulk.open_to(Actor("f@example.com", Role.FINANCE))  # the role named can open the page named
    assert "the manager role approves" in said
