"""Retention of recordings (``clips.replay_retention``) in the running app: a real recording
(the recorder's own ffmpeg command) of a session that ended longer ago than ``[replays]
retention_days`` is deleted from the media store — a local directory on each store backend,
and an S3 bucket (SeaweedFS) with the recorder's spool — its replay is gone for everyone, the
clip cut from it stays, a recent session's recording stays; and the sweep runs from the
viewer sampler's minute tick."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from clips.replay_retention import DAY, SWEEP_SECONDS
from clips.replays import DELETED
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import session_hls_dir
from live.media_store import clip_key, hls_key
from live.sessions import SessionForm
from live.viewer_samples import ViewerSampler
from settings import Settings
from store.records import AuditEntry, Clip, LiveSession
from tests.clips import media
from tests.live.test_s3_media import s3_settings
from tests.support import Site, staff_csrf
from web import keys

DAYS = 30
CASES = [("sqlite", "local"), pytest.param("mongodb", "local", marks=pytest.mark.mongodb),
         ("sqlite", "s3")]


@pytest.fixture
def media_kind() -> str:
    return "local"


@pytest.fixture
def settings(settings: Settings, media_kind: str, request: pytest.FixtureRequest) -> Settings:
    changed = settings.replace(replays={"retention_days": DAYS, "publish": "on_end"})
    if media_kind == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return changed.replace(media={"record": False, **s3_settings(
            request.getfixturevalue("seaweedfs"), bucket)})
    return changed


async def recorded_session(site: Site, title: str, spool: Path) -> LiveSession:
    """An ended session with a real 4-second recording in the app's media store."""
    sessions = site.app[keys.SESSIONS]
    session = await sessions.create(SessionForm(title, scheduled_start=time.time()), actor="t")
    await sessions.start(session.id, actor="t")
    session = await sessions.end(session.id, actor="t")
    folder = session_hls_dir(spool, session.id)
    await asyncio.to_thread(media.record, find_ffmpeg(), folder, 4)
    store = site.app[keys.MEDIA]
    if store.kind != "local":  # upload it, and leave the spool behind as a crash would
        for path in sorted(folder.iterdir()):
            await store.put_file(hls_key(session.id, path.name), path)
    return session


@pytest.mark.parametrize(("backend", "media_kind"), CASES)
async def test_an_expired_recording_is_deleted_and_its_clip_stays(
        site: Site, backend: str, media_kind: str) -> None:
    app = site.app
    store, objects = app[keys.STORE], app[keys.MEDIA]
    spool = app[keys.SETTINGS].media_dir
    old = await recorded_session(site, "上月的直播", spool)
    recent = await recorded_session(site, "昨天的直播", spool)
    await store.update(LiveSession, old.id, {"ended_at": time.time() - (DAYS + 1) * DAY},
                       now=time.time())
    await store.update(LiveSession, recent.id, {"ended_at": time.time() - (DAYS - 1) * DAY},
                       now=time.time())
    clip_file = clip_key("k1", "g1-1.mp4")
    await objects.put(clip_file, b"a clip cut from the old recording")
    await store.insert(Clip(id="k1", session_id=old.id, state="published",
                            media_path=clip_file))
    segments = await objects.list(hls_key(old.id))
    assert len(segments) >= 3 and hls_key(old.id, "index.m3u8") in segments
    public = await site.new_client()
    assert (await public.get(f"/replay/{old.id}")).status == 200  # published on end
    assert (await public.get(f"/media/replay/{old.id}/index.m3u8")).status == 200
    part = await public.get(f"/media/replay/{old.id}/seg_000000.ts",
                            headers={"Range": "bytes=0-187"})  # from the bucket too
    assert part.status == 206 and part.headers["Content-Type"] == "video/mp2t"
    assert await part.read() == (await objects.get(hls_key(old.id, "seg_000000.ts")))[:188]

    retention = app[keys.RETENTION]
    assert retention.tick in app[keys.VIEWER_SAMPLER].ticks  # swept by the minute tick
    await retention.tick()
    assert await objects.list(hls_key(old.id)) == []
    assert not session_hls_dir(spool, old.id).exists()  # the folder, or the spool, is gone
    assert len(await objects.list(hls_key(recent.id))) >= 3  # within the retention: kept
    assert await objects.get(clip_file) == b"a clip cut from the old recording"
    marked = await store.get(LiveSession, old.id)
    assert marked.settings[DELETED] > 0
    entries = await store.find(AuditEntry, {"action": "replay.expire"}, order_by=["at"])
    assert [(e.actor, e.session_id) for e in entries] == [("system", old.id)]
    assert entries[0].after is not None and entries[0].after["deleted_objects"] == len(segments)

    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    for client in (public, admin):
        assert (await client.get(f"/replay/{old.id}")).status == 404
        assert (await client.get(f"/media/replay/{old.id}/index.m3u8")).status == 404
    assert (await public.get(f"/replay/{recent.id}")).status == 200
    page = await (await admin.get(f"/admin/sessions/{old.id}")).text()
    assert "录像已过保存期限" in page and 'id="replay-publish"' not in page
    csrf = await staff_csrf(admin, f"/admin/sessions/{old.id}")
    refused = await admin.post(f"/admin/sessions/{old.id}",
                               data={"_csrf": csrf, "action": "publish_replay"})
    assert refused.status == 400 and "保存期限" in await refused.text()

    assert await retention.sweep() == []  # nothing left to do
    retention.last_sweep = time.time()
    await store.update(LiveSession, recent.id, {"ended_at": time.time() - (DAYS + 1) * DAY},
                       now=time.time())
    await retention.tick()  # within the hour since the last sweep: nothing yet
    assert len(await objects.list(hls_key(recent.id))) >= 3
    await retention.tick(time.time() + SWEEP_SECONDS)
    assert await objects.list(hls_key(recent.id)) == []


async def test_retention_zero_keeps_recordings(site: Site) -> None:
    retention = site.app[keys.RETENTION]
    retention.days = 0
    old = await recorded_session(site, "很久以前", site.app[keys.SETTINGS].media_dir)
    await site.app[keys.STORE].update(LiveSession, old.id, {"ended_at": 1.0}, now=time.time())
    await retention.tick()
    assert await retention.expired() == []
    assert len(await site.app[keys.MEDIA].list(hls_key(old.id))) >= 3


async def test_the_minute_tick_runs_every_job_even_after_one_fails(site: Site) -> None:
    async def no_viewers(session_id: str) -> int:
        return 0

    sampler = ViewerSampler(site.app[keys.STORE], no_viewers, interval=0.01)
    calls: list[str] = []

    async def broken() -> None:
        calls.append("broken")
        raise RuntimeError("a bug in one job")

    async def job() -> None:
        calls.append("job")

    sampler.ticks.extend([broken, job])
    task = asyncio.create_task(sampler.run())
    try:
        for _ in range(200):
            if calls.count("job") >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert calls[:4] == ["broken", "job", "broken", "job"]
