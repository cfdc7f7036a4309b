"""The confusion list (issue 12): which business items the understanding engine mistakes for
which, learned from the desk. A question carries the engine's suggestions from the moment it
was asked (``flags["suggested_items"]``, best first) and, once a moderator files it, the item
they chose (``item_id``); where the two differ, the moderator corrected the engine.

Admins read the pairs, most frequent first, with a few of the questions, to decide which
colloquial words the word list or the knowledge base lacks (``/admin/understanding``). The
dev half of the relevance set gives the same list offline: ``bench/understanding.py
--confusions``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from store.base import Store
from store.records import Question

READ = 20_000  # newest filed questions read
EXAMPLES = 3  # questions shown per pair


@dataclass(frozen=True)
class Confusion:
    suggested: str  # the item the engine put first
    chosen: str  # the item the moderator filed the question under
    count: int
    in_top3: int  # how many times the chosen item was among the engine's three
    examples: tuple[str, ...]  # the newest questions of the pair (personal data masked)


@dataclass(frozen=True)
class DeskAgreement:
    filed: int  # questions filed under an item that carried a suggestion
    agreed: int  # filed under the engine's first item
    in_top3: int  # filed under one of its first three
    confusions: tuple[Confusion, ...]


def agreement(questions: Iterable[Question]) -> DeskAgreement:
    """How often moderators filed questions under the engine's suggestion, and the pairs
    where they did not (``questions`` newest first)."""
    filed = agreed = top3 = 0
    counts: Counter[tuple[str, str]] = Counter()
    near: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = {}
    for question in questions:
        suggested = [s.get("id") for s in question.flags.get("suggested_items") or ()
                     if isinstance(s, dict)]
        if not question.item_id or not suggested:
            continue
        filed += 1
        chosen = question.item_id
        top3 += chosen in suggested[:3]
        if suggested[0] == chosen:
            agreed += 1
            continue
        pair = (str(suggested[0]), chosen)
        counts[pair] += 1
        near[pair] += chosen in suggested[:3]
        shown = examples.setdefault(pair, [])
        if len(shown) < EXAMPLES:
            shown.append(question.text)
    confusions = tuple(
        Confusion(pair[0], pair[1], count, near[pair], tuple(examples[pair]))
        for pair, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return DeskAgreement(filed, agreed, top3, confusions)


async def desk_agreement(store: Store, read: int = READ) -> DeskAgreement:
    """``agreement`` over the newest ``read`` questions moderators filed under an item."""
    filed = await store.find(Question, {"item_id__ne": ""}, order_by=("-created_at",),
                             limit=read)
    return agreement(filed)
