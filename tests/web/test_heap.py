"""web.heap: what the process built at start leaves the garbage collector's walk — after the
first engine is in use, not before — and so does whatever survives a full collection, until
the frozen heap has grown enough to be thawed and collected whole."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from moderation.understander import Understander
from settings import Settings
from web import keys
from web.heap import YoungHeap, freeze_startup_heap, resident_bytes

made: list[YoungHeap] = []


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        while made:
            made.pop().remove()
        gc.unfreeze()  # the other tests' objects stay collectable


def tracked(obj: object) -> bool:
    """Whether a collection still walks ``obj`` (it is not frozen)."""
    return any(obj is o for o in gc.get_objects())


class Node:
    """A container that can sit in a reference cycle and be watched with a weakref."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def heap(**kwargs: Any) -> YoungHeap:
    young = YoungHeap(asyncio.get_running_loop(), **kwargs)
    made.append(young)
    return young


def app_with(settings: Settings, understander: Understander | None) -> web.Application:
    app = web.Application()
    app[keys.SETTINGS] = settings
    if understander is not None:
        app[keys.UNDERSTANDER] = understander
    return app


async def test_with_the_engine_off_the_heap_is_frozen_at_once(settings: Settings) -> None:
    held = [object() for _ in range(10)]  # something built at start (a tracked list)
    assert tracked(held)
    young = await freeze_startup_heap(app_with(settings, Understander()))
    made.append(young)
    assert young.baseline > 0
    assert not tracked(held), "a collection still walks it"
    later = [object()]  # built after the freeze: collected as usual
    assert tracked(later)


async def test_with_the_engine_on_it_waits_for_the_first_engine(settings: Settings) -> None:
    understander = Understander()
    on = settings.replace(understanding={"enabled": True})
    task = asyncio.create_task(freeze_startup_heap(app_with(on, understander)))
    await asyncio.sleep(0.05)
    assert not task.done() and gc.get_freeze_count() == 0  # still building: nothing frozen
    understander.ready.set()  # the engine is in use
    made.append(await asyncio.wait_for(task, 5))
    assert gc.get_freeze_count() > 0


async def test_what_survives_the_middle_generation_leaves_every_later_walk() -> None:
    heap().install()
    survivor = [object()]
    assert tracked(survivor)
    gc.collect(0)  # the youngest generation's collection: nothing frozen
    assert tracked(survivor)
    gc.collect(1)  # the middle one's: its survivors are frozen
    assert not tracked(survivor)
    later = [object()]
    gc.collect()  # and a full one
    assert not tracked(later)


async def test_no_automatic_full_collections_while_installed() -> None:
    before = gc.get_threshold()
    young = heap()
    young.install()
    assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > 1_000_000
    young.remove()
    assert gc.get_threshold() == before


async def test_young_garbage_cycles_are_still_collected() -> None:
    heap().install()
    ref = cycle()
    assert ref() is not None
    gc.collect()
    assert ref() is None


async def test_without_it_nothing_is_frozen_after_a_collection() -> None:
    young = heap()
    young.install()
    young.remove()
    later = [object()]
    gc.collect()
    assert tracked(later)


class Memory:
    """A resident-memory reading the test sets (real RSS moves with the allocator's whims)."""

    def __init__(self, mib: int = 400) -> None:
        self.bytes = mib << 20

    def __call__(self) -> int:
        return self.bytes

    def grow(self, mib: int) -> None:
        self.bytes += mib << 20


class CPU:
    """A process CPU clock the test drives: it runs only while the test says it is busy
    (the machine's own load cannot make a burst look like a lull)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.since: float | None = None

    def __call__(self) -> float:
        return self.total + (time.monotonic() - self.since if self.since is not None else 0.0)

    async def busy(self, seconds: float) -> None:
        self.since = time.monotonic()
        await asyncio.sleep(seconds)
        self.total += time.monotonic() - self.since
        self.since = None


def watched(memory: Memory, **kwargs: Any) -> YoungHeap:
    """A heap that looks at memory after every full collection."""
    options: dict[str, Any] = {"check_every": 0.0, "look_every": 0.0, "lull_wait": 0.0}
    young = heap(memory=memory, **{**options, **kwargs})
    young.install()
    return young


async def test_frozen_garbage_is_reclaimed_once_memory_has_grown() -> None:
    memory = Memory()
    young = watched(memory)
    ref = cycle()
    held = ref()
    gc.collect()  # the cycle survives (it is live) and is frozen
    del held
    # Now it is garbage, but frozen: collections do not see it.
    gc.collect()
    await asyncio.sleep(0.01)
    assert ref() is not None and young.thaws == 0  # memory has not grown: no thaw
    memory.grow(400)  # the process has grown by more than half
    live = [[i] for i in range(1000)]
    gc.collect()
    assert young.thaws == 0  # the thaw is the event loop's, not the collector's
    await asyncio.sleep(0.01)
    assert young.thaws == 1
    assert ref() is None, "the frozen cycle was not reclaimed"
    assert not tracked(live), "what lives is frozen again"
    assert young.baseline == memory.bytes  # the next thaw is measured from here


async def test_small_growth_does_not_thaw() -> None:
    memory = Memory()
    young = watched(memory)
    memory.grow(150)  # under half the process, and more than the minimum
    gc.collect()
    await asyncio.sleep(0.01)
    assert young.thaws == 0
    memory.grow(60)  # past half
    gc.collect()
    await asyncio.sleep(0.01)
    assert young.thaws == 1


async def test_a_due_thaw_waits_for_a_lull() -> None:
    cpu, memory = CPU(), Memory()
    young = watched(memory, look_every=0.05, lull_wait=30.0, cpu_clock=cpu)
    memory.grow(400)
    gc.collect()
    await cpu.busy(0.5)  # a burst of work: the thaw is due, and waits
    assert young.thaws == 0
    await asyncio.sleep(0.3)  # a lull
    assert young.thaws == 1


async def test_a_due_thaw_waits_no_longer_than_its_bound() -> None:
    cpu, memory = CPU(), Memory()
    young = watched(memory, look_every=0.05, lull_wait=0.2, cpu_clock=cpu)
    memory.grow(400)
    gc.collect()
    await cpu.busy(0.8)  # no lull at all
    assert young.thaws == 1


def test_resident_memory_is_read_from_the_system() -> None:
    # Checked against the kernel's other report of it (VmRSS in /proc/self/status). Growing
    # a block and watching RSS rise is not a test: the allocator may reuse pages already
    # resident (a long test run's process holds gigabytes of them).
    status = Path("/proc/self/status").read_text()
    vm_rss = int(next(line for line in status.splitlines()
                      if line.startswith("VmRSS:")).split()[1]) * 1024
    read = resident_bytes()
    assert read > 0
    assert abs(read - vm_rss) <= max(vm_rss // 20, 16 << 20)
