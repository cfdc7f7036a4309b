"""web.heap: what the process built at start leaves the garbage collector's walk — after the
first engine is in use, not before."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from aiohttp import web

from moderation.understander import Understander
from settings import Settings
from web import keys
from web.heap import freeze_startup_heap


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # the other tests' objects stay collectable


def app_with(settings: Settings, understander: Understander | None) -> web.Application:
    app = web.Application()
    app[keys.SETTINGS] = settings
    if understander is not None:
        app[keys.UNDERSTANDER] = understander
    return app


async def test_with_the_engine_off_the_heap_is_frozen_at_once(settings: Settings) -> None:
    held = [object() for _ in range(10)]  # something built at start (a tracked list)
    assert any(held is o for o in gc.get_objects())
    assert await freeze_startup_heap(app_with(settings, Understander())) > 0
    assert not any(held is o for o in gc.get_objects()), "a collection still walks it"
    later = [object()]  # built after the freeze: collected as usual
    assert any(later is o for o in gc.get_objects())


async def test_with_the_engine_on_it_waits_for_the_first_engine(settings: Settings) -> None:
    understander = Understander()
    on = settings.replace(understanding={"enabled": True})
    task = asyncio.create_task(freeze_startup_heap(app_with(on, understander)))
    await asyncio.sleep(0.05)
    assert not task.done() and gc.get_freeze_count() == 0  # still building: nothing frozen
    understander.ready.set()  # the engine is in use
    assert await asyncio.wait_for(task, 5) > 0 and gc.get_freeze_count() > 0
