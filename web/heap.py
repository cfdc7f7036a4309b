"""The serving process's heap: keep Python's full garbage collections short.

A generation-2 ("full") collection walks every object the collector tracks, and the event
loop waits meanwhile. The understanding engine alone is about 340,000 of them (its indexes
and models), and each open viewer connection about a hundred (aiohttp's request, parser and
writer, the handler's coroutines, timers): with the engine on and 5,000 viewers that is
850,000 objects, and ``bench/hub.py`` saw full collections of 300–760 ms in its question
phases, every few seconds under load — each one an ask that waited that long.

Most of that heap is long-lived and never cyclic garbage while it lives: the engine until it
is replaced (it has no reference cycles, so dropping one frees it by reference counting), a
connection until it closes. So the process keeps a young heap and an old one:

* **At start**, once the first engine is in use, everything built so far is moved out of the
  collector's reach (``gc.freeze()``).
* **After every full collection** its survivors are frozen the same way (a ``gc.callbacks``
  hook), so the next full collection walks only what arrived since — a few thousand objects,
  milliseconds — however many viewers are connected.
* **Frozen objects that become cyclic garbage** (a closed connection's request, transport and
  task refer to one another) are not reclaimed while frozen; objects without cycles still are,
  by reference counting. So the frozen heap is bounded: once it has grown to ``GROWTH`` times
  what it was after the last whole collection, the process thaws it (``gc.unfreeze()``),
  collects everything once — one long pause, as often as a growing list is reallocated — and
  freezes the survivors again. The thaw waits for a lull — a second in which the process used
  less than a quarter of a core — for at most a minute, so that its pause (about a second
  per million objects) falls between bursts of questions rather than in one. A broadcast
  whose viewers come and go thaws each time what it froze adds up to the heap it had.

The collector's own schedule is unchanged (thresholds 700/10/10): full collections still
come after ten younger ones once the objects promoted since the last one reach a quarter of
what it left, only now "what it left" is the young survivors, not the whole heap.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from web import keys

log = logging.getLogger(__name__)

# The frozen heap may grow to this many times its size after the last whole collection.
GROWTH = 2.0
# ... and by at least this many objects (a small heap does not thaw at every step).
MIN_GROWTH = 100_000
# Counting the frozen heap walks it (about 8 ms per million objects): at most this often.
CHECK_SECONDS = 5.0
# A thaw that is due waits for a lull — a second in which the process used less than this
# share of a core — and for at most LULL_WAIT_SECONDS.
LULL_CPU = 0.25
LULL_WAIT_SECONDS = 60.0


class YoungHeap:
    """Freezes each full collection's survivors; thaws and collects everything when the
    frozen heap has grown ``GROWTH`` times. One per process (``install`` / ``remove``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, growth: float = GROWTH,
                 min_growth: int = MIN_GROWTH, check_every: float = CHECK_SECONDS,
                 look_every: float = 1.0, lull_wait: float = LULL_WAIT_SECONDS,
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self._loop = loop
        self._growth = growth
        self._min_growth = min_growth
        self._installed = False
        self._check_every = check_every
        self._next_check = 0.0
        self._look_every = look_every
        self._lull_wait = lull_wait
        self._cpu_clock = cpu_clock
        self._due: float | None = None  # when the pending thaw became due
        self._look: asyncio.TimerHandle | None = None
        self.baseline = 0  # frozen objects after the last whole collection
        self.thaws = 0

    @property
    def limit(self) -> int:
        return max(int(self.baseline * self._growth), self.baseline + self._min_growth)

    def install(self) -> int:
        """Collect everything, freeze it, and start freezing after each full collection.
        Returns how many objects are frozen."""
        self._whole()
        gc.callbacks.append(self._after_collection)
        self._installed = True
        return self.baseline

    def remove(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._after_collection)
            self._installed = False
        if self._look is not None:
            self._look.cancel()
            self._look = None

    def _whole(self) -> None:
        """Thaw, collect everything, freeze the survivors, and leave the collector's count of
        long-lived objects at the (empty) young heap."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        # The collection above set the collector's long-lived total to the whole heap: a
        # second one, over the now empty young heap, sets it to (nearly) nothing, or the
        # next automatic full collection would wait for a quarter of the whole heap.
        gc.collect()
        gc.freeze()
        self.baseline = gc.get_freeze_count()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, in whichever thread triggered it: it may not collect.
        if phase != "stop" or info["generation"] != 2 or not self._installed:
            return
        gc.freeze()  # right after a full collection the younger generations are empty
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._check_every
            self._loop.call_soon_threadsafe(self._maybe_thaw)

    def _maybe_thaw(self) -> None:
        if not self._installed or self._due is not None:
            return
        if gc.get_freeze_count() <= self.limit:
            return
        self._due = time.monotonic()
        self._look = self._loop.call_later(self._look_every, self._look_for_lull,
                                           self._cpu_clock(), self._due)

    def _look_for_lull(self, cpu_then: float, then: float) -> None:
        """Thaw now if the last look's interval was a lull or the thaw has waited long
        enough; else look again."""
        now, cpu = time.monotonic(), self._cpu_clock()
        busy = (cpu - cpu_then) / max(now - then, 1e-6)
        assert self._due is not None
        if busy >= LULL_CPU and now - self._due < self._lull_wait:
            self._look = self._loop.call_later(self._look_every, self._look_for_lull, cpu, now)
            return
        self._look = None
        self._due = None
        if not self._installed:
            return
        frozen = gc.get_freeze_count()
        self._installed = False  # our own collections below must not re-enter
        try:
            self._whole()
        finally:
            self._installed = True
        self.thaws += 1
        log.info("frozen heap thawed and collected: %d objects before, %d kept", frozen,
                 self.baseline)


async def freeze_startup_heap(app: web.Application) -> YoungHeap:
    """Wait for the first understanding engine (not when it is off), then install the
    process's ``YoungHeap``: everything built so far is frozen at once."""
    understander = app.get(keys.UNDERSTANDER)
    if understander is not None and app[keys.SETTINGS].understanding.enabled:
        await understander.ready.wait()
    heap = YoungHeap(asyncio.get_running_loop())
    frozen = heap.install()
    log.info("%d objects built at start moved out of the garbage collector's reach; "
             "full collections now walk only what is newer", frozen)
    return heap
