"""Library search read through the understanding engine (issue 12): the same engine that
suggests items to moderators says which business items a query is about, and the clips of
those items come first, so a colloquial query ("小本本上的钢印看不清了") finds the clip of
its item even when it shares no word with the clip's text.

``SearchIndex.understand`` is the hook (``None``: plain BM25, as before); ``web/answers.py``
sets it to the engine's reading of a query when the engine is ready. It applies to the first
page of a relevance-sorted search without an item filter; the intents are limited to the
chosen category. Each intent contributes its ``INTENT_CLIPS`` best clips for the query (BM25
within the item, or its most watched when none match a word), each of the engine's next
``RUNNERS_UP`` ranked items one; the plain hits follow, without repeats. Later pages are
the plain search's, so a boosted clip may appear again there.

A query the engine recognises as another topic ("今天天气怎么样", "公积金怎么取") gets no clips
unless some clip has every one of its words, on every page and in every order: the relaxed
search would only find clips that share a word with it, unrelated by the engine's own
reading. The result says so (``not_ours``) and whom to ask instead (``where``). The engine
names a query it does not understand as another topic's when its off-topic gate reads it so
(``moderation.understanding.gate``). A query it is merely unsure of ("办理流程") gets the
plain search when some clip has all its words; when none has, no clips (the relaxed search's
would share a word with it, no more) and the closest items as suggestions, as any search that
finds nothing (measured: 30 more of 2,323 off-topic tuning questions get no clips, 7 of 3,339
on-topic ones lose their item's clip from the first three; bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:  # the engine (scikit-learn) loads only where it is built
    from moderation.understanding import Result

INTENT_CLIPS = 3  # clips of each understood item put first
# Then one clip of each of the engine's next RUNNERS_UP ranked items: what the citizen may
# mean if not the first (measured: 33 more of 2,432 tuning questions find their item's clip
# in the first three, none fewer first; bench/RESULTS.md).
RUNNERS_UP = 2
Understand = Callable[[str], "Result | None"]  # query -> the engine's reading; None: no engine


class _Clip(Protocol):
    @property
    def clip_id(self) -> str: ...


H = TypeVar("H", bound=_Clip)


def merge(intent_hits: Sequence[H], plain: Sequence[H], per_page: int) -> tuple[H, ...]:
    """The intents' clips first, then the plain hits not among them, one page long."""
    seen: set[str] = set()
    out: list[H] = []
    for hit in (*intent_hits, *plain):
        if hit.clip_id not in seen:
            seen.add(hit.clip_id)
            out.append(hit)
    return tuple(out[:per_page])


class _Catalog(Protocol):
    def get(self, item_id: str) -> Any: ...


def picks(reading: Result, category: str | None, catalog: _Catalog) -> list[tuple[str, int]]:
    """The items whose clips come first, each with how many: the intents ``INTENT_CLIPS``
    each, then the engine's next ``RUNNERS_UP`` ranked items one each; all within the chosen
    category."""
    def within(item_id: str) -> bool:
        item = catalog.get(item_id)
        return item is not None and (not category or item.category == category)

    intents = [item_id for item_id in reading.intents if within(item_id)]
    following = [item_id for item_id, _ in reading.items
                 if item_id not in reading.intents and within(item_id)][:RUNNERS_UP]
    return [(item_id, INTENT_CLIPS) for item_id in intents] + [(i, 1) for i in following]
