"""The folded copy of a question that every detector reads, and what a detector finds.

Detection runs on a copy in which each character is replaced by exactly one character, so a
position found in the copy is the same position in the original text:

- full-width ASCII variants become ASCII (``１３８`` → ``138``, ``＠`` → ``@``), letters upper
  case, the ideographic space and dash-like characters a plain space or ``-``;
- Chinese digit characters become ASCII digits, but only inside a *run* of at least four of
  them (``幺三八 一二三四 五六七八``): a lone ``一`` or ``两`` is ordinary text (``一直``,
  ``两次``, ``第一``) and must not glue itself onto a number typed next to it. The digit table
  is cn2an's (``零〇一幺二两…`` and the financial forms ``壹贰叁…``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cn2an.conf import NUMBER_CN2AN


@dataclass(frozen=True)
class Found:
    """One piece of personal data: ``text[start:end]`` is to be replaced by ``mask``."""

    start: int
    end: int
    kind: str
    mask: str


def _fold_table() -> dict[int, int]:
    table = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
    for code in (*range(ord("a"), ord("z") + 1), *range(0xFF41, 0xFF5B)):
        table[code] = ord(chr(table.get(code, code)).upper())
    table[0x3000] = ord(" ")
    for dash in "‐‑‒–—―−﹣":
        table[ord(dash)] = ord("-")
    table[ord("（")] = ord("(")
    table[ord("）")] = ord(")")
    return table


_FOLD = _fold_table()
CN_DIGITS: dict[str, int] = {ch: int(value) for ch, value in NUMBER_CN2AN.items()}
_CN_TABLE = {ord(ch): ord(str(value)) for ch, value in CN_DIGITS.items()}
_CN_CLASS = "".join(CN_DIGITS)
# Four or more Chinese digits, possibly split by the separators a number may carry, and
# possibly mixed with ASCII digits (``138 一二三四 5678``).
_CN_RUN = re.compile(
    rf"[{_CN_CLASS}0-9](?:[ \-.·]?[{_CN_CLASS}0-9])+"
)


def fold(text: str) -> str:
    """The one-to-one folded copy of ``text`` (same length, same positions)."""
    folded = text.translate(_FOLD)
    if not any(ch in CN_DIGITS for ch in folded):
        return folded
    parts: list[str] = []
    last = 0
    for run in _CN_RUN.finditer(folded):
        chinese = sum(1 for ch in run.group(0) if ch in CN_DIGITS)
        if chinese < 4:
            continue
        parts.append(folded[last : run.start()])
        parts.append(run.group(0).translate(_CN_TABLE))
        last = run.end()
    parts.append(folded[last:])
    return "".join(parts)
