"""Trimming the event outbox: events older than ``[live] event_history_days`` are removed.

The outbox (``store.events``) is there for delivery: the relay republishes what a dead node
committed but did not publish, and a client that comes back fetches what it missed. Both
reach back minutes, not days. Kept for ever it would only grow (a few events per question,
every broadcast), so once an hour each node removes what is older than the configured days —
the same cut on every node, so doing it twice removes nothing more. A client resuming from a
cursor older than that gets a fresh snapshot (``live.broker.store_history`` finds the range
gone), exactly as when Redis lost its history. Sequence counters are never trimmed, so a
number is never handed out twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from store.base import StoreError

log = logging.getLogger(__name__)

TRIM_SECONDS = 3600.0  # at most one pass an hour
DAY = 86400.0


class TrimmableEvents(Protocol):
    async def trim_events(self, older_than: float) -> int: ...


class OutboxTrim:
    """A minute tick (``live.viewer_samples``) that trims the outbox once an hour."""

    def __init__(self, store: TrimmableEvents, days: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.days = days
        self.clock = clock
        self.last_pass: float | None = None

    async def tick(self) -> int:
        """Trim if an hour has passed since the last pass (never when ``days`` is 0);
        returns how many events were removed."""
        if self.days <= 0:
            return 0
        now = self.clock()
        if self.last_pass is not None and now - self.last_pass < TRIM_SECONDS:
            return 0
        self.last_pass = now
        try:
            removed = await self.store.trim_events(now - self.days * DAY)
        except StoreError as exc:
            log.warning("event outbox not trimmed this hour: %s", exc)
            return 0
        if removed:
            log.info("event outbox: %d events older than %d days removed", removed, self.days)
        return removed
