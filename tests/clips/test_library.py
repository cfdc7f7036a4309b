"""The clip library and worker on a real SQLite store, real recordings and real ffmpeg:
answered question → queued cut → draft with checked files → trim → publish → search → views;
failures (nothing recorded, a full disk) and a worker killed in the middle of a cut."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from clips.library import ClipLibrary
from clips.mp4 import mp4_info
from clips.review import ClipConflict, ClipError, ClipReview
from clips.timeline import load_playlist
from clips.worker import ClipWorker
from live.hls_recorder import finalize_playlist, session_hls_dir
from moderation.catalog import load_catalog
from moderation.segment import load_word_list
from settings import MediaSettings
from store.base import NotFound, Store
from store.records import Clip, ClipView, Job, LiveSession, Question
from store.sqlite import SQLiteStore
from tests.clips import media
from tests.events_support import collecting

ROOT = Path(__file__).resolve().parents[2]
SESSION = "s-1"


def copy_recording(recording: Path, media_dir: Path, session_id: str = SESSION, *,
                   finished: bool = False) -> float:
    """Put a test recording where the recorder would have written it; its first moment.
    ``finished``: closed as the recorder closes it when the session ends (without it, a clip
    past its end waits for footage until ``clip_wait_limit`` after the recording was made)."""
    target = session_hls_dir(media_dir, session_id)
    shutil.copytree(recording.parent, target)
    if finished:
        finalize_playlist(target / "index.m3u8")
    start = load_playlist(target / "index.m3u8").start
    assert start is not None
    return start


class Env:
    def __init__(self, store: Store, media_dir: Path, ffmpeg: str, t0: float,
                 media_settings: MediaSettings) -> None:
        self.store = store
        self.media_dir = media_dir
        self.ffmpeg = ffmpeg
        self.t0 = t0
        self.events: list[tuple[str, str, dict[str, object]]] = []
        self.library = ClipLibrary(store, load_catalog(), load_word_list(),
                                   index_path=media_dir.parent / "search.sqlite3")
        self.review = ClipReview(store, collecting(store, self.publish), self.library,
                                 media_dir=media_dir,
                                 media=media_settings)
        self.worker = ClipWorker(store, self.review, ffmpeg=ffmpeg, media=media_settings,
                                 name="test-node", poll_seconds=0.2)

    def publish(self, session_id: str, events: object) -> None:
        for e in events:  # type: ignore[attr-defined]
            self.events.append((e.audience, e.kind, e.data))

    async def answered(self, on_air: float, answered: float, *, qid: str = "q1",
                       text: str = "电瓶车怎么上牌？", reply: str = "") -> Question:
        q = Question(id=qid, session_id=SESSION, viewer_id="v1", client_id=qid, text=text,
                     state="answered", category="电动自行车", item_id="ebike-registration",
                     reply=reply, on_air_at=self.t0 + on_air, answered_at=self.t0 + answered,
                     created_at=self.t0, updated_at=self.t0)
        await self.store.insert(q)
        return q

    async def wait_for(self, clip_id: str, states: tuple[str, ...] = ("draft", "failed"),
                       timeout: float = 60) -> Clip:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            clip = await self.store.get(Clip, clip_id)
            if clip.state in states:
                return clip
            await asyncio.sleep(0.05)
        raise AssertionError(f"clip {clip_id} still {clip.state}")


@pytest.fixture
async def env(ffmpeg: str, recording: Path, tmp_path: Path) -> AsyncIterator[Env]:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    media_dir = tmp_path / "media"
    t0 = copy_recording(recording, media_dir, finished=True)  # the session has ended
    await store.insert(LiveSession(id=SESSION, title="交警视频帮", status="ended",
                                 started_at=t0, ended_at=t0 + 12))
    e = Env(store, media_dir, ffmpeg, t0, MediaSettings(record=True))
    await e.library.open()
    yield e
    await e.worker.stop()
    await e.library.close()
    await store.close()


async def test_an_answered_question_becomes_a_checked_draft(env: Env) -> None:
    q = await env.answered(4.0, 7.0, reply="带上身份证和购车发票到登记点。")
    clip = await env.review.answered(q)
    assert clip is not None and clip.state == "pending" and clip.id == f"a-{q.id}"
    assert clip.start_at == env.t0 + 2.0 and clip.end_at == env.t0 + 8.0  # padding 2 s / 1 s
    assert clip.service_link  # from the catalog item
    assert await env.review.answered(q) == clip  # a repeat is harmless
    assert len(await env.store.find(Job, {"kind": "clip"})) == 1

    await env.worker.start()
    draft = await env.wait_for(clip.id)
    assert draft.state == "draft", draft.error
    files = [env.media_dir / p for p in (draft.media_path, draft.poster_path,
                                          draft.captions_path)]
    assert [f.name for f in files] == ["g1-1.mp4", "g1-1.jpg", "g1-1.vtt"]
    info = mp4_info(files[0])
    assert abs(info.track("vide").media_duration - 6.0) <= media.SEGMENT  # type: ignore[union-attr]
    assert files[1].read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    cues = media.parse_vtt(files[2].read_text(encoding="utf-8"))
    assert [c[2] for c in cues] == ["电瓶车怎么上牌？", "带上身份证和购车发票到登记点。"]
    assert draft.size_bytes == files[0].stat().st_size and draft.width == media.W
    job = await env.store.get(Job, draft.job_id)
    assert job.state == "done" and job.attempts == 1
    assert ("staff", "clip") in [(a, k) for a, k, _ in env.events]
    assert not list(env.review.clip_dir(clip.id).glob(".*"))  # no temporary files


async def test_trim_recuts_frame_accurately_and_publish_indexes(env: Env) -> None:
    q = await env.answered(4.0, 7.0)
    clip = await env.review.answered(q)
    assert clip is not None
    await env.worker.start()
    draft = await env.wait_for(clip.id)

    with pytest.raises(ClipConflict):
        await env.review.trim(clip.id, env.t0 + 3.0, env.t0 + 6.0,
                               expected_version=draft.version - 1, actor="mod")
    with pytest.raises(ClipError, match="没有录像"):
        await env.review.trim(clip.id, env.t0 + 30, env.t0 + 35,
                               expected_version=draft.version, actor="mod")
    trimmed = await env.review.trim(clip.id, env.t0 + 3.04, env.t0 + 6.0,
                                     expected_version=draft.version, actor="mod")
    assert trimmed.state == "pending" and trimmed.generation == 2
    done = await env.wait_for(clip.id)
    assert done.state == "draft", done.error
    assert done.media_path.endswith("g2-1.mp4")
    assert abs(done.duration - 2.96) <= 1 / media.FPS + 0.002
    frames = media.frame_numbers(env.ffmpeg, env.media_dir / done.media_path)
    assert abs(frames[0] - 3.04 * media.FPS) <= 1
    assert sorted(p.name for p in env.review.clip_dir(clip.id).iterdir()) == [
        "g2-1.jpg", "g2-1.mp4", "g2-1.vtt"]  # the first cut's files are gone

    edited = await env.review.edit(
        clip.id, env_form("电动自行车上牌要带什么", "带身份证和发票。"),
        expected_version=done.version, actor="mod")
    published = await env.review.publish_clip(clip.id, expected_version=edited.version,
                                               actor="admin")
    assert published.state == "published" and published.published_at > 0
    found = await env.library.search("电瓶车上牌")
    assert [h.clip_id for h in found.hits] == [clip.id]
    told: list[Clip] = []
    env.review.on_visibility.append(told.append)

    assert await env.library.record_view(clip.id, "viewer-a")
    assert not await env.library.record_view(clip.id, "viewer-a")  # same viewer, same day
    assert await env.library.record_view(clip.id, "viewer-b")
    assert (await env.store.get(Clip, clip.id)).views == 2
    assert await env.store.count(ClipView) == 2
    assert env.library.index.fingerprint() == await env.library.store_fingerprint()

    current = await env.store.get(Clip, clip.id)
    with pytest.raises(ClipError, match="先下架"):
        await env.review.trim(clip.id, env.t0 + 3, env.t0 + 5,
                               expected_version=current.version, actor="mod")
    with pytest.raises(ClipError, match="先下架"):
        await env.review.delete(clip.id, expected_version=current.version, actor="mod")
    down = await env.review.unpublish(clip.id, expected_version=current.version,
                                       actor="admin")
    assert [c.state for c in told] == ["unpublished"]
    assert (await env.library.search("电瓶车上牌")).total == 0
    await env.review.delete(clip.id, expected_version=down.version, actor="admin")
    with pytest.raises(NotFound):
        await env.store.get(Clip, clip.id)
    assert not env.review.clip_dir(clip.id).exists()


def env_form(title: str, summary: str) -> object:
    from clips.review import ClipEdit

    return ClipEdit(title=title, summary=summary, item_id="ebike-registration")


async def test_edit_validates_what_the_reviewer_enters(env: Env) -> None:
    from clips.review import ClipEdit

    clip = await env.review.answered(await env.answered(4.0, 7.0))
    assert clip is not None
    for form, message in [
        (ClipEdit(title="  "), "标题"),
        (ClipEdit(title="x" * 61), "标题最多"),
        (ClipEdit(title="t", item_id="no-such-item"), "业务事项不存在"),
        (ClipEdit(title="t", category="no-such"), "分类不存在"),
        (ClipEdit(title="t", service_link="javascript:alert(1)"), "https://"),
    ]:
        with pytest.raises(ClipError, match=message):
            await env.review.edit(clip.id, form, expected_version=clip.version, actor="m")


async def test_a_span_outside_the_recording_fails_at_once(env: Env) -> None:
    clip = await env.review.answered(await env.answered(40.0, 50.0))
    assert clip is not None
    await env.worker.start()
    failed = await env.wait_for(clip.id)
    assert failed.state == "failed" and "没有录像" in failed.error
    assert (await env.store.get(Job, failed.job_id)).attempts == 1  # no pointless retries
    with pytest.raises(ClipError, match="发布"):
        await env.review.publish_clip(clip.id, expected_version=failed.version, actor="a")


async def test_a_full_disk_fails_the_clip_clearly_and_publishes_nothing(
        env: Env, tiny_disk: Callable[[str], Path]) -> None:
    disk = tiny_disk("64k")
    clips_dir = env.media_dir / "clips"
    clips_dir.mkdir()
    await asyncio.to_thread(subprocess.run, ["mount", "--bind", str(disk), str(clips_dir)],
                            check=True)
    try:
        clip = await env.review.answered(await env.answered(2.0, 11.0))
        assert clip is not None
        await env.worker.start()
        failed = await env.wait_for(clip.id)
        assert failed.state == "failed" and "磁盘已满" in failed.error
        assert failed.media_path == ""
        assert not [p for p in disk.rglob("*") if p.is_file()]
        retried = await env.review.retry(clip.id, expected_version=failed.version, actor="a")
        assert retried.state == "pending" and retried.generation == 2
    finally:
        await env.worker.stop()
        await asyncio.to_thread(subprocess.run, ["umount", str(clips_dir)],
                                capture_output=True)


async def test_reconcile_queues_answers_that_never_got_a_clip(env: Env) -> None:
    q = await env.answered(4.0, 7.0)
    q2 = await env.answered(5.0, 8.0, qid="q2")
    clip = await env.review.answered(q2)
    assert clip is not None
    await env.store.delete(Job, clip.job_id)  # as if the process died between two writes
    assert await env.review.reconcile() == 2
    assert {c.question_id for c in await env.store.find(Clip)} == {q.id, q2.id}
    assert await env.store.count(Job, {"state": "queued"}) == 2


WORKER_SCRIPT = """
import asyncio, sys
from pathlib import Path
from clips.library import ClipLibrary
from clips.review import ClipReview
from moderation.segment import load_word_list
from clips.worker import ClipWorker
from moderation.catalog import load_catalog
from settings import MediaSettings
from store.sqlite import SQLiteStore
from tests.events_support import collecting

async def main(db, media_dir, ffmpeg):
    store = SQLiteStore(Path(db))
    await store.open()
    settings = MediaSettings(record=True)
    library = ClipLibrary(store, load_catalog(), load_word_list(),
                          index_path=Path(media_dir).parent / "search.sqlite3")
    await library.open()
    review = ClipReview(store, collecting(store, lambda s, e: None), library,
                        media_dir=Path(media_dir),
                        media=settings)
    worker = ClipWorker(store, review, ffmpeg=ffmpeg, media=settings, name="node-a",
                        poll_seconds=0.2)
    await worker.start()
    print("started", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_worker_killed_mid_cut_makes_exactly_one_good_clip_after_restart(
        ffmpeg: str, recording: Path, tmp_path: Path) -> None:
    media_dir = tmp_path / "media"
    t0 = copy_recording(recording, media_dir)
    db = tmp_path / "store.sqlite3"
    store = SQLiteStore(db)
    await store.open()
    env = Env(store, media_dir, ffmpeg, t0, MediaSettings(record=True))
    await env.library.open()
    clip = await env.review.answered(await env.answered(3.0, 9.0))
    assert clip is not None
    # An ffmpeg that says it started, then hangs: the kill lands in the middle of the cut.
    started = tmp_path / "ffmpeg-started"
    slow = tmp_path / "slow-ffmpeg"
    slow.write_text(f"#!/bin/sh\ntouch {started}\nsleep 60\nexec {ffmpeg} \"$@\"\n")
    slow.chmod(0o755)
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)

    def spawn(exe: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(script), str(db), str(media_dir), exe],
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

    first = spawn(str(slow))
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "the worker never started cutting"
            await asyncio.sleep(0.05)
        job = await store.get(Job, clip.job_id)
        assert job.state == "running" and job.lease_owner == "node-a"
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its ffmpeg, no clean-up
        first.communicate()

    second = spawn(ffmpeg)
    try:
        done = await env.wait_for(clip.id)
        # The worker finishes the job just after the clip turns draft: stopping it in
        # between would leave the job running (a loaded machine widens that moment).
        deadline = time.monotonic() + 30
        while (await store.get(Job, clip.job_id)).state == "running":
            assert time.monotonic() < deadline, "the job was never finished"
            await asyncio.sleep(0.05)
        # Attempt 2's files, and nothing of the killed attempt 1: its temporary files are
        # removed once attempt 2 has landed (only then is it sure the clip is its own), a
        # moment after the job is marked done.
        expected = ["g1-2.jpg", "g1-2.mp4", "g1-2.vtt"]
        while (left := sorted(p.name for p in env.review.clip_dir(clip.id).iterdir())
               ) != expected:
            assert time.monotonic() < deadline, left
            await asyncio.sleep(0.05)
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.communicate()
    assert done.state == "draft", done.error
    assert mp4_info(media_dir / done.media_path).track("vide") is not None
    job = await store.get(Job, clip.job_id)
    assert job.state == "done" and job.attempts == 2
    await env.library.close()
    await store.close()
