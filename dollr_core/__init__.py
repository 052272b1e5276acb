"""Dollr Ops Console core: everything that is not UI, for the console, scripts and cron jobs.

Never imports streamlit. The names below are the public surface a script needs (docs/architecture.md
shows them at work); they load on first use, so `import dollr_core.basics.money` stays cheap and
this package's own modules never depend on this file:

    from dollr_core import Settings, start_services, Actor, Role, prepare_payout, confirm_payout
    svc = start_services(Settings.load())
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from dollr_core.basics.constants import VERSION as __version__

_PUBLIC = {
    "Settings": "dollr_core.config",
    "start_services": "dollr_core.runtime",
    "Services": "dollr_core.services",
    "Actor": "dollr_core.basics.access",
    "Role": "dollr_core.basics.access",
    "prepare_payout": "dollr_core.flows.payouts",
    "confirm_payout": "dollr_core.flows.payouts",
    "prepare_collection": "dollr_core.flows.collect",
    "confirm_collection": "dollr_core.flows.collect",
    "collect_new_document": "dollr_core.flows.collect",
    "NewCollection": "dollr_core.flows.collect",
    "refresh_payment": "dollr_core.payments.follow_up",
    "reconcile_once": "dollr_core.payments.reconcile",
    "look_up": "dollr_core.reports.status_lookup",
    "history": "dollr_core.reports.history",
    "explain": "dollr_core.explain",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dollr_core' has no attribute {name!r}")
    loaded = import_module(module)
    return loaded if module.endswith(f".{name}") else getattr(loaded, name)
