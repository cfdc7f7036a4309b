"""The clip library: answer clips from answered questions, review, publish, search, views.

``ClipLibrary`` is the one place that changes a ``Clip`` record. It owns:

* **Drafts from answers.** ``answered(question)`` turns a question the host marked answered
  into a clip (id ``a-<question id>``, so a repeat is harmless) covering
  [on_air_at − pad_before, answered_at + pad_after], and queues its cut as a ``Job`` of kind
  ``clip`` that ``clips.worker`` runs. ``reconcile`` at start catches what a crash between
  the two writes, or between the answer and the clip, left behind.
* **Review.** Edit the text fields and the item, trim (a new frame-accurate cut of a new
  span), retry a failed cut, publish, unpublish, delete; clips made by hand from any span of
  a session's recording. Every action checks the version the reviewer saw, is audited, and is
  published to staff over the hub (and, for a published answer, to the session's viewers).
* **Files.** A clip's files are ``<media_dir>/clips/<clip id>/g<generation>.{mp4,jpg,vtt}``;
  the record keeps paths relative to the media directory. Each cut asked for bumps the
  generation, so a re-cut never overwrites files a browser may have cached.
* **The search index** (``clips.search``): rebuilt at start when it differs from the store,
  updated on publish, edit of a published clip, unpublish and delete; views are counted once
  per viewer, clip and day, and searches that find nothing are counted for the admins.

States: ``pending`` (its cut is queued or running) → ``draft`` → ``published`` ⇄
``unpublished``; ``failed`` when the cut gave up (retry puts it back to ``pending``). Trim is
offered on drafts, unpublished and failed clips: a published clip is unpublished first, so
the public never sees a clip change under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clips.captions import question_cues
from clips.search import SearchIndex, SearchResult
from clips.search_query import BadSearchRequest
from clips.search_schema import IndexedClip, fingerprint_of
from clips.timeline import NotRecorded, load_playlist
from live.events import CLIP, CLIP_REMOVED, STAFF, Event, Publish
from live.hls_recorder import session_playlist
from moderation.audit import Audit, target
from moderation.catalog import Catalog
from moderation.pii import without_masked
from moderation.segment import Segmenter, WordList
from moderation.text import fold
from settings import MediaSettings
from store.base import Conflict, NotFound, Store, VersionConflict
from store.records import Broadcast, Clip, ClipView, Job, Question, SearchMiss, new_id

log = logging.getLogger(__name__)

JOB_KIND = "clip"
MAX_TITLE = 60
MAX_SUMMARY = 1000
MAX_LINK = 500
MIN_CLIP_SECONDS = 1.0
SPAN_SLACK = 0.5  # seconds a hand-given span may reach past the recording's ends
STATE_LABELS = {
    "pending": "剪辑中", "draft": "待审核", "published": "已发布", "failed": "剪辑失败",
    "unpublished": "已下架",
}
TRIMMABLE = ("draft", "unpublished", "failed")
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
RECONCILE_DAYS = 3  # answered questions this recent get their missing clips at start



class ClipError(Exception):
    """A request about a clip that cannot be done; the message is for the user."""


class ClipConflict(ClipError):
    """The clip changed since the reviewer loaded it."""

    def __init__(self, current: Clip) -> None:
        super().__init__("这个片段刚被别人修改过，页面已更新，请确认后再操作。")
        self.current = current


@dataclass(frozen=True)
class ClipEdit:
    title: str
    summary: str = ""
    category: str = ""
    item_id: str = ""
    service_link: str = ""


def clip_view(clip: Clip) -> dict[str, Any]:
    """What staff pages and events show of a clip."""
    return {
        "id": clip.id, "session_id": clip.session_id, "question_id": clip.question_id,
        "state": clip.state, "state_label": STATE_LABELS.get(clip.state, clip.state),
        "title": clip.title, "duration": round(clip.duration, 2), "error": clip.error,
        "generation": clip.generation, "version": clip.version, "updated_at": clip.updated_at,
    }


def media_url(relative: str) -> str:
    return f"/media/{relative}" if relative else ""


def viewing_day(at: float) -> str:
    """The day a view counts in (Beijing time): a viewer counts once per clip per day."""
    return dt.datetime.fromtimestamp(at, CHINA_TZ).strftime("%Y%m%d")


def miss_id(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:32]


class ClipLibrary:
    def __init__(
        self, store: Store, publish: Publish, catalog: Catalog, words: WordList, *,
        media_dir: Path, media: MediaSettings, index_path: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.publish = publish
        self.media_dir = Path(media_dir)
        self.media = media
        self.index_path = Path(index_path)
        self.clock = clock
        self.audit = Audit(clock)
        self.catalog = catalog
        self.words = words
        self.index = SearchIndex(self.index_path, Segmenter.for_catalog(catalog, words), catalog)
        self.on_cut_queued: list[Callable[[], None]] = []  # wakes the worker
        # Told when a clip is published or leaves the library (unpublished, deleted): the
        # moderation service links answered questions to their clips for the viewers.
        self.on_visibility: list[Callable[[Clip], None]] = []
        self._vocabulary_lock = asyncio.Lock()

    # --- lifetime ------------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self.index.open)
        await self.sync_index()

    async def close(self) -> None:
        await asyncio.to_thread(self.index.close)

    async def store_fingerprint(self) -> str:
        count = await self.store.count(Clip, {"state": "published"})
        latest = await self.store.find(Clip, {"state": "published"}, order_by=["-updated_at"],
                                       limit=1)
        return fingerprint_of(count, latest[0].updated_at if latest else 0.0)

    async def sync_index(self, *, force: bool = False) -> int | None:
        """Rebuild the index from the store when it is missing, stale or built with another
        vocabulary; returns how many clips it holds after a rebuild, None if none was due."""
        fingerprint = await self.store_fingerprint()
        if not force and not await asyncio.to_thread(self.index.needs_rebuild, fingerprint):
            return None
        published = await self.store.find(Clip, {"state": "published"})
        docs = [self._indexed(c) for c in published]
        count = await asyncio.to_thread(self.index.rebuild, docs)
        log.info("search index rebuilt: %d published clips", count)
        return count

    async def set_vocabulary(self, catalog: Catalog, words: WordList) -> None:
        """Use an edited catalog or word list: a new analyzer, so the index is rebuilt (one
        change at a time; the rebuild writes a new file, searches go on meanwhile)."""
        async with self._vocabulary_lock:
            old = self.index
            self.catalog, self.words = catalog, words
            index = SearchIndex(self.index_path, Segmenter.for_catalog(catalog, words), catalog)
            await asyncio.to_thread(index.open)
            self.index = index  # searches move to the new analyzer, then the old one closes
            await asyncio.to_thread(old.close)
            await self.sync_index()

    # --- paths ---------------------------------------------------------------------------

    def clip_dir(self, clip_id: str) -> Path:
        return self.media_dir / "clips" / clip_id

    def playlist(self, session_id: str) -> Path:
        return session_playlist(self.media_dir, session_id)

    def file(self, relative: str) -> Path | None:
        return self.media_dir / relative if relative else None

    # --- drafts --------------------------------------------------------------------------

    async def answered(self, question: Question) -> Clip | None:
        """The clip of an answered question, created (and its cut queued) if new."""
        if question.state != "answered" or not question.on_air_at or not question.answered_at:
            return None
        if not self.media.record and not await asyncio.to_thread(
                self.playlist(question.session_id).exists):
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
            title=_title_from(text) or "观众提问解答", question=text, reply=question.reply,
            category=question.category, item_id=question.item_id,
            service_link=question.service_link or (item.link if item else ""),
            start_at=start, end_at=end, cut_mode=self.media.clip_mode, generation=1,
            job_id=f"{clip_id}-g1", created_by="system", created_at=now, updated_at=now)
        try:
            async with self.store.transaction() as tx:  # the clip and its cut, or neither
                await tx.insert(clip)
                await self._insert_job(tx, clip)
        except Conflict:
            return await self.store.get(Clip, clip_id)
        self._wake_worker()
        self._emit(clip)
        return clip

    async def create_manual(self, session_id: str, start_at: float, end_at: float, *,
                            actor: str, title: str = "") -> Clip:
        """A clip made by hand from a span of a session's recording."""
        session = await self.store.get(Broadcast, session_id)
        await self._check_span(session_id, start_at, end_at)
        now = self.clock()
        clip_id = new_id()
        clip = Clip(
            id=clip_id, session_id=session.id,
            title=_clean_line(title, MAX_TITLE) or f"{session.title} 片段",
            start_at=start_at, end_at=end_at, cut_mode="accurate", generation=1,
            job_id=f"{clip_id}-g1", created_by=actor, created_at=now, updated_at=now)
        async with self.store.transaction() as tx:
            await tx.insert(clip)
            await self._audit(tx, actor, "clip.create", clip, None,
                              {"start_at": start_at, "end_at": end_at})
            await self._insert_job(tx, clip)
        self._wake_worker()
        self._emit(clip)
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
        if not (end_at - start_at >= MIN_CLIP_SECONDS):
            raise ClipError(f"片段至少 {MIN_CLIP_SECONDS:g} 秒，出点要晚于入点。")
        if end_at - start_at > self.media.clip_max_seconds:
            raise ClipError(f"片段最长 {self.media.clip_max_seconds} 秒。")
        try:
            timeline = await asyncio.to_thread(load_playlist, self.playlist(session_id))
            timeline.locate(start_at, end_at)
        except FileNotFoundError:
            raise ClipError("这场直播没有录像。") from None
        except NotRecorded:
            raise ClipError("所选时间段没有录像，请在录像范围内选择。") from None
        first, last = timeline.start, timeline.end
        if first is not None and last is not None and (
                start_at < first - SPAN_SLACK or end_at > last + SPAN_SLACK):
            raise ClipError(f"出入点超出录像范围：录像从 0 到 {last - first:.1f} 秒。")

    async def recording_range(self, session_id: str) -> tuple[float, float] | None:
        """The first and last recorded moments of a session (wall clock), if any."""
        try:
            timeline = await asyncio.to_thread(load_playlist, self.playlist(session_id))
        except (FileNotFoundError, ValueError):
            return None
        if timeline.start is None or timeline.end is None:
            return None
        return timeline.start, timeline.end

    # --- the worker's side -------------------------------------------------------------

    async def cut_done(self, clip_id: str, generation: int, changes: dict[str, Any]) -> Clip:
        """Record a finished cut (files, duration, size) unless a newer cut was asked for."""
        clip = await self.store.get(Clip, clip_id)
        if clip.generation != generation or clip.state != "pending":
            raise ClipError("superseded")
        updated = await self.store.update(
            Clip, clip_id, {**changes, "state": "draft", "error": ""},
            expected_version=clip.version, now=self.clock())
        self._emit(updated)
        await asyncio.to_thread(self._drop_old_files, updated)
        return updated

    async def cut_failed(self, clip_id: str, generation: int, error: str, *,
                         final: bool) -> Clip | None:
        """A cut attempt failed: keep the error for the reviewer; ``final``: no more tries."""
        try:
            clip = await self.store.get(Clip, clip_id)
        except NotFound:
            return None
        if clip.generation != generation or clip.state != "pending":
            return None
        changes: dict[str, Any] = {"error": error[-4000:]}
        if final:
            changes["state"] = "failed"
        with contextlib.suppress(VersionConflict):
            updated = await self.store.update(Clip, clip_id, changes,
                                              expected_version=clip.version, now=self.clock())
            self._emit(updated)
            return updated
        return None

    def _drop_old_files(self, clip: Clip) -> None:
        """Remove the files of earlier generations (best effort; they are never served)."""
        keep = {Path(p).name for p in (clip.media_path, clip.poster_path, clip.captions_path)}
        folder = self.clip_dir(clip.id)
        for path in folder.glob("g*"):
            if path.name not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()

    def captions_for(self, clip: Clip) -> list[tuple[float, float, str]]:
        duration = clip.end_at - clip.start_at
        if not clip.question and not clip.reply:
            return []
        return [(c.start, c.end, c.text)
                for c in question_cues(clip.question or clip.title, clip.reply, duration)]

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
        values = self._validate(form)
        changed = {k: v for k, v in values.items() if getattr(clip, k) != v}
        if not changed:
            return clip
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, changed)
            await self._audit(tx, actor, "clip.edit", updated,
                              {k: getattr(clip, k) for k in changed}, changed)
        self._emit(updated)
        if updated.state == "published":
            await self._index(updated)
        return updated

    def _validate(self, form: ClipEdit) -> dict[str, Any]:
        title = _clean_line(form.title, 10_000)
        if not title:
            raise ClipError("请填写标题。")
        if len(title) > MAX_TITLE:
            raise ClipError(f"标题最多 {MAX_TITLE} 字。")
        summary = form.summary.replace("\r\n", "\n").strip()
        if len(summary) > MAX_SUMMARY:
            raise ClipError(f"摘要最多 {MAX_SUMMARY} 字。")
        item = self.catalog.get(form.item_id) if form.item_id else None
        if form.item_id and item is None:
            raise ClipError("业务事项不存在。")
        category = item.category if item else form.category
        if category and category not in self.catalog.categories:
            raise ClipError("分类不存在。")
        link = form.service_link.strip()
        if len(link) > MAX_LINK:
            raise ClipError("办理链接过长。")
        if link and not link.startswith(("https://", "http://", "12123://", "zlb://",
                                         "window://")):
            raise ClipError("办理链接须以 https:// 开头（或使用目录中的办理入口）。")
        if not link and item is not None:
            link = item.link
        return {"title": title, "summary": summary, "category": category,
                "item_id": item.id if item else "", "service_link": link}

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
        self._emit(updated)
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
        self._emit(updated)
        self._wake_worker()
        return updated

    async def publish_clip(self, clip_id: str, *, expected_version: int, actor: str) -> Clip:
        clip = await self._current(clip_id, expected_version)
        if clip.state not in ("draft", "unpublished"):
            raise ClipError("只有待审核或已下架的片段可以发布。")
        media = self.file(clip.media_path)
        if media is None or not await asyncio.to_thread(media.exists):
            raise ClipError("片段文件不存在，请重新剪辑。")
        async with self.store.transaction() as tx:
            updated = await self._update(tx, clip, {
                "state": "published", "published_at": clip.published_at or self.clock()})
            await self._audit(tx, actor, "clip.publish", updated, {"state": clip.state},
                              {"state": "published"})
        self._emit(updated)
        await self._index(updated)
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
        self._emit(updated)
        await asyncio.to_thread(self.index.remove, clip.id)
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
        await asyncio.to_thread(self.index.remove, clip.id)
        await asyncio.to_thread(shutil.rmtree, self.clip_dir(clip.id), True)
        self.publish(clip.session_id, [Event(STAFF, CLIP_REMOVED, {"id": clip.id})])
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

    def _emit(self, clip: Clip) -> None:
        self.publish(clip.session_id, [Event(STAFF, CLIP, {"clip": clip_view(clip)})])

    # --- the public library --------------------------------------------------------------

    def _indexed(self, clip: Clip) -> IndexedClip:
        captions = " ".join(t for _, _, t in self.captions_for(clip))
        return IndexedClip.from_clip(clip, question=clip.question, captions=captions,
                                     item=self.catalog.get(clip.item_id))

    async def _index(self, clip: Clip) -> None:
        await asyncio.to_thread(self.index.upsert, self._indexed(clip))

    async def search(self, query: str = "", *, category: str | None = None,
                     item_id: str | None = None, sort: str = "relevance", page: int = 1,
                     per_page: int = 20) -> SearchResult:
        """A page of published clips; raises ``BadSearchRequest`` for bad parameters. A
        query that finds nothing is counted for the admins' list of missed searches."""
        result = await asyncio.to_thread(self.index.search, query, category=category,
                                         item_id=item_id, sort=sort, page=page,
                                         per_page=per_page)
        if result.total == 0 and result.terms and page == 1:
            await self._note_miss(result.query)
        return result

    async def _note_miss(self, query: str) -> None:
        text = fold(query)[:100]
        if not text:
            return
        now = self.clock()
        record_id = miss_id(text)
        try:
            await self.store.insert(SearchMiss(id=record_id, query=text, count=1,
                                               first_at=now, last_at=now))
        except Conflict:
            with contextlib.suppress(NotFound, VersionConflict):
                current = await self.store.get(SearchMiss, record_id)
                await self.store.update(SearchMiss, record_id,
                                        {"count": current.count + 1, "last_at": now},
                                        expected_version=current.version, now=now)

    async def misses(self, limit: int = 100) -> list[SearchMiss]:
        return await self.store.find(SearchMiss, None, order_by=["-count", "-last_at"],
                                     limit=limit)

    async def published(self, clip_id: str) -> Clip:
        """A published clip, or NotFound (drafts are not public)."""
        clip = await self.store.get(Clip, clip_id)
        if clip.state != "published":
            raise NotFound(f"clip {clip_id} is not published")
        return clip

    async def clips_by_ids(self, ids: Iterable[str]) -> dict[str, Clip]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        found = await self.store.find(Clip, {"id": wanted, "state": "published"})
        return {c.id: c for c in found}

    async def related(self, clip: Clip, limit: int = 4) -> list[Clip]:
        """Other published clips on the same business item (most watched first), then on
        the same subject by search."""
        ids: list[str] = []
        if clip.item_id:
            same = await self.search("", item_id=clip.item_id, sort="popular",
                                    per_page=limit + 1)
            ids += [h.clip_id for h in same.hits]
        if len([i for i in ids if i != clip.id]) < limit:
            with contextlib.suppress(BadSearchRequest):
                alike = await asyncio.to_thread(self.index.search, clip.title,
                                                per_page=limit + 1)
                ids += [h.clip_id for h in alike.hits]
        ids = [i for i in dict.fromkeys(ids) if i != clip.id][:limit]
        found = await self.clips_by_ids(ids)
        return [found[i] for i in ids if i in found]

    async def record_view(self, clip_id: str, viewer_id: str) -> bool:
        """Count a view of a published clip, once per viewer, clip and day."""
        now = self.clock()
        day = viewing_day(now)
        try:
            await self.store.insert(ClipView(id=f"{clip_id}:{viewer_id}:{day}", clip_id=clip_id,
                                             viewer_id=viewer_id, day=day, created_at=now))
        except Conflict:
            return False
        updated = await self.store.increment(Clip, clip_id, "views", 1, now=now)
        if updated.state == "published":
            await asyncio.to_thread(self.index.set_views, clip_id, updated.views,
                                    updated.updated_at)
        return True

    def with_item(self, clip: Clip) -> Clip:
        """The clip with its category filled from its item (for clips filed before an edit
        of the catalog moved the item)."""
        item = self.catalog.get(clip.item_id)
        return replace(clip, category=item.category) if item else clip


def _clean_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def _title_from(question: str) -> str:
    """A draft's title: the (masked) question, cut at a sentence end within the limit."""
    text = _clean_line(question, 10_000)
    if len(text) <= MAX_TITLE:
        return text
    cut = text[:MAX_TITLE]
    for mark in "？?。！!；;，,":
        at = cut.rfind(mark)
        if at >= MAX_TITLE // 2:
            return cut[: at + 1]
    return cut[: MAX_TITLE - 1] + "…"
