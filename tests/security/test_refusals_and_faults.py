"""A refusal a person can act on is explained as advice; a fault in our code is shown as a fault with
a logged reference, never as "correct it and try again"; every error class dollr_core defines is one
or the other, on purpose."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil

import pytest

import dollr_core
from dollr_core.api.errors import DollrError
from dollr_core.basics.access import AccessDenied
from dollr_core.basics.money import parse_amount
from dollr_core.bulk.states import BulkError
from dollr_core.cli.exports import ArgumentProblem
from dollr_core.config import SettingsError
from dollr_core.errors import ChangedMeanwhile, InputRefused, NotAllowed, NotFound, Refusal
from dollr_core.explain import explain
from dollr_core.flows.collect import CollectionRefused
from dollr_core.flows.money_out import MoneyOutRefused
from dollr_core.flows.payouts import LikelyDuplicate, PayoutRefused
from dollr_core.ledger.intents import IntentBusy
from dollr_core.payments.protocol import IntentNotReady
from dollr_core.reports.document_copies import CannotSend
from dollr_core.reports.payment_receipts import NoReceipt
from dollr_core.reports.statements import StatementError
from dollr_core.team.approval_rules import RulesError
from dollr_core.team.approvals import ApprovalError
from dollr_core.team.notify import NotifyError
from dollr_core.team.sign_in import SignInError
from dollr_core.team.users import UserError

#: Errors that mean our own code or the machinery went wrong: shown as faults, on purpose.
FAULTS = {
    "LeaseLost",  # another worker took the attempt over: the worker stops, nobody is advised
    "IllegalTransition",  # a state change the transitions table does not allow is a bug
}

REFUSALS = [
    AccessDenied,
    ApprovalError,
    ArgumentProblem,
    BulkError,
    CannotSend,
    ChangedMeanwhile,
    CollectionRefused,
    InputRefused,
    IntentBusy,
    IntentNotReady,
    LikelyDuplicate,
    MoneyOutRefused,
    NoReceipt,
    NotAllowed,
    NotFound,
    NotifyError,
    PayoutRefused,
    RulesError,
    SettingsError,
    SignInError,
    StatementError,
    UserError,
]


def _error_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(dollr_core.__path__, "dollr_core."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_error_class_is_a_refusal_a_dollr_error_or_a_named_fault() -> None:
    classes = _error_classes()
    assert len(classes) > 20  # the walk really found the modules
    strays = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if not issubclass(c, Refusal | DollrError) and c.__name__ not in FAULTS
    ]
    assert strays == [], "derive these from dollr_core.errors.Refusal, or name them in FAULTS"


@pytest.mark.parametrize("kind", REFUSALS, ids=lambda c: c.__name__)
def test_each_refusal_is_explained_as_advice(kind: type[Refusal]) -> None:
    assert issubclass(kind, Refusal)
    refusal = kind.__new__(kind)
    Exception.__init__(refusal, "The note is too long.")
    said = explain(refusal)
    assert said.headline == "The note is too long."
    assert said.advice and "fault" not in said.advice.lower()
    assert "fault" not in said.headline.lower()


def test_a_persons_bad_amount_is_a_refusal_with_advice() -> None:
    with pytest.raises(InputRefused) as refused:
        parse_amount("12,34,5x", "USD")
    said = explain(refused.value)
    assert said.advice == "Correct it and try again."
    assert "fault" not in said.headline


@pytest.mark.parametrize("bug", [ValueError, LookupError, RuntimeError, KeyError, TypeError])
def test_a_plain_builtin_error_from_a_bug_is_a_fault_with_a_reference(
    bug: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    try:
        raise bug("invalid literal for int() with base 10: 'abc'")
    except bug as exc:
        with caplog.at_level(logging.ERROR, logger="dollr_core.faults"):
            said = explain(exc)
    assert "fault in the console" in said.headline
    assert "Correct" not in said.advice and "invalid literal" not in said.headline
    reference = said.headline.split("(fault ")[1].rstrip(").")
    assert reference in said.advice
    [logged] = [r for r in caplog.records if r.name == "dollr_core.faults"]
    assert reference in logged.getMessage() and "invalid literal" in logged.getMessage()
