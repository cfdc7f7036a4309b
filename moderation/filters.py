"""The ingest filters every viewer question passes before it is stored: text normalization and
length limits, blocked terms, personal-data masking (``moderation.pii``), a duplicate hint
against the session's open questions, and a suggested catalog item for the moderator.

Everything here is pure: text and data in, a verdict out. ``screen`` runs the whole chain;
the live hub calls it and decides what to store and what to tell the viewer. Only
``normalize_text`` refuses a question (``TextRejected``); the other filters annotate it, and a
``hold`` or ``reject`` verdict is the moderator's and the hub's to act on.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from moderation.catalog import Catalog
from moderation.pii import mask_pii

Verdict = Literal["ok", "hold", "reject"]
RejectCode = Literal["empty", "too_short", "too_long"]


def _fold(text: str) -> str:
    """Compatibility fold for matching: full-width → ASCII, case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


# ---------------------------------------------------------------------------------------------
# Normalization


class TextRejected(ValueError):
    """A question refused before it is stored; ``message`` is shown to the viewer."""

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code: RejectCode = code
        self.message = message


# Letters that render as blanks (Hangul fillers). They are not format characters, so the
# category test below would keep them, yet they are used to post "empty" questions.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def normalize_text(text: str, *, min_len: int = 1, max_len: int = 300) -> str:
    """NFC, control/format/zero-width characters removed, whitespace collapsed, trimmed.

    Line breaks, tabs and every other kind of whitespace (including the full-width space)
    become one ASCII space. Format characters include the zero-width space and joiners,
    the byte-order mark and bidirectional overrides (which can make text display in an
    order other than the stored one); removing the zero-width joiner splits a composed emoji
    into its parts, which is harmless. Length is counted in code points after trimming.
    """
    kept: list[str] = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif ch in _INVISIBLE or unicodedata.category(ch) in _DROPPED_CATEGORIES:
            continue
        else:
            kept.append(ch)
    # NFC after removal: a removed character may have stood between a letter and its accent.
    cleaned = " ".join(unicodedata.normalize("NFC", "".join(kept)).split())
    if not cleaned:
        raise TextRejected("empty", "问题不能为空。")
    if len(cleaned) < min_len:
        raise TextRejected("too_short", f"问题至少 {min_len} 字。")
    if len(cleaned) > max_len:
        raise TextRejected("too_long", f"问题最多 {max_len} 字。")
    return cleaned


# ---------------------------------------------------------------------------------------------
# Blocked terms


@dataclass(frozen=True)
class BlockedTerm:
    term: str
    action: Literal["hold", "reject"]


def match_terms(text: str, terms: Iterable[BlockedTerm]) -> list[BlockedTerm]:
    """The terms found in ``text``, each once, in the order given.

    Matching is case-insensitive after NFKC (so full-width letters match), and anything that
    is not a letter or digit — spaces, punctuation, symbols, emoji — may be inserted between
    the characters of a term (``傻逼`` matches ``傻 逼`` and ``傻*逼``). A term that starts or
    ends with an ASCII letter or digit only matches at an ASCII word edge, so ``sb`` does not
    match ``usb``.
    """
    folded = _fold(text)
    found: list[BlockedTerm] = []
    for term in terms:
        pattern = _term_pattern(term.term)
        if pattern is not None and term not in found and pattern.search(folded):
            found.append(term)
    return found


def terms_verdict(matches: Iterable[BlockedTerm]) -> Verdict:
    actions = {term.action for term in matches}
    if "reject" in actions:
        return "reject"
    if "hold" in actions:
        return "hold"
    return "ok"


_GAP = r"[\W_]*"  # any run of non-letters, non-digits


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str] | None:
    chars = [ch for ch in _fold(term) if ch.isalnum()]
    if not chars:
        return None
    body = _GAP.join(re.escape(ch) for ch in chars)
    head = r"(?<![a-z0-9])" if _is_ascii_alnum(chars[0]) else ""
    tail = r"(?![a-z0-9])" if _is_ascii_alnum(chars[-1]) else ""
    return re.compile(head + body + tail)


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# ---------------------------------------------------------------------------------------------
# Vocabulary shared by duplicate detection and the suggestion

# What citizens type → the catalog's terms. Applied, longest first and in one left-to-right
# pass, to the question *and* to every keyword and item name, so both sides speak the same
# vocabulary, and a citizen's "驾照丢了" meets the catalog's "驾驶证遗失" halfway. Rules
# must not hide inside each other's results ("年审" → "检验" is safe; a "车检" rule would turn
# "机动车检验" into "机动检验验"), so inspection synonyms that overlap common words stay out.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("驾照年审", "驾驶证审验"),
    ("驾驶证年审", "驾驶证审验"),
    ("照年审", "照审验"),
    ("驾驶照", "驾驶证"),
    ("驾照", "驾驶证"),
    ("驾驶本", "驾驶证"),
    ("行驶本", "行驶证"),
    ("小电驴", "电动自行车"),
    ("电驴", "电动自行车"),
    ("电瓶车", "电动自行车"),
    ("电动车", "电动自行车"),
    ("电单车", "电动自行车"),
    ("电摩", "电动摩托车"),
    ("年审", "检验"),
    ("年检", "检验"),
    ("验车", "检验"),
    ("审车", "检验"),
    ("违章", "交通违法"),
    ("车牌", "号牌"),
    ("牌照", "号牌"),
    ("牌子", "号牌"),  # in this domain "电瓶车牌子" is the plate, not the brand
    ("上户", "上牌"),
    ("丢失", "丢了"),
    ("遗失", "丢了"),
    ("掉了", "丢了"),
    ("扣分", "记分"),
    ("12分扣满", "扣满12分"),
    ("扣了12分", "扣满12分"),
    ("扣完12分", "扣满12分"),
)
_SYNONYM_MAP = dict(SYNONYMS)
_SYNONYM_RE = re.compile(
    "|".join(re.escape(word) for word in sorted(_SYNONYM_MAP, key=len, reverse=True))
)


def _canonical(text: str) -> str:
    """Folded, letters and digits only, in the catalog's words: the form questions are
    compared in."""
    letters = "".join(ch for ch in _fold(text) if ch.isalnum())
    return _SYNONYM_RE.sub(lambda m: _SYNONYM_MAP[m.group(0)], letters)


# ---------------------------------------------------------------------------------------------
# Duplicates

# Politeness and question words that say nothing about the topic; removed before comparing
# so that "请问驾照丢了怎么办" and "驾照丢了" compare as the same question, and so that two
# short questions sharing only "怎么" do not look alike ("科目二怎么预约", "科目三怎么预约").
FILLERS = (
    "我想问一下", "我想问问", "我想咨询", "想问一下", "请问一下", "咨询一下", "请教一下",
    "请问", "你好", "您好", "问一下", "怎么办", "怎么弄", "谢谢", "麻烦", "主播", "警官",
    "怎么", "如何", "什么", "我的", "一下",
    "吗", "呢", "了", "啊", "呀", "吧",
)  # fmt: skip
_FILLER_RE = re.compile("|".join(sorted(map(re.escape, FILLERS), key=len, reverse=True)))


# For duplicate detection each canonical term becomes one private-use character, so that it
# counts as one token: otherwise "驾驶证丢了" and "行驶证丢了" share the bigram "驶证" and look
# like the same question.
_DUP_TOKENS = {term: chr(0xE000 + n) for n, term in enumerate(sorted(set(_SYNONYM_MAP.values())))}
_DUP_TOKEN_CHARS = frozenset(_DUP_TOKENS.values())
_DUP_TOKEN_RE = re.compile(
    "|".join(re.escape(term) for term in sorted(_DUP_TOKENS, key=len, reverse=True))
)


@dataclass(frozen=True)
class _DupKey:
    text: str  # canonical, fillers removed, canonical terms as single characters
    bigrams: frozenset[str]
    terms: frozenset[str]


@lru_cache(maxsize=4096)  # open questions are compared again with every new question
def _dup_key(text: str) -> _DupKey:
    key = _DUP_TOKEN_RE.sub(lambda m: _DUP_TOKENS[m.group(0)], _canonical(text))
    key = _FILLER_RE.sub("", key)
    grams = frozenset(key[i : i + 2] for i in range(len(key) - 1)) or frozenset(key[:1])
    terms = frozenset(ch for ch in key if ch in _DUP_TOKEN_CHARS)
    return _DupKey(key, grams, terms)


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _similarity(a: _DupKey, b: _DupKey) -> float:
    if not a.text or not b.text:
        return 0.0
    if a.text == b.text:
        return 1.0
    terms = _dice(a.terms, b.terms) if a.terms or b.terms else 1.0
    return _dice(a.bigrams, b.bigrams) * (1 + terms) / 2


def similarity(a: str, b: str) -> float:
    """How alike two questions are, in [0, 1]: 1.0 for the same question.

    Both texts are put in canonical form (folded, letters and digits only, ``SYNONYMS``
    applied: "电瓶车" and "电动车" are one thing) and stripped of ``FILLERS``. The score is
    the Dice coefficient of their character bigrams — no word segmentation needed, robust to
    small rewordings — scaled by how well their catalog terms agree: ``(1 + t) / 2`` with
    ``t`` the Dice coefficient of the two sets of canonical terms (1 when neither has any).
    Bigrams alone rate "驾照丢了怎么补办" and "行驶证丢了怎么补办" 0.67 alike; with their terms
    (驾驶证 + 丢了 vs 行驶证 + 丢了) they score 0.5. A text with nothing left scores 0.
    """
    return _similarity(_dup_key(a), _dup_key(b))


def find_duplicate(
    text: str, candidates: Iterable[tuple[str, str]], threshold: float = 0.6
) -> tuple[str, float] | None:
    """The ``(id, score)`` of the candidate most similar to ``text``, if at least ``threshold``.

    Candidates are ``(id, text)`` pairs; on equal scores the first candidate wins.
    """
    key = _dup_key(text)
    best: tuple[str, float] | None = None
    for candidate_id, candidate_text in candidates:
        score = _similarity(key, _dup_key(candidate_text))
        if score >= threshold and (best is None or score > best[1]):
            best = (candidate_id, score)
    return best


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


def suggest_item(text: str, catalog: Catalog) -> Suggestion | None:
    """The catalog item a question is most likely about, or ``None``.

    The question and the catalog are normalized alike (fold, letters and digits only,
    ``SYNONYMS``). An item's *cues* are its keywords and its name, split at brackets (the
    bracketed part is mostly the colloquial name: "年检", "新车上牌"); a name part that is only
    ASCII ("C5") is left to the keywords. For each item, matches are collected:

    - a cue found whole scores ``len ** 1.5``, so longer matches count more than
      proportionally ("电瓶车上牌" tells far more than "上牌");
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
    index = _suggest_index(catalog)
    query = _canonical(text)
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
                    weight = WHOLE_WEIGHT * len(piece) ** 1.5 * index.idf(piece, whole=True)
                else:
                    weight = PIECE_WEIGHT * _topical(piece) ** 1.5 * index.idf(piece)
                if weight > 0:
                    hits.setdefault(position, []).append(_Hit(start, end, weight))
    for position, cue in index.cues:
        weight = SPLIT_WEIGHT * len(cue) ** 1.5 * index.idf(cue, whole=True)
        for hit in _split_hits(query, cue, weight):
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


def _split_hits(query: str, cue: str, weight: float) -> list[_Hit]:
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
        share = weight / len(cue)
        return [_Hit(start, end, share * (end - start)) for start, end in (first, second)]
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
def _suggest_index(catalog: Catalog) -> _SuggestIndex:
    cues: list[tuple[int, str]] = []
    pieces: dict[str, dict[int, bool]] = {}
    for position, item in enumerate(catalog.items):
        item_cues = {_canonical(keyword) for keyword in item.keywords}
        item_cues.update(
            _canonical(part)
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
    return _SuggestIndex(tuple(cues), pieces, longest, max(len(catalog.items), 1))


# ---------------------------------------------------------------------------------------------
# The whole chain


@dataclass(frozen=True)
class Screened:
    text: str  # normalized, personal data masked: what may be stored and shown
    pii: list[str]
    verdict: Verdict
    matched_terms: list[str]
    duplicate_of: str | None
    duplicate_score: float
    suggestion: Suggestion | None


def screen(
    raw: str,
    *,
    terms: Iterable[BlockedTerm],
    open_questions: Iterable[tuple[str, str]],
    catalog: Catalog,
    min_len: int = 1,
    max_len: int = 300,
    duplicate_threshold: float = 0.6,
    today: date | None = None,
) -> Screened:
    """Normalize → mask personal data → blocked terms → duplicate hint → suggested item.

    Blocked terms are matched on the normalized text *before* masking, so a term cannot
    hide behind a mask. Duplicates and the suggestion use the masked text, the one that
    will be stored. Raises ``TextRejected`` from ``normalize_text``.
    """
    text = normalize_text(raw, min_len=min_len, max_len=max_len)
    masked, pii = mask_pii(text, today=today)
    matches = match_terms(text, terms)
    duplicate = find_duplicate(masked, open_questions, duplicate_threshold)
    return Screened(
        text=masked,
        pii=pii,
        verdict=terms_verdict(matches),
        matched_terms=[term.term for term in matches],
        duplicate_of=duplicate[0] if duplicate else None,
        duplicate_score=duplicate[1] if duplicate else 0.0,
        suggestion=suggest_item(masked, catalog),
    )
