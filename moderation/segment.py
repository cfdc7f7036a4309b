"""Chinese text analysis: word segmentation, the one editable word list (synonyms, typos,
homophones, stopwords; read by search here and by suggestions and duplicate detection through
``moderation.vocabulary``) and the analysis of a query into terms.

Clip texts and queries go through the same steps, so that both sides meet on the same tokens:

1. ``moderation.text.fold``: invisible characters dropped, NFKC (full-width → half-width),
   case folded, traditional → simplified, and anything that is not a letter or a digit
   becomes a space.
2. Segmentation with jieba's dictionary and algorithm (``rjieba``, the Rust port; the
   dictionary is compiled into the wheel, nothing is read or written at run time), without
   the HMM guesser, so that an unknown word falls apart into characters the same way in a
   clip and in a query. The dictionary is extended with the catalog's item names and keywords
   and every word of the word list, so "电瓶车上牌" and "年审" are words.
3. Stopwords (question words, particles, pronouns) are dropped.

A clip's text is cut in search mode (a long word also yields the dictionary words inside it:
"机动车检验" gives 机动车, 检验 and itself); a query is cut in precise mode, and each word
becomes a ``Term``: the word, its synonyms and, for a long word, its parts. Before cutting,
likely typos in the query are corrected (``Segmenter.correct``).

The word list is data: ``moderation/synonyms.toml``, read by ``load_word_list``, which
validates it and names the offending entry. ``Segmenter.signature`` changes whenever anything
that decides how a clip's text is cut changes (the fold, the catalog's terms, the word list's
words, the stopwords, the jieba build), so the search index knows to rebuild itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moderation.catalog import Catalog, read_data_file
from moderation.text import fold, fold_signature

if TYPE_CHECKING:
    import rjieba

ANALYZER_VERSION = 1  # bump when a change here alters the tokens of an indexed text
WORD_LIST_RESOURCE = "synonyms.toml"
MAX_TERMS = 10  # words of one query that are searched for; the rest are ignored
MAX_ALTERNATIVES = 12  # a word and its synonyms, at most
MAX_TYPO_WINDOW = 6  # longest stretch of characters checked as one possibly misspelt word

# ---------------------------------------------------------------------------------------------
# Characters


def is_han(ch: str) -> bool:
    """A CJK unified ideograph (basic block or extension A)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


# ---------------------------------------------------------------------------------------------
# The word list (moderation/synonyms.toml)


class WordListError(ValueError):
    """The word list cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class WordList:
    """The parsed word list, every word folded. See ``moderation/synonyms.toml``."""

    equivalent: tuple[tuple[str, ...], ...] = ()  # groups of interchangeable words
    expand: tuple[tuple[str, tuple[str, ...]], ...] = ()  # word -> words it also searches
    typos: tuple[tuple[str, str], ...] = ()  # misspelling -> correct spelling
    homophones: tuple[tuple[str, str], ...] = ()  # character -> characters typed for it
    stopwords: frozenset[str] = frozenset()

    def words(self) -> set[str]:
        """Every word that must be a dictionary word for the lists to work."""
        found: set[str] = set()
        for group in self.equivalent:
            found.update(group)
        for word, targets in self.expand:
            found.add(word)
            found.update(targets)
        found.update(correct for _, correct in self.typos)
        return found


_SECTIONS = ("equivalent", "expand", "typos", "homophones", "stopwords")


def load_word_list(path: Path | None = None) -> WordList:
    """Load and validate a word list; without a path, the one shipped with this package."""
    text, source = read_data_file("moderation", WORD_LIST_RESOURCE, path, "搜索词表", WordListError)
    return parse_word_list(text, source=source)


def parse_word_list(text: str, *, source: str = "<word list>") -> WordList:
    """Validate TOML text of the form documented in ``moderation/synonyms.toml``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WordListError(f"搜索词表 {source} 不是有效的 TOML：{exc}") from exc
    unknown = sorted(set(document) - set(_SECTIONS))
    if unknown:
        raise WordListError(f"搜索词表 {source} 含未知的部分：{', '.join(unknown)}")

    def table(name: str) -> dict[str, Any]:
        value = document.get(name, {})
        if not isinstance(value, dict):
            raise WordListError(f"搜索词表 {source} 的 [{name}] 必须是表")
        return value

    def word(value: Any, where: str) -> str:
        if not isinstance(value, str) or not fold(value):
            raise WordListError(f"搜索词表 {source} 的 {where} 必须是非空的词")
        return fold(value)

    def word_list(value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise WordListError(f"搜索词表 {source} 的 {where} 必须是非空的词列表")
        return tuple(dict.fromkeys(word(item, where) for item in value))

    groups: list[tuple[str, ...]] = []
    owner: dict[str, str] = {}
    for head, members in table("equivalent").items():
        where = f"[equivalent] {head!r}"
        group = tuple(dict.fromkeys((word(head, where), *word_list(members, where))))
        for member in group:
            if member in owner and owner[member] != group[0]:
                raise WordListError(
                    f"搜索词表 {source} 中 {member!r} 同时出现在同义词组"
                    f" {owner[member]!r} 和 {group[0]!r} 里"
                )
            owner[member] = group[0]
        groups.append(group)

    expand = tuple(
        (word(key, f"[expand] {key!r}"), word_list(targets, f"[expand] {key!r}"))
        for key, targets in table("expand").items()
    )
    typos = tuple(
        (word(key, f"[typos] {key!r}"), word(value, f"[typos] {key!r}"))
        for key, value in table("typos").items()
    )
    homophones: list[tuple[str, str]] = []
    for key, value in table("homophones").items():
        char = word(key, f"[homophones] {key!r}")
        if len(char) != 1:
            raise WordListError(f"搜索词表 {source} 的 [homophones] 的键 {key!r} 必须是一个字")
        typed = "".join(dict.fromkeys(ch for ch in word(value, f"[homophones] {key!r}")
                                      if ch != char and not ch.isspace()))
        homophones.append((char, typed))

    stop_table = table("stopwords")
    extra = sorted(set(stop_table) - {"words"})
    if extra:
        raise WordListError(f"搜索词表 {source} 的 [stopwords] 含未知的键：{', '.join(extra)}")
    stopwords = frozenset(word_list(stop_table.get("words", ["的"]), "[stopwords] words"))
    return WordList(tuple(groups), expand, typos, tuple(homophones), stopwords)


# ---------------------------------------------------------------------------------------------
# Query terms


@dataclass(frozen=True)
class Term:
    """One word of a query and everything that counts as finding it.

    ``alternatives`` are index tokens (the word first, then its synonyms; a synonym made of
    several tokens, separated by spaces, is searched as a phrase). A long word's ``parts``
    count as finding it too when all are found ("电瓶车上牌" in a clip that
    says "电动自行车……上牌"). A lone character is a weak term: it is not required, but it
    adds to the ranking of the clips that contain it.
    """

    text: str
    alternatives: tuple[str, ...]
    parts: tuple[Term, ...] = ()
    strong: bool = True
    domain: bool = False  # a catalog or word-list word: the query's topic, kept longest

    def words(self) -> Iterable[str]:
        """Every spelling that counts as a match, for highlighting."""
        for alternative in self.alternatives:
            yield alternative.replace(" ", "")
        for part in self.parts:
            yield from part.words()


@dataclass(frozen=True)
class AnalyzedQuery:
    text: str  # folded, typos corrected: what is searched for
    terms: tuple[Term, ...]
    corrections: tuple[tuple[str, str], ...] = ()  # (as typed, as searched)

    def highlight_words(self) -> tuple[str, ...]:
        """Every spelling of the query's words to mark in a result, longest first. Lone
        characters are not marked unless there is nothing else: "换" would light up inside
        every 换证 and 交换."""
        marked = [term for term in self.terms if term.strong] or self.terms
        words = {word for term in marked for word in term.words() if word}
        return tuple(sorted(words, key=lambda w: (-len(w), w)))


# ---------------------------------------------------------------------------------------------
# The segmenter

_NAME_SPLIT = re.compile(r"[（）()【】\[\]/／、，,]")


def catalog_terms(catalog: Catalog) -> list[str]:
    """The words the catalog contributes to the dictionary: item names (split at brackets
    and slashes: "机动车检验（年检）" gives 机动车检验 and 年检) and keywords."""
    terms: list[str] = []
    for item in catalog.items:
        terms.extend(part for part in _NAME_SPLIT.split(item.name) if part.strip())
        terms.extend(item.keywords)
    return terms


def _jieba_version() -> str:
    try:
        return metadata.version("rjieba")
    except metadata.PackageNotFoundError:  # pragma: no cover - a vendored build
        return "unknown"


class Segmenter:
    """Cuts texts into index tokens and queries into terms; immutable once built.

    Building one loads jieba's dictionary and adds the domain words (about 0.2 s, 30 MB), so
    an application builds it once and shares it. All methods only read, and may be
    called from several threads.
    """

    def __init__(self, words: WordList, domain_terms: Iterable[str] = ()) -> None:
        self.words = words
        self._stop = words.stopwords
        vocabulary = {fold(term) for term in domain_terms} | words.words()
        self._vocabulary = frozenset(
            term for term in vocabulary if len(term) >= 2 and " " not in term
        )
        # Imported here: importing rjieba builds its own default dictionary (0.1 s, 30 MB),
        # which only an application that searches should pay for.
        import rjieba

        self._jieba: rjieba.Jieba = rjieba.Jieba()
        for term in sorted(self._vocabulary):  # sorted: the same dictionary on every start
            self._jieba.add_word(term, None, None)

        groups = {member: group for group in words.equivalent for member in group}
        expansions = dict(words.expand)
        self._alternatives: dict[str, tuple[str, ...]] = {}
        for term in set(groups) | set(expansions):
            found = [term, *groups.get(term, ())]
            for target in expansions.get(term, ()):
                found += [target, *groups.get(target, ())]
            self._alternatives[term] = tuple(dict.fromkeys(found))[:MAX_ALTERNATIVES]

        self._forced = dict(words.typos)
        self._homophone_fixes = self._homophone_table(dict(words.homophones))
        self.signature = hashlib.sha256(
            json.dumps(
                [ANALYZER_VERSION, fold_signature(), _jieba_version(),
                 sorted(self._vocabulary), sorted(self._stop)],
                ensure_ascii=False,
            ).encode()
        ).hexdigest()[:16]

    @classmethod
    def for_catalog(cls, catalog: Catalog, words: WordList) -> Segmenter:
        return cls(words, catalog_terms(catalog))

    # --- clip texts ----------------------------------------------------------------------------

    def index_tokens(self, text: str) -> list[str]:
        """The tokens a clip's text is indexed under (search mode, stopwords dropped)."""
        return [
            token for token in self._jieba.cut_for_search(fold(text), False)
            if not token.isspace() and token not in self._stop
        ]

    def index_text(self, text: str) -> str:
        """``index_tokens`` joined by spaces: what the full-text table stores."""
        return " ".join(self.index_tokens(text))

    # --- queries -------------------------------------------------------------------------------

    def alternatives(self, word: str) -> tuple[str, ...]:
        """The word and its synonyms from the word list (the word itself first)."""
        return self._alternatives.get(word, (word,))

    def analyze(self, query: str) -> AnalyzedQuery:
        """Normalize, correct typos, cut, drop stopwords, and attach synonyms and parts.

        The caller limits the length of ``query``. A word jieba does not know falls apart
        into characters, each a weak term; they are not joined into a phrase, because a row
        of one-character words ("去哪提") is just as common in a question.
        """
        corrected, corrections = self.correct(fold(query))
        words = [
            token for token in self._jieba.cut(corrected, False)
            if not token.isspace() and token not in self._stop
        ]
        terms: list[Term] = []
        seen: set[str] = set()
        for word in words:
            if word in seen:
                continue
            seen.add(word)
            terms.append(Term(word, self.alternatives(word), self._parts(word),
                              strong=len(word) >= 2, domain=word in self._vocabulary))
        strong = [term for term in terms if term.strong][:MAX_TERMS]
        weak = [term for term in terms if not term.strong][: MAX_TERMS - len(strong)]
        kept = {id(term) for term in strong + weak}
        return AnalyzedQuery(
            corrected, tuple(term for term in terms if id(term) in kept), corrections
        )

    def _parts(self, word: str) -> tuple[Term, ...]:
        """A long word's dictionary words, chosen longest first without overlap; only when
        they cover at least two thirds of it ("电瓶车上牌" → 电瓶车 + 上牌, but "电瓶车" is not
        split into 电瓶 + 车)."""
        if len(word) < 3:
            return ()
        pieces = sorted(
            ((start, end, piece)
             for piece, start, end in self._jieba.tokenize(word, "search", False)
             if 2 <= end - start < len(word)),
            key=lambda p: (p[0] - p[1], p[0]),
        )
        chosen: list[tuple[int, int, str]] = []
        for start, end, piece in pieces:
            if all(end <= s or start >= e for s, e, _ in chosen):
                chosen.append((start, end, piece))
        covered = sum(end - start for start, end, _ in chosen)
        if len(chosen) < 2 or covered * 3 < len(word) * 2:
            return ()
        return tuple(
            Term(piece, self.alternatives(piece))
            for _, _, piece in sorted(chosen) if piece not in self._stop
        )

    # --- typos ---------------------------------------------------------------------------------

    def _homophone_table(self, homophones: dict[str, str]) -> dict[str, str]:
        """Misspelling → domain word, for every domain word with one character replaced by a
        character typed for it. A misspelling that is itself a word, or that could stand for
        two domain words, is left out."""
        found: dict[str, str | None] = {}
        for target in sorted(self._vocabulary):
            if len(target) > MAX_TYPO_WINDOW:
                continue
            for position, char in enumerate(target):
                for typed in homophones.get(char, ""):
                    variant = target[:position] + typed + target[position + 1 :]
                    if variant in self._vocabulary or self._jieba.has_word(variant):
                        continue
                    found[variant] = target if found.get(variant, target) == target else None
        return {variant: target for variant, target in found.items() if target is not None}

    def correct(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Fix likely typos in a folded query; return it and the ``(typed, fixed)`` pairs.

        Left to right, at each character the longest stretch of Chinese characters (up to
        ``MAX_TYPO_WINDOW``) that is a listed typo is replaced; one that is a word is kept
        as it is; one that is a homophone misspelling of a domain word is replaced when, in
        the corrected text, jieba keeps the domain word whole. That last check stops "还证"
        in "我还证明不了" from becoming 换证: cut in context, the 证 belongs to 证明.
        """
        out: list[str] = []
        fixes: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            run = position
            while run < len(text) and is_han(text[run]) and run - position < MAX_TYPO_WINDOW:
                run += 1
            step, fix = 1, None
            for size in range(run - position, 1, -1):
                window = text[position : position + size]
                if window in self._forced:
                    step, fix = size, self._forced[window]
                    break
                if window in self._vocabulary or self._jieba.has_word(window):
                    step = size
                    break
                target = self._homophone_fixes.get(window)
                if target and self._stays_whole("".join(out), target, text[position + size :]):
                    step, fix = size, target
                    break
            typed = text[position : position + step]
            out.append(typed if fix is None else fix)
            if fix is not None:
                fixes.append((typed, fix))
            position += step
        return "".join(out), tuple(fixes)

    def _stays_whole(self, before: str, word: str, after: str) -> bool:
        context = before[-MAX_TYPO_WINDOW:]
        start, end = len(context), len(context) + len(word)
        tokens = self._jieba.tokenize(context + word + after[:MAX_TYPO_WINDOW], "default", False)
        return any(s <= start and e >= end for _, s, e in tokens)
