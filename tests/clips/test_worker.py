"""The clip worker on its own (clips/worker.py): leases and their renewal, retries with
back-off, the outcomes that fail a clip at once, fencing (a superseded generation, a lease
taken over by another node), taking back its own jobs after a restart, and killing a hung
ffmpeg at the time-out.

The store, the review lifecycle and the queue are real (a SQLite file). Where the cut itself is not
the subject, ``clips.worker.cut_clip`` is replaced by ``ScriptedCut``, which writes stand-in
files or raises what it is told to; cuts with real ffmpeg are tests/clips/test_library.py's.
The time-out test runs the real cutter and runner against a stand-in ffmpeg that hangs.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import clips.worker
from clips.cutter import ClipFiles
from clips.library import ClipLibrary
from clips.review import ClipReview
from clips.timeline import NotRecorded
from clips.worker import BACKOFF_BASE, BACKOFF_MAX, ClipWorker, backoff, describe
from live.ffmpeg import DiskFull, FFmpegError
from moderation.catalog import load_catalog
from moderation.segment import load_word_list
from settings import MediaSettings
from store.base import Store
from store.records import Clip, Job, LiveSession, Question
from store.sqlite import SQLiteStore
from tests.clips.test_library import SESSION, copy_recording
from tests.events_support import collecting
from tests.support import until

MAX_ATTEMPTS = 3


class Clock:
    """The worker's clock, moved by the test (leases and back-off are read from it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ScriptedCut:
    """Stands in for ``cut_clip``: each call takes the next outcome (an exception to raise,
    or None for a good cut that writes small stand-in files); waits for ``gate`` if set."""

    outcomes: list[BaseException | None] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, playlist: Path, start_at: float, end_at: float, out_dir: Path, *,
                       name: str, **options: Any) -> ClipFiles:
        self.calls.append({"playlist": Path(playlist), "span": (start_at, end_at),
                           "name": name, **options})
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        paths = await asyncio.to_thread(_write_stand_ins, Path(out_dir), name)
        return ClipFiles(paths[0], paths[1], paths[2], duration=end_at - start_at,
                         size_bytes=8, mode="copy", method="copy", start_at=start_at,
                         end_at=end_at, width=320, height=180)


def _write_stand_ins(out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.{ext}" for ext in ("mp4", "jpg", "vtt")]
    for path in paths:
        path.write_bytes(b"stand-in")
    return paths


@dataclass
class Rig:
    store: Store
    review: ClipReview
    media: MediaSettings
    media_dir: Path
    t0: float
    clock: Clock
    cut: ScriptedCut
    workers: list[ClipWorker] = field(default_factory=list)

    def worker(self, name: str = "node-a", *, ffmpeg: str = "ffmpeg",
               poll_seconds: float = 60.0) -> ClipWorker:
        worker = ClipWorker(self.store, self.review, ffmpeg=ffmpeg, media=self.media,
                            name=name, poll_seconds=poll_seconds, clock=self.clock)
        self.workers.append(worker)
        return worker

    async def clip(self, qid: str = "q1") -> Clip:
        """An answered question's clip, its cut queued."""
        q = Question(id=qid, session_id=SESSION, viewer_id="v1", client_id=qid,
                     text="电瓶车怎么上牌？", state="answered", category="电动自行车",
                     on_air_at=self.t0 + 4, answered_at=self.t0 + 7, created_at=self.t0,
                     updated_at=self.t0)
        await self.store.insert(q)
        clip = await self.review.answered(q)
        assert clip is not None
        return clip

    async def claim(self, worker: ClipWorker) -> Job | None:
        return await self.store.claim_job(worker.name, self.clock(), worker.lease_seconds,
                                          ["clip"])

    async def job(self, clip: Clip) -> Job:
        return await self.store.get(Job, clip.job_id)


@pytest.fixture
async def rig(recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[Rig]:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    media_dir = tmp_path / "media"
    t0 = copy_recording(recording, media_dir)
    await store.insert(LiveSession(id=SESSION, title="交警视频帮", status="ended",
                                 started_at=t0, ended_at=t0 + 12))
    media = MediaSettings(record=True, clip_max_attempts=MAX_ATTEMPTS)
    clock = Clock()
    library = ClipLibrary(store, load_catalog(), load_word_list(),
                          index_path=tmp_path / "search.sqlite3", clock=clock)
    await library.open()
    review = ClipReview(store, collecting(store, lambda session_id, events: None), library,
                        media_dir=media_dir, media=media, clock=clock)
    cut = ScriptedCut()
    monkeypatch.setattr(clips.worker, "cut_clip", cut)
    rig = Rig(store, review, media, media_dir, t0, clock, cut)
    yield rig
    for worker in rig.workers:
        await worker.stop()
    await library.close()
    await store.close()


def test_backoff_doubles_from_five_seconds_up_to_five_minutes() -> None:
    assert [backoff(n) for n in (0, 1, 2, 3, 4)] == [5.0, 5.0, 10.0, 20.0, 40.0]
    assert backoff(7) == BACKOFF_MAX == 300.0 and backoff(50) == BACKOFF_MAX
    assert BACKOFF_BASE == 5.0


def test_describe_keeps_the_tail_of_ffmpegs_output() -> None:
    error = FFmpegError("ffmpeg exited with 1", tail=["frame=1", "moov atom not found"])
    assert describe(error) == (
        "ffmpeg exited with 1: moov atom not found\nframe=1\nmoov atom not found")
    assert describe(RuntimeError()) == "RuntimeError"


async def test_a_good_cut_makes_a_draft_and_finishes_the_job(rig: Rig) -> None:
    clip = await rig.clip()
    worker = rig.worker()
    job = await rig.claim(worker)
    assert job is not None and job.id == clip.job_id and job.attempts == 1
    assert job.lease_owner == "node-a"
    assert job.lease_expires == rig.clock() + rig.media.clip_lease_seconds
    await worker.run(job)

    [call] = rig.cut.calls
    assert call["playlist"] == rig.review.playlist(SESSION)
    assert call["span"] == (clip.start_at, clip.end_at) and call["name"] == "g1-1"
    assert call["run_timeout"] == rig.media.clip_timeout_seconds
    draft = await rig.store.get(Clip, clip.id)
    assert draft.state == "draft" and draft.error == ""
    assert draft.media_path == f"clips/{clip.id}/g1-1.mp4"
    assert (rig.media_dir / draft.media_path).read_bytes() == b"stand-in"
    done = await rig.job(clip)
    assert (done.state, done.attempts, done.lease_owner, done.last_error) == ("done", 1, "", "")
    assert worker.running == {}


async def test_a_failing_cut_is_retried_with_backoff_then_fails_the_clip(rig: Rig) -> None:
    clip = await rig.clip()
    worker = rig.worker()
    rig.cut.outcomes = [FFmpegError("ffmpeg exited with 1", tail=[f"error {n}"])
                        for n in range(1, MAX_ATTEMPTS + 1)]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        job = await rig.claim(worker)
        assert job is not None and job.attempts == attempt
        await worker.run(job)
        after = await rig.job(clip)
        current = await rig.store.get(Clip, clip.id)
        assert f"error {attempt}" in current.error  # the reviewer sees the latest reason
        if attempt < MAX_ATTEMPTS:
            assert after.state == "queued" and current.state == "pending"
            assert after.run_after == rig.clock() + backoff(attempt)
            rig.clock.advance(backoff(attempt) - 0.5)
            assert await rig.claim(worker) is None, "claimed before its back-off ran out"
            rig.clock.advance(0.5)
    failed = await rig.job(clip)
    assert failed.state == "failed" and failed.attempts == MAX_ATTEMPTS
    assert "error 3" in failed.last_error
    assert (await rig.store.get(Clip, clip.id)).state == "failed"
    assert len(rig.cut.calls) == MAX_ATTEMPTS


@pytest.mark.parametrize(("error", "reason"), [
    (NotRecorded("the span is in a gap"), "所选时间段没有录像"),
    (DiskFull("No space left on device"), "磁盘已满"),
])
async def test_nothing_recorded_or_a_full_disk_fails_the_clip_at_once(
        rig: Rig, error: Exception, reason: str) -> None:
    clip = await rig.clip()
    worker = rig.worker()
    rig.cut.outcomes = [error]
    job = await rig.claim(worker)
    assert job is not None
    await worker.run(job)
    failed = await rig.job(clip)
    assert failed.state == "failed" and failed.attempts == 1 < failed.max_attempts
    current = await rig.store.get(Clip, clip.id)
    assert current.state == "failed" and current.error.startswith(reason)
    assert current.error == failed.last_error


async def test_a_bug_in_the_cut_keeps_the_worker_alive_and_retries_later(rig: Rig) -> None:
    clip = await rig.clip()
    worker = rig.worker(poll_seconds=0.05)
    rig.cut.outcomes = [RuntimeError("unexpected"), None]
    await worker.start()
    await until(lambda: len(rig.cut.calls) == 1, "the first cut")
    await until_job(rig, clip, lambda job: job.state == "queued" and job.attempts == 1)
    job = await rig.job(clip)
    assert job.last_error == "unexpected" and job.run_after == rig.clock() + backoff(1)
    assert (await rig.store.get(Clip, clip.id)).state == "pending"
    rig.clock.advance(backoff(1))  # the same loop, still running, picks it up again
    await until_job(rig, clip, lambda job: job.state == "done")
    assert (await rig.store.get(Clip, clip.id)).state == "draft"
    assert (await rig.job(clip)).attempts == 2


async def until_job(rig: Rig, clip: Clip, check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check(await rig.job(clip)):
        assert time.monotonic() < deadline, f"job {clip.job_id}: {await rig.job(clip)}"
        await asyncio.sleep(0.02)


async def test_a_job_for_a_deleted_clip_finishes_without_cutting(rig: Rig) -> None:
    clip = await rig.clip()
    await rig.store.delete(Clip, clip.id)
    worker = rig.worker()
    job = await rig.claim(worker)
    assert job is not None
    await worker.run(job)
    assert rig.cut.calls == []
    assert (await rig.job(clip)).state == "done"


async def test_a_cut_superseded_while_it_ran_does_not_land(rig: Rig) -> None:
    """Fencing by generation: the clip asked for a newer cut while generation 1 was being
    cut; generation 1's files never become the clip's, generation 2's do."""
    clip = await rig.clip()
    worker = rig.worker()
    rig.cut.gate = asyncio.Event()
    job = await rig.claim(worker)
    assert job is not None
    running = asyncio.create_task(worker.run(job))
    await rig.cut.started.wait()
    # What a trim does to the clip (a trim itself needs a clip that is not being cut).
    current = await rig.store.get(Clip, clip.id)
    await rig.store.update(Clip, clip.id, {"generation": 2, "job_id": f"{clip.id}-g2"},
                           expected_version=current.version, now=rig.clock())
    rig.cut.gate.set()
    await running
    superseded = await rig.store.get(Clip, clip.id)
    assert superseded.state == "pending" and superseded.media_path == ""
    assert (await rig.store.get(Job, clip.job_id)).state == "done"

    await rig.review.reconcile()  # queues generation 2's job
    second = await rig.claim(worker)
    assert second is not None and second.id == f"{clip.id}-g2"
    await worker.run(second)
    draft = await rig.store.get(Clip, clip.id)
    assert draft.state == "draft" and draft.media_path == f"clips/{clip.id}/g2-1.mp4"
    assert sorted(p.name for p in rig.review.clip_dir(clip.id).iterdir()) == [
        "g2-1.jpg", "g2-1.mp4", "g2-1.vtt"], "generation 1's files are removed"


async def test_a_worker_whose_lease_was_taken_over_cannot_finish_the_job(rig: Rig) -> None:
    """Fencing by attempt: node A stalls past its lease, node B takes the job over (attempt
    2). A's late result changes nothing (not the job, not the clip) and its files are
    removed; B's cut is the clip's, once."""
    clip = await rig.clip()
    a, b = rig.worker("node-a"), rig.worker("node-b")
    rig.cut.gate = asyncio.Event()
    first = await rig.claim(a)
    assert first is not None
    slow = asyncio.create_task(a.run(first))
    await rig.cut.started.wait()
    assert await rig.claim(b) is None, "the job is leased"
    rig.clock.advance(a.lease_seconds + 1)
    taken = await rig.claim(b)
    assert taken is not None and taken.lease_owner == "node-b" and taken.attempts == 2
    rig.cut.gate.set()
    await slow  # logs "taken over"; does not raise
    held = await rig.job(clip)
    assert (held.state, held.lease_owner, held.attempts) == ("running", "node-b", 2)
    stale = await rig.store.get(Clip, clip.id)
    assert (stale.state, stale.media_path) == ("pending", ""), "A's cut did not land"
    assert not list(rig.review.clip_dir(clip.id).glob("g1-1.*")), "A's files are removed"
    assert a.landed == 0
    await b.run(taken)
    assert (await rig.job(clip)).state == "done"
    draft = await rig.store.get(Clip, clip.id)
    assert (draft.state, draft.media_path) == ("draft", f"clips/{clip.id}/g1-2.mp4")
    assert sorted(p.name for p in rig.review.clip_dir(clip.id).iterdir()) == [
        "g1-2.jpg", "g1-2.mp4", "g1-2.vtt"]


async def test_a_stale_worker_finishing_after_the_new_one_changes_nothing(rig: Rig) -> None:
    """The other order: B (attempt 2) lands first; A (attempt 1) ends later and neither
    its job outcome, its clip write nor its files survive."""
    clip = await rig.clip()
    a, b = rig.worker("node-a"), rig.worker("node-b")
    rig.cut.gate = asyncio.Event()
    first = await rig.claim(a)
    assert first is not None
    slow = asyncio.create_task(a.run(first))
    await rig.cut.started.wait()
    rig.clock.advance(a.lease_seconds + 1)
    taken = await rig.claim(b)
    assert taken is not None
    rig.cut.gate.set()  # both cuts go through; B's run completes first here
    await b.run(taken)
    await slow
    draft = await rig.store.get(Clip, clip.id)
    assert (draft.state, draft.media_path) == ("draft", f"clips/{clip.id}/g1-2.mp4")
    job = await rig.job(clip)
    assert (job.state, job.attempts) == ("done", 2)
    assert sorted(p.name for p in rig.review.clip_dir(clip.id).iterdir()) == [
        "g1-2.jpg", "g1-2.mp4", "g1-2.vtt"]
    assert (a.landed, b.landed) == (0, 1)


async def test_the_lease_is_renewed_while_the_cut_runs(rig: Rig) -> None:
    clip = await rig.clip()
    a, b = rig.worker("node-a"), rig.worker("node-b")
    a.lease_seconds = 0.3  # renewed every 0.1 s
    rig.cut.gate = asyncio.Event()
    job = await rig.claim(a)
    assert job is not None
    running = asyncio.create_task(a.run(job))
    await rig.cut.started.wait()
    rig.clock.advance(10)  # far past the first lease
    await until_job(rig, clip, lambda j: j.lease_expires == rig.clock() + 0.3)
    assert await rig.claim(b) is None, "a renewed lease keeps other nodes off"
    rig.cut.gate.set()
    await running
    assert (await rig.job(clip)).state == "done"


async def test_a_restarted_worker_takes_back_its_own_jobs_only(rig: Rig) -> None:
    mine, theirs = await rig.clip("q1"), await rig.clip("q2")
    for clip, owner in ((mine, "node-a"), (theirs, "node-b")):
        job = await rig.job(clip)
        await rig.store.update(Job, job.id, {"state": "running", "lease_owner": owner,
                                             "lease_expires": rig.clock() + 3600},
                               expected_version=job.version, now=rig.clock())
    worker = rig.worker("node-a", poll_seconds=0.05)
    await worker.start()
    await until_job(rig, mine, lambda job: job.state == "done")
    assert (await rig.store.get(Clip, mine.id)).state == "draft"
    other = await rig.job(theirs)
    assert (other.state, other.lease_owner) == ("running", "node-b")
    assert [c["span"] for c in rig.cut.calls] == [(mine.start_at, mine.end_at)]


async def test_a_queued_cut_wakes_the_worker_and_stop_hands_back_a_cut_in_progress(
        rig: Rig) -> None:
    worker = rig.worker(poll_seconds=3600)  # only the wake-up can start the cut
    await worker.start()
    rig.cut.gate = asyncio.Event()  # never opened: the cut is still running at stop()
    clip = await rig.clip()
    await asyncio.wait_for(rig.cut.started.wait(), 5)
    assert list(worker.running) == [clip.job_id]
    await worker.stop()
    job = await rig.job(clip)
    assert (job.state, job.lease_owner, job.attempts) == ("queued", "", 0), \
        "handed back, the attempt not counted"
    assert (await rig.store.get(Clip, clip.id)).state == "pending"


async def test_stop_hands_back_a_job_whose_renewal_lands_after_it_was_read(
        rig: Rig) -> None:
    """A renewal whose task was cancelled may still be written by the store's thread after
    ``stop`` has read the job: the hand-back reads it again, and queues it all the same. A
    job another worker took over meanwhile is left to that worker."""
    mine, theirs = await rig.clip("q1"), await rig.clip("q2")
    worker = rig.worker("node-a")
    assert await rig.claim(worker) and await rig.claim(worker)  # both running, attempt 1
    find = rig.store.find

    async def find_then_late_writes(*args: Any, **kwargs: Any) -> Any:
        found = await find(*args, **kwargs)
        own, other = await rig.job(mine), await rig.job(theirs)
        await rig.store.update(Job, own.id, {"lease_expires": rig.clock() + 90},
                               expected_version=own.version, now=rig.clock())
        await rig.store.update(Job, other.id, {"lease_owner": "node-b"},
                               expected_version=other.version, now=rig.clock())
        return found

    rig.store.find = find_then_late_writes  # type: ignore[method-assign]
    try:
        assert await worker.requeue_own(count_attempt=False) == 1
    finally:
        rig.store.find = find  # type: ignore[method-assign]
    job = await rig.job(mine)
    assert (job.state, job.lease_owner, job.attempts) == ("queued", "", 0)
    other = await rig.job(theirs)
    assert (other.state, other.lease_owner) == ("running", "node-b")


async def test_a_hung_ffmpeg_is_killed_at_the_time_out_and_the_cut_retried(
        rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clips.cutter import cut_clip

    monkeypatch.setattr(clips.worker, "cut_clip", cut_clip)  # the real cutter and runner
    pids = tmp_path / "pids"
    hung = tmp_path / "ffmpeg"
    hung.write_text(f'#!/bin/sh\necho $$ >> {pids}\nexec sleep 60\n')
    hung.chmod(hung.stat().st_mode | stat.S_IXUSR)
    rig.media = MediaSettings(record=True, clip_max_attempts=MAX_ATTEMPTS,
                              clip_timeout_seconds=1)
    clip = await rig.clip()
    worker = rig.worker(ffmpeg=str(hung))
    job = await rig.claim(worker)
    assert job is not None
    started = time.monotonic()
    await asyncio.wait_for(worker.run(job), 20)
    assert time.monotonic() - started < 15
    after = await rig.job(clip)
    assert after.state == "queued" and after.run_after == rig.clock() + backoff(1)
    assert after.last_error.startswith("ffmpeg ran longer than 1 s")
    current = await rig.store.get(Clip, clip.id)
    assert current.state == "pending" and current.error == after.last_error
    started_pids = [int(line) for line in pids.read_text().split()]
    assert started_pids, "the stand-in ffmpeg never ran"
    for pid in started_pids:  # every ffmpeg the cut started is gone, none left hanging
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_stale_attempt_of_the_same_node_cannot_finish_the_job(rig: Rig) -> None:
    clip = await rig.clip()
    loop_1, loop_2 = rig.worker("node-a"), rig.worker("node-a")  # one node, two loops
    rig.cut.gate = asyncio.Event()
    first = await rig.claim(loop_1)
    assert first is not None
    slow = asyncio.create_task(loop_1.run(first))
    await rig.cut.started.wait()
    rig.clock.advance(loop_1.lease_seconds + 1)  # say the event loop was blocked: no renewal
    second = await rig.claim(loop_2)
    assert second is not None and second.attempts == 2
    rig.cut.gate.set()
    await slow
    held = await rig.job(clip)
    assert (held.state, held.attempts) == ("running", 2), "attempt 1 finished attempt 2's job"


async def test_a_live_recording_short_of_the_answer_is_waited_for_up_to_the_limit(
        rig: Rig) -> None:
    playlist = rig.review.playlist(SESSION)
    lines = playlist.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("#EXTINF")]
    # Still live (no ENDLIST) and only 6 s written: the answer's clip needs t0+2 .. t0+8.
    playlist.write_text("\n".join(lines[:starts[3]]) + "\n", encoding="utf-8")
    rig.clock.now = rig.t0 + 8  # just after the answer (the recording may be older)
    clip = await rig.clip()
    assert clip.end_at == rig.clock()
    worker = rig.worker()
    assert rig.media.clip_wait_limit == 3 * rig.media.segment_seconds + 10
    for _ in range(3):  # waiting: queued again a second later, no attempt counted
        job = await rig.claim(worker)
        assert job is not None
        await worker.run(job)
        waiting = await rig.job(clip)
        assert (waiting.state, waiting.attempts) == ("queued", 0)
        assert waiting.run_after == rig.clock() + clips.worker.WAIT_POLL
        assert waiting.last_error == "等待录像覆盖片段末尾（还差 2.0 秒）"
        assert (await rig.store.get(Clip, clip.id)).state == "pending"
        rig.clock.advance(clips.worker.WAIT_POLL)
    assert rig.cut.calls == []

    rig.clock.now = clip.end_at + rig.media.clip_wait_limit  # the wait is over
    job = await rig.claim(worker)
    assert job is not None and job.attempts == 1
    await worker.run(job)
    draft = await rig.store.get(Clip, clip.id)
    assert draft.state == "draft" and draft.note == "录像未覆盖完整回答（缺少末尾 2.0 秒）"
    assert (await rig.job(clip)).state == "done"


async def test_a_media_store_that_fails_is_retried_and_named_without_its_address(
        rig: Rig) -> None:
    from live.s3_store import S3MediaStore

    clip = await rig.clip()
    closed = S3MediaStore(bucket="b-closed", endpoint="http://127.0.0.1:9", access_key="k",
                          secret_key="s", connect_timeout=0.2)
    await closed.open()
    rig.review.media_store = closed  # the recording is in an S3 store that is down
    try:
        worker = rig.worker()
        job = await rig.claim(worker)
        assert job is not None
        await worker.run(job)
    finally:
        await closed.close()
    after = await rig.job(clip)
    current = await rig.store.get(Clip, clip.id)
    assert after.state == "queued" and after.run_after == rig.clock() + backoff(1)
    assert current.state == "pending" and "cannot reach the S3 store" in current.error
    assert "127.0.0.1" not in current.error and "b-closed" not in current.error
    assert rig.cut.calls == []
