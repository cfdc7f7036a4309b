"""The consoles' JavaScript names every kind of personal data the server masks."""

from __future__ import annotations

import re
from pathlib import Path

from moderation.pii import PII_KINDS

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def test_every_masked_kind_has_a_chinese_label_in_the_console() -> None:
    source = (STATIC / "questions.js").read_text(encoding="utf-8")
    block = re.search(r"PII_LABELS = \{(.*?)\};", source, re.S)
    assert block is not None
    labelled = set(re.findall(r"(\w+):\s*\"", block.group(1)))
    assert set(PII_KINDS) <= labelled, set(PII_KINDS) - labelled
