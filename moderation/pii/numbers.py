"""Personal numbers typed as digits: resident ID numbers, mobiles, landlines, bank cards and
driving-licence file numbers.

People group long numbers as they like (``138 1234 5678``, ``1381 2345 678``,
``6222-0212-3456-7890-123``, ``110101 19900307 1233``), so a number is first found as a *run*:
digit groups joined by one separator each (space, ``-``, ``.``, ``·``, a closing parenthesis
after an area code). A run is then read as the longest span of whole groups that is a valid
number of some kind, and the groups left on either side are read again the same way: in
``13812345678 2点后打`` the mobile is found and the ``2`` left alone; in ``+86 138 1234 5678``
the country code is left as typed. A digit string typed without separators is never cut
inside (``订单号12345678901234567890`` stays whole and is nothing).

Every kind is *validated*, so ordinary numbers stay: an ID needs its GB 11643 check digit
(python-stdnum's ``stdnum.cn.ric``) and a real birth date, a card a Luhn check digit
(``stdnum.luhn``), a mobile the 1[3-9] prefix and 11 digits, a landline a real-looking area
code (``010``, ``02x``, ``0[3-9]xx``) and a 7–8 digit local number not starting with 0 or 1.
Short service numbers (``122``, ``12123``, ``12345``, ``95588``) and company hotlines
(``400-…``) fit none of these.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from stdnum import luhn
from stdnum.cn import ric

from moderation.pii.fold import Found

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"

_SEP = r"(?:[ ]{0,2}[-.·•・][ ]{0,2}|[ ]{1,2}|\)[ ]{0,2})"
_GROUP = r"[0-9]+X?"
# The fewest digits of any kind read here (a landline with its area code, 010 and 8 digits).
MIN_DIGITS = 10
RUN_RE = re.compile(
    rf"(?<![0-9])(?:\+|\((?=0[0-9]{{2,3}}\)))?{_GROUP}(?:{_SEP}{_GROUP})*(?![0-9])"
)
_GROUP_RE = re.compile(_GROUP)

_LICENCE_FILE_RE = re.compile(
    rf"(?:档案编号|档案号码|档案号)[^0-9\n]{{0,6}}?(?P<number>[0-9](?:{_SEP}?[0-9]){{11}})(?![0-9])"
)


def is_valid_id18(number: str, today: date | None = None) -> bool:
    """An 18-character resident ID: GB 11643-1999 check digit and a real birth date between
    1900 and ``today``. The place code is not checked against a list (python-stdnum's full
    ``validate`` does): a county renamed since would hide a real ID."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    if ric.calc_check_digit(number) != number[17]:
        return False
    try:
        birth = ric.get_birth_date(number)
    except ValueError:  # stdnum's InvalidComponent is a ValueError
        return False
    return date(1900, 1, 1) <= birth <= (today or date.today())


def is_valid_id15(number: str) -> bool:
    """A 15-digit legacy ID (issued before 1999): the birth date 19YYMMDD must be real."""
    if len(number) != 15 or not number.isascii() or not number.isdigit():
        return False
    try:
        date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError:
        return False
    return True


def _area_split(digits: str) -> tuple[str, str] | None:
    """``(area code, local number)`` when ``digits`` is a mainland landline, else None."""
    if digits[:3] == "010" or re.match(r"02[0-9]", digits):
        area = digits[:3]
    elif re.match(r"0[3-9][0-9]{2}", digits):
        area = digits[:4]
    else:
        return None
    local = digits[len(area):]
    if 7 <= len(local) <= 8 and local[0] in "23456789":
        return area, local
    return None


def classify(digits: str, international: bool, today: date) -> tuple[str, str, int] | None:
    """What a digit string is: ``(kind, mask, characters of it kept unmasked in front)``.

    The last item is non-zero only for a country code in front of a mobile, which stays.
    """
    n = len(digits)
    if n in (15, 18) and (is_valid_id18(digits, today) if n == 18 else is_valid_id15(digits)):
        return "id_number", digits[:3] + "*" * (n - 5) + digits[-2:], 0
    if "X" in digits:
        return None
    if 16 <= n <= 19 and digits[0] in "345689" and luhn.is_valid(digits):
        return "bank_card", digits[:4] + "*" * (n - 8) + digits[-4:], 0
    if n == 11 and re.fullmatch(r"1[3-9][0-9]{9}", digits):
        return "mobile", digits[:3] + "****" + digits[-4:], 0
    for prefix in ("0086", "86"):
        rest = digits[len(prefix):]
        if digits.startswith(prefix) and re.fullmatch(r"1[3-9][0-9]{9}", rest) and \
                (international or prefix == "0086" or n == 13):
            return "mobile", rest[:3] + "****" + rest[-4:], len(prefix)
        if digits.startswith(prefix) and international and (split := _area_split("0" + rest)):
            return "landline", "0" + split[0][1:] + "-" + "*" * (len(split[1]) - 2) + \
                split[1][-2:], len(prefix)
    split = _area_split(digits)
    if split is not None:
        area, local = split
        return "landline", area + "-" + "*" * (len(local) - 2) + local[-2:], 0
    return None


def find_numbers(folded: str, today: date) -> Iterator[Found]:
    """Every ID, card, mobile, landline and licence file number in the folded text."""
    taken: list[tuple[int, int]] = []
    for match in _LICENCE_FILE_RE.finditer(folded):
        digits = re.sub(r"[^0-9]", "", match.group("number"))
        start, end = match.span("number")
        taken.append((start, end))
        yield Found(start, end, "licence_file", digits[:2] + "*" * 8 + digits[-2:])
    for run in RUN_RE.finditer(folded):
        if run.end() - run.start() < MIN_DIGITS:
            continue  # too short to hold one (most runs: a year, a count, an amount)
        if any(start < run.end() and run.start() < end for start, end in taken):
            continue
        groups = [(g.start(), g.end()) for g in _GROUP_RE.finditer(folded, run.start(), run.end())]
        international = folded[run.start()] == "+" or folded.startswith("00", run.start())
        yield from _read_groups(folded, groups, international, today)


def _read_groups(folded: str, groups: list[tuple[int, int]], international: bool,
                 today: date) -> Iterator[Found]:
    """The longest span of whole groups that is a number, then the groups left of it and
    right of it, each read the same way."""
    if not groups:
        return
    spans = sorted(((i, j) for i in range(len(groups)) for j in range(i, len(groups))),
                   key=lambda ij: groups[ij[1]][1] - groups[ij[0]][0], reverse=True)
    for i, j in spans:
        digits = "".join(folded[s:e] for s, e in groups[i : j + 1])
        if len(digits) > 20 or len(digits) < MIN_DIGITS:
            continue
        found = classify(digits, international and i == 0, today)
        if found is None:
            continue
        kind, mask, kept = found
        start = groups[i][0]
        if kind == "landline" and start and folded[start - 1] == "(":
            start -= 1  # "(010)12345678": the parenthesis goes with the number it opened
        if kept:  # skip the country code, and a separator typed after it
            k = i
            count = 0
            while count + (groups[k][1] - groups[k][0]) <= kept:
                count += groups[k][1] - groups[k][0]
                k += 1
            start = groups[k][0] + (kept - count)
        yield from _read_groups(folded, groups[:i], international, today)
        yield Found(start, groups[j][1], kind, mask)
        yield from _read_groups(folded, groups[j + 1 :], False, today)
        return
