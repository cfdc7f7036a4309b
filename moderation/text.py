"""Text as typed and text as compared: the two normalisations, kept apart on purpose.

``normalize_text`` is *input cleaning*: what a viewer typed, made safe to store and show
(control, format and zero-width characters removed, whitespace collapsed, NFC) and checked
against the length limits. It changes nothing a reader would see, and it refuses
(``TextRejected``) what cannot be stored.

``fold`` is the one *matching form*, used wherever two texts are compared: blocked terms,
duplicate questions, suggested items and the library's search index and queries. It is
lossy on purpose: invisible characters dropped, NFKC (full-width letters, digits and
punctuation become ASCII), case folded, traditional characters made simplified (when the
OpenCC tables are installed), and anything that is not a letter or a digit becomes a space
between words. ``fold_with_offsets`` folds character by character and says where each folded
character came from, so that a match in the folded form can be marked in the original.

The word list (``moderation.segment.WordList``) and everything built on it apply to folded
text; ``FOLD_SIGNATURE`` changes whenever ``fold`` would fold differently, so that a search
index built with another fold knows to rebuild itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Literal

from settings import LiveSettings

RejectCode = Literal["empty", "too_short", "too_long"]
FOLD_VERSION = 1  # bump when a change here folds some text differently


# ---------------------------------------------------------------------------------------------
# Input cleaning


class TextRejected(ValueError):
    """A question refused before it is stored; ``message`` is shown to the viewer."""

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code: RejectCode = code
        self.message = message


# Letters that render as blanks (Hangul fillers). They are not format characters, so the
# category test below would keep them, yet they are used to post "empty" questions.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def normalize_text(text: str, *, min_len: int = LiveSettings.question_min_chars,
                   max_len: int = LiveSettings.question_max_chars) -> str:
    """NFC, control/format/zero-width characters removed, whitespace collapsed, trimmed.

    Line breaks, tabs and every other kind of whitespace (including the full-width space)
    become one ASCII space. Format characters include the zero-width space and joiners,
    the byte-order mark and bidirectional overrides (which can make text display in an
    order other than the stored one); removing the zero-width joiner splits a composed emoji
    into its parts, which is harmless. Length is counted in code points after trimming.
    """
    kept: list[str] = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif ch in _BLANK_LETTERS or unicodedata.category(ch) in _DROPPED_CATEGORIES:
            continue
        else:
            kept.append(ch)
    # NFC after removal: a removed character may have stood between a letter and its accent.
    cleaned = " ".join(unicodedata.normalize("NFC", "".join(kept)).split())
    if not cleaned:
        raise TextRejected("empty", "问题不能为空。")
    if len(cleaned) < min_len:
        raise TextRejected("too_short", f"问题至少 {min_len} 字。")
    if len(cleaned) > max_len:
        raise TextRejected("too_long", f"问题最多 {max_len} 字。")
    return cleaned


# ---------------------------------------------------------------------------------------------
# The matching form

# Characters that render as nothing (soft hyphen, zero-width space and joiners, direction
# marks and overrides, variation selectors, Hangul fillers, tags). Removed before anything
# else, so that "驾\u200b照" is 驾照 and not 驾 and 照.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff]"
)
_SEPARATORS = re.compile(r"[\W_]+")
# Full-width ASCII (and the ideographic space) to ASCII: what NFKC does to the characters
# that matter for finding words, at a fraction of its cost, one character for one.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


@cache
def simplified_table() -> dict[int, int]:
    """Traditional → simplified, character for character, from OpenCC's ``TSCharacters``
    table (the ``opencc-python-reimplemented`` package); empty when it is not installed.

    Only unambiguous characters are kept: one that is also written in simplified text (乾,
    覆, 藉 …) or that simplifies to one of several characters keeps its own form, so that
    folding never turns a correct simplified word into another word.
    """
    try:
        folder = resources.files("opencc").joinpath("dictionary")
        ts = folder.joinpath("TSCharacters.txt").read_text(encoding="utf-8")
        st = folder.joinpath("STCharacters.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return {}
    simplified = {line.split("\t", 1)[0] for line in st.splitlines() if line}
    pairs = [line.split("\t", 1) for line in ts.splitlines() if "\t" in line]
    targets = {t for _, found in pairs for t in found.split()}
    return {
        ord(source): ord(found.split()[0])
        for source, found in pairs
        if len(source) == 1 and len(found.split()[0]) == 1
        and source not in simplified and source not in targets
    }


@cache
def _fast_table() -> dict[int, int]:
    return {**_FULL_WIDTH, **simplified_table()}


@cache
def _traditional() -> frozenset[str]:
    """The characters ``simplified_table`` changes."""
    return frozenset(map(chr, simplified_table()))


@cache
def _traditional_in_gb2312() -> tuple[str, ...]:
    """The few of them that GB2312 can encode too (後, 麴 …)."""
    found = []
    for ch in sorted(_traditional()):
        with contextlib.suppress(UnicodeEncodeError):
            ch.encode("gb2312")
            found.append(ch)
    return tuple(found)


def _simplified(text: str) -> str:
    """``text`` with its traditional characters made simplified. Most texts have none, and
    finding that out is far cheaper than translating every character: a text GB2312 (the
    simplified character set) can encode holds none but a known few."""
    if text.isascii():
        return text
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        if _traditional().isdisjoint(text):
            return text
    else:
        if not any(ch in text for ch in _traditional_in_gb2312()):
            return text
    return text.translate(simplified_table())


def fold(text: str) -> str:
    """The form every text is compared in: letters and digits, single spaces between runs.

    NFKC turns full-width letters, digits and punctuation into their ASCII forms ("Ｃ１" →
    "c1" after case folding) and compatibility characters into plain ones; traditional
    characters become simplified ("駕駛證" → "驾驶证"); what is left that is neither a
    letter nor a digit (punctuation, symbols, emoji, FTS query syntax) separates words.
    """
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).casefold()
    return _SEPARATORS.sub(" ", _simplified(text)).strip()


def fold_char(ch: str) -> str:
    """One character as ``fold`` treats it, separators left as they are ("" when invisible)."""
    if _INVISIBLE.match(ch):
        return ""
    return _simplified(unicodedata.normalize("NFKC", ch).casefold())


def fold_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """``text`` folded character by character (separators kept, so nothing moves) and, when
    folding changed its length, the position of the original character behind each folded
    one (``None``: the same positions). A word of folded text found in the result is the
    same word ``fold`` would give, at a place that can be marked in ``text``."""
    folded = text.translate(_fast_table()).lower()
    if len(folded) == len(text) and not _needs_nfkc(folded):
        return folded, None
    pieces: list[str] = []
    offsets: list[int] = []
    for position, char in enumerate(text):
        piece = fold_char(char)
        pieces.append(piece)
        offsets.extend([position] * len(piece))
    return "".join(pieces), offsets


def _needs_nfkc(text: str) -> bool:
    """Whether NFKC or case folding would change more than the fast table did (ligatures,
    circled digits, compatibility ideographs, invisible characters …)."""
    return not unicodedata.is_normalized("NFKC", text) or bool(_INVISIBLE.search(text)) or (
        text != text.casefold())


def fold_signature() -> str:
    """Changes whenever ``fold`` would fold some text differently."""
    table = simplified_table()
    digest = hashlib.sha256(repr(sorted(table.items())).encode()).hexdigest()[:12]
    return f"{FOLD_VERSION}:{unicodedata.unidata_version}:{digest}"


def squeeze(text: str) -> str:
    """``fold`` without the spaces: letters and digits only, the form questions are compared
    in for duplicates and suggestions ("驾 照？" and "驾照" are one thing)."""
    return fold(text).replace(" ", "")
