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
* **After every middle-generation collection** its survivors — objects that have lived
  through two collections, most of which live on (a connection, a question on the board) —
  are frozen the same way (a ``gc.callbacks`` hook). The oldest generation so stays empty, and
  the collector's own full collections, which it would start every few seconds under load
  and which still took 30–120 ms each when they walked only what had aged since the last
  one, are switched off (its third threshold set out of reach); a collection now walks at most
  the two young generations, a few thousand objects, however many viewers are connected.
* **Frozen objects that become cyclic garbage** (a closed connection's request, transport and
  task refer to one another) are not reclaimed while frozen; objects without cycles still are,
  by reference counting. So what they can hold is bounded by memory: once the process's
  resident memory has grown by half (``GROWTH``, and at least ``MIN_GROWTH_BYTES``) since the
  last whole collection, the process thaws the heap (``gc.unfreeze()``), collects everything
  once — one long pause, as rarely as a growing list is reallocated — and freezes the
  survivors again. The thaw waits for a lull — a second in which the process used less than
  a quarter of a core — for at most a minute, so that its pause (up to a second per million
  objects) falls between bursts of questions rather than in one. Memory is the measure, not
  the frozen objects: counting those walks them all, and in a serving process with a million
  of them that took over 100 ms of the event loop.

The two young generations keep the collector's schedule (700 allocations, then every tenth
collection); ``remove`` puts the third threshold back.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from web import keys

log = logging.getLogger(__name__)

# Resident memory may grow to this many times what it was after the last whole collection ...
GROWTH = 1.5
# ... and by at least this much (a small process does not thaw at every step).
MIN_GROWTH_BYTES = 64 * 1024 * 1024
# The oldest generation's threshold while installed: never reached.
NEVER = 1 << 30
# Memory is read at most this often (after a collection of the middle generation).
CHECK_SECONDS = 5.0
# A thaw that is due waits for a lull — a second in which the process used less than this
# share of a core — and for at most LULL_WAIT_SECONDS.
LULL_CPU = 0.25
LULL_WAIT_SECONDS = 60.0

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """The process's resident memory (Linux ``/proc/self/statm``); 0 where it cannot be read
    (then nothing is ever thawed)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class YoungHeap:
    """Freezes what survives the middle generation; thaws and collects everything when
    memory has grown ``GROWTH`` times. One per process (``install`` / ``remove``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, growth: float = GROWTH,
                 min_growth: int = MIN_GROWTH_BYTES, check_every: float = CHECK_SECONDS,
                 look_every: float = 1.0, lull_wait: float = LULL_WAIT_SECONDS,
                 cpu_clock: Callable[[], float] = time.process_time,
                 memory: Callable[[], int] = resident_bytes) -> None:
        self._loop = loop
        self._growth = growth
        self._min_growth = min_growth
        self._memory = memory
        self._installed = False
        self._check_every = check_every
        self._next_check = 0.0
        self._look_every = look_every
        self._lull_wait = lull_wait
        self._cpu_clock = cpu_clock
        self._thresholds = gc.get_threshold()
        self._due: float | None = None  # when the pending thaw became due
        self._look: asyncio.TimerHandle | None = None
        self.baseline = 0  # resident bytes after the last whole collection
        self.frozen = 0  # objects frozen by it (counted then, when a pause is expected)
        self.thaws = 0

    @property
    def limit(self) -> int:
        return max(int(self.baseline * self._growth), self.baseline + self._min_growth)

    def install(self) -> int:
        """Collect everything, freeze it, and from now on freeze what survives the middle
        generation (no automatic full collections). Returns how many objects are frozen."""
        self._whole()
        self._thresholds = gc.get_threshold()
        young, middle, _ = self._thresholds
        gc.set_threshold(young, middle, NEVER)
        gc.callbacks.append(self._after_collection)
        self._installed = True
        return self.frozen

    def remove(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._after_collection)
            gc.set_threshold(*self._thresholds)
            self._installed = False
        if self._look is not None:
            self._look.cancel()
            self._look = None

    def _whole(self) -> None:
        """Thaw, collect everything, and freeze the survivors."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        self.baseline = self._memory()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, in whichever thread triggered it: it may not collect.
        if phase != "stop" or info["generation"] == 0 or not self._installed:
            return
        # Right after a collection of the middle (or every) generation, the younger ones are
        # empty and the oldest holds exactly its survivors.
        gc.freeze()
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._check_every
            self._loop.call_soon_threadsafe(self._maybe_thaw)

    def _maybe_thaw(self) -> None:
        if not self._installed or self._due is not None:
            return
        if self._memory() <= self.limit:
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
        before = self._memory()
        self._installed = False  # our own collections below must not re-enter
        try:
            self._whole()
        finally:
            self._installed = True
        self.thaws += 1
        log.info("frozen heap thawed and collected whole: %d objects kept; resident memory "
                 "%d MiB before, %d MiB after", self.frozen, before >> 20, self.baseline >> 20)


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
