"""Seed examples: colloquial questions as citizens type them, each labelled with its business
item, that the engine learns from at every build beside the catalog and the knowledge base
(``seed_examples.jsonl`` next to this module, one ``{"text", "item"}`` object a line).

They are the on-topic questions of the halves of tests/data/understanding tuned on (the dev
half of the relevance set, then the fresh, fresh4, fresh5 and fresh6 sets; a test keeps them
equal), so the engine starts with the labelled questions a desk would otherwise have to file
first; the blind halves (holdout, fresh2, fresh3) are never among them. Measuring on a tuning
half therefore folds the tuning halves: each fold is read by an engine seeded with the others
(bench/understanding.py).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


class SeedExamplesError(ValueError):
    """The seed file cannot be used; the message names the file and the line."""


def load_seeds(path: Path | None = None) -> tuple[tuple[str, str], ...]:
    """The (text, item id) seed examples, in file order."""
    return _load(path, "seed_examples.jsonl", "item")


def load_outside_seeds(path: Path | None = None) -> tuple[tuple[str, str], ...]:
    """The (text, outside topic name) seed examples (``outside_examples.jsonl``, one
    ``{"text", "topic"}`` object a line): questions that are not the desk's business, each
    labelled with the topic of ``outside.toml`` it belongs to."""
    return _load(path, "outside_examples.jsonl", "topic")


def _load(path: Path | None, name: str, key: str) -> tuple[tuple[str, str], ...]:
    if path is None:
        source = f"moderation/understanding/{name}"
        text = resources.files("moderation.understanding").joinpath(name).read_text(
            encoding="utf-8")
    else:
        source, text = str(path), path.read_text(encoding="utf-8")
    seeds: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeedExamplesError(f"{source} 第 {number} 行不是有效的 JSON：{exc}") from exc
        if not (isinstance(raw, dict) and set(raw) == {"text", key}
                and isinstance(raw["text"], str) and raw["text"].strip()
                and isinstance(raw[key], str) and raw[key]):
            raise SeedExamplesError(
                f"{source} 第 {number} 行必须是 text、{key} 两个非空字符串")
        seeds.append((raw["text"], raw[key]))
    return tuple(seeds)
