"""The clip worker: runs the store's ``clip`` jobs with bounded concurrency.

Each of ``concurrency`` loops claims the oldest runnable job under a lease
(``Store.claim_job``), renews the lease while ffmpeg runs, and cuts the clip with
``clips.cutter.cut_clip`` (which writes under temporary names and renames into place only
when the files are complete and checked). Outcomes:

* the recording does not reach the span's end yet (its last segments are still being
  written) and is still live → the job is queued again ``WAIT_POLL`` seconds later, without
  counting an attempt, until ``[media] clip_wait_limit`` seconds past the span's end;
  when the recording has ended short, or the wait is over, the clip is cut with what exists
  and its ``note`` says how many seconds of the end are missing (the review page shows it);
* success → the clip becomes a draft (``ClipReview.cut_done``), the job is done;
* nothing recorded in the span, or a full disk → the clip fails at once, with the reason
  (retrying cannot help until someone acts; the review page has a retry button);
* any other failure (ffmpeg error, timeout, stall, a check that failed) → retried with
  exponential back-off up to the job's ``max_attempts``, then the clip fails; the error and
  the tail of ffmpeg's output are kept on the clip for the reviewer.

Fencing: a claim increments the job's ``attempts``; the attempt (with the worker's name)
fences every write a worker whose lease ran out could still make. Files are cut under a name
of their own, ``g<generation>-<attempt>.*``, so a stale worker never overwrites the files of
the attempt that holds the lease; the clip record and the job's outcome are written in one
transaction that starts with ``finish_job`` (refused unless this attempt still holds the
lease), so a stale worker changes neither, and removes the files it cut. Two workers cutting
one job (a lease expired under a stalled or killed worker) therefore land one clip.

Processes: the worker runs inside ``run.py serve`` (``[media] clip_workers`` loops; 0: none)
and on its own as ``run.py worker --concurrency N``, any number on any node sharing the store.
Each process has its own name (``node_name``: host, data directory, process id). ``stop()``
(SIGTERM) cancels the cuts in progress and hands their jobs back to the queue; a worker killed
outright leaves its job leased until the lease (``[media] clip_lease_seconds``, renewed every
third of it) expires, and another worker takes it over. A job whose clip has moved on
(deleted, or a newer cut asked for) finishes without cutting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clips.cutter import cut_clip
from clips.review import JOB_KIND, ClipError, ClipReview
from clips.staging import cut_stored
from clips.timeline import NotRecorded
from live.eventlog import Pending
from live.ffmpeg import DiskFull, FFmpegError, MediaError
from live.media_store import MediaStore, MediaStoreError, clip_key
from settings import MediaSettings
from store.base import (
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    TransactionAborted,
    VersionConflict,
)
from store.records import Clip, Job

log = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_MAX = 300.0
STALL_SECONDS = 30.0
POSTER_WIDTH = 640
WAIT_POLL = 1.0  # seconds between looks at a recording that has not reached a clip's end
LAND_TRIES = 3  # a transaction that met another process's write is tried again
# A hand-back that met this worker's own late write (``_hand_back``) reads the job again and
# tries again, this many times, this many seconds apart.
HAND_BACK_TRIES = 5
HAND_BACK_PAUSE = 0.05


def node_name(data_dir: Path, pid: int | None = None) -> str:
    """A worker name unique to this process: the host, the data directory, the process id
    (two worker processes on one node must not take each other's jobs back)."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}:{digest}:{os.getpid() if pid is None else pid}"


def backoff(attempts: int) -> float:
    return float(min(BACKOFF_BASE * 2.0 ** max(0, attempts - 1), BACKOFF_MAX))


def describe(exc: BaseException) -> str:
    """The reason a cut failed, with the tail of ffmpeg's output when there is one."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, FFmpegError) and exc.tail:
        text += "\n" + "\n".join(exc.tail)
    return text


class ClipMoved(Exception):
    """The clip changed between the read and the write of a fenced transaction."""


@dataclass
class Outcome:
    """What one run of a job decided, written under the job's fence by ``ClipWorker.land``."""

    error: str = ""  # the job's last error ("" : done)
    retry_at: float | None = None  # queued again at; None: done, or failed for good
    waiting: bool = False  # waiting for the recording: not a failed attempt
    generation: int = 0
    cut: dict[str, Any] | None = None  # a finished cut's changes to the clip
    clip_error: str = ""  # a failed cut's reason, kept on the clip
    final: bool = False  # the clip failed for good
    files: list[str] = field(default_factory=list)  # this attempt's files (store keys)


class ClipWorker:
    def __init__(
        self, store: Store, review: ClipReview, *, ffmpeg: str, media: MediaSettings,
        name: str, poll_seconds: float = 5.0, clock: Callable[[], float] = time.time,
        concurrency: int | None = None,
    ) -> None:
        self.store = store
        self.review = review
        self.ffmpeg = ffmpeg
        self.media = media
        self.name = name
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.concurrency = max(1, media.clip_workers if concurrency is None else concurrency)
        # Renewed every third of it while the cut runs; a killed worker's job waits this long.
        self.lease_seconds = float(media.clip_lease_seconds)
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []
        self.running: dict[str, Job] = {}
        self.landed = 0  # jobs this worker brought to an outcome (for logs and tests)
        review.on_cut_queued.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Take back this worker's interrupted jobs, queue what is missing, start the loops."""
        requeued = await self.requeue_own()
        if requeued:
            log.info("clip worker: %d interrupted job(s) queued again", requeued)
        try:
            await self.review.reconcile()
        except StoreError as exc:  # another process reconciling at the same moment
            log.warning("clip worker: reconcile skipped: %s", exc)
        for i in range(self.concurrency):
            self._loops.append(asyncio.create_task(self._loop(), name=f"clip-worker-{i}"))

    async def stop(self) -> None:
        """Stop cutting; jobs in progress are handed back to the queue."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops.clear()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self.requeue_own(count_attempt=False)

    async def requeue_own(self, *, count_attempt: bool = True) -> int:
        """Hand back the jobs this worker's name holds: after a crash (at start) the attempt
        counts, so a job that kills its worker cannot loop forever; at ``stop`` it does not."""
        held = await self.store.find(Job, {"state": "running", "lease_owner": self.name,
                                           "kind": JOB_KIND})
        count = 0
        for job in held:
            count += await self._hand_back(job, count_attempt)
        return count

    async def _hand_back(self, job: Job, count_attempt: bool) -> bool:
        """Queue a job this worker holds again. A write of this worker's own may still land
        after the job was read (a lease renewal whose task was cancelled while its store call
        ran in a thread) and move the version: then the job is read again and handed back
        while this worker still holds it; never once another worker has taken it over."""
        for _ in range(HAND_BACK_TRIES):
            try:
                await self.store.update(
                    Job, job.id, {"state": "queued", "lease_owner": "", "lease_expires": 0.0,
                                  "run_after": self.clock(),
                                  "attempts": job.attempts - (0 if count_attempt else 1)},
                    expected_version=job.version, now=self.clock())
                return True
            except NotFound:
                return False
            except VersionConflict:
                await asyncio.sleep(HAND_BACK_PAUSE)
                try:
                    job = await self.store.get(Job, job.id)
                except NotFound:
                    return False
                if job.state != "running" or job.lease_owner != self.name:
                    return False
        return False

    async def _loop(self) -> None:
        while True:
            try:
                job = await self.store.claim_job(self.name, self.clock(), self.lease_seconds,
                                                 [JOB_KIND])
            except Exception:  # the store is down: try again later, keep the worker alive
                log.exception("clip worker: cannot claim a job")
                job = None
            if job is None:
                self._wake.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # arrives as the wait ends, and stop() would wait for this loop forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                continue
            await self.run(job)

    async def run(self, job: Job) -> None:
        """Run one claimed job to an outcome (never raises, except on cancellation)."""
        self.running[job.id] = job
        renew = asyncio.create_task(self._renew(job))
        try:
            outcome = await self._cut(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: keep the worker alive, retry the job later
            log.exception("clip worker: job %s", job.id)
            outcome = Outcome(describe(exc), self.clock() + backoff(job.attempts))
        finally:
            renew.cancel()
            # The renewal task is done before the job is landed or handed back; a renewal
            # write already queued to the store may still land after it (``_hand_back``).
            await asyncio.wait([renew])
            self.running.pop(job.id, None)
        landed = await self.land(job, outcome)
        if not landed:
            await asyncio.shield(_remove_stored(self.review.media_store, outcome.files))
            log.warning("clip worker: job %s attempt %d was taken over or deleted; its "
                        "result is dropped, its files removed", job.id, job.attempts)
            return
        self.landed += 1
        if outcome.waiting and outcome.retry_at is not None:
            self._timers = [t for t in self._timers if not t.cancelled()]
            self._timers.append(asyncio.get_running_loop().call_later(
                max(0.0, outcome.retry_at - self.clock()), self.wake))

    async def land(self, job: Job, outcome: Outcome) -> bool:
        """Write the job's outcome and the clip's change in one transaction, fenced by the
        attempt; False when this attempt no longer holds the job (nothing was written)."""
        for tries in range(1, LAND_TRIES + 1):
            try:
                landed = await self._land_once(job, outcome)
            except (VersionConflict, NotFound, TransactionAborted):
                return False
            except (StoreUnavailable, ClipMoved):
                if tries == LAND_TRIES:
                    log.warning("clip worker: cannot record job %s; its lease will expire "
                                "and another worker cuts it again", job.id)
                    return False
                await asyncio.sleep(0.2 * tries)
                continue
            if landed is not None:
                await self.review.cut_landed(*landed, dropped=outcome.cut is not None)
                if outcome.cut is not None:
                    await asyncio.to_thread(_tidy_local, self.review.media_store,
                                            landed[0].id)
            elif outcome.cut is not None:  # superseded: the newer cut's files count
                await _remove_stored(self.review.media_store, outcome.files)
            return True
        return False

    async def _land_once(self, job: Job, outcome: Outcome) -> tuple[Clip, Pending] | None:
        clip_id = str(job.payload.get("clip_id", ""))
        attempt = job.attempts
        async with self.store.transaction() as tx:
            if outcome.waiting:  # waiting for the recording is not a failed attempt
                held = await tx.get(Job, job.id)
                if held.lease_owner != self.name or held.attempts != job.attempts:
                    raise VersionConflict(f"job {job.id} was taken over", held)
                await tx.update(Job, job.id, {"attempts": attempt - 1},
                                expected_version=held.version, now=self.clock())
                attempt -= 1
            await tx.finish_job(job.id, self.name, attempt=attempt, now=self.clock(),
                                error=outcome.error, retry_at=outcome.retry_at)
            try:
                if outcome.cut is not None:
                    return await self.review.cut_done(tx, clip_id, outcome.generation,
                                                      outcome.cut)
                if outcome.clip_error:
                    return await self.review.cut_failed(tx, clip_id, outcome.generation,
                                                        outcome.clip_error,
                                                        final=outcome.final)
            except (ClipError, NotFound):  # superseded or deleted (read, nothing written)
                return None  # the job still ends; this cut's files are dropped
            except VersionConflict as exc:  # the clip changed under us: decide again
                raise ClipMoved(str(exc)) from exc
        return None

    async def _cut(self, job: Job) -> Outcome:
        """The outcome of one run of ``job`` (nothing written yet but this attempt's files)."""
        clip_id = str(job.payload.get("clip_id", ""))
        generation = int(job.payload.get("generation", 0))
        try:
            clip = await self.review.get(clip_id)
        except NotFound:
            return Outcome()  # deleted meanwhile: nothing to do
        if clip.generation != generation or clip.state != "pending":
            return Outcome()  # a newer cut was asked for, or this one already landed
        note = ""
        with contextlib.suppress(FileNotFoundError, ValueError, MediaStoreError):
            coverage = (await self.review.timeline(clip.session_id)).coverage(
                clip.start_at, clip.end_at)  # (the cut says why it cannot read it)
            if not coverage.complete:
                if (not coverage.ended
                        and self.clock() < clip.end_at + self.media.clip_wait_limit):
                    waiting = (f"等待录像覆盖片段末尾（还差 {coverage.missing_end:.1f} 秒）")
                    return Outcome(waiting, self.clock() + WAIT_POLL, waiting=True)
                note = f"录像未覆盖完整回答（缺少末尾 {coverage.missing_end:.1f} 秒）"
            if coverage.gap_seconds > 0.0:
                gap = f"录像中断 {coverage.gap_seconds:.1f} 秒，片段跳过了这段"
                note = f"{note}；{gap}" if note else gap
        failed = Outcome(generation=generation)
        try:
            stored = await cut_stored(
                self.review.media_store, clip.session_id, clip.start_at, clip.end_at,
                clip_id=clip.id, name=f"g{generation}-{job.attempts}",
                scratch=self.review.media_dir / ".cuts", cutter=cut_clip, ffmpeg=self.ffmpeg,
                mode=clip.cut_mode, captions=await self.review.captions_for(clip),
                poster_width=POSTER_WIDTH, run_timeout=float(self.media.clip_timeout_seconds),
                stall_timeout=STALL_SECONDS)
        except (NotRecorded, FileNotFoundError) as exc:
            failed.clip_error = failed.error = f"所选时间段没有录像：{exc}"
            failed.final = True
            return failed
        except DiskFull as exc:
            failed.clip_error = failed.error = (
                f"磁盘已满，片段未生成（腾出空间后点“重试”）：{describe(exc)}")
            failed.final = True
            return failed
        except (MediaError, OSError, MediaStoreError) as exc:
            failed.clip_error = failed.error = describe(exc)
            failed.final = job.attempts >= job.max_attempts
            failed.retry_at = None if failed.final else self.clock() + backoff(job.attempts)
            return failed
        files = stored.files
        changes: dict[str, Any] = {
            "media_path": stored.media_key, "poster_path": stored.poster_key,
            "captions_path": stored.captions_key,
            "duration": files.duration, "size_bytes": files.size_bytes,
            "width": files.width, "height": files.height,
            "start_at": files.start_at, "end_at": files.end_at, "note": note,
        }
        return Outcome(generation=generation, cut=changes,
                       files=[stored.media_key, stored.poster_key, stored.captions_key])

    async def _renew(self, job: Job) -> None:
        version = job.version
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                renewed = await self.store.update(
                    Job, job.id, {"lease_expires": self.clock() + self.lease_seconds},
                    expected_version=version, now=self.clock())
                version = renewed.version
            except (VersionConflict, NotFound):
                return
            except Exception:
                log.exception("clip worker: cannot renew the lease of job %s", job.id)



async def _remove_stored(store: MediaStore, keys: list[str]) -> None:
    """Remove a fenced-off attempt's files; best effort."""
    for key in keys:
        with contextlib.suppress(MediaStoreError, OSError):
            await store.delete(key)


def _tidy_local(store: MediaStore, clip_id: str) -> None:
    """Where the store is a folder the cut ran in place: remove what killed or fenced-off
    attempts left under temporary names (``.g<generation>-<attempt>.*``) beside the files."""
    folder = store.local_path(clip_key(clip_id).rstrip("/"))
    if folder is None or not folder.is_dir():
        return
    for leftover in folder.glob(".g*"):
        with contextlib.suppress(OSError):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
