"""The clip library's search index file: a SQLite FTS5 file of its own, built and kept
current (``IndexFile``); searching it is ``clips.search``.

The index is its own file (``<data_dir>/search.sqlite3``), separate from the store, because
the store may be MongoDB and because it is derived data: it can always be thrown away and
rebuilt from the published clips. ``needs_rebuild`` compares the index with the store by a
fingerprint (how many published clips, and the latest ``updated_at`` among them) and with the
analyzer by its signature; the app rebuilds at start when either differs, and keeps the index
current with ``upsert``/``remove`` on every publish, edit and unpublish.

Texts are segmented by ``moderation.segment`` and stored as space-separated tokens, so FTS5's
``unicode61`` tokenizer only splits at the spaces; the original texts are kept beside them
for highlighting. A small table of the catalog's items is kept too, for the suggestions
shown when nothing is found.

Thread-safety: one SQLite connection guarded by a lock, so an index may be called from
several threads (``asyncio.to_thread``); calls run one at a time. ``rebuild`` writes a new
file without holding the lock, so searches go on meanwhile, and replays the updates that
arrive during it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Self

from clips.search_query import SearchError, facet_token
from clips.search_schema import (
    APPLICATION_ID,
    SCHEMA,
    SCHEMA_VERSION,
    IndexedClip,
    fingerprint_of,
    time_rowid,
)
from moderation.catalog import Catalog
from moderation.segment import Segmenter


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


class IndexFile:
    """The full-text index of published clips, in one SQLite file: its lifetime and its
    writes. ``clips.search.SearchIndex`` adds the searches."""

    def __init__(self, path: Path, segmenter: Segmenter, catalog: Catalog) -> None:
        self.path = Path(path)
        self.segmenter = segmenter
        self.catalog = catalog
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

    def __enter__(self) -> Self:
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
        conn.executescript(SCHEMA)
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

    def count(self) -> int:
        with self._lock:
            return int(self._require().execute("SELECT count(*) FROM clips").fetchone()[0])

    def clip_ids(self) -> set[str]:
        """The ids of the clips in the index (``clips.search_sync`` compares them)."""
        with self._lock:
            return {r[0] for r in self._require().execute("SELECT clip_id FROM clips")}

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
            with transaction(conn):
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
            rowid = time_rowid(doc.published_at)
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
            with transaction(conn):
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
            with transaction(conn):
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
                with transaction(conn):
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
                with transaction(conn):
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
                    with transaction(conn):
                        self._delete(conn, rowids.pop(doc.clip_id))
                rowid = time_rowid(doc.published_at)
                while rowid in used:
                    rowid += 1
                used[rowid] = doc.clip_id
                rowids[doc.clip_id] = rowid
                batch.append((doc, rowid, self._row(doc)))
                if len(batch) >= 500:
                    flush()
            flush()
            with transaction(conn):
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
        with transaction(conn):
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


class transaction:
    """BEGIN … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
