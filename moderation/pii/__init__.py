"""Masking of personal data a viewer types into a question, before it is stored or shown to
anyone: resident ID numbers, mobiles, licence plates, landlines, bank cards, e-mail
addresses, driving-licence file numbers, VINs and self-introduced names.

Pure text in, text out. Each kind is found by a general pattern on a folded copy of the text
(``moderation.pii.fold``: full-width and Chinese digits read as ASCII, one character for one)
and then *validated* — check digits, birth dates, area codes, a dictionary for names — so
ordinary numbers stay as they are: dates, fines, points, speeds, article numbers, vehicle
models, service numbers such as ``122``, ``12123`` and ``12345``. What each kind accepts is
said in its module: ``numbers`` (ID, mobile, landline, bank card, licence file number),
``plates``, ``codes`` (e-mail, VIN) and ``names``; docs/privacy.md lists it with examples and
the measured recall.

Every mask keeps enough for a moderator or host to refer to the item, never enough to
identify the person, and holds at least two ``*`` (``138****5678``, ``浙A****5``,
``110*************33``, ``张**``): masks are never detected again, so masking is idempotent,
and ``without_masked`` can find them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from moderation.pii.codes import find_emails, find_vins
from moderation.pii.fold import Found, fold
from moderation.pii.names import find_names
from moderation.pii.numbers import (
    ID_CHECK_CHARS,
    ID_WEIGHTS,
    find_numbers,
    is_valid_id15,
    is_valid_id18,
)
from moderation.pii.plates import find_plates

__all__ = ["ID_CHECK_CHARS", "ID_WEIGHTS", "PII_KINDS", "Found", "find_pii", "is_valid_id15",
           "is_valid_id18", "mask_pii", "replace_found", "without_masked"]

PII_KINDS = ("id_number", "mobile", "plate", "landline", "bank_card", "email", "licence_file",
             "vin", "name")


def find_pii(text: str, *, today: date | None = None) -> list[Found]:
    """Every piece of personal data in ``text``, in text order, none overlapping.

    Kinds claim text in a fixed order — e-mail, then the digit kinds, VIN, plate, name — and
    a later kind never takes characters an earlier one claimed (``13812345678@qq.com`` is
    one e-mail address, not a mobile).
    """
    limit = today or date.today()
    folded = fold(text)
    claimed: list[Found] = []

    def claim(found: Found) -> None:
        if all(found.end <= c.start or c.end <= found.start for c in claimed):
            claimed.append(found)

    for found in find_emails(folded, text):
        claim(found)
    for found in find_numbers(folded, limit):
        claim(found)
    for found in find_vins(folded):
        claim(found)
    for found in find_plates(folded):
        claim(found)
    for found in find_names(text):
        claim(found)
    return sorted(claimed, key=lambda f: f.start)


def mask_pii(text: str, *, today: date | None = None) -> tuple[str, list[str]]:
    """The text with its personal data masked, and the kinds found.

    ``kinds`` lists each kind at most once, in the order of ``PII_KINDS``. ``today`` bounds
    the birth dates accepted in ID numbers (a parameter so tests do not depend on the date).
    """
    found = find_pii(text, today=today)
    kinds = {item.kind for item in found}
    return replace_found(text, found, lambda item: item.mask), [
        kind for kind in PII_KINDS if kind in kinds]


def replace_found(text: str, found: list[Found], replacement: Callable[[Found], str]) -> str:
    """``text`` with each piece of personal data ``find_pii`` found replaced by what
    ``replacement`` makes of it (its mask; for the understanding engine, the word for its
    kind)."""
    parts: list[str] = []
    last = 0
    for item in found:
        parts.append(text[last : item.start])
        parts.append(replacement(item))
        last = item.end
    parts.append(text[last:])
    return "".join(parts)


_MASKED_CLAUSE = re.compile(r"[^。！？!?；;，,\n]*\*{2,}[^。！？!?；;，,\n]*[。！？!?；;，,]?")
_MASK_TOKEN = re.compile(
    r"(?:[\u4e00-\u9fff][A-Z])?[0-9A-Za-z+\-]*\*{2,}[0-9A-Za-z\u4e00-\u9fff]?[0-9A-Za-z]*"
    r"(?:@[0-9A-Za-z.\-]+)?")


def without_masked(text: str) -> str:
    """The text without its masked personal data, for what is shown publicly for good (a
    clip's title, captions and page): the clauses that hold a mask are dropped
    (``电瓶车怎么上牌？我电话139****5678`` → ``电瓶车怎么上牌？``); when that would leave nothing,
    only the masks themselves are. The moderation consoles keep the masked question whole."""
    kept = _MASKED_CLAUSE.sub("", text).strip(" ，,；;")
    if not kept:
        kept = " ".join(_MASK_TOKEN.sub(" ", text).split()).strip(" ，,；;的")
    return kept
