"""The suggested business item for a question: which catalog item it most likely concerns.

Pure: a question, the catalog and the word list in, a ``Suggestion`` (or nothing) out. Both
sides go through ``moderation.vocabulary`` first, so colloquial words meet the catalog's
terms; scores favour whole keywords, then split or partial matches, weighted by how rare a
phrase is in the catalog.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from moderation.catalog import Catalog
from moderation.text import squeeze
from moderation.vocabulary import Vocabulary, shipped_vocabulary

# ---------------------------------------------------------------------------------------------
# Suggested catalog item

# Characters that carry no topic. A partial match made only of them ("怎么", "我的") does not
# count, and they add no weight to a longer partial match.
_FUNCTION_CHARS = frozenset(
    "怎么样什如何可以需要我你您他她的了吗呢吧啊呀一下哪里为是不没有这那个还能多少请问好在就都和与被把给让会想得着"
)

WHOLE_WEIGHT = 1.0  # a keyword or name part found whole in the question
SPLIT_WEIGHT = 0.6  # both halves of one found apart or swapped ("密码忘记了" for "忘记密码")
PIECE_WEIGHT = 0.4  # a piece (2+ characters) of one found in the question
MIN_SCORE = 2.0  # below this, no suggestion


@dataclass(frozen=True)
class Suggestion:
    item_id: str
    category: str
    score: float
    matched: tuple[str, ...]  # the normalized phrases of the question that matched


def suggest_item(text: str, catalog: Catalog,
                 vocabulary: Vocabulary | None = None) -> Suggestion | None:
    """The catalog item a question is most likely about, or ``None``.

    The question and the catalog are put in the same canonical form
    (``Vocabulary.canonical``; without ``vocabulary``, the shipped word list's); a keyword
    also counts as written ("交罚款" besides its canonical 缴款). An item's
    *cues* are its keywords and its name, split at brackets (the bracketed part is mostly
    the colloquial name: "年检", "新车上牌"); a name part that is only ASCII ("C5") is left to the
    keywords. For each item, matches are collected:

    - a cue found whole scores ``len ** 1.5``, so longer matches count more than
      proportionally ("电瓶车上牌" tells far more than "上牌"); ``len`` counts the characters
      the citizen typed (``Vocabulary.canonical_typed``), not those of the catalog's word
      that replaced them, so "体检" weighs as two characters, not as 身体条件证明's six;
    - a cue whose two halves are both found, apart or swapped, scores ``SPLIT_WEIGHT`` of that
      (a 1-character half only next to the other, across function characters at most:
      "罚款怎么交" for "交罚款");
    - a piece of a cue (2+ characters) scores ``PIECE_WEIGHT * n ** 1.5``, where ``n`` counts
      its topic characters only ("怎么" counts nothing);

    each times an inverse document frequency in (0, 1] (``_SuggestIndex.idf``), so that a
    phrase shared by many items ("驾驶证") weighs little. Each character of the question is
    credited once per item, best match first. The best item wins if it reaches ``MIN_SCORE``;
    ties go to the item listed first in the catalog.
    """
    words = vocabulary or shipped_vocabulary()
    index = _suggest_index(catalog, words)
    query, typed = words.canonical_typed(text)
    if len(query) < 2:
        return None

    hits: dict[int, list[_Hit]] = {}  # item position -> candidate matches
    for start in range(len(query)):
        for end in range(min(len(query), start + index.longest), start + 1, -1):
            piece = query[start:end]
            holders = index.pieces.get(piece)
            if holders is None:
                continue
            for position, whole in holders.items():
                if whole:
                    length = sum(typed[start:end])  # as typed: see canonical_typed
                    weight = WHOLE_WEIGHT * length ** 1.5 * index.idf_whole[piece]
                else:
                    weight = PIECE_WEIGHT * _topical(piece) ** 1.5 * index.idf_any[piece]
                if weight > 0:
                    hits.setdefault(position, []).append(_Hit(start, end, weight))
    present = set(query)
    for position, cue, chars, factor in index.split:
        if not chars <= present:
            continue  # both halves found needs every character of the cue in the query
        for hit in _split_hits(query, cue, factor, typed):
            hits.setdefault(position, []).append(hit)

    best: tuple[float, int, list[_Hit]] | None = None
    for position in sorted(hits):
        score, chosen = _credit(hits[position])
        if best is None or score > best[0]:
            best = (score, position, chosen)
    if best is None or best[0] < MIN_SCORE:
        return None
    score, position, chosen = best
    item = catalog.items[position]
    return Suggestion(
        item_id=item.id,
        category=item.category,
        score=round(score, 2),
        matched=tuple(query[hit.start : hit.end] for hit in sorted(chosen)),
    )


@dataclass(frozen=True, order=True)
class _Hit:
    start: int
    end: int
    weight: float


def _topical(piece: str) -> int:
    if piece.isdigit() and len(piece) < 3:
        return 0  # "12" of "扣满12分" says nothing on its own
    return sum(1 for ch in piece if ch not in _FUNCTION_CHARS)


def _split_hits(query: str, cue: str, factor: float,
                typed: tuple[float, ...]) -> list[_Hit]:
    """Both halves of ``cue`` found apart or swapped in ``query``; the first such cut wins.

    Halves of 2+ characters may be anywhere; a 1-character half must be next to the other
    half, with only function characters between ("罚款怎么交" for "交罚款"), since a single
    character anywhere in a question proves nothing.
    """
    if len(cue) < 3 or cue in query:
        return []
    for cut in range(1, len(cue)):
        head, tail = cue[:cut], cue[cut:]
        at_head, at_tail = query.find(head), query.find(tail)
        if at_head < 0 or at_tail < 0:
            continue
        first, second = sorted([(at_head, at_head + cut), (at_tail, at_tail + len(tail))])
        if first[1] > second[0]:
            continue  # overlapping occurrences are not two halves
        gap = query[first[1] : second[0]]
        if min(cut, len(tail)) == 1 and any(ch not in _FUNCTION_CHARS for ch in gap):
            continue
        lengths = [sum(typed[start:end]) for start, end in (first, second)]
        weight = factor * sum(lengths) ** 1.5
        return [_Hit(start, end, weight * length / sum(lengths))
                for (start, end), length in zip((first, second), lengths, strict=True)]
    return []


def _credit(candidates: list[_Hit]) -> tuple[float, list[_Hit]]:
    """Choose non-overlapping matches, heaviest first; return their total and themselves."""
    chosen: list[_Hit] = []
    for hit in sorted(candidates, key=lambda h: (-h.weight, h.start)):
        if all(hit.end <= c.start or hit.start >= c.end for c in chosen):
            chosen.append(hit)
    return sum(hit.weight for hit in chosen), chosen


@dataclass(frozen=True)
class _SuggestIndex:
    cues: tuple[tuple[int, str], ...]  # (item position, cue)
    # every substring (2+ characters) of every cue -> {item position: is it a whole cue}
    pieces: dict[str, dict[int, bool]]
    longest: int
    item_count: int
    idf_whole: dict[str, float] = field(default_factory=dict)
    idf_any: dict[str, float] = field(default_factory=dict)
    split: tuple[tuple[int, str, frozenset[str], float], ...] = ()

    def idf(self, piece: str, *, whole: bool = False) -> float:
        """ln(1 + N/df) / ln(1 + N): 1.0 for a phrase of one item, near 0 for all items.

        ``df`` counts the items holding ``piece`` anywhere in a cue, or with ``whole`` only
        those holding it as a whole cue: "检验" is in the cues of many items but is a whole
        cue (年审, 年检 ...) of vehicle inspection alone.
        """
        holders = self.pieces.get(piece, {})
        df = sum(holders.values()) if whole else len(holders)
        return math.log(1 + self.item_count / max(df, 1)) / math.log(1 + self.item_count)


_NAME_SPLIT_RE = re.compile(r"[（）()【】\[\]]")


@lru_cache(maxsize=8)
def _suggest_index(catalog: Catalog, vocabulary: Vocabulary) -> _SuggestIndex:
    canonical = vocabulary.canonical
    cues: list[tuple[int, str]] = []
    pieces: dict[str, dict[int, bool]] = {}
    for position, item in enumerate(catalog.items):
        item_cues = {canonical(keyword) for keyword in item.keywords}
        # As written too: a cue rewritten by the word list ("交罚款" → 缴款) still counts
        # when its own words are typed apart ("罚款怎么交").
        item_cues.update(squeeze(keyword) for keyword in item.keywords)
        item_cues.update(
            canonical(part)
            for part in _NAME_SPLIT_RE.split(item.name)
            if not (part.isascii() and part.isalnum())
        )
        item_cues.discard("")
        for cue in sorted(item_cues):
            cues.append((position, cue))
            for start in range(len(cue) - 1):
                for end in range(start + 2, len(cue) + 1):
                    entry = pieces.setdefault(cue[start:end], {})
                    entry[position] = entry.get(position, False) or end - start == len(cue)
    longest = max((len(cue) for _, cue in cues), default=2)
    index = _SuggestIndex(tuple(cues), pieces, longest, max(len(catalog.items), 1))
    index.idf_whole.update({p: index.idf(p, whole=True) for p in pieces})
    index.idf_any.update({p: index.idf(p) for p in pieces})
    split = tuple((position, cue, frozenset(cue),
                   SPLIT_WEIGHT * index.idf(cue, whole=True))
                  for position, cue in cues if len(cue) >= 3)
    return dataclasses.replace(index, split=split)
