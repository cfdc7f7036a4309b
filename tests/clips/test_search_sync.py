"""Each node's own search index kept current (clips/search_sync.py): two apps from the real
factory, served on two ports, sharing one store (a SQLite file; SecantusDB). A clip published
through node A is found on node B within seconds, and gone from B once unpublished through
A; a published clip that vanished from the store is dropped by the count check; a clip event
delivered by the hub syncs at once instead of at the next tick."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from live.events import CLIP, QUESTION, STAFF
from live.frames import numbered
from settings import Settings
from store.records import Clip
from tests.support import BACKENDS, ClientFactory
from tests.web.clip_seed import add_clip
from web import keys
from web.app import create_app

TITLE = "电动自行车上牌要带哪些材料"


@pytest.fixture
async def nodes(app_settings: Settings, tmp_path: Path, aiohttp_client: ClientFactory
                ) -> AsyncIterator[tuple[web.Application, web.Application]]:
    if app_settings.store.backend == "sqlite":
        app_settings = app_settings.replace(
            store={"sqlite_path": str(tmp_path / "shared.sqlite3")})
    apps = []
    for name in ("a", "b"):
        app = create_app(app_settings.replace(server={"data_dir": str(tmp_path / name)}))
        await aiohttp_client(app)
        apps.append(app)
    yield apps[0], apps[1]


async def draft(app: web.Application) -> Clip:
    """A draft clip with (stand-in) files, ready to publish."""
    clip = await add_clip(app, "", TITLE, state="draft", published_at=time.time())
    media_dir = app[keys.SETTINGS].media_dir

    def write() -> None:
        for relative in (clip.media_path, clip.poster_path, clip.captions_path):
            (media_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (media_dir / relative).write_bytes(b"stand-in")

    await asyncio.to_thread(write)
    return clip


async def found(app: web.Application, query: str = "上牌") -> list[str]:
    result = await app[keys.LIBRARY].search(query)
    return [h.clip_id for h in result.hits]


async def eventually(check: object, want: object, timeout: float) -> float:
    started = time.monotonic()
    while (got := await check()) != want:  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"still {got!r}, not {want!r}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("backend", BACKENDS)
async def test_publish_and_unpublish_on_one_node_reach_the_others_index(
        nodes: tuple[web.Application, web.Application]) -> None:
    a, b = nodes
    clip = await draft(a)
    review = a[keys.REVIEW]
    published = await review.publish_clip(clip.id, expected_version=clip.version, actor="t")
    assert await found(a) == [clip.id], "node A indexes its own publish at once"
    await eventually(lambda: found(b), [clip.id], 15)
    await review.unpublish(clip.id, expected_version=published.version, actor="t")
    assert await found(a) == []
    await eventually(lambda: found(b), [], 15)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_poke_syncs_at_once_and_a_vanished_clip_is_dropped_by_count(
        nodes: tuple[web.Application, web.Application]) -> None:
    a, b = nodes
    sync = b[keys.SEARCH_SYNC]
    sync.interval = 3600.0  # from the next wait on, only a poke syncs
    await asyncio.sleep(2.5)
    clip = await draft(a)
    await a[keys.REVIEW].publish_clip(clip.id, expected_version=clip.version, actor="t")
    sync.on_event(clip.session_id, numbered(7, STAFF, QUESTION, {"question": {}}))
    await asyncio.sleep(1.0)
    assert await found(b) == [], "not a clip event: no sync"
    # The clip event, as node B's hub delivers it (from A through the broker): synced now.
    sync.on_event(clip.session_id, numbered(8, STAFF, CLIP, {"clip": {"id": clip.id}}))
    await eventually(lambda: found(b), [clip.id], 30)

    await sync.stop()  # driven by hand from here
    await a[keys.STORE].delete(Clip, clip.id)  # gone without an updated_at to see
    assert (await sync.sync(compare=False)).removed == 0, "the watermark cannot see it"
    report = await sync.sync()  # the count check (every 15th tick)
    assert report.compared and report.removed == 1
    assert await found(b) == []
