"""Self-service answers to a citizen's question (事事有回音): what ``/ask`` and
``GET /api/answers`` show.

The question is masked first (``moderation.pii``): nothing below sees, searches, logs or
stores the personal data in it. The understanding engine (``moderation.understander``) says
which items it is about; for each item the question asks about (its intents), the published
knowledge-base entries closest to the question, then the item's published clips closest to
it (the library's search within the item; its most watched when none matches). A question
that is not understood gets no answers (not random clips): the page offers to leave it for
the next broadcast instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clips.library import ClipLibrary
from clips.search import Hit
from moderation.catalog import CatalogItem
from moderation.knowledge import KnowledgeEntry
from moderation.pii import mask_pii
from moderation.text import fold
from moderation.understander import Understander

if TYPE_CHECKING:  # the engine's package loads scikit-learn: only where it is built
    from moderation.understanding.outside import OutsideTopic

MAX_ITEMS = 5
FAQ_PER_ITEM = 2
CLIPS_PER_ITEM = 3
MAX_QUESTION_CHARS = 300  # like a live question (settings [live] question_max_chars)


@dataclass(frozen=True)
class Answer:
    kind: str  # "faq" | "clip"
    id: str  # the knowledge-base entry's or the clip's
    title: str
    item_id: str
    text: str  # faq: the short answer; clip: the clip's summary
    entry: KnowledgeEntry | None = None


@dataclass(frozen=True)
class Answers:
    ready: bool  # False: no engine yet, nothing else is filled
    understood: bool = False
    items: tuple[tuple[CatalogItem, float], ...] = ()  # ranked, with confidences
    answers: tuple[Answer, ...] = ()
    outside: OutsideTopic | None = None  # the other department's topic it is about
    masked: str = ""  # the question as read: personal data masked


def _bigrams(text: str) -> set[str]:
    folded = "".join(ch for ch in fold(text) if ch.isalnum())
    return {folded[i : i + 2] for i in range(len(folded) - 1)} or {folded}


def closest_entries(question: str, entries: tuple[KnowledgeEntry, ...],
                    limit: int) -> list[KnowledgeEntry]:
    """The entries whose phrasings share the most character pairs with the question (the
    Dice coefficient of their best phrasing), in knowledge-base order on ties."""
    asked = _bigrams(question)

    def score(entry: KnowledgeEntry) -> float:
        return max(2 * len(asked & (mine := _bigrams(q))) / (len(asked) + len(mine))
                   for q in entry.questions)

    return sorted(entries, key=score, reverse=True)[:limit]


async def _clips_of(library: ClipLibrary, question: str, item_id: str) -> list[Answer]:
    hits: tuple[Hit, ...] = ()
    with contextlib.suppress(ValueError):  # BadSearchRequest: the index refuses the query
        result = await asyncio.to_thread(library.index.search, question,
                                         item_id=item_id, per_page=CLIPS_PER_ITEM)
        hits = result.hits
        if not hits:
            result = await asyncio.to_thread(library.index.search, "", item_id=item_id,
                                             sort="popular", per_page=CLIPS_PER_ITEM)
            hits = result.hits
    return [Answer("clip", hit.clip_id, hit.title, item_id, hit.summary) for hit in hits]


async def find_answers(understander: Understander, library: ClipLibrary,
                       question: str) -> Answers:
    masked = mask_pii(question)[0]
    engine = understander.engine
    if engine is None:
        return Answers(ready=False, masked=masked)
    result = await asyncio.to_thread(engine.understand, masked)
    items = tuple((item, confidence) for item_id, confidence in result.items[:MAX_ITEMS]
                  if (item := engine.catalog.get(item_id)) is not None)
    if not result.understood:
        return Answers(True, False, items, (), result.outside, masked)
    published = understander.knowledge.published()
    answers: list[Answer] = []
    for item_id in result.intents:
        entries = tuple(e for e in published if e.item_id == item_id)
        answers.extend(Answer("faq", e.id, e.questions[0], item_id, e.answer, e)
                       for e in closest_entries(masked, entries, FAQ_PER_ITEM))
        answers.extend(await _clips_of(library, masked, item_id))
    return Answers(True, True, items, tuple(answers), None, masked)
