"""The daily review (每日复盘): what citizens asked in a period, grouped by category, business
item and paraphrase cluster, with outcomes, the change from the previous period of the same
length, and the clips that answered them.

The counting is the store's (``store.aggregates``); this module only groups what the store
returns. Paraphrase clusters join the most asked distinct texts (at most ``CLUSTER_TEXTS``,
so the work is bounded however busy the period) of one category and item whose character
bigrams overlap enough (Jaccard ≥ ``SIMILARITY``); the first, most asked text names the
cluster.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moderation.catalog import Catalog
from moderation.periods import Period
from store.aggregates import CubeCount, TextCount
from store.base import Store
from store.records import Clip

CLUSTER_TEXTS = 400
SIMILARITY = 0.5
OUTCOMES = ("asked", "answered", "replied", "declined", "open")


def bigrams(text: str) -> frozenset[str]:
    chars = "".join(ch for ch in text if ch.isalnum())
    if len(chars) < 2:
        return frozenset({chars}) if chars else frozenset()
    return frozenset(chars[i:i + 2] for i in range(len(chars) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class Cluster:
    text: str  # the most asked wording
    category: str
    item_id: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    variants: list[str] = field(default_factory=list)

    def add(self, count: TextCount) -> None:
        for name in OUTCOMES:
            self.counts[name] += getattr(count, name)
        if len(self.variants) < 5:
            self.variants.append(count.text)


def cluster_texts(counts: list[TextCount], threshold: float = SIMILARITY) -> list[Cluster]:
    """Greedy grouping, most asked first: a text joins the first cluster of its category
    and item whose leading text is similar enough, else starts its own."""
    clusters: list[tuple[frozenset[str], Cluster]] = []
    for count in counts:
        grams = bigrams(count.text)
        home = next((c for g, c in clusters
                     if c.category == count.category and c.item_id == count.item_id
                     and jaccard(g, grams) >= threshold), None)
        if home is None:
            home = Cluster(count.text, count.category, count.item_id)
            clusters.append((grams, home))
        home.add(count)
    return sorted((c for _, c in clusters), key=lambda c: (-c.counts["asked"], c.text))


COUNTED = (*OUTCOMES, "merged")
_COUNTS = operator.attrgetter(*COUNTED)  # a cell's counts as a tuple, in that order


def _add(cube: list[CubeCount], key: Callable[[CubeCount], str]) -> dict[str, dict[str, int]]:
    """The cube's counts summed by ``key``."""
    sums: dict[str, list[int]] = {}
    for cell in cube:
        values = _COUNTS(cell)
        row = sums.get(key(cell))
        if row is None:
            sums[key(cell)] = list(values)
        else:
            for n, value in enumerate(values):
                row[n] += value
    return {k: dict(zip(COUNTED, row, strict=True)) for k, row in sums.items()}


def _change(now: int, before: int) -> dict[str, Any]:
    return {"previous": before, "change": now - before,
            "change_pct": round((now - before) * 100 / before, 1) if before else None}


def _groups(current: list[CubeCount], previous: list[CubeCount],
            key: Callable[[CubeCount], str], name: Callable[[str], str]
            ) -> list[dict[str, Any]]:
    before = _add(previous, key)
    rows = [{"key": k, "name": name(k), **counts,
             **_change(counts["asked"], before.get(k, {}).get("asked", 0))}
            for k, counts in _add(current, key).items()]
    return sorted(rows, key=lambda r: (-r["asked"], r["key"]))


def _clip(clip: Clip) -> dict[str, Any]:
    return {"id": clip.id, "title": clip.title, "url": f"/clips/{clip.id}",
            "item_id": clip.item_id, "question_id": clip.question_id}


async def review(store: Store, catalog: Catalog, period: Period) -> dict[str, Any]:
    """The review of ``period``: totals, days, categories, items, clusters and clips."""
    window = period.window
    current, previous, texts, clips = await asyncio.gather(
        store.question_cube(window), store.question_cube(period.previous().window),
        store.text_counts(window, CLUSTER_TEXTS),
        store.find(Clip, {"state": "published", "created_at__gte": window.start,
                          "created_at__lt": window.end}, order_by=("-views",), limit=200))
    totals = _add(current, lambda _: "").get("", dict.fromkeys(COUNTED, 0))
    previous_asked = sum(cell.asked for cell in previous)

    def item_name(item_id: str) -> str:
        item = catalog.get(item_id)
        return item.name if item else (item_id or "未归类")

    clips_by_item: dict[str, list[dict[str, Any]]] = {}
    for clip in clips:
        clips_by_item.setdefault(clip.item_id, []).append(_clip(clip))
    by_day = _add(current, lambda cell: cell.day)
    zero = dict.fromkeys(COUNTED, 0)
    clusters = [{"text": c.text, "category": c.category or "未分类",
                 "item_id": c.item_id, "item_name": item_name(c.item_id),
                 "variants": c.variants, **c.counts,
                 "clips": clips_by_item.get(c.item_id, [])[:3] if c.item_id else []}
                for c in cluster_texts(texts)][:50]
    return {
        "period": {"from": period.first.isoformat(), "to": period.last.isoformat(),
                   "days": period.days},
        "previous": {"from": period.previous().first.isoformat(),
                     "to": period.previous().last.isoformat()},
        "totals": {**totals, **_change(totals["asked"], previous_asked)},
        "days": [{"day": day, **by_day.get(day, zero)} for day in period.day_keys()],
        "categories": _groups(current, previous, lambda cell: cell.category,
                              lambda k: k or "未分类"),
        "items": [{**row, "clips": clips_by_item.get(row["key"], [])[:5]}
                  for row in _groups(current, previous, lambda cell: cell.item_id,
                                     item_name)],
        "clusters": clusters,
    }
