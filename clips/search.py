"""Searching the clip library: BM25 ranking over the clip's fields, category and item
filters, three sort orders, highlighted matches, and suggestions when nothing is found.

``SearchIndex`` is the index file (``clips.search_index.IndexFile``: its lifetime and
writes) with the searches added. A request is checked and its query turned into match
expressions by ``clips.search_query``; the hits are highlighted by ``clips.highlight``.

Ranking is BM25 (FTS5's ``bm25()``) with per-field weights (``FieldWeights``; how they were
chosen is in ``docs/search.md``). A query first requires every word; if no clip has them all,
it is relaxed (``clips.search_query.relax``). To bound the time of vague queries on a large
library, BM25 ranks the newest ``rank_window`` matches; matches beyond them follow, newest
first.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import Any

from clips.highlight import Segment, excerpt, highlight, words_pattern
from clips.search_index import IndexFile
from clips.search_query import (
    MAX_QUERY_CHARS,
    RARITY_CAP,
    Stage,
    check_request,
    facet_token,
    match_expression,
    quote,
    relax,
    strict_stages,
    term_expression,
)
from clips.search_schema import CLIP_COLUMNS
from clips.search_understood import Understand, merge, picks
from moderation.catalog import Catalog
from moderation.segment import AnalyzedQuery, Segmenter, Term

RANK_WINDOW = 2000  # BM25 ranks at most this many matches, the newest (half after stage 1)
POPULAR_SCAN_MIN = 1000  # from this many matches, "most watched" walks the views index
SUGGESTED_ITEMS = 3
SUGGESTED_CLIPS = 3  # most watched clips shown per suggested item
POPULAR_CLIPS = 5  # most watched clips shown when no item is close
_BM25 = "bm25(clip_text, ?, ?, ?, ?, ?, 0.0)"  # the facets column never scores


@dataclass(frozen=True)
class FieldWeights:
    """BM25 weight of each field (FTS5 multiplies a field's BM25 term by it)."""

    title: float = 4.0
    question: float = 2.0
    summary: float = 1.0
    captions: float = 0.5
    keywords: float = 0.5


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
    # The understanding engine recognised the query as another topic than traffic
    # administration: only clips with all its words are shown (none, usually); ``where``:
    # whom to ask instead.
    not_ours: bool = False
    where: str = ""

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


class SearchIndex(IndexFile):
    """The full-text index of published clips, and its searches."""

    def __init__(
        self,
        path: Path,
        segmenter: Segmenter,
        catalog: Catalog,
        *,
        weights: FieldWeights = FieldWeights(),
        rank_window: int = RANK_WINDOW,
    ) -> None:
        super().__init__(path, segmenter, catalog)
        self.weights = weights
        self.rank_window = rank_window
        # The understanding engine's reading of a query (``clips.search_understood``), set
        # by the app once the engine is ready; None: plain BM25.
        self.understand: Understand | None = None

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
        result = self._search(query, category, item_id, sort, page, per_page)
        understand = self.understand
        if understand is None or item_id or not result.terms:
            return result
        reading = understand(" ".join(query.split())[:MAX_QUERY_CHARS])
        if reading is None:
            return result
        if reading.outside is not None:  # another topic (公积金, the weather), on every page
            if result.relaxed:  # clips that only share a word with it
                result = replace(result, hits=(), total=0)
            return replace(result, suggestions=None, not_ours=True, where=reading.outside.where)
        if not reading.understood and result.relaxed and result.total:
            # Unsure of it, and no clip has all its words: a clip that shares one of them is
            # as likely unrelated. No results, and the closest items instead, on every page.
            return replace(result, hits=(), total=0, relaxed=False,
                           suggestions=self._closest(query, category))
        if not reading.understood or sort != "relevance" or page != 1:
            return result  # unsure ("办理流程"), some clip has all its words: the plain search
        found: list[Hit] = []
        for item_id, count in picks(reading, category, self.catalog):
            within = self._search(query, category, item_id, "relevance", 1, count)
            if not within.hits:
                within = self._search("", category, item_id, "popular", 1, count)
            found.extend(within.hits)
        if not found:
            return result
        plain = {hit.clip_id for hit in result.hits}
        added = sum(hit.clip_id not in plain for hit in found)
        return replace(result, hits=merge(found, result.hits, per_page),
                       total=result.total + added, suggestions=None)

    def _closest(self, query: str, category: str | None) -> Suggestions:
        """The suggestions a search that found nothing shows (``_suggest``)."""
        analyzed = self.segmenter.analyze(" ".join(query.split())[:MAX_QUERY_CHARS])
        with self._lock:
            return self._suggest(self._require(), analyzed, category)

    def _search(self, query: str, category: str | None, item_id: str | None, sort: str,
                page: int, per_page: int) -> SearchResult:
        query, category, item_id = check_request(query, category, item_id, sort, page, per_page)
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
            f" AND facets : {quote(facet_token(kind, value))}"
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
        def count(term: Term) -> int:
            return int(conn.execute(
                "SELECT count(*) FROM (SELECT rowid FROM clip_text WHERE clip_text MATCH ?"
                " LIMIT ?)", (f"({term_expression(term)}){facets}", RARITY_CAP),
            ).fetchone()[0])

        return relax(terms, count, lambda core: self._exists(conn, core, facets))

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
            f"SELECT {CLIP_COLUMNS} FROM clips WHERE id IN ({marks})", list(rowids)  # noqa: S608
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
