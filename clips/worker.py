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

Restart safety: the worker's name is stable for a node (host name and data directory), so
at start it takes back the jobs its previous life held — a crash mid-cut leaves a running
job with its lease — and runs them again; leftovers of the killed cut are removed by the
cutter. Another node's expired leases are taken over by ``claim_job``. A job whose clip has
moved on (deleted, or a newer cut asked for) finishes without cutting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clips.cutter import cut_clip
from clips.review import JOB_KIND, ClipError, ClipReview
from clips.staging import cut_stored
from clips.timeline import NotRecorded
from live.ffmpeg import DiskFull, FFmpegError, MediaError
from live.media_store import MediaStoreError
from settings import MediaSettings
from store.base import NotFound, Store, VersionConflict
from store.records import Job

log = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_MAX = 300.0
STALL_SECONDS = 30.0
POSTER_WIDTH = 640
WAIT_POLL = 1.0  # seconds between looks at a recording that has not reached a clip's end


def node_name(data_dir: Path) -> str:
    """A worker name that survives restarts of the same node and differs between nodes."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}:{digest}"


def backoff(attempts: int) -> float:
    return float(min(BACKOFF_BASE * 2.0 ** max(0, attempts - 1), BACKOFF_MAX))


def describe(exc: BaseException) -> str:
    """The reason a cut failed, with the tail of ffmpeg's output when there is one."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, FFmpegError) and exc.tail:
        text += "\n" + "\n".join(exc.tail)
    return text


class ClipWorker:
    def __init__(
        self, store: Store, review: ClipReview, *, ffmpeg: str, media: MediaSettings,
        name: str, poll_seconds: float = 5.0, clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.review = review
        self.ffmpeg = ffmpeg
        self.media = media
        self.name = name
        self.poll_seconds = poll_seconds
        self.clock = clock
        # A job's whole cut is at most a few ffmpeg runs; the lease is renewed meanwhile.
        self.lease_seconds = float(media.clip_timeout_seconds) + 60.0
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []
        self.running: dict[str, Job] = {}
        review.on_cut_queued.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Take back this node's interrupted jobs, queue what is missing, start the loops."""
        requeued = await self.requeue_own()
        if requeued:
            log.info("clip worker: %d interrupted job(s) queued again", requeued)
        await self.review.reconcile()
        for i in range(max(1, self.media.clip_workers)):
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
        await self.requeue_own()

    async def requeue_own(self) -> int:
        held = await self.store.find(Job, {"state": "running", "lease_owner": self.name,
                                           "kind": JOB_KIND})
        count = 0
        for job in held:
            with contextlib.suppress(VersionConflict, NotFound):
                await self.store.update(
                    Job, job.id, {"state": "queued", "lease_owner": "", "lease_expires": 0.0,
                                  "run_after": self.clock()},
                    expected_version=job.version, now=self.clock())
                count += 1
        return count

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
        waiting = False
        try:
            error, retry_at, waiting = await self._cut(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: keep the worker alive, retry the job later
            log.exception("clip worker: job %s", job.id)
            error, retry_at = describe(exc), self.clock() + backoff(job.attempts)
        finally:
            renew.cancel()
            self.running.pop(job.id, None)
        try:
            attempt = job.attempts
            if waiting:  # waiting for the recording is not a failed attempt: give it back
                held = await self.store.get(Job, job.id)
                if held.lease_owner != self.name or held.attempts != job.attempts:
                    raise VersionConflict(f"job {job.id} was taken over", held)
                await self.store.update(Job, job.id, {"attempts": attempt - 1},
                                        expected_version=held.version, now=self.clock())
                attempt -= 1
            await self.store.finish_job(job.id, self.name, attempt=attempt,
                                        now=self.clock(), error=error, retry_at=retry_at)
            if waiting and retry_at is not None:
                self._timers = [t for t in self._timers if not t.cancelled()]
                self._timers.append(asyncio.get_running_loop().call_later(
                    max(0.0, retry_at - self.clock()), self.wake))
        except (VersionConflict, NotFound):
            log.warning("clip worker: job %s was taken over or deleted", job.id)

    async def _cut(self, job: Job) -> tuple[str, float | None, bool]:
        """(error, retry at, waiting for the recording) of one run of ``job``."""
        clip_id = str(job.payload.get("clip_id", ""))
        generation = int(job.payload.get("generation", 0))
        try:
            clip = await self.review.get(clip_id)
        except NotFound:
            return "", None, False  # deleted meanwhile: nothing to do
        if clip.generation != generation or clip.state != "pending":
            return "", None, False  # a newer cut was asked for, or this one already landed
        note = ""
        with contextlib.suppress(FileNotFoundError, ValueError, MediaStoreError):
            coverage = (await self.review.timeline(clip.session_id)).coverage(
                clip.start_at, clip.end_at)  # (the cut says why it cannot read it)
            if not coverage.complete:
                if (not coverage.ended
                        and self.clock() < clip.end_at + self.media.clip_wait_limit):
                    waiting = (f"等待录像覆盖片段末尾（还差 {coverage.missing_end:.1f} 秒）")
                    return waiting, self.clock() + WAIT_POLL, True
                note = f"录像未覆盖完整回答（缺少末尾 {coverage.missing_end:.1f} 秒）"
        try:
            stored = await cut_stored(
                self.review.media_store, clip.session_id, clip.start_at, clip.end_at,
                clip_id=clip.id, name=f"g{generation}", scratch=self.review.media_dir / ".cuts",
                cutter=cut_clip, ffmpeg=self.ffmpeg, mode=clip.cut_mode,
                captions=await self.review.captions_for(clip), poster_width=POSTER_WIDTH,
                run_timeout=float(self.media.clip_timeout_seconds),
                stall_timeout=STALL_SECONDS)
        except (NotRecorded, FileNotFoundError) as exc:
            reason = f"所选时间段没有录像：{exc}"
            await self.review.cut_failed(clip.id, generation, reason, final=True)
            return reason, None, False
        except DiskFull as exc:
            reason = f"磁盘已满，片段未生成（腾出空间后点“重试”）：{describe(exc)}"
            await self.review.cut_failed(clip.id, generation, reason, final=True)
            return reason, None, False
        except (MediaError, OSError, MediaStoreError) as exc:
            reason = describe(exc)
            final = job.attempts >= job.max_attempts
            await self.review.cut_failed(clip.id, generation, reason, final=final)
            return reason, None if final else self.clock() + backoff(job.attempts), False
        files = stored.files
        changes: dict[str, Any] = {
            "media_path": stored.media_key, "poster_path": stored.poster_key,
            "captions_path": stored.captions_key,
            "duration": files.duration, "size_bytes": files.size_bytes,
            "width": files.width, "height": files.height,
            "start_at": files.start_at, "end_at": files.end_at, "note": note,
        }
        # Superseded while cutting (a newer cut, a deletion): the newer job's files count.
        with contextlib.suppress(ClipError, NotFound, VersionConflict):
            await self.review.cut_done(clip.id, generation, changes)
        return "", None, False

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

