"""The review lifecycle of a clip: drafts from answered questions, the cut, review, publish.

``ClipReview`` is the one place that changes a clip's lifecycle (views are counted by the
public library, ``clips.library``). It owns:

* **Drafts from answers.** ``answered(question)`` turns a question the host marked answered
  into a clip (id ``a-<question id>``, so a repeat is harmless) covering
  [on_air_at − pad_before, answered_at + pad_after], stored with its cut, a ``Job`` of kind
  ``clip`` that ``clips.worker`` runs. ``reconcile`` at start catches what a crash between
  the answer and the clip left behind.
* **Review.** Edit the text fields and the item (``clips.clip_fields``), trim (a new
  frame-accurate cut of a new span), retry a failed cut, publish, unpublish, delete; clips
  made by hand from any span of a session's recording. Every action checks the version the
  reviewer saw and commits the clip, its cut job and its audit entry in one transaction;
  then it is published to staff over the hub (and, for a published answer, to the session's
  viewers). Publishing puts the clip in the library's search index; unpublishing and
  deleting take it out.
* **Files.** A clip's files are ``clips/<clip id>/g<generation>-<attempt>.{mp4,jpg,vtt}`` in
  the media store (``live.media_store``: ``media_dir`` or an S3 bucket; the attempt is the
  cut job's, which fences off a worker whose lease ran out); the record keeps those keys,
  which are also the paths relative to ``media_dir``. Each cut asked for bumps the
  generation, so a re-cut never overwrites files a browser may have cached. The recording
  is read through the store too (``timeline``).

States: ``pending`` (its cut is queued or running) → ``draft`` → ``published`` ⇄
``unpublished``; ``failed`` when the cut gave up (retry puts it back to ``pending``). Trim is
offered on drafts, unpublished and failed clips: a published clip is unpublished first, so
the public never sees a clip change under it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from clips import clip_media
from clips.clip_fields import MAX_TITLE, ClipEdit, ClipError, clean_line, title_from, validate_edit
from clips.clip_media import MIN_CLIP_SECONDS
from clips.library import ClipLibrary
from clips.spoken import clip_cues
from clips.timeline import Timeline
from live.eventlog import EventLog, Pending
from live.events import CLIP, CLIP_REMOVED, STAFF, Event
from live.hls_recorder import session_playlist
from live.media_store import LocalMediaStore, MediaStore, hls_key
from live.recorder_commands import PLAYLIST_NAME
from moderation.audit import Audit, target
from moderation.catalog import Catalog
from moderation.pii import without_masked
from settings import MediaSettings
from store.base import Conflict, NotFound, Store, VersionConflict
from store.records import Clip, Job, LiveSession, Question, new_id

__all__ = ["JOB_KIND", "STATE_LABELS", "ClipConflict", "ClipEdit", "ClipError", "ClipReview",
           "clip_view"]

log = logging.getLogger(__name__)

JOB_KIND = "clip"
STATE_LABELS = {"pending": "剪辑中", "draft": "待审核", "published": "已发布",
                "failed": "剪辑失败", "unpublished": "已下架"}
TRIMMABLE = ("draft", "unpublished", "failed")
RECONCILE_DAYS = 3  # answered questions this recent get their missing clips at start


class ClipConflict(ClipError):
    """The clip changed since the reviewer loaded it."""

    def __init__(self, current: Clip) -> None:
        super().__init__("这个片段刚被别人修改过，页面已更新，请确认后再操作。")
        self.current = current


def clip_view(clip: Clip) -> dict[str, Any]:
    """What staff pages and events show of a clip."""
    return {
        "id": clip.id, "session_id": clip.session_id, "question_id": clip.question_id,
        "state": clip.state, "state_label": STATE_LABELS.get(clip.state, clip.state),
        "note": clip.note,
        "title": clip.title, "duration": round(clip.duration, 2), "error": clip.error,
        "generation": clip.generation, "version": clip.version, "updated_at": clip.updated_at,
    }


class ClipReview:
    def __init__(
        self, store: Store, eventlog: EventLog, library: ClipLibrary, *, media_dir: Path,
        media: MediaSettings, clock: Callable[[], float] = time.time,
        media_store: MediaStore | None = None,
    ) -> None:
        self.store = store
        self.eventlog = eventlog
        self.library = library
        self.media_dir = Path(media_dir)  # with a remote store: the local scratch space
        self.media_store = media_store or LocalMediaStore(self.media_dir)
        self.media = media
        self.clock = clock
        self.audit = Audit(clock)
        self.on_cut_queued: list[Callable[[], None]] = []  # wakes the worker
        # Told when a clip is published or leaves the library (unpublished, deleted): the
        # moderation service links answered questions to their clips for the viewers.
        self.on_visibility: list[Callable[[Clip], None]] = []

    @property
    def catalog(self) -> Catalog:
        """The catalog in use (the library's: an admin's edit reaches both)."""
        return self.library.catalog

    # --- paths ---------------------------------------------------------------------------

    def clip_dir(self, clip_id: str) -> Path:
        return self.media_dir / "clips" / clip_id

    def playlist(self, session_id: str) -> Path:
        return session_playlist(self.media_dir, session_id)

    def file(self, relative: str) -> Path | None:
        return self.media_dir / relative if relative else None

    async def timeline(self, session_id: str) -> Timeline:
        """The session's recording (``clips.clip_media.read_timeline``)."""
        return await clip_media.read_timeline(self.media_store, session_id)

    # --- drafts --------------------------------------------------------------------------

    async def answered(self, question: Question) -> Clip | None:
        """The clip of an answered question, created (and its cut queued) if new."""
        if question.state != "answered" or not question.on_air_at or not question.answered_at:
            return None
        if not self.media.record and not await self.media_store.exists(
                hls_key(question.session_id, PLAYLIST_NAME)):
            return None  # recording is off and this session has none: nothing to cut
        clip_id = f"a-{question.id}"
        with contextlib.suppress(NotFound):
            return await self.store.get(Clip, clip_id)
        now = self.clock()
        start = question.on_air_at - self.media.clip_pad_before
        end = max(question.answered_at + self.media.clip_pad_after, start + MIN_CLIP_SECONDS)
        end = min(end, start + self.media.clip_max_seconds)
        item = self.catalog.get(question.item_id)
        text = without_masked(question.text)  # a clip is public for good: no masked numbers
        clip = Clip(
            id=clip_id, session_id=question.session_id, question_id=question.id,
            title=title_from(text) or "观众提问解答", question=text, reply=question.reply,
            category=question.category, item_id=question.item_id,
            service_link=question.service_link or (item.link if item else ""),
            start_at=start, end_at=end, cut_mode=self.media.clip_mode, generation=1,
            job_id=f"{clip_id}-g1", created_by="system", created_at=now, updated_at=now)
        try:
            async with self.store.transaction() as tx:  # the clip and its cut, or neither
                await tx.insert(clip)
                await self._insert_job(tx, clip)
                pending = await self._append(tx, clip)
        except Conflict:
            return await self.store.get(Clip, clip_id)
        self._wake_worker()
        self.eventlog.publish(pending)
        return clip

    async def create_manual(self, session_id: str, start_at: float, end_at: float, *,
                            actor: str, title: str = "") -> Clip:
        """A clip made by hand from a span of a session's recording."""
        session = await self.store.get(LiveSession, session_id)
        await self._check_span(session_id, start_at, end_at)
        now = self.clock()
        clip_id = new_id()
        clip = Clip(
            id=clip_id, session_id=session.id,
            title=clean_line(title, MAX_TITLE) or f"{session.title} 片段",
            start_at=start_at, end_at=end_at, cut_mode="accurate", generation=1,
            job_id=f"{clip_id}-g1", created_by=actor, created_at=now, updated_at=now)
        async with self.store.transaction() as tx:
            await tx.insert(clip)
            await self._audit(tx, actor, "clip.create", clip, None,
                              {"start_at": start_at, "end_at": end_at})
            await self._insert_job(tx, clip)
            pending = await self._append(tx, clip)
        self._wake_worker()
        self.eventlog.publish(pending)
        return clip

    async def reconcile(self) -> int:
        """Queue what is missing: clips waiting for a cut with no live job, and recently
        answered questions with no clip. Returns how many cuts were queued."""
        queued = 0
        for clip in await self.store.find(Clip, {"state": "pending"}):
            try:
                job = await self.store.get(Job, clip.job_id)
            except NotFound:
                job = None
            if job is None or job.state in ("done", "failed"):
                if job is not None:
                    await self.store.delete(Job, job.id)
                await self._queue_cut(clip)
                queued += 1
        since = self.clock() - RECONCILE_DAYS * 86400
        for question in await self.store.find(Question, {"state": "answered",
                                                         "answered_at__gte": since}):
            try:
                await self.store.get(Clip, f"a-{question.id}")
            except NotFound:
                if await self.answered(question) is not None:
                    queued += 1
        return queued

    async def _queue_cut(self, clip: Clip) -> None:
        await self._insert_job(self.store, clip)
        self._wake_worker()

    async def _insert_job(self, store: Store, clip: Clip) -> None:
        """The cut job of ``clip``'s generation, unless it is queued already (read first:
        inside a transaction a duplicate key would abort it)."""
        with contextlib.suppress(NotFound):
            await store.get(Job, clip.job_id)
            return
        job = Job(id=clip.job_id, kind=JOB_KIND,
                  payload={"clip_id": clip.id, "generation": clip.generation},
                  max_attempts=self.media.clip_max_attempts, run_after=self.clock(),
                  created_at=self.clock(), updated_at=self.clock())
        await store.insert(job)

    def _wake_worker(self) -> None:
        for wake in self.on_cut_queued:
            wake()

    async def _check_span(self, session_id: str, start_at: float, end_at: float) -> None:
        await clip_media.check_span(self.media_store, session_id, start_at, end_at,
                                    self.media.clip_max_seconds)

    async def recording_range(self, session_id: str) -> tuple[float, float] | None:
        """The first and last recorded moments of a session (wall clock), if any."""
        return await clip_media.recording_range(self.media_store, session_id)

    # --- the worker's side -------------------------------------------------------------

    async def cut_done(self, tx: Store, clip_id: str, generation: int,
                       changes: dict[str, Any]) -> tuple[Clip, Pending]:
        """In the worker's fenced transaction ``tx``: record a finished cut (files, duration,
        size) and its staff event, unless a newer cut was asked for (ClipError "superseded",
        raised before anything is written). After the commit: ``cut_landed``."""
        clip = await tx.get(Clip, clip_id)
        if clip.generation != generation or clip.state != "pending":
            raise ClipError("superseded")
        updated = await tx.update(
            Clip, clip_id, {**changes, "state": "draft", "error": ""},
            expected_version=clip.version, now=self.clock())
        return updated, await self._append(tx, updated)

    async def cut_failed(self, tx: Store, clip_id: str, generation: int, error: str, *,
                         final: bool) -> tuple[Clip, Pending] | None:
        """In the worker's fenced transaction ``tx``: a cut attempt failed; keep the error for
        the reviewer (``final``: no more tries). None when the clip is gone or has moved on
        (nothing written)."""
        try:
            clip = await tx.get(Clip, clip_id)
        except NotFound:
            return None
        if clip.generation != generation or clip.state != "pending":
            return None
        changes: dict[str, Any] = {"error": error[-4000:]}
        if final:
            changes["state"] = "failed"
        updated = await tx.update(Clip, clip_id, changes, expected_version=clip.version,
                                  now=self.clock())
        return updated, await self._append(tx, updated)

    async def cut_landed(self, clip: Clip, pending: Pending, *, dropped: bool) -> None:
        """After a cut's outcome committed: tell staff; ``dropped``: remove the files of other
        generations and attempts (the record names the ones that count)."""
        self.eventlog.publish(pending)
        if dropped:
            await clip_media.drop_old_files(self.media_store, clip)

    async def captions_for(self, clip: Clip) -> list[tuple[float, float, str]]:
        """The question and the lines the captioner typed during the clip's span."""
        return await clip_cues(self.store, clip)

    # --- review --------------------------------------------------------------------------

    async def get(self, clip_id: str) -> Clip:
        return await self.store.get(Clip, clip_id)

    async def listing(self, *, state: str | None = None, session_id: str | None = None,
                      limit: int = 200) -> list[Clip]:
        where: dict[str, Any] = {}
        if state:
            where["state"] = state
        if session_id:
            where["session_id"] = session_id
        return await self.store.find(Clip, where, order_by=["-created_at"], limit=limit)

    async def edit(self, clip_id: str, form: ClipEdit, *, expected_version: int,
                   actor: str) -> Clip:
        clip = await self._current(clip_id, expected_version)
        values = validate_edit(form, self.catalog)
        changed = {k: v for k, v in values.items() if getattr(clip, k) != v}
        if not changed:
            return clip
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, changed)
            await self._audit(tx, actor, "clip.edit", updated,
                              {k: getattr(clip, k) for k in changed}, changed)
            pending = await self._append(tx, updated)
        self.eventlog.publish(pending)
        if updated.state == "published":
            await self.library.index_clip(updated)
        return updated

    async def trim(self, clip_id: str, start_at: float, end_at: float, *,
                   expected_version: int, actor: str) -> Clip:
        """Cut the clip again, frame-accurately, from a new span."""
        clip = await self._current(clip_id, expected_version)
        if clip.state not in TRIMMABLE:
            raise ClipError("请先下架，再调整出入点；剪辑中的片段请稍候。")
        await self._check_span(clip.session_id, start_at, end_at)
        generation = clip.generation + 1
        changes = {"start_at": start_at, "end_at": end_at, "state": "pending",
                   "cut_mode": "accurate", "generation": generation, "error": "",
                   "job_id": f"{clip.id}-g{generation}"}
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, changes)
            await self._audit(tx, actor, "clip.trim", updated,
                              {"start_at": clip.start_at, "end_at": clip.end_at},
                              {"start_at": start_at, "end_at": end_at})
            await self._insert_job(tx, updated)
            pending = await self._append(tx, updated)
        self.eventlog.publish(pending)
        self._wake_worker()
        return updated

    async def retry(self, clip_id: str, *, expected_version: int, actor: str) -> Clip:
        clip = await self._current(clip_id, expected_version)
        if clip.state != "failed":
            raise ClipError("只有剪辑失败的片段可以重试。")
        generation = clip.generation + 1
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, {"state": "pending",
                                                    "generation": generation,
                                                    "job_id": f"{clip.id}-g{generation}"})
            await self._audit(tx, actor, "clip.retry", updated, None, None)
            await self._insert_job(tx, updated)
            pending = await self._append(tx, updated)
        self.eventlog.publish(pending)
        self._wake_worker()
        return updated

    async def publish_clip(self, clip_id: str, *, expected_version: int, actor: str) -> Clip:
        clip = await self._current(clip_id, expected_version)
        if clip.state not in ("draft", "unpublished"):
            raise ClipError("只有待审核或已下架的片段可以发布。")
        if not await clip_media.media_ready(self.media_store, clip):
            raise ClipError("片段文件不存在，请重新剪辑。")
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, {
                "state": "published", "published_at": clip.published_at or self.clock()})
            await self._audit(tx, actor, "clip.publish", updated, {"state": clip.state},
                              {"state": "published"})
            pending = await self._append(tx, updated)
        self.eventlog.publish(pending)
        await self.library.index_clip(updated)
        self._visibility(updated)
        return updated

    async def unpublish(self, clip_id: str, *, expected_version: int, actor: str) -> Clip:
        clip = await self._current(clip_id, expected_version)
        if clip.state != "published":
            raise ClipError("只有已发布的片段可以下架。")
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, {"state": "unpublished"})
            await self._audit(tx, actor, "clip.unpublish", updated, {"state": "published"},
                              {"state": "unpublished"})
            pending = await self._append(tx, updated)
        self.eventlog.publish(pending)
        await self.library.unindex(clip.id)
        self._visibility(updated)
        return updated

    async def delete(self, clip_id: str, *, expected_version: int, actor: str) -> None:
        clip = await self._current(clip_id, expected_version)
        if clip.state == "published":
            raise ClipError("已发布的片段请先下架再删除。")
        async with self.store.transaction() as tx:
            await tx.delete(Clip, clip.id)
            await tx.delete(Job, clip.job_id)
            await self._audit(tx, actor, "clip.delete", clip,
                              {"title": clip.title, "state": clip.state}, None)
            pending = await self.eventlog.append(tx, clip.session_id, [
                Event(STAFF, CLIP_REMOVED, {"id": clip.id})])
        await self.library.unindex(clip.id)
        await clip_media.delete_files(self.media_store, clip.id)
        self.eventlog.publish(pending)
        self._visibility(replace(clip, state="deleted"))

    async def _current(self, clip_id: str, expected_version: int) -> Clip:
        clip = await self.store.get(Clip, clip_id)
        if clip.version != expected_version:
            raise ClipConflict(clip)
        return clip

    async def _update(self, tx: Store, clip: Clip, changes: dict[str, Any]) -> Clip:
        """Change a clip in the review action's transaction (announced after its commit)."""
        try:
            return await tx.update(Clip, clip.id, changes, expected_version=clip.version,
                                   now=self.clock())
        except VersionConflict as exc:
            raise ClipConflict(exc.current) from None

    async def _audit(self, tx: Store, actor: str, action: str, clip: Clip,
                     before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        await self.audit(tx, actor, action, target("clip", clip.id),
                         session_id=clip.session_id, before=before, after=after)

    def _visibility(self, clip: Clip) -> None:
        for hook in self.on_visibility:
            hook(clip)

    async def _append(self, tx: Store, clip: Clip) -> Pending:
        """The clip's staff event, in the transaction that changes it."""
        return await self.eventlog.append(tx, clip.session_id,
                                          [Event(STAFF, CLIP, {"clip": clip_view(clip)})])
