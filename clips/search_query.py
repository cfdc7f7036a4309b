"""Search requests and the FTS5 query language: checking a request's parameters, turning a
query's terms into match expressions, and relaxing a query that finds nothing.

User text never reaches the FTS5 query language: every token is quoted here
(``match_expression``). A query first requires every word (each satisfied by any of its
synonyms, a long word also by its parts: ``strict_stages``); if no clip has them all, words
are dropped — words outside the domain vocabulary first, common before rare — until clips
are found (``relax``), and the result says it was relaxed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from moderation.segment import Term

MAX_QUERY_CHARS = 100  # longer queries are cut (after collapsing whitespace), not refused
MAX_FILTER_CHARS = 100  # a longer category or item id is a bad request
MAX_PER_PAGE = 100
MAX_PAGE = 10_000  # a larger page number is a bad request; pages past the end are empty
RARITY_CAP = 2000  # how far a word's clips are counted when deciding which word to drop
SORTS = ("relevance", "newest", "popular")


class SearchError(Exception):
    """Base of the search package's errors."""


class BadSearchRequest(SearchError, ValueError):
    """A parameter the web layer should answer with 400; the message says which."""


# ---------------------------------------------------------------------------------------------
# The FTS5 query language, built from tokens only


def quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def term_expression(term: Term) -> str:
    """``("驾照" OR "驾驶证" OR ...)``, with a long word's parts as ``("a" AND "b")``."""
    options = [quote(alternative) for alternative in term.alternatives if alternative]
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


def relax(
    terms: Sequence[Term], count: Callable[[Term], int], exists: Callable[[str], bool]
) -> Stage | None:
    """No clip has every word: drop words until clips are found. ``count(term)`` says in
    how many clips a word is (up to ``RARITY_CAP``, enough to tell a rare word from a common
    one, and cheap), ``exists(core)`` whether any clip matches an expression.

    Words in no clip go at once; then words outside the domain vocabulary ("交给", "太久"),
    the most common first; then domain words, the most common first. The dropped words
    still rank (``relaxed_stage``).
    """
    required, characters = _split(terms)
    counted = []
    for position, term in enumerate(required):
        found = count(term)
        if found:
            counted.append((found, position, term))
    by_rarity = [term for _, _, term in
                 sorted(counted, key=lambda c: (not c[2].domain, c[0], c[1]))]
    while by_rarity:
        stage = relaxed_stage(by_rarity, terms)
        if len(by_rarity) == 1 or exists(stage.core):
            return stage
        by_rarity.pop()
    if characters and exists(characters):
        return Stage(characters)
    return None


def check_request(
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
