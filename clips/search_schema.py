"""What the search index holds: the document of one published clip (``IndexedClip``), the
fingerprint the index and the store compare, and the SQL schema of the index file
(``clips.search_index``).

Rowids of the clips follow publication time (``time_rowid``), so "newest first" is rowid
order, which FTS5 walks without sorting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from moderation.catalog import CatalogItem
from store.records import Clip

SCHEMA_VERSION = 1
APPLICATION_ID = 0x54505358  # "TPSX" in the SQLite header: this file is a Tip Pocket index


def fingerprint_of(count: int, latest_update: float) -> str:
    """How the store and the index describe their published clips, to compare them.

    Every change to a published clip bumps its ``updated_at`` past every earlier one, and a
    clip leaving the published set lowers the count unless another one enters, which again
    moves the latest ``updated_at``: equal fingerprints mean the same set of clip versions.
    """
    return f"{count}:{float(latest_update)!r}"


@dataclass(frozen=True)
class IndexedClip:
    """What the index keeps of one published clip."""

    clip_id: str
    title: str
    question: str = ""
    summary: str = ""
    captions: str = ""  # caption text, without timings
    keywords: tuple[str, ...] = ()  # the item's name and keywords, and the clip's tags
    category: str = ""
    item_id: str = ""
    published_at: float = 0.0
    updated_at: float = 0.0
    views: int = 0

    @classmethod
    def from_clip(
        cls, clip: Clip, *, question: str = "", captions: str = "",
        item: CatalogItem | None = None,
    ) -> IndexedClip:
        keywords = (item.name, *item.keywords) if item is not None else ()
        return cls(
            clip_id=clip.id, title=clip.title, question=question, summary=clip.summary,
            captions=captions, keywords=(*keywords, *clip.tags), category=clip.category,
            item_id=clip.item_id, published_at=clip.published_at, updated_at=clip.updated_at,
            views=clip.views,
        )


# ---------------------------------------------------------------------------------------------
# The index

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clips (
    id INTEGER PRIMARY KEY,  -- also the full-text rowid; follows publication time
    clip_id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    item_id TEXT NOT NULL,
    published_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    views INTEGER NOT NULL,
    title TEXT NOT NULL,
    question TEXT NOT NULL,
    summary TEXT NOT NULL,
    captions TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clips_by_category ON clips (category);
CREATE INDEX IF NOT EXISTS clips_by_item ON clips (item_id);
CREATE INDEX IF NOT EXISTS clips_by_views ON clips (views);
CREATE INDEX IF NOT EXISTS clips_by_category_views ON clips (category, views);
CREATE INDEX IF NOT EXISTS clips_by_item_views ON clips (item_id, views);
CREATE INDEX IF NOT EXISTS clips_by_update ON clips (updated_at);
CREATE VIRTUAL TABLE IF NOT EXISTS clip_text USING fts5 (
    title, question, summary, captions, keywords, facets,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS item_text USING fts5 (
    name, keywords, description, tokenize = 'unicode61 remove_diacritics 0'
);
"""

CLIP_COLUMNS = (
    "id, clip_id, category, item_id, published_at, views, title, question, summary, captions"
)


def time_rowid(published_at: float) -> int:
    """Rowids follow publication time in milliseconds, so "newest first" is rowid order,
    which FTS5 walks without sorting."""
    if not math.isfinite(published_at) or published_at <= 0:
        return 1
    return min(int(published_at * 1000), 2**62)
