"""The sets of their own (tests/data/understanding/fresh.jsonl and fresh2.jsonl): their shape.
The fresh set is tuned on now (its on-topic questions are seed examples); fresh2 is blind: no
test reads it with the engine, it is reported by ``bench/understanding.py --half fresh2`` and
nothing is tuned on it."""

from __future__ import annotations

from collections import Counter

import pytest

from moderation.catalog import load_catalog
from tests.data.understanding import (
    BLIND,
    EXTRA,
    FRESH,
    FRESH2,
    HALVES,
    QUESTIONS,
    SETS,
    TUNING,
    load_cases,
    load_fresh,
    load_half,
)


@pytest.mark.parametrize("half", ["fresh", "fresh2"])
def test_a_fresh_set_covers_every_item_with_known_ids_and_off_topic_questions(half: str) -> None:
    ids = {item.id for item in load_catalog().items}
    cases = load_fresh(EXTRA[half], half)
    assert cases and all(case.half == half for case in cases)
    assert len({case.q for case in cases}) == len(cases)  # no question twice
    assert all(case.q.strip() and case.tags for case in cases)
    assert all(set(case.items) <= ids and len(case.items) <= 2 for case in cases)
    primaries = Counter(case.items[0] for case in cases if case.items)
    assert {item_id for item_id in ids if primaries[item_id] < 3} == set()
    off_topic = [case for case in cases if case.off_topic]
    assert len(off_topic) >= 50
    assert all("off-topic" in case.tags for case in off_topic)
    assert not any("off-topic" in case.tags for case in cases if not case.off_topic)
    twos = [case for case in cases if len(case.items) == 2]
    assert len(twos) >= 20
    assert all({"two-intents", "ambiguous"} & set(case.tags) for case in twos)
    assert all(case.items[0] != case.items[1] for case in twos)


def test_the_fresh_sets_are_halves_of_their_own_apart_from_dev_and_holdout() -> None:
    fresh, fresh2 = load_half("fresh"), load_half("fresh2")
    assert fresh == load_fresh(FRESH) and fresh2 == load_fresh(FRESH2, "fresh2")
    old = load_cases(QUESTIONS)
    assert {case.half for case in old} == set(HALVES)  # the split of questions.jsonl unchanged
    texts = {case.q for case in old}
    assert [case.q for case in fresh if case.q in texts] == []  # names only the overlap
    texts |= {case.q for case in fresh}
    assert [case.q for case in fresh2 if case.q in texts] == []
    assert SETS == ("dev", "holdout", "fresh", "fresh2")
    assert set(TUNING) | set(BLIND) == set(SETS)
    with pytest.raises(ValueError, match="unknown half"):
        load_half("test")
