"""BM25 over business items: each item is one document made of everything said about it (its
name, keywords, description, knowledge-base phrasings, labelled examples), as canonical words
plus their characters and character pairs, so that a partly matching word still counts.

Documents grow in place (``add``): a labelled example counts from the next question on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

K1 = 1.2
B = 0.75


def grams(words: Iterable[str]) -> list[str]:
    """A word, and for a longer word its character pairs and characters ("驾驶证" → 驾驶证,
    驾驶, 驶证, 驾, 驶, 证): partial matches score, whole ones score more."""
    out: list[str] = []
    for word in words:
        out.append(word)
        if len(word) > 2:
            out.extend(word[i : i + 2] for i in range(len(word) - 1))
        if len(word) > 1:
            out.extend(word)
    return out


class Bm25Index:
    """BM25 scores of a question's words against a fixed list of item documents."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        self.item_ids = tuple(item_ids)
        self._position = {item_id: n for n, item_id in enumerate(self.item_ids)}
        self._tf: list[Counter[str]] = [Counter() for _ in self.item_ids]
        self._length = [0] * len(self.item_ids)
        self._postings: dict[str, set[int]] = {}

    def add(self, item_id: str, words: Iterable[str]) -> None:
        position = self._position[item_id]
        found = grams(words)
        self._tf[position].update(found)
        self._length[position] += len(found)
        for gram in found:
            self._postings.setdefault(gram, set()).add(position)

    def scores(self, words: Iterable[str]) -> list[float]:
        """One BM25 score per item, in ``item_ids`` order (0 where nothing matches)."""
        count = len(self.item_ids)
        average = max(sum(self._length) / max(count, 1), 1.0)
        out = [0.0] * count
        for gram in set(grams(words)):
            holders = self._postings.get(gram)
            if not holders:
                continue
            df = len(holders)
            idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
            for position in holders:
                tf = self._tf[position][gram]
                norm = K1 * (1 - B + B * self._length[position] / average)
                out[position] += idf * tf * (K1 + 1) / (tf + norm)
        return out
