"""Keeping this node's search index current with clips changed through other nodes.

Every ``run.py serve`` node has its own search index (``clips.search_index``: rjieba
segmentation into a SQLite FTS5 file). The node where a reviewer publishes, edits,
unpublishes or deletes a clip updates its own index at once (``clips.review`` through
``ClipLibrary``); the other nodes learn of it here:

* **By watermark**, every ``interval`` seconds: the clips whose ``updated_at`` is at or past
  the watermark (the latest ``updated_at`` seen, less ``SLACK`` seconds for clocks of other
  nodes and for transactions that commit a little after they stamp) are read from the store;
  a published one is upserted into the index, any other state removed. What was applied is
  remembered by (id, updated_at) so the slack window is not indexed twice.
* **By count**, every ``COMPARE_EVERY`` ticks: when the number of published clips in the
  store differs from the index's, the ids are compared and the difference applied (a
  published clip deleted outright leaves no ``updated_at`` behind to find).
* **Promptly**, ``poke()``: a ``clip`` or ``clip_removed`` event delivered by this node's
  hub (``on_event``, a hub listener: its own events and other nodes', for the broadcasts
  someone here follows) runs a sync at once instead of at the next tick.

Single process: the index is already current, and a sync finds nothing to do (one query on
the store, ``bench/search_sync.py`` measures it at 10,000 clips).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from clips.library import ClipLibrary
from live.frames import Numbered
from store.base import Store, StoreError
from store.records import Clip

log = logging.getLogger(__name__)

SLACK = 5.0  # seconds re-read behind the watermark
BATCH = 500  # clips read per query
# The serialized kind of the events "clip" and "clip_removed" (live.frames: compact JSON).
CLIP_KIND = b'"kind":"clip'
COMPARE_EVERY = 15  # ticks between count checks (30 s at the default interval)


@dataclass
class SyncReport:
    upserted: int = 0
    removed: int = 0
    compared: bool = False  # the id comparison ran (the counts differed)


class SearchSync:
    def __init__(self, library: ClipLibrary, store: Store, *, interval: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.library = library
        self.store = store
        self.interval = interval
        self.clock = clock
        self.watermark = 0.0
        self._seen: dict[str, float] = {}  # id -> updated_at applied, inside the slack
        self._lock = asyncio.Lock()
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start from now: the index was just brought in line at open (``sync_index``)."""
        latest = await self.store.find(Clip, None, order_by=["-updated_at"], limit=1)
        self.watermark = latest[0].updated_at if latest else 0.0
        self._task = asyncio.create_task(self._run(), name="search-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        """A clip changed somewhere: sync now rather than at the next tick."""
        self._poked.set()

    def on_event(self, session_id: str, event: Numbered) -> None:
        """A hub listener: a ``clip`` or ``clip_removed`` event this node delivers (its own
        or another node's, for a broadcast someone here follows) pokes the sync."""
        if CLIP_KIND in event.frame.data:
            self.poke()

    async def _run(self) -> None:
        ticks = 0
        while True:
            ticks += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._poked.wait()
            self._poked.clear()
            try:
                await self.sync(compare=ticks % COMPARE_EVERY == 0)
            except StoreError as exc:
                log.warning("search sync: cannot read the store: %s", exc)
            except Exception:
                log.exception("search sync failed")

    async def sync(self, *, compare: bool = True) -> SyncReport:
        """Apply what changed since the watermark; ``compare``: then check the published
        counts (and the ids, when they differ)."""
        async with self._lock:
            report = SyncReport()
            since = self.watermark - SLACK
            while True:
                changed = await self.store.find(Clip, {"updated_at__gte": since},
                                                order_by=["updated_at", "id"], limit=BATCH)
                for clip in changed:
                    if self._seen.get(clip.id) == clip.updated_at:
                        continue
                    if clip.state == "published":
                        await self.library.index_clip(clip)
                        report.upserted += 1
                    elif await asyncio.to_thread(self.library.index.remove, clip.id):
                        report.removed += 1
                    self._seen[clip.id] = clip.updated_at
                    self.watermark = max(self.watermark, clip.updated_at)
                if len(changed) < BATCH or changed[-1].updated_at == since:
                    break
                since = changed[-1].updated_at
            floor = self.watermark - SLACK
            self._seen = {k: v for k, v in self._seen.items() if v >= floor}
            if compare:
                await self._compare(report)
            return report

    async def _compare(self, report: SyncReport) -> None:
        store_count = await self.store.count(Clip, {"state": "published"})
        if store_count == await asyncio.to_thread(self.library.index.count):
            return
        report.compared = True
        indexed = await asyncio.to_thread(self.library.index.clip_ids)
        published = {c.id: c for c in await self.store.find(Clip, {"state": "published"})}
        for clip_id in indexed - published.keys():
            if await asyncio.to_thread(self.library.index.remove, clip_id):
                report.removed += 1
        for clip_id in published.keys() - indexed:
            await self.library.index_clip(published[clip_id])
            report.upserted += 1
