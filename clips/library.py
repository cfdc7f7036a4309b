"""The public clip library: searching the published clips, their pages and related clips,
views, and the searches that found nothing.

``ClipLibrary`` owns the search index (``clips.search``): it rebuilds it at start when it
differs from the store or was built with another vocabulary (``sync_index``), swaps in a new
analyzer when an admin edits the catalog or the word list (``set_vocabulary``), and is told
by the review lifecycle (``clips.review``) when a clip is published, edited while published,
unpublished or deleted (``index_clip``, ``unindex``). Views are counted once per viewer,
clip and day, and searches that find nothing are counted for the admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from clips.search import SearchIndex, SearchResult
from clips.search_query import BadSearchRequest
from clips.search_schema import IndexedClip, fingerprint_of
from clips.spoken import clip_cues
from moderation.catalog import Catalog
from moderation.pii import mask_pii, without_masked
from moderation.segment import Segmenter, WordList
from moderation.text import fold
from store.base import Conflict, NotFound, Store, VersionConflict
from store.records import Clip, ClipView, SearchMiss

log = logging.getLogger(__name__)

CHINA_TZ = ZoneInfo("Asia/Shanghai")  # the default of ``[server] time_zone``


def media_url(relative: str) -> str:
    return f"/media/{relative}" if relative else ""


def viewing_day(at: float, zone: dt.tzinfo) -> str:
    """The day a view counts in (the desk's time zone): a viewer counts once per clip per
    day."""
    return dt.datetime.fromtimestamp(at, zone).strftime("%Y%m%d")


def miss_id(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:32]


class ClipLibrary:
    def __init__(
        self, store: Store, catalog: Catalog, words: WordList, *, index_path: Path,
        clock: Callable[[], float] = time.time, zone: dt.tzinfo = CHINA_TZ,
    ) -> None:
        self.store = store
        self.zone = zone  # the desk's: the day a view counts in, times shown
        self.index_path = Path(index_path)
        self.clock = clock
        self.catalog = catalog
        self.words = words
        self.index = SearchIndex(self.index_path, Segmenter.for_catalog(catalog, words), catalog)
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
        docs = [await self._indexed(c) for c in published]
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
            index.understand = old.understand  # the understanding engine's hook stays
            await asyncio.to_thread(index.open)
            self.index = index  # searches move to the new analyzer, then the old one closes
            await asyncio.to_thread(old.close)
            await self.sync_index()

    # --- the public library --------------------------------------------------------------

    async def _indexed(self, clip: Clip) -> IndexedClip:
        # The question and the lines the captioner typed on air: the officer's words too.
        captions = " ".join(t for _, _, t in await clip_cues(self.store, clip))
        return IndexedClip.from_clip(clip, question=clip.question, captions=captions,
                                     item=self.catalog.get(clip.item_id))

    async def index_clip(self, clip: Clip) -> None:
        """Add or refresh a published clip in the search index."""
        await asyncio.to_thread(self.index.upsert, await self._indexed(clip))

    async def unindex(self, clip_id: str) -> None:
        """Take a clip out of the search index (unpublished or deleted)."""
        await asyncio.to_thread(self.index.remove, clip_id)

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
        # Citizens search for their own plate or phone number; a miss is kept to learn what
        # people look for, so the personal part is dropped before anything is written.
        text = fold(without_masked(mask_pii(query)[0]))[:100]
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
        day = viewing_day(now, self.zone)
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
