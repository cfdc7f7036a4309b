"""Vehicle licence plates (GA 36): ordinary, new-energy, coach, police, trailer, Hong Kong and
Macau, consulate and embassy forms, typed with or without a separator (``·``, space, ``.``,
``-``) after the province and letter or once inside the number, in either letter case.

A plate is a province character, an issuing-authority letter, then one of the forms below;
the form decides the length, so a plate at the start of a longer letter-and-digit run
(``浙A12345X9``) is not a plate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from moderation.pii.fold import Found

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SUFFIXES = "学警港澳挂领试超"
_NEV = "A-HJK"  # new-energy letters: D/F originally, A–K without I since 2021
_TAIL_FORMS = re.compile(
    rf"[{_NEV}][A-HJ-NP-Z0-9][0-9]{{4}}"  # small new-energy: 浙AD12345
    rf"|[0-9]{{5}}[{_NEV}]"  # large new-energy: 浙A12345D
    rf"|[A-Z0-9]{{4}}[{SUFFIXES}]"  # coach, police, HK/Macau, trailer, consulate, test
    r"|(?=(?:[A-Z]*[0-9]){2})[A-Z0-9]{5}"  # ordinary: 5 characters, at least 2 digits
)
_SEP = "·•・ .-"
_TAIL_CHARS = re.compile(rf"[A-Z0-9{SUFFIXES}]")
_HEAD_RE = re.compile(rf"(?P<province>[{PROVINCES}])[{_SEP}]?(?P<letter>[A-Z])[{_SEP}]?")
_EMBASSY_RE = re.compile(
    rf"(?<![0-9])(?:使[{_SEP}]?(?P<a>[0-9]{{3}}[{_SEP}]?[0-9]{{3}})"
    rf"|(?P<b>[0-9]{{3}}[{_SEP}]?[0-9]{{3}})[{_SEP}]?使)(?![0-9])"
)


def find_plates(folded: str) -> Iterator[Found]:
    for head in _HEAD_RE.finditer(folded):
        if head.start() and folded[head.start() - 1].isascii() and \
                folded[head.start() - 1].isalnum():
            continue
        found = _tail(folded, head.end())
        if found is None:
            continue
        tail, end = found
        mask = head.group("province") + head.group("letter") + "*" * (len(tail) - 1) + tail[-1]
        yield Found(head.start(), end, "plate", mask)
    for match in _EMBASSY_RE.finditer(folded):
        digits = re.sub(r"[^0-9]", "", match.group("a") or match.group("b"))
        yield Found(match.start(), match.end(), "plate", "使" + "*" * 5 + digits[-1])


def _tail(folded: str, at: int) -> tuple[str, int] | None:
    """The plate number starting at ``at`` (without separators) and where it ends: six
    characters if they make a six-character form, else five; a separator may stand once
    between two of them."""
    chars: list[str] = []
    ends: list[int] = []
    i = at
    separated = False
    while len(chars) < 6 and i < len(folded):
        ch = folded[i]
        if _TAIL_CHARS.fullmatch(ch):
            chars.append(ch)
            ends.append(i + 1)
            i += 1
        elif ch in _SEP and chars and not separated and i + 1 < len(folded) \
                and _TAIL_CHARS.fullmatch(folded[i + 1]):
            separated = True
            i += 1
        else:
            break
    for length in (6, 5):
        if len(chars) < length:
            continue
        tail = "".join(chars[:length])
        end = ends[length - 1]
        after = folded[end] if end < len(folded) else ""
        if after and (after.isascii() and after.isalnum()):
            continue  # part of a longer run
        if _TAIL_FORMS.fullmatch(tail) and all(c not in SUFFIXES for c in tail[:-1]):
            return tail, end
    return None
