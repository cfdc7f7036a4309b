"""The ingest filters every viewer question passes before it is stored: input cleaning and
length limits (``moderation.text``), blocked terms, personal-data masking
(``moderation.pii``), a duplicate hint against the session's open questions, and a suggested
catalog item for the moderator.

Everything here is pure: text and data in, a verdict out. ``screen`` runs the whole chain;
the live hub calls it and decides what to store and what to tell the viewer. Only
``normalize_text`` refuses a question (``TextRejected``); the other filters annotate it, and a
``hold`` or ``reject`` verdict is the moderator's and the hub's to act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from moderation.catalog import Catalog
from moderation.pii import mask_pii
from moderation.suggest import Suggestion, suggest_item
from moderation.text import TextRejected, fold, normalize_text
from moderation.vocabulary import Vocabulary, shipped_vocabulary
from settings import LiveSettings

# The chain's interface: ``screen`` cleans with ``normalize_text`` and raises ``TextRejected``.
__all__ = [
    "BlockedTerm", "Screened", "TextRejected", "Verdict", "find_duplicate", "match_terms",
    "normalize_text", "screen", "similarity", "terms_verdict",
]

Verdict = Literal["ok", "hold", "reject"]


# ---------------------------------------------------------------------------------------------
# Blocked terms


@dataclass(frozen=True)
class BlockedTerm:
    term: str
    action: Literal["hold", "reject"]


def match_terms(text: str, terms: Iterable[BlockedTerm]) -> list[BlockedTerm]:
    """The terms found in ``text``, each once, in the order given.

    Matching is on the folded text (``moderation.text.fold``: case, width and traditional
    characters do not matter), and anything that is not a letter or digit — spaces,
    punctuation, symbols, emoji — may be inserted between the characters of a term (``傻逼``
    matches ``傻 逼`` and ``傻*逼``). A term that starts or ends with an ASCII letter or digit
    only matches at an ASCII word edge, so ``sb`` does not match ``usb``.
    """
    folded = fold(text)
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
    chars = [ch for ch in fold(term) if ch.isalnum()]
    if not chars:
        return None
    body = _GAP.join(re.escape(ch) for ch in chars)
    head = r"(?<![a-z0-9])" if _is_ascii_alnum(chars[0]) else ""
    tail = r"(?![a-z0-9])" if _is_ascii_alnum(chars[-1]) else ""
    return re.compile(head + body + tail)


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


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
@dataclass(frozen=True)
class _DupTokens:
    tokens: dict[str, str]
    chars: frozenset[str]
    pattern: re.Pattern[str] | None


@lru_cache(maxsize=8)
def _dup_tokens(vocabulary: Vocabulary) -> _DupTokens:
    tokens = {term: chr(0xE000 + n) for n, term in enumerate(sorted(vocabulary.terms))}
    keys = sorted(tokens, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, keys))) if keys else None
    return _DupTokens(tokens, frozenset(tokens.values()), pattern)


@dataclass(frozen=True)
class _DupKey:
    text: str  # canonical, fillers removed, canonical terms as single characters
    bigrams: frozenset[str]
    terms: frozenset[str]


@lru_cache(maxsize=4096)  # open questions are compared again with every new question
def _dup_key(text: str, vocabulary: Vocabulary) -> _DupKey:
    table = _dup_tokens(vocabulary)
    key = vocabulary.canonical(text)
    if table.pattern is not None:
        key = table.pattern.sub(lambda m: table.tokens[m.group(0)], key)
    key = _FILLER_RE.sub("", key)
    grams = frozenset(key[i : i + 2] for i in range(len(key) - 1)) or frozenset(key[:1])
    terms = frozenset(ch for ch in key if ch in table.chars)
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


def similarity(a: str, b: str, vocabulary: Vocabulary | None = None) -> float:
    """How alike two questions are, in [0, 1]: 1.0 for the same question.

    Both texts are put in canonical form (``Vocabulary.canonical``: folded, letters and
    digits only, the word list's synonyms applied: "电瓶车" and "电动车" are one thing) and
    stripped of ``FILLERS``. The score is the Dice coefficient of their character bigrams —
    no word segmentation needed, robust to small rewordings — scaled by how well their
    catalog terms agree: ``(1 + t) / 2`` with ``t`` the Dice coefficient of the two sets of
    canonical terms (1 when neither has any). Bigrams alone rate "驾照丢了怎么补办" and
    "行驶证丢了怎么补办" 0.67 alike; with their terms (驾驶证 + 丢了 vs 行驶证 + 丢了) they
    score 0.5. A text with nothing left scores 0.
    """
    words = vocabulary or shipped_vocabulary()
    return _similarity(_dup_key(a, words), _dup_key(b, words))


def find_duplicate(
    text: str, candidates: Iterable[tuple[str, str]], threshold: float = 0.6,
    vocabulary: Vocabulary | None = None,
) -> tuple[str, float] | None:
    """The ``(id, score)`` of the candidate most similar to ``text``, if at least ``threshold``.

    Candidates are ``(id, text)`` pairs; on equal scores the first candidate wins.
    """
    words = vocabulary or shipped_vocabulary()
    key: _DupKey | None = None  # read on the first candidate: none, no reading
    best: tuple[str, float] | None = None
    for candidate_id, candidate_text in candidates:
        if key is None:
            key = _dup_key(text, words)
        score = _similarity(key, _dup_key(candidate_text, words))
        if score >= threshold and (best is None or score > best[1]):
            best = (candidate_id, score)
    return best


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
    min_len: int = LiveSettings.question_min_chars,
    max_len: int = LiveSettings.question_max_chars,
    duplicate_threshold: float = 0.6,
    today: date | None = None,
    vocabulary: Vocabulary | None = None,
    suggest: bool = True,
) -> Screened:
    """Normalize → mask personal data → blocked terms → duplicate hint → suggested item
    (the keyword suggester's, unless ``suggest`` is false: the understanding engine's hints
    then follow the ack, ``moderation.hints``).

    Blocked terms are matched on the normalized text *before* masking, so a term cannot
    hide behind a mask. Duplicates and the suggestion use the masked text, the one that
    will be stored. Both read the word list through ``vocabulary`` (the shipped one when
    not given). Raises ``TextRejected`` from ``normalize_text``.
    """
    text = normalize_text(raw, min_len=min_len, max_len=max_len)
    masked, pii = mask_pii(text, today=today)
    matches = match_terms(text, terms)
    duplicate = find_duplicate(masked, open_questions, duplicate_threshold, vocabulary)
    return Screened(
        text=masked,
        pii=pii,
        verdict=terms_verdict(matches),
        matched_terms=[term.term for term in matches],
        duplicate_of=duplicate[0] if duplicate else None,
        duplicate_score=duplicate[1] if duplicate else 0.0,
        suggestion=suggest_item(masked, catalog, vocabulary) if suggest else None,
    )
