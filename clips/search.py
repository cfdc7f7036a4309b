"""The clip library's search index: a SQLite FTS5 file of its own, BM25 ranking over the
clip's fields, category and item filters, three sort orders, highlighted matches, and
suggestions when nothing is found.

The index is its own file (``<data_dir>/search.sqlite3``), separate from the store, because
the store may be MongoDB and because it is derived data: it can always be thrown away and
rebuilt from the published clips. ``needs_rebuild`` compares the index with the store by a
fingerprint (how many published clips, and the latest ``updated_at`` among them) and with the
analyzer by its signature; the app rebuilds at start when either differs, and keeps the index
current with ``upsert``/``remove`` on every publish, edit and unpublish.

Texts are segmented by ``moderation.segment`` and stored as space-separated tokens, so FTS5's
``unicode61`` tokenizer only splits at the spaces. The original texts are kept beside them, and
highlights are made by finding the query's words in the originals. User text never reaches the
FTS5 query language: every token is quoted here (see ``match_expression``).

Ranking is BM25 (FTS5's ``bm25()``) with per-field weights (``FieldWeights``; how they were
chosen is in ``docs/search.md``). A query first requires every word (each satisfied by any
of its synonyms, a long word also by its parts); if no clip has them all, words are dropped
— words outside the domain vocabulary first, common before rare — until clips are found, and
the result says it was relaxed (``strict_stages``, ``SearchIndex._relax``). To bound the
time of vague queries on a large library, BM25 ranks the newest ``rank_window`` matches;
matches beyond them follow, newest first.

Thread-safety: one SQLite connection guarded by a lock, so a ``SearchIndex`` may be called
from several threads (``asyncio.to_thread``); calls run one at a time. ``rebuild`` writes a
new file without holding the lock, so searches go on meanwhile, and replays the updates that
arrive during it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from moderation.catalog import Catalog, CatalogItem
from moderation.segment import AnalyzedQuery, Segmenter, Term
from store.records import Clip

SCHEMA_VERSION = 1
APPLICATION_ID = 0x54505358  # "TPSX" in the SQLite header: this file is a Tip Pocket index
MAX_QUERY_CHARS = 100  # longer queries are cut (after collapsing whitespace), not refused
MAX_FILTER_CHARS = 100  # a longer category or item id is a bad request
MAX_PER_PAGE = 100
MAX_PAGE = 10_000  # a larger page number is a bad request; pages past the end are empty
RANK_WINDOW = 2000  # BM25 ranks at most this many matches, the newest (half after stage 1)
RARITY_CAP = 2000  # how far a word's clips are counted when deciding which word to drop
POPULAR_SCAN_MIN = 1000  # from this many matches, "most watched" walks the views index
SNIPPET_CHARS = 80  # length of the captions excerpt around the first match
SUGGESTED_ITEMS = 3
SUGGESTED_CLIPS = 3  # most watched clips shown per suggested item
POPULAR_CLIPS = 5  # most watched clips shown when no item is close
SORTS = ("relevance", "newest", "popular")
FIELDS = ("title", "question", "summary", "captions", "keywords")


class SearchError(Exception):
    """Base of the search package's errors."""


class BadSearchRequest(SearchError, ValueError):
    """A parameter the web layer should answer with 400; the message says which."""


@dataclass(frozen=True)
class FieldWeights:
    """BM25 weight of each field (FTS5 multiplies a field's BM25 term by it)."""

    title: float = 4.0
    question: float = 2.0
    summary: float = 1.0
    captions: float = 0.5
    keywords: float = 0.5


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


class Segment(NamedTuple):
    """A piece of a field's original text; ``match`` pieces are what the query found."""

    text: str
    match: bool


@dataclass(frozen=True)
class Hit:
    clip_id: str
    score: float  # BM25, higher is better; 0 when sorted by newest or most watched
    title: str
    question: str
    summary: str
    category: str
    item_id: str
    published_at: float
    views: int
    # title, question and summary whole; captions as an excerpt around the first match
    # (empty when the captions do not match). Render ``match`` pieces in <mark>; escape all.
    highlights: Mapping[str, tuple[Segment, ...]]


@dataclass(frozen=True)
class ClipRef:
    clip_id: str
    title: str
    category: str
    item_id: str
    views: int


@dataclass(frozen=True)
class SuggestedItem:
    item_id: str
    category: str
    name: str
    clips: tuple[ClipRef, ...]  # its most watched clips


@dataclass(frozen=True)
class Suggestions:
    items: tuple[SuggestedItem, ...]  # the catalog items closest to the query
    popular: tuple[ClipRef, ...]  # most watched clips, when no item is close


@dataclass(frozen=True)
class SearchResult:
    query: str  # as searched: normalized, cut, typos corrected
    terms: tuple[str, ...]  # the query's words, stopwords removed
    corrections: tuple[tuple[str, str], ...]  # (as typed, as searched)
    truncated: bool  # the query was longer than MAX_QUERY_CHARS
    relaxed: bool  # no clip has every word; these have some
    total: int
    page: int
    per_page: int
    sort: str
    hits: tuple[Hit, ...]
    suggestions: Suggestions | None = None  # only when nothing was found

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


# ---------------------------------------------------------------------------------------------
# The FTS5 query language, built from tokens only


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def term_expression(term: Term) -> str:
    """``("驾照" OR "驾驶证" OR ...)``, with a long word's parts as ``("a" AND "b")``."""
    options = [_quote(alternative) for alternative in term.alternatives if alternative]
    if term.parts:
        parts = [term_expression(part) for part in term.parts]
        options.append(parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")")
    return options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")"


def match_expression(terms: Sequence[Term], *, require_all: bool) -> str:
    joiner = " AND " if require_all else " OR "
    return joiner.join(term_expression(term) for term in terms)


@dataclass(frozen=True)
class Stage:
    """One way of matching a query: ``core`` decides which clips match; ``extra`` (parts of
    long words, lone characters) only adds to their ranking."""

    core: str
    anchor: str = ""  # a required word, which every match of ``core`` contains
    extra: str = ""

    def ranking(self) -> str:
        """``core AND (anchor OR extra)``: the same matches as ``core`` (the anchor is in all
        of them), but FTS5's bm25 also scores whatever of ``extra`` a clip contains."""
        if not self.extra:
            return self.core
        return f"({self.core}) AND ({self.anchor} OR {self.extra})"


def _split(terms: Sequence[Term]) -> tuple[list[Term], str]:
    """The required terms (the words; lone characters only if there are no words) and the
    lone characters as an extra expression."""
    strong = [term for term in terms if term.strong]
    weak = [term for term in terms if not term.strong]
    characters = match_expression(weak, require_all=False) if strong and weak else ""
    return strong or weak, characters


def _anchor(required: Sequence[Term]) -> str:
    """The required word to repeat in a ranking expression. bm25 reads the whole list of
    clips of every phrase in the expression once per query: the word with the fewest
    spellings (and, among those, the longest: likely the rarest) costs least."""
    return term_expression(min(required, key=lambda t: (len(t.alternatives), -len(t.text))))


def strict_stages(terms: Sequence[Term]) -> list[Stage]:
    """Every word required, tried in turn: (1) as typed or as one of its synonyms, (2) a long
    word also as its parts ("电瓶车上牌" as 电动自行车 … 上牌). Lone characters are extra;
    in (1) so are the parts of long words."""
    required, characters = _split(terms)
    whole = [replace(term, parts=()) for term in required]
    parts = match_expression([part for term in required for part in term.parts],
                             require_all=False)
    anchor = _anchor(whole)
    first = Stage(match_expression(whole, require_all=True), anchor,
                  " OR ".join(filter(None, [parts, characters])))
    second = Stage(match_expression(required, require_all=True), anchor, characters)
    return [first] if second.core == first.core else [first, second]


def relaxed_stage(by_rarity: Sequence[Term], terms: Sequence[Term]) -> Stage:
    """The words in ``by_rarity`` required (rarest first), the query's other words and lone
    characters extra."""
    required, characters = _split(terms)
    dropped = match_expression([t for t in required if t not in by_rarity], require_all=False)
    return Stage(match_expression(by_rarity, require_all=True), _anchor(by_rarity),
                 " OR ".join(filter(None, [dropped, characters])))


def facet_token(kind: str, value: str) -> str:
    """A filter value as one token of the ``facets`` column: any string, hex-encoded."""
    return kind + value.encode("utf-8").hex()


# ---------------------------------------------------------------------------------------------
# Highlighting


# Full-width ASCII (and the ideographic space) to ASCII: what NFKC does to the characters that
# matter for finding a query's words, at a fraction of its cost, and one character for one.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _fold_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """The text folded like the query's words (full-width to ASCII, lower case) and, when
    folding changed its length, the position of the original character behind each folded
    one (``None``: the same positions)."""
    folded = text.translate(_FULL_WIDTH).lower()
    if len(folded) == len(text):
        return folded, None
    pieces: list[str] = []
    offsets: list[int] = []
    for position, char in enumerate(text):
        piece = unicodedata.normalize("NFKC", char).casefold()
        pieces.append(piece)
        offsets.extend([position] * len(piece))
    return "".join(pieces), offsets


def match_spans(text: str, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """Where the pattern's words are in ``text``: sorted, merged ``(start, end)`` spans."""
    if pattern is None or not text:
        return []
    folded, offsets = _fold_with_offsets(text)
    spans: list[tuple[int, int]] = []
    for found in pattern.finditer(folded):
        start, end = found.start(), found.end()
        if offsets is not None:
            start, end = offsets[start], offsets[end - 1] + 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _segments(text: str, spans: Sequence[tuple[int, int]], start: int, end: int) -> list[Segment]:
    out: list[Segment] = []
    position = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        if span_start > position:
            out.append(Segment(text[position:span_start], False))
        out.append(Segment(text[span_start:span_end], True))
        position = span_end
    if position < end:
        out.append(Segment(text[position:end], False))
    return out


def highlight(text: str, pattern: re.Pattern[str] | None) -> tuple[Segment, ...]:
    """The whole text as segments, the query's words marked."""
    return tuple(_segments(text, match_spans(text, pattern), 0, len(text)))


def excerpt(
    text: str, pattern: re.Pattern[str] | None, width: int = SNIPPET_CHARS
) -> tuple[Segment, ...]:
    """About ``width`` characters around the first match, with "…" where text was cut; empty
    when nothing matches."""
    spans = match_spans(text, pattern)
    if not spans:
        return ()
    start = max(0, spans[0][0] - width // 4)
    end = min(len(text), start + width)
    start = max(0, end - width)
    pieces = _segments(text, spans, start, end)
    if start > 0:
        pieces.insert(0, Segment("…", False))
    if end < len(text):
        pieces.append(Segment("…", False))
    return tuple(pieces)


def words_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({word for word in words if word}, key=lambda w: (-len(w), w))
    if not ordered:
        return None
    return re.compile("|".join(re.escape(word) for word in ordered))


# ---------------------------------------------------------------------------------------------
# The index

_SCHEMA = """
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

_CLIP_COLUMNS = (
    "id, clip_id, category, item_id, published_at, views, title, question, summary, captions"
)
_BM25 = "bm25(clip_text, ?, ?, ?, ?, ?, 0.0)"  # the facets column never scores


def _time_rowid(published_at: float) -> int:
    """Rowids follow publication time in milliseconds, so "newest first" is rowid order,
    which FTS5 walks without sorting."""
    if not math.isfinite(published_at) or published_at <= 0:
        return 1
    return min(int(published_at * 1000), 2**62)


@dataclass
class _Pending:
    """Updates that arrive while a rebuild runs, replayed onto the new file."""

    upserts: dict[str, IndexedClip] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    views: dict[str, tuple[int, float | None]] = field(default_factory=dict)

    def upsert(self, doc: IndexedClip) -> None:
        self.upserts[doc.clip_id] = doc
        self.removed.discard(doc.clip_id)

    def remove(self, clip_id: str) -> None:
        self.upserts.pop(clip_id, None)
        self.views.pop(clip_id, None)
        self.removed.add(clip_id)


class SearchIndex:
    """The full-text index of published clips, in one SQLite file."""

    def __init__(
        self,
        path: Path,
        segmenter: Segmenter,
        catalog: Catalog,
        *,
        weights: FieldWeights = FieldWeights(),
        rank_window: int = RANK_WINDOW,
    ) -> None:
        self.path = Path(path)
        self.segmenter = segmenter
        self.catalog = catalog
        self.weights = weights
        self.rank_window = rank_window
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pending: _Pending | None = None  # set while a rebuild runs

    # --- lifetime ----------------------------------------------------------------------------

    def open(self) -> None:
        """Open the file, creating it if missing; a file that is not a usable index (corrupt,
        another schema version) is replaced by an empty one, which ``needs_rebuild`` reports."""
        with self._lock:
            if self._conn is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = self._connect(self.path)
            except sqlite3.DatabaseError:
                self._discard(self.path)
                conn = self._connect(self.path)
            self._sync_items(conn)
            self._conn = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SearchIndex:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self, path: Path, *, bulk: bool = False) -> sqlite3.Connection:
        """A connection to a checked (or newly created) index file, tuned for its use."""
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._check(conn)  # before any setting below writes to the file
        except BaseException:
            conn.close()
            raise
        if bulk:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        """Create the schema in an empty file; refuse a file that is someone else's; raise
        ``DatabaseError`` for an unreadable file or an index of another schema version."""
        application = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if application != APPLICATION_ID:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise SearchError(f"{self.path} is not a search index; not touching it")
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        elif version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"search index schema {version}")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("SELECT count(*) FROM clip_text WHERE clip_text MATCH '\"x\"'").fetchone()

    @staticmethod
    def _discard(path: Path) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{path}{suffix}")

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SearchError("the search index is not open")
        return self._conn

    # --- state -------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """``fingerprint_of`` the clips in the index; compare with the store's."""
        with self._lock:
            count, latest = self._require().execute(
                "SELECT count(*), coalesce(max(updated_at), 0.0) FROM clips"
            ).fetchone()
        return fingerprint_of(int(count), float(latest))

    def needs_rebuild(self, store_fingerprint: str) -> bool:
        """True when the index differs from the store or was built by another analyzer
        (catalog terms, word list, jieba build)."""
        with self._lock:
            row = self._require().execute(
                "SELECT value FROM meta WHERE key = 'analyzer'"
            ).fetchone()
        analyzer = row[0] if row else None
        return analyzer != self.segmenter.signature or self.fingerprint() != store_fingerprint

    # --- writes ------------------------------------------------------------------------------

    def _row(self, doc: IndexedClip) -> tuple[str, ...]:
        """The full-text row: tokens of each field. Captions and keywords keep each token
        once: a transcript repeats its generic words (办理, 处理) and an item's keywords
        repeat its name (驾照…, 驾照…), which would only inflate the ranking and make every
        match slower to score."""
        tokens = self.segmenter.index_tokens
        facets = f"{facet_token('c', doc.category)} {facet_token('i', doc.item_id)}"
        return (
            " ".join(tokens(doc.title)), " ".join(tokens(doc.question)),
            " ".join(tokens(doc.summary)), " ".join(dict.fromkeys(tokens(doc.captions))),
            " ".join(dict.fromkeys(tokens(" ".join(doc.keywords)))), facets,
        )

    @staticmethod
    def _check_doc(doc: IndexedClip) -> None:
        if not isinstance(doc, IndexedClip) or not isinstance(doc.clip_id, str) or not doc.clip_id:
            raise ValueError("an IndexedClip with a clip_id is required")

    def upsert(self, doc: IndexedClip) -> None:
        """Add or replace one clip (on publish and on every edit of a published clip)."""
        self._check_doc(doc)
        row = self._row(doc)  # segmentation outside the lock
        with self._lock:
            conn = self._require()
            with _transaction(conn):
                self._write(conn, doc, row)
            if self._pending is not None:
                self._pending.upsert(doc)

    def _write(self, conn: sqlite3.Connection, doc: IndexedClip, row: tuple[str, ...]) -> None:
        found = conn.execute(
            "SELECT id, published_at FROM clips WHERE clip_id = ?", (doc.clip_id,)
        ).fetchone()
        if found is not None and found[1] == doc.published_at:
            rowid = int(found[0])
        else:
            if found is not None:
                self._delete(conn, int(found[0]))
            rowid = _time_rowid(doc.published_at)
            while conn.execute("SELECT 1 FROM clips WHERE id = ?", (rowid,)).fetchone():
                rowid += 1
        conn.execute("DELETE FROM clip_text WHERE rowid = ?", (rowid,))
        conn.execute(
            "INSERT INTO clip_text (rowid, title, question, summary, captions, keywords, facets)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (rowid, *row),
        )
        conn.execute(
            "INSERT OR REPLACE INTO clips (id, clip_id, category, item_id, published_at,"
            " updated_at, views, title, question, summary, captions)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rowid, doc.clip_id, doc.category, doc.item_id, doc.published_at, doc.updated_at,
             int(doc.views), doc.title, doc.question, doc.summary, doc.captions),
        )

    @staticmethod
    def _delete(conn: sqlite3.Connection, rowid: int) -> None:
        conn.execute("DELETE FROM clip_text WHERE rowid = ?", (rowid,))
        conn.execute("DELETE FROM clips WHERE id = ?", (rowid,))

    def remove(self, clip_id: str) -> bool:
        """Take a clip out (unpublished or deleted); False if it was not in the index."""
        with self._lock:
            conn = self._require()
            with _transaction(conn):
                found = conn.execute(
                    "SELECT id FROM clips WHERE clip_id = ?", (clip_id,)
                ).fetchone()
                if found is not None:
                    self._delete(conn, int(found[0]))
            if self._pending is not None:
                self._pending.remove(clip_id)
        return found is not None

    def set_views(self, clip_id: str, views: int, updated_at: float | None = None) -> None:
        """Record a clip's view count, for "most watched" (cheap: no text is touched).

        The store bumps a clip's ``updated_at`` when its views are counted; pass the new
        ``updated_at`` too, or the fingerprints differ and the next start rebuilds.
        """
        with self._lock:
            conn = self._require()
            with _transaction(conn):
                self._set_views(conn, clip_id, int(views), updated_at)
            if self._pending is not None:
                self._pending.views[clip_id] = (int(views), updated_at)

    @staticmethod
    def _set_views(
        conn: sqlite3.Connection, clip_id: str, views: int, updated_at: float | None
    ) -> None:
        if updated_at is None:
            conn.execute("UPDATE clips SET views = ? WHERE clip_id = ?", (views, clip_id))
        else:
            conn.execute("UPDATE clips SET views = ?, updated_at = ? WHERE clip_id = ?",
                         (views, float(updated_at), clip_id))

    def rebuild(self, docs: Iterable[IndexedClip]) -> int:
        """Replace the whole index with ``docs`` (every published clip); returns how many.

        The new index is written to a separate file and swapped in at the end, so searches
        keep using the old one meanwhile and a crash leaves the old one in place. Updates
        made during the rebuild are replayed onto the new file.
        """
        with self._lock:
            self._require()
            if self._pending is not None:
                raise SearchError("a rebuild is already running")
            self._pending = pending = _Pending()
        temporary = self.path.with_name(self.path.name + ".rebuild")
        try:
            self._build(temporary, docs)
            with self._lock:
                self._require().close()
                self._conn = None
                os.replace(temporary, self.path)
                self._conn = conn = self._connect(self.path)
                with _transaction(conn):
                    for clip_id in pending.removed:
                        found = conn.execute(
                            "SELECT id FROM clips WHERE clip_id = ?", (clip_id,)
                        ).fetchone()
                        if found is not None:
                            self._delete(conn, int(found[0]))
                    for doc in pending.upserts.values():
                        self._write(conn, doc, self._row(doc))
                    for clip_id, (views, updated_at) in pending.views.items():
                        self._set_views(conn, clip_id, views, updated_at)
                count = int(conn.execute("SELECT count(*) FROM clips").fetchone()[0])
        finally:
            with self._lock:
                self._pending = None
                if self._conn is None:  # the swap failed: reopen whatever is at the path
                    self._conn = self._connect(self.path)
            self._discard(temporary)
        return count

    def _build(self, path: Path, docs: Iterable[IndexedClip]) -> None:
        self._discard(path)
        conn = self._connect(path, bulk=True)
        try:
            self._sync_items(conn)
            used: dict[int, str] = {}
            rowids: dict[str, int] = {}
            batch: list[tuple[IndexedClip, int, tuple[str, ...]]] = []

            def flush() -> None:
                with _transaction(conn):
                    conn.executemany(
                        "INSERT INTO clip_text (rowid, title, question, summary, captions,"
                        " keywords, facets) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(rowid, *row) for _, rowid, row in batch],
                    )
                    conn.executemany(
                        "INSERT INTO clips (id, clip_id, category, item_id, published_at,"
                        " updated_at, views, title, question, summary, captions)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(rowid, d.clip_id, d.category, d.item_id, d.published_at,
                          d.updated_at, int(d.views), d.title, d.question, d.summary,
                          d.captions) for d, rowid, _ in batch],
                    )
                batch.clear()

            for doc in docs:
                self._check_doc(doc)
                if doc.clip_id in rowids:  # the same clip twice: the later one wins
                    flush()
                    with _transaction(conn):
                        self._delete(conn, rowids.pop(doc.clip_id))
                rowid = _time_rowid(doc.published_at)
                while rowid in used:
                    rowid += 1
                used[rowid] = doc.clip_id
                rowids[doc.clip_id] = rowid
                batch.append((doc, rowid, self._row(doc)))
                if len(batch) >= 500:
                    flush()
            flush()
            with _transaction(conn):
                conn.execute("INSERT INTO clip_text (clip_text) VALUES ('optimize')")
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('analyzer', ?),"
                    " ('built_at', ?)", (self.segmenter.signature, repr(time.time())),
                )
        finally:
            conn.close()
        with open(path, "rb+") as built:  # on disk before it replaces the old file
            os.fsync(built.fileno())

    def _sync_items(self, conn: sqlite3.Connection) -> None:
        """(Re)build the small table of catalog items that suggestions are drawn from."""
        signature = hashlib.sha256(
            json.dumps(
                [self.segmenter.signature, [astuple(item) for item in self.catalog.items]],
                ensure_ascii=False,
            ).encode()
        ).hexdigest()[:16]
        row = conn.execute("SELECT value FROM meta WHERE key = 'items'").fetchone()
        if row is not None and row[0] == signature:
            return
        tokens = self.segmenter.index_text
        with _transaction(conn):
            conn.execute("DELETE FROM items")
            conn.execute("DELETE FROM item_text")
            for position, item in enumerate(self.catalog.items, start=1):
                conn.execute(
                    "INSERT INTO items (id, item_id, category, name) VALUES (?, ?, ?, ?)",
                    (position, item.id, item.category, item.name),
                )
                conn.execute(
                    "INSERT INTO item_text (rowid, name, keywords, description)"
                    " VALUES (?, ?, ?, ?)",
                    (position, tokens(item.name), tokens(" ".join(item.keywords)),
                     tokens(item.description)),
                )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('items', ?)", (signature,)
            )

    # --- search ------------------------------------------------------------------------------

    def search(
        self,
        query: str = "",
        *,
        category: str | None = None,
        item_id: str | None = None,
        sort: str = "relevance",
        page: int = 1,
        per_page: int = 20,
    ) -> SearchResult:
        """One page of published clips matching ``query`` and the filters.

        An empty query (or one of punctuation and stopwords only) lists the clips under the
        filters, newest first unless sorted by views. Raises ``BadSearchRequest`` for a
        parameter out of its range (see the constants); a page past the last is empty.
        """
        query, category, item_id = _check_request(query, category, item_id, sort, page, per_page)
        collapsed = " ".join(query.split())
        truncated = len(collapsed) > MAX_QUERY_CHARS
        analyzed = self.segmenter.analyze(collapsed[:MAX_QUERY_CHARS])
        offset = (page - 1) * per_page

        with self._lock:
            conn = self._require()
            if analyzed.terms:
                total, relaxed, ranked = self._query(
                    conn, analyzed, category, item_id, sort, offset, per_page
                )
            else:
                relaxed = False
                total, ranked = self._browse(conn, category, item_id, sort, offset, per_page)
            rows = self._clip_rows(conn, [rowid for rowid, _ in ranked])
            suggestions = self._suggest(conn, analyzed, category) if total == 0 else None

        pattern = words_pattern(analyzed.highlight_words())
        hits = tuple(
            _hit(rows[rowid], score, pattern) for rowid, score in ranked if rowid in rows
        )
        return SearchResult(
            query=analyzed.text, terms=tuple(term.text for term in analyzed.terms),
            corrections=analyzed.corrections, truncated=truncated, relaxed=relaxed,
            total=total, page=page, per_page=per_page, sort=sort, hits=hits,
            suggestions=suggestions,
        )

    def _query(
        self, conn: sqlite3.Connection, analyzed: AnalyzedQuery, category: str | None,
        item_id: str | None, sort: str, offset: int, limit: int,
    ) -> tuple[int, bool, list[tuple[int, float]]]:
        facets = "".join(
            f" AND facets : {_quote(facet_token(kind, value))}"
            for kind, value in (("c", category), ("i", item_id)) if value
        )
        stages = strict_stages(analyzed.terms)
        chosen = next((stage for stage in stages if self._exists(conn, stage.core, facets)), None)
        relaxed = chosen is None  # no clip has every word
        # Past the first stage, the expression is wider and the ranking narrower.
        window = self.rank_window if chosen is stages[0] else self.rank_window // 2
        if chosen is None:
            chosen = self._relax(conn, analyzed.terms, facets)
            if chosen is None:
                return 0, False, []
        expression = f"({chosen.core}){facets}"
        total = int(conn.execute(
            "SELECT count(*) FROM clip_text WHERE clip_text MATCH ?", (expression,)
        ).fetchone()[0])
        if total <= offset:
            return total, relaxed, []
        if sort == "newest":
            rows = conn.execute(
                "SELECT rowid, 0.0 FROM clip_text WHERE clip_text MATCH ?"
                " ORDER BY rowid DESC LIMIT ? OFFSET ?", (expression, limit, offset),
            ).fetchall()
        elif sort == "popular" and total >= POPULAR_SCAN_MIN:
            # Many matches: walk the clips from the most watched down until the page is
            # full, instead of sorting every match.
            rows = conn.execute(
                "SELECT id, 0.0 FROM clips INDEXED BY clips_by_views WHERE id IN"
                " (SELECT rowid FROM clip_text WHERE clip_text MATCH ?)"
                " ORDER BY views DESC, id DESC LIMIT ? OFFSET ?", (expression, limit, offset),
            ).fetchall()
        elif sort == "popular":
            rows = conn.execute(
                "SELECT c.id, 0.0 FROM clip_text CROSS JOIN clips AS c ON c.id = clip_text.rowid"
                " WHERE clip_text MATCH ? ORDER BY c.views DESC, c.id DESC LIMIT ? OFFSET ?",
                (expression, limit, offset),
            ).fetchall()
        else:
            if chosen.extra and total <= window:
                # Every match is ranked: let the extras count. (With more matches than the
                # window, the extras' long lists of clips cost more than they help.)
                expression = f"({chosen.ranking()}){facets}"
            rows = self._ranked(conn, expression, total, window, offset, limit)
        return total, relaxed, [(int(rowid), float(score)) for rowid, score in rows]

    @staticmethod
    def _exists(conn: sqlite3.Connection, core: str, facets: str) -> bool:
        return conn.execute(
            "SELECT 1 FROM clip_text WHERE clip_text MATCH ? LIMIT 1", (f"({core}){facets}",)
        ).fetchone() is not None

    def _relax(
        self, conn: sqlite3.Connection, terms: Sequence[Term], facets: str
    ) -> Stage | None:
        """No clip has every word: drop words until clips are found. Words in no clip go at
        once; then words outside the domain vocabulary ("交给", "太久"), the most common first;
        then domain words, the most common first. The dropped words still rank
        (``relaxed_stage``).

        How common a word is, is counted up to ``RARITY_CAP`` clips: enough to tell a rare
        word from a common one, and cheap.
        """
        required, characters = _split(terms)
        counted = []
        for position, term in enumerate(required):
            found = conn.execute(
                "SELECT count(*) FROM (SELECT rowid FROM clip_text WHERE clip_text MATCH ?"
                " LIMIT ?)", (f"({term_expression(term)}){facets}", RARITY_CAP),
            ).fetchone()[0]
            if found:
                counted.append((found, position, term))
        by_rarity = [term for _, _, term in
                     sorted(counted, key=lambda c: (not c[2].domain, c[0], c[1]))]
        while by_rarity:
            stage = relaxed_stage(by_rarity, terms)
            if len(by_rarity) == 1 or self._exists(conn, stage.core, facets):
                return stage
            by_rarity.pop()
        if characters and self._exists(conn, characters, facets):
            return Stage(characters)
        return None

    def _ranked(
        self, conn: sqlite3.Connection, expression: str, total: int, window: int, offset: int,
        limit: int,
    ) -> list[tuple[int, float]]:
        """BM25 order over the newest ``window`` matches, then the rest newest first."""
        weights = astuple(self.weights)
        window = min(total, window)
        rows: list[tuple[int, float]] = []
        if offset < window:
            rows += conn.execute(
                f"SELECT id, -score FROM (SELECT rowid AS id, {_BM25} AS score"  # noqa: S608
                " FROM clip_text"
                " WHERE clip_text MATCH ? ORDER BY rowid DESC LIMIT ?)"
                " ORDER BY score, id DESC LIMIT ? OFFSET ?",
                (*weights, expression, window, min(limit, window - offset), offset),
            ).fetchall()
        if offset + limit > window and total > window:
            boundary = conn.execute(
                "SELECT rowid FROM clip_text WHERE clip_text MATCH ?"
                " ORDER BY rowid DESC LIMIT 1 OFFSET ?", (expression, window - 1),
            ).fetchone()[0]
            rows += conn.execute(
                f"SELECT rowid, -{_BM25} FROM clip_text"  # noqa: S608 - fixed text
                " WHERE clip_text MATCH ? AND rowid < ?"
                " ORDER BY rowid DESC LIMIT ? OFFSET ?",
                (*weights, expression, boundary, limit - len(rows), max(0, offset - window)),
            ).fetchall()
        return rows

    @staticmethod
    def _browse(
        conn: sqlite3.Connection, category: str | None, item_id: str | None, sort: str,
        offset: int, limit: int,
    ) -> tuple[int, list[tuple[int, float]]]:
        conditions = [(column, value) for column, value in
                      (("category", category), ("item_id", item_id)) if value]
        where = " AND ".join(f"{column} = ?" for column, _ in conditions) or "1"
        values = [value for _, value in conditions]
        order = "views DESC, id DESC" if sort == "popular" else "id DESC"
        total = int(conn.execute(
            f"SELECT count(*) FROM clips WHERE {where}", values  # noqa: S608 - fixed names
        ).fetchone()[0])
        rows = conn.execute(
            f"SELECT id, 0.0 FROM clips WHERE {where} ORDER BY {order}"  # noqa: S608
            " LIMIT ? OFFSET ?", (*values, limit, offset),
        ).fetchall()
        return total, [(int(rowid), 0.0) for rowid, _ in rows]

    @staticmethod
    def _clip_rows(
        conn: sqlite3.Connection, rowids: Sequence[int]
    ) -> dict[int, tuple[Any, ...]]:
        if not rowids:
            return {}
        marks = ", ".join("?" * len(rowids))
        found = conn.execute(
            f"SELECT {_CLIP_COLUMNS} FROM clips WHERE id IN ({marks})", list(rowids)  # noqa: S608
        ).fetchall()
        return {int(row[0]): tuple(row) for row in found}

    def _suggest(
        self, conn: sqlite3.Connection, analyzed: AnalyzedQuery, category: str | None
    ) -> Suggestions:
        """The catalog items closest to the query, with their most watched clips; when no
        item is close, the most watched clips (in the category, if one was chosen)."""
        items: list[SuggestedItem] = []
        if analyzed.terms:
            found = conn.execute(
                "SELECT i.item_id, i.category, i.name FROM item_text"
                " JOIN items AS i ON i.id = item_text.rowid WHERE item_text MATCH ?"
                " ORDER BY bm25(item_text, 3.0, 2.0, 1.0) LIMIT ?",
                (match_expression(analyzed.terms, require_all=False), SUGGESTED_ITEMS),
            ).fetchall()
            for found_id, found_category, name in found:
                clips = _refs(conn.execute(
                    "SELECT clip_id, title, category, item_id, views FROM clips"
                    " WHERE item_id = ? ORDER BY views DESC, id DESC LIMIT ?",
                    (found_id, SUGGESTED_CLIPS),
                ))
                items.append(SuggestedItem(found_id, found_category, name, clips))
        popular: tuple[ClipRef, ...] = ()
        if not items:
            where, values = ("WHERE category = ?", [category]) if category else ("", [])
            popular = _refs(conn.execute(
                "SELECT clip_id, title, category, item_id, views FROM clips"  # noqa: S608
                f" {where} ORDER BY views DESC, id DESC LIMIT ?",
                (*values, POPULAR_CLIPS),
            ))
        return Suggestions(tuple(items), popular)


class _transaction:
    """BEGIN … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _refs(rows: Iterable[Any]) -> tuple[ClipRef, ...]:
    return tuple(ClipRef(str(a), str(b), str(c), str(d), int(e)) for a, b, c, d, e in rows)


def _hit(row: tuple[Any, ...], score: float, pattern: re.Pattern[str] | None) -> Hit:
    _, clip_id, category, item_id, published_at, views, title, question, summary, captions = row
    title, question, summary, captions = str(title), str(question), str(summary), str(captions)
    return Hit(
        clip_id=str(clip_id), score=round(score, 4), title=title, question=question,
        summary=summary, category=str(category), item_id=str(item_id),
        published_at=float(published_at), views=int(views),
        highlights={
            "title": highlight(title, pattern),
            "question": highlight(question, pattern),
            "summary": highlight(summary, pattern),
            "captions": excerpt(captions, pattern),
        },
    )


def _check_request(
    query: object, category: object, item_id: object, sort: object, page: object,
    per_page: object,
) -> tuple[str, str | None, str | None]:
    if query is None:
        query = ""
    if not isinstance(query, str):
        raise BadSearchRequest("查询必须是文字")
    filters: list[str | None] = []
    for name, value in (("category", category), ("item", item_id)):
        if value is None or value == "":
            filters.append(None)
        elif not isinstance(value, str) or len(value) > MAX_FILTER_CHARS:
            raise BadSearchRequest(f"筛选条件 {name} 无效")
        else:
            filters.append(value)
    if sort not in SORTS:
        raise BadSearchRequest(f"排序方式只能是 {'、'.join(SORTS)}")
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise BadSearchRequest(f"页码必须是 1 到 {MAX_PAGE} 之间的整数")
    if (isinstance(per_page, bool) or not isinstance(per_page, int)
            or not 1 <= per_page <= MAX_PER_PAGE):
        raise BadSearchRequest(f"每页条数必须是 1 到 {MAX_PER_PAGE} 之间的整数")
    return query, filters[0], filters[1]
