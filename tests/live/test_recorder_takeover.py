"""One recorder per session across nodes (live/recorder_lease.py, live/recordings.py): two
apps from the real factory, served on two ports, sharing one store and one media directory.

Node A records a live session under the lease; it then stops abruptly (its recorder is
cancelled, nothing released, the playlist left open). Node B, watching the live sessions,
takes the recording over once A's lease has run out, appending to the same playlist; the
hole shows on the clip timeline as a gap, and a clip across it is cut (two pieces joined) and
says so in its note. Real ffmpeg, real stores (SQLite file and SecantusDB).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from clips.mp4 import mp4_info
from clips.timeline import Timeline, load_playlist
from live.ffmpeg import FFmpegNotFound, find_ffmpeg
from live.hls_recorder import session_playlist
from live.recorder_lease import lease_id
from live.sessions import SessionForm
from settings import Settings
from store.records import Clip, Job
from tests.conftest import require
from tests.support import BACKENDS, ClientFactory
from web import keys
from web.app import create_app

LEASE = 3.0


def ffmpeg_present() -> bool:
    try:
        find_ffmpeg("")
    except FFmpegNotFound:
        return False
    return True


@pytest.fixture
async def nodes(app_settings: Settings, tmp_path: Path, aiohttp_client: ClientFactory
                ) -> AsyncIterator[tuple[web.Application, web.Application]]:
    require(ffmpeg_present(), "ffmpeg is not installed")
    shared = {"record": True, "media_dir": str(tmp_path / "media"), "test_picture_size":
              "320x180", "recorder_lease_seconds": LEASE, "clip_workers": 0}
    if app_settings.store.backend == "sqlite":  # one database file for both nodes
        shared_store = {"sqlite_path": str(tmp_path / "shared.sqlite3")}
        app_settings = app_settings.replace(store=shared_store)
    apps = []
    for name in ("a", "b"):
        settings = app_settings.replace(
            server={"data_dir": str(tmp_path / name)}, media=shared,
            cluster={"node_id": f"node-{name}"})
        app = create_app(settings)
        await aiohttp_client(app)  # served on a port of its own
        apps.append(app)
    yield apps[0], apps[1]


async def wait(check: object, what: str, timeout: float) -> float:
    """Poll the coroutine function ``check`` until it returns true; the seconds it took."""
    started = time.monotonic()
    while not await check():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def timeline(playlist: Path) -> Timeline | None:
    try:
        return load_playlist(playlist)
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_dead_recording_node_is_taken_over_and_the_gap_shows_in_clips(
        nodes: tuple[web.Application, web.Application]) -> None:
    a, b = nodes
    sessions = a[keys.SESSIONS]
    session = await sessions.create(SessionForm("接管测试", scheduled_start=1.8e9), actor="t")
    await sessions.start(session.id, actor="t")
    playlist = session_playlist(a[keys.SETTINGS].media_dir, session.id)

    async def segments(n: int) -> bool:
        found = await asyncio.to_thread(timeline, playlist)
        return found is not None and len(found.segments) >= n

    await wait(lambda: segments(3), "node A's first segments", 60)
    lease = await a[keys.STORE].get(Job, lease_id(session.id))
    assert (lease.lease_owner, lease.attempts) == ("node-a", 1)
    assert a[keys.RECORDINGS].recording() == [session.id]
    assert b[keys.RECORDINGS].recording() == [], "B knows A holds the lease"

    await a[keys.RECORDINGS].halt()  # node A dies: nothing released, playlist left open
    before = await asyncio.to_thread(load_playlist, playlist)
    assert not before.ended
    lease = await a[keys.STORE].get(Job, lease_id(session.id))

    async def b_records() -> bool:
        return b[keys.RECORDINGS].recording() == [session.id]

    await wait(b_records, "node B to take the recording over", LEASE * 2 + 10)
    taken = await b[keys.STORE].get(Job, lease_id(session.id))
    assert (taken.lease_owner, taken.attempts) == ("node-b", 2)
    assert taken.updated_at >= lease.lease_expires, "taken only after A's lease ran out"

    await wait(lambda: segments(len(before.segments) + 3), "node B's segments", 60)
    after = await asyncio.to_thread(load_playlist, playlist)
    assert after.segments[:len(before.segments)] == before.segments, "A's part is kept"
    [(gap_start, gap_end)] = after.gaps()
    assert gap_start == pytest.approx(before.end) and gap_end > gap_start

    # A clip across the gap, cut by node B: two pieces joined, and the note says so.
    assert before.start is not None and after.end is not None
    start, end = gap_start - 2.0, gap_end + 2.0
    review = b[keys.REVIEW]
    clip = await review.create_manual(session.id, start, end, actor="t")
    await asyncio.sleep(1.5)
    job = await b[keys.STORE].get(Job, clip.job_id)
    assert (job.state, job.attempts) == ("queued", 0), "clip_workers = 0: no node cuts"
    from clips.worker import ClipWorker

    ffmpeg = find_ffmpeg("")
    worker = ClipWorker(b[keys.STORE], review, ffmpeg=ffmpeg, media=b[keys.SETTINGS].media,
                        name="test-worker", poll_seconds=0.2, concurrency=1)
    await worker.start()
    try:
        async def cut() -> bool:
            return (await b[keys.STORE].get(Clip, clip.id)).state in ("draft", "failed")

        await wait(cut, "the clip across the gap", 120)
    finally:
        await worker.stop()
    done = await b[keys.STORE].get(Clip, clip.id)
    assert done.state == "draft", done.error
    assert "录像中断" in done.note, done.note
    gap = gap_end - gap_start
    info = mp4_info(b[keys.SETTINGS].media_dir / done.media_path)
    assert info.track("vide") is not None
    # The gap is skipped, not filled: the clip is the recorded 4 s around it (a frame's slack
    # per piece).
    assert done.duration == pytest.approx(end - start - gap, abs=0.2)

    await b[keys.SESSIONS].end(session.id, actor="t")

    async def closed() -> bool:
        found = await asyncio.to_thread(timeline, playlist)
        return found is not None and found.ended

    await wait(closed, "the playlist to be closed by node B", 30)

    async def released() -> bool:  # right after the recorder's stop
        final = await b[keys.STORE].get(Job, lease_id(session.id))
        return (final.state, final.lease_owner) == ("done", "")

    await wait(released, "the lease to be closed", 30)
