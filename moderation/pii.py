"""Masking of personal data a viewer types into a question before anyone else can see it:
resident ID numbers, mainland mobile numbers and vehicle licence plates.

Pure text in, text out. Each kind is found by a pattern and then *validated* (an ID needs a
correct check digit and a real birth date), so ordinary numbers — years, amounts, dates,
times, ``12123``, ``122``, a 6-digit driving-school code, ``C1`` — stay as they are.

Mask formats (every mask keeps enough for a moderator or host to refer to the item, never
enough to identify the person, and contains ``*`` so it can never be detected again, which
makes masking idempotent):

- ID number: first 3 and last 2 characters kept, the rest ``*``, length kept
  (``110101199003071233`` → ``110*************33``); separators typed inside are dropped.
- Mobile: first 3 and last 4 digits kept (``138****5678``); separators inside the number are
  dropped; a country prefix (``+86``, ``86``, ``0086``) and the separator after it are kept, because
  they identify nobody and removing them would change the sentence around the number.
- Plate: province character and issuing-authority letter kept, then one ``*`` per
  remaining character except the last, which is kept (``浙A12345`` → ``浙A****5``,
  ``浙AD12345`` → ``浙A*****5``, ``浙A1234学`` → ``浙A****学``); a ``·`` or space after the first
  two characters is dropped.

Full-width digits and letters (``１３８…``, ``浙ａ…``) are detected like ASCII ones, and plate
letters in either case; the characters a mask keeps are written as ASCII, letters upper-case.
Landline numbers, bank cards and names are not detected: the moderator sees every question
before it is shown, and over-masking ordinary numbers would garble the questions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

PII_KINDS = ("id_number", "mobile", "plate")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


def _fold_table() -> dict[int, int]:
    """Full-width ASCII variants → ASCII, letters → upper case, ideographic space → space.

    Detection runs on a copy translated with this table. It maps one character to one
    character, so positions found in the copy are positions in the original text.
    """
    table = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
    for code in (*range(ord("a"), ord("z") + 1), *range(0xFF41, 0xFF5B)):
        table[code] = ord(chr(table.get(code, code)).upper())
    table[0x3000] = 0x20
    return table


_FOLD = _fold_table()

_SEP = r"[ \-]"  # one separator a person may type inside a number

ID_RE = re.compile(
    r"(?<![0-9])(?:"
    rf"(?P<id18>[0-9]{{6}}{_SEP}?[0-9]{{4}}{_SEP}?[0-9]{{4}}{_SEP}?[0-9]{{3}}[0-9X])"
    r"|(?P<id15>[0-9]{15})"
    r")(?![0-9])"
)

MOBILE_RE = re.compile(
    r"(?<![0-9])"
    r"(?P<prefix>(?:\+86|0086|86)[ \-]?)?"
    rf"(?P<number>1[3-9][0-9]{_SEP}?[0-9]{{4}}{_SEP}?[0-9]{{4}})"
    r"(?![0-9])"
)

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_SEP = r"[·•・ \-]?"
_NEV_LETTER = "A-HJK"  # D/F originally; A–K without I since the 2021 extension
# Tried longest first; the trailing look-ahead makes each form claim a whole token.
PLATE_RE = re.compile(
    rf"(?P<head>[{PROVINCES}][A-Z]){_PLATE_SEP}"
    r"(?P<tail>"
    rf"[{_NEV_LETTER}][A-Z0-9][0-9]{{4}}"  # small new-energy: 浙AD12345
    rf"|[0-9]{{5}}[{_NEV_LETTER}]"  # large new-energy: 浙A12345D
    r"|[A-Z0-9]{4}[学警港澳挂领试]"  # coach, police, HK/Macau, trailer, consulate, test
    r"|(?=(?:[A-Z]*[0-9]){2})[A-Z0-9]{5}"  # ordinary: 5 characters, at least 2 digits
    r")(?![A-Z0-9])"
    # Embassy plates: 使 + 6 digits (the first 3 are the mission's public code).
    rf"|(?P<embassy_head>使){_PLATE_SEP}(?P<embassy_tail>[0-9]{{6}})(?![0-9])"
)


def mask_pii(text: str, *, today: date | None = None) -> tuple[str, list[str]]:
    """Mask ID numbers, mobiles and plates; return the text and the kinds found.

    ``kinds`` lists each kind at most once, in the order of ``PII_KINDS``. ``today`` bounds
    the birth dates accepted in ID numbers (a parameter so tests do not depend on the date).
    """
    limit = today or date.today()
    found: set[str] = set()

    def on_id(match: re.Match[str]) -> str | None:
        digits = _strip_separators(match.group(0))
        valid = is_valid_id18(digits, limit) if len(digits) == 18 else is_valid_id15(digits)
        if not valid:
            return None
        found.add("id_number")
        return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]

    def on_mobile(match: re.Match[str]) -> str:
        found.add("mobile")
        digits = _strip_separators(match.group("number"))
        return (match.group("prefix") or "") + digits[:3] + "****" + digits[-4:]

    def on_plate(match: re.Match[str]) -> str:
        found.add("plate")
        head = match.group("head") or match.group("embassy_head")
        tail = match.group("tail") or match.group("embassy_tail")
        return head + "*" * (len(tail) - 1) + tail[-1]

    text = _substitute(ID_RE, text, on_id)
    text = _substitute(MOBILE_RE, text, on_mobile)
    text = _substitute(PLATE_RE, text, on_plate)
    return text, [kind for kind in PII_KINDS if kind in found]


def is_valid_id18(number: str, today: date | None = None) -> bool:
    """An 18-character resident ID: GB 11643-1999 check digit and a real birth date."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK_CHARS[total % 11] != number[17]:
        return False
    birth = _date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    return birth is not None and date(1900, 1, 1) <= birth <= (today or date.today())


def is_valid_id15(number: str) -> bool:
    """A 15-digit legacy ID (issued before 1999): the birth date 19YYMMDD must be real."""
    if len(number) != 15 or not number.isascii() or not number.isdigit():
        return False
    return _date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])) is not None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _strip_separators(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum())


def _substitute(
    pattern: re.Pattern[str], text: str, replace: Callable[[re.Match[str]], str | None]
) -> str:
    """Replace matches found in the folded copy; ``None`` from ``replace`` keeps the original.

    Replacements are built from the folded match, so the characters a mask keeps are
    written as ASCII digits and upper-case letters whatever width or case was typed.
    """
    folded = text.translate(_FOLD)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(folded):
        replacement = replace(match)
        if replacement is None:
            continue
        parts.append(text[last : match.start()])
        parts.append(replacement)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


_MASKED_CLAUSE = re.compile(r"[^。！？!?；;，,\n]*\*{2,}[^。！？!?；;，,\n]*[。！？!?；;，,]?")
_MASK_TOKEN = re.compile(
    r"(?:[\u4e00-\u9fff][A-Z])?[0-9A-Za-z+]*\*{2,}[0-9A-Za-z\u4e00-\u9fff]?[0-9A-Za-z]*")


def without_masked(text: str) -> str:
    """The text without its masked personal data, for what is shown publicly for good (a
    clip's title, captions and page): the clauses that hold a mask are dropped
    (``电瓶车怎么上牌？我电话139****5678`` → ``电瓶车怎么上牌？``); when that would leave nothing,
    only the masks themselves are. The moderation consoles keep the masked question whole."""
    kept = _MASKED_CLAUSE.sub("", text).strip(" ，,；;")
    if not kept:
        kept = " ".join(_MASK_TOKEN.sub(" ", text).split()).strip(" ，,；;的")
    return kept
