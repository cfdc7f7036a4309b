"""The understanding relevance set: colloquial questions with the business items they concern.

``questions.jsonl`` holds one question a line: ``q`` as a citizen would type it, ``items`` the
expected catalog item ids (first = primary; two for a question with two intents; empty for an
off-topic question, which must be rejected) and ``tags`` saying what makes it hard (typo,
homophone, dialect, digits, cn-numerals, pii, two-intents, short, long, traditional,
full-width, pinyin, off-topic ...).

The set is split in two halves by a fixed rule, so that it never depends on results: counting
the questions of each primary item in file order from 0 (the off-topic questions counted as
one group), even positions are ``dev`` (failures may be studied and the engine tuned on them),
odd positions are ``holdout`` (reported only, never tuned on). Every item has questions in both
halves.

Two more sets, each its own half, were written later from the catalog alone by someone who had
seen none of the others: ``fresh.jsonl`` (half ``fresh``) was blind for one stop and then, worn
by four looks at its totals, opened: it is tuned on like dev and its on-topic questions are
seed examples too. ``fresh2.jsonl`` (half ``fresh2``) is the blind set now: reported only when
asked for, its misses never listed.
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
EXTRA = {"fresh": FRESH, "fresh2": FRESH2}  # the sets that are a half of their own
SETS = (*HALVES, *EXTRA)  # every half a benchmark may report
TUNING = ("dev", "fresh")  # the halves tuned on, whose on-topic questions are seed examples
BLIND = ("holdout", "fresh2")  # the halves never tuned on


@dataclass(frozen=True)
class Case:
    q: str
    items: tuple[str, ...]  # expected item ids, primary first; empty = off-topic
    tags: tuple[str, ...]
    half: str

    @property
    def off_topic(self) -> bool:
        return not self.items


def _read(path: Path) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if set(raw) != {"q", "items", "tags"}:
            raise ValueError(f"{path}:{number}: keys must be q, items, tags")
        rows.append((raw["q"], tuple(raw["items"]), tuple(raw["tags"])))
    return rows


def load_cases(path: Path = QUESTIONS) -> list[Case]:
    """Every question of the set, each with its half."""
    seen: Counter[str] = Counter()
    cases: list[Case] = []
    for q, items, tags in _read(path):
        group = items[0] if items else ""
        half = HALVES[seen[group] % 2]
        seen[group] += 1
        cases.append(Case(q, items, tags, half))
    return cases


def load_fresh(path: Path = FRESH, half: str = "fresh") -> list[Case]:
    """Every question of a set of its own (``fresh`` or ``fresh2``), all in one half."""
    return [Case(q, items, tags, half) for q, items, tags in _read(path)]


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
