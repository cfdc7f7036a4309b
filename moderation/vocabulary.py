"""The vocabulary shared by duplicate detection and item suggestion: a compatibility fold and
the synonym list that turns what citizens type into the catalog's words."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Compatibility fold for matching: full-width → ASCII, case folded."""
    return unicodedata.normalize("NFKC", text).casefold()



# What citizens type → the catalog's terms. Applied, longest first and in one left-to-right
# pass, to the question *and* to every keyword and item name, so both sides speak the same
# vocabulary, and a citizen's "驾照丢了" meets the catalog's "驾驶证遗失" halfway. Rules
# must not hide inside each other's results ("年审" → "检验" is safe; a "车检" rule would turn
# "机动车检验" into "机动检验验"), so inspection synonyms that overlap common words stay out.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("驾照年审", "驾驶证审验"),
    ("驾驶证年审", "驾驶证审验"),
    ("照年审", "照审验"),
    ("驾驶照", "驾驶证"),
    ("驾照", "驾驶证"),
    ("驾驶本", "驾驶证"),
    ("行驶本", "行驶证"),
    ("小电驴", "电动自行车"),
    ("电驴", "电动自行车"),
    ("电瓶车", "电动自行车"),
    ("电动车", "电动自行车"),
    ("电单车", "电动自行车"),
    ("电摩", "电动摩托车"),
    ("年审", "检验"),
    ("年检", "检验"),
    ("验车", "检验"),
    ("审车", "检验"),
    ("违章", "交通违法"),
    ("车牌", "号牌"),
    ("牌照", "号牌"),
    ("牌子", "号牌"),  # in this domain "电瓶车牌子" is the plate, not the brand
    ("上户", "上牌"),
    ("丢失", "丢了"),
    ("遗失", "丢了"),
    ("掉了", "丢了"),
    ("扣分", "记分"),
    ("12分扣满", "扣满12分"),
    ("扣了12分", "扣满12分"),
    ("扣完12分", "扣满12分"),
)
SYNONYM_MAP = dict(SYNONYMS)
_SYNONYM_RE = re.compile(
    "|".join(re.escape(word) for word in sorted(SYNONYM_MAP, key=len, reverse=True))
)


def canonical(text: str) -> str:
    """Folded, letters and digits only, in the catalog's words: the form questions are
    compared in."""
    letters = "".join(ch for ch in fold(text) if ch.isalnum())
    return _SYNONYM_RE.sub(lambda m: SYNONYM_MAP[m.group(0)], letters)
