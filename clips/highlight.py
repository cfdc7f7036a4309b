"""Highlighting a search's matches: the query's words found in a clip's original texts,
as segments to render (``match`` pieces in ``<mark>``), whole or as an excerpt.

Texts are searched in their folded form (``moderation.text.fold_with_offsets``, the same fold
the index and the query use), and the matches are mapped back to the original characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from moderation.text import fold_with_offsets

SNIPPET_CHARS = 80  # length of the captions excerpt around the first match


class Segment(NamedTuple):
    """A piece of a field's original text; ``match`` pieces are what the query found."""

    text: str
    match: bool


def match_spans(text: str, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """Where the pattern's words are in ``text``: sorted, merged ``(start, end)`` spans."""
    if pattern is None or not text:
        return []
    folded, offsets = fold_with_offsets(text)
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
