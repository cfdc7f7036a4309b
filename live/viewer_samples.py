"""Viewer counts sampled while a session is live: once a ``interval`` (a minute), for every
live session, the number of viewers the count source reports is stored as a
``ViewerSample``, so the desk's peak and average concurrent viewers survive restarts and
agree with the exports.

The count source is a plain async callable (session id → viewers): ``web/app.py`` gives it
the hub's ``counts(session_id)`` today; a cluster's shared counts in Redis can replace it
without touching this module. A sample's id is the session and the minute, so two nodes
sampling the same minute store it once.

The loop is also the app's minute tick: ``ticks`` are awaited after each sample (the
retention of recordings, ``clips.replay_retention``, wired in ``web/app.py``); one that fails
is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from store.base import Conflict, Store, StoreError
from store.desk_records import ViewerSample
from store.records import LiveSession

log = logging.getLogger(__name__)

Count = Callable[[str], Awaitable[int]]
INTERVAL = 60.0


class ViewerSampler:
    def __init__(self, store: Store, count: Count, *, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.count = count
        self.interval = interval
        self.clock = clock
        self.ticks: list[Callable[[], Awaitable[object]]] = []

    async def sample(self) -> int:
        """One sample of every live session now; how many were stored."""
        now = self.clock()
        stored = 0
        for session in await self.store.find(LiveSession, {"status": "live"}):
            viewers = await self.count(session.id)
            minute = int(now // self.interval)
            try:
                await self.store.insert(ViewerSample(
                    id=f"{session.id}:{minute}", session_id=session.id, at=now,
                    viewers=viewers, created_at=now, updated_at=now))
            except Conflict:
                continue  # another node took this minute's sample
            stored += 1
        return stored

    async def run(self) -> None:
        """Sample every ``interval`` until cancelled; a store that is down costs a sample."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sample()
            except StoreError as exc:
                log.warning("viewer counts not sampled this time: %s", exc)
            for tick in self.ticks:
                try:
                    await tick()
                except Exception:  # one job's bug must not stop the sampling
                    log.exception("minute tick %r failed", tick)
