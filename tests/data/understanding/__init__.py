"""The understanding relevance set: colloquial questions with the business items they concern.

``questions.jsonl`` holds one question a line: ``q`` as a citizen would type it, ``items`` the
expected catalog item ids (first = primary; two for a question with two intents; empty for an
off-topic question, which must be rejected) and ``tags`` saying what makes it hard (typo,
homophone, dialect, digits, cn-numerals, pii, two-intents, short, long, traditional,
full-width, pinyin, off-topic ...); an off-topic question of a tuning half may carry ``topic``,
the outside topic (``moderation/understanding/outside.toml``) it belongs to.

The set is split in two halves by a fixed rule, so that it never depends on results: counting
the questions of each primary item in file order from 0 (the off-topic questions counted as
one group), even positions are ``dev`` (failures may be studied and the engine tuned on them),
odd positions are ``holdout`` (reported only, never tuned on). Every item has questions in both
halves.

More sets, each its own half, were written later from the catalog (and, for the off-topic ones,
the outside topics) by someone who had seen none of the others' questions:

- ``fresh.jsonl`` (half ``fresh``) was blind for one stop and then, worn by four looks at its
  totals, opened: it is tuned on like dev.
- ``fresh4.jsonl``: on-topic questions only, a third of them very short and a third told in
  everyday words (money, moving house, a phone, a flood) around a traffic request; tuned on.
- ``offtopic.jsonl`` and ``offtopic2.jsonl`` (two writers): questions that are not the desk's
  business, half of them near-misses (car prices, repairs, road works, an ID card), each
  labelled with its topic; tuned on, and the outside seed examples.
- ``fresh5.jsonl`` and ``fresh6.jsonl`` (two more writers): on-topic questions only, a third
  told inside everyday life or by a citizen unsure of the terms (an elderly person, a delivery
  rider, a parent), many very short; ``offtopic3.jsonl``: off-topic questions, half of them
  near-misses, each labelled with its topic. All three tuned on.
- ``fresh7.jsonl`` and ``offtopic4.jsonl`` (two more writers): on-topic questions weighted to
  the hard kinds (typos, homophones, pinyin, traditional and full-width characters, numerals,
  personal data, two intents, very short and very long), and off-topic questions, half of them
  near-misses, each labelled with its topic. Each was read once by the engine of the time as a
  set it had never seen (bench/RESULTS.md), then tuned on.
- ``fresh8.jsonl`` and ``fresh9.jsonl`` (two more writers): on-topic questions, four or more
  per item; fresh8 sets apart the items easy to confuse (the inspection items, lost, damaged
  and expiring licences, the e-bike and account items), fresh9 speaks in the live chat's
  voice (fragments, greetings, particles, emoji, half-remembered terms). Each read once as
  unseen, then tuned on.
- ``offtopic5.jsonl`` (another writer): off-topic questions, two thirds of them near-misses
  that use the desk's own words (an insurer's claim, a compound's parking, a theft, a fraud
  posing as the police), each labelled with its topic; read once as unseen, then tuned on.
- ``fresh2.jsonl`` and ``fresh3.jsonl`` are blind: reported only when asked for, their misses
  never listed. fresh3 was written with fresh4, by another writer, to measure the off-topic
  gate (``moderation.understanding.engine``) on questions it never saw.

The tuning halves' on-topic questions are the seed examples, their labelled off-topic ones the
outside seed examples (``moderation.understanding.seeds``).
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUESTIONS = Path(__file__).with_name("questions.jsonl")
HALVES = ("dev", "holdout")  # the halves of questions.jsonl
FRESH = Path(__file__).with_name("fresh.jsonl")
FRESH2 = Path(__file__).with_name("fresh2.jsonl")
OFFTOPIC = Path(__file__).with_name("offtopic.jsonl")
OFFTOPIC2 = Path(__file__).with_name("offtopic2.jsonl")
FRESH3 = Path(__file__).with_name("fresh3.jsonl")
FRESH4 = Path(__file__).with_name("fresh4.jsonl")
FRESH5 = Path(__file__).with_name("fresh5.jsonl")
FRESH6 = Path(__file__).with_name("fresh6.jsonl")
OFFTOPIC3 = Path(__file__).with_name("offtopic3.jsonl")
OFFTOPIC4 = Path(__file__).with_name("offtopic4.jsonl")
FRESH7 = Path(__file__).with_name("fresh7.jsonl")
FRESH8 = Path(__file__).with_name("fresh8.jsonl")
FRESH9 = Path(__file__).with_name("fresh9.jsonl")
OFFTOPIC5 = Path(__file__).with_name("offtopic5.jsonl")
# The sets that are a half of their own.
EXTRA = {"fresh": FRESH, "fresh4": FRESH4, "offtopic": OFFTOPIC, "offtopic2": OFFTOPIC2,
         "fresh5": FRESH5, "fresh6": FRESH6, "offtopic3": OFFTOPIC3,
         "offtopic4": OFFTOPIC4, "fresh7": FRESH7, "fresh8": FRESH8, "fresh9": FRESH9,
         "offtopic5": OFFTOPIC5, "fresh2": FRESH2, "fresh3": FRESH3}
SETS = (*HALVES, *EXTRA)  # every half a benchmark may report
# The halves tuned on: their on-topic questions are the seed examples, their off-topic
# questions labelled with a topic the outside seed examples.
TUNING = ("dev", "fresh", "fresh4", "offtopic", "offtopic2", "fresh5", "fresh6", "offtopic3",
          "offtopic4", "fresh7", "fresh8", "fresh9", "offtopic5")
BLIND = ("holdout", "fresh2", "fresh3")  # the halves never tuned on


@dataclass(frozen=True)
class Case:
    q: str
    items: tuple[str, ...]  # expected item ids, primary first; empty = off-topic
    tags: tuple[str, ...]
    half: str
    topic: str = ""  # an off-topic question's outside topic (offtopic.jsonl), if labelled

    @property
    def off_topic(self) -> bool:
        return not self.items


def _read(path: Path) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if not {"q", "items", "tags"} <= set(raw) <= {"q", "items", "tags", "topic"} or (
                "topic" in raw and raw["items"]):
            raise ValueError(f"{path}:{number}: keys must be q, items, tags (and, off-topic,"
                             " topic)")
        rows.append((raw["q"], tuple(raw["items"]), tuple(raw["tags"]), raw.get("topic", "")))
    return rows


def load_cases(path: Path = QUESTIONS) -> list[Case]:
    """Every question of the set, each with its half."""
    seen: Counter[str] = Counter()
    cases: list[Case] = []
    for q, items, tags, topic in _read(path):
        group = items[0] if items else ""
        half = HALVES[seen[group] % 2]
        seen[group] += 1
        cases.append(Case(q, items, tags, half, topic))
    return cases


def load_fresh(path: Path = FRESH, half: str = "fresh") -> list[Case]:
    """Every question of a set of its own (``fresh`` or ``fresh2``), all in one half."""
    return [Case(q, items, tags, half, topic) for q, items, tags, topic in _read(path)]


def load_half(half: str, path: Path | None = None) -> list[Case]:
    if half in EXTRA:
        return load_fresh(path or EXTRA[half], half)
    if half not in HALVES:
        raise ValueError(f"unknown half {half!r}")
    return [case for case in load_cases(path or QUESTIONS) if case.half == half]


def load_word_list() -> Any:
    """The shipped admin-editable word list."""
    from moderation.segment import load_word_list as load

    return load()
