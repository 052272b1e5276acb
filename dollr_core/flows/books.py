"""Keeping the books complete beside the payments: documents paid on Dollr's own page, and
documents made outside the console."""

from __future__ import annotations

import logging

from dollr_core.flows.following import follow_documents
from dollr_core.flows.sync import sync_once
from dollr_core.services import Services

log = logging.getLogger("dollr_core.flows.books")


def follow_books(svc: Services, *, sync: bool = True) -> int:
    """Follow published documents and (when `sync`) bring in those made elsewhere. Each part fails
    alone; returns how many documents were looked at."""
    looked = 0
    try:
        looked = follow_documents(svc)
    except Exception:
        log.exception("following documents failed")
    if sync:
        try:
            sync_once(svc)
        except Exception:
            log.exception("document sync failed")
    return looked
