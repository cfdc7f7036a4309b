"""Personal data that mixes letters and digits: e-mail addresses and vehicle identification
numbers (VIN, ISO 3779 / GB 16735).

A VIN is 17 characters from the digits and the letters without I, O and Q, holding both
letters and digits. Vehicles made for China and North America carry a check digit in the
ninth place (GB 16735 made it compulsory); a VIN with a correct one is masked wherever it
stands. Other makers' VINs (a European car's ``WBA…``) have no check digit: one of those is
masked when its last four characters are digits, as every serial number of a large maker
is, and a VIN keyword (``车架号``, ``VIN``, ``识别代号``…) stands shortly before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from moderation.pii.fold import Found

EMAIL_RE = re.compile(
    r"(?<![A-Z0-9._%+-])(?P<local>[A-Z0-9][A-Z0-9._%+-]*)@"
    r"(?P<domain>[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?(?:\.[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?)*"
    r"\.[A-Z]{2,})(?![A-Z0-9])"
)
VIN_RE = re.compile(r"(?<![A-Z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-Z0-9])")
_VIN_KEYWORD = re.compile(r"车架号|车架|VIN|识别代号|识别码|识别代码|大架号")
_VIN_VALUES = {**{str(d): d for d in range(10)},
               **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
               **dict(zip("JKLMNPR", (1, 2, 3, 4, 5, 7, 9), strict=True)),
               **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def find_emails(folded: str, original: str) -> Iterator[Found]:
    """E-mail addresses; the mask keeps the first character and the domain as typed
    (``z***@qq.com``): a mail provider identifies nobody."""
    for match in EMAIL_RE.finditer(folded):
        local_start, at = match.span("local")
        domain = original[at + 1 : match.end()]
        yield Found(match.start(), match.end(), "email", original[local_start] + "***@" + domain)


def vin_check_digit(vin: str) -> str:
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def find_vins(folded: str) -> Iterator[Found]:
    """VINs; the mask keeps the maker code (first 3) and the last 2 characters."""
    for match in VIN_RE.finditer(folded):
        vin = match.group(0)
        if vin.isdigit() or vin.isalpha():
            continue
        checked = vin[8] == vin_check_digit(vin)
        keyword = _VIN_KEYWORD.search(folded, max(0, match.start() - 12), match.start())
        if checked or (keyword is not None and vin[-4:].isdigit()):
            yield Found(match.start(), match.end(), "vin", vin[:3] + "*" * 12 + vin[-2:])
