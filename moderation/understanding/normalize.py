"""One normalisation for everything the understanding engine reads: the catalog, the knowledge
base, labelled examples and the citizen's question all become the same canonical tokens.

Steps, in order (``Normalizer.text`` does 0–5, ``Normalizer.tokens`` adds 6–7):

1–2. ``moderation.text.fold``, the product's one matching form: invisible characters dropped,
   NFKC (full-width → half-width), case folded, traditional → simplified, punctuation → spaces.
0. Personal data read as what it is, before folding: a mobile number becomes the word 手机号,
   an identity card number 身份证号, a plate number (浙A·12345) 号牌号码, a VIN 车架号 and so on;
   a self-introduced name is dropped. Citizens type their own; the digits say nothing about
   the business, the kind of number does ("我的新号是1391234…"). The product's detector
   (``moderation.pii``) finds them, and its masks read the same ("138****5678" is 手机号):
   a stored question, masked, reads as the question typed. After folding, a number shaped
   like a mobile or an ID number that the detector's checks refused is read so too (and all
   personal data of a text of more than MAX_DIGIT_GROUPS numbers, which the detector reads
   slowly, is left to those patterns).
3. Typos from the word list, replaced whole ("驾找" → "驾照").
4. Pinyin and homophone typos: a run of letters that spells a domain word's pinyin becomes
   the word ("jiazhao" → 驾照); a stretch of 2–4 Chinese characters that is no known word
   but sounds exactly like a domain word and differs from it in one character becomes the
   word ("年捡" → 年检, "林牌" → 临牌). Domain words are the catalog's and the word list's.
5. Chinese numerals → digits (cn2an) where they count something: a run of two or more
   numerals ("十二" → 12, "一二一二三" → 12123), or one numeral before a unit (年, 岁, 分,
   个月 …) or after 第/科目 ("第二年" → 第2年, "科目一" → 科目1). A numeral inside a word
   ("一直", "二手车", "三力") stays.
6. Words cut with jieba's dictionary plus the domain words; each word of an equivalence group
   of the word list becomes the group's first word ("电瓶车" → 电动自行车); stopwords dropped.
7. The word list's one-way expansions are appended ("被拍" also means 电子监控, 交通违法).

The word list is passed in (anything shaped like ``WordListLike``), so this package needs no
import from the search package above it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Protocol

import cn2an
from pypinyin import lazy_pinyin

from moderation.pii import find_pii, replace_found
from moderation.pii.names import COMPOUND_SURNAMES, SURNAMES
from moderation.pii.plates import PROVINCES, SUFFIXES
from moderation.text import fold

if TYPE_CHECKING:
    import rjieba


class WordListLike(Protocol):
    """What the engine reads of the admin-editable word list (every word already folded)."""

    @property
    def equivalent(self) -> tuple[tuple[str, ...], ...]: ...
    @property
    def expand(self) -> tuple[tuple[str, tuple[str, ...]], ...]: ...
    @property
    def typos(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def stopwords(self) -> frozenset[str]: ...


_HAN = re.compile(r"[\u3400-\u9fff]+")
_LETTERS = re.compile(r"[a-z]{4,}")
_NUMERALS = "零〇一二两三四五六七八九十百千万"
_DIGIT_OF = {ch: str(value) for value, ch in enumerate("零一二三四五六七八九")} | {
    "〇": "0", "两": "2"}
_UNITS = "年岁周个分天次辆月号块元位项台日"
_NUMERAL_RE = re.compile(
    rf"[{_NUMERALS}]{{2,}}|(?<=第|目)[{_NUMERALS}]|[{_NUMERALS}](?=[{_UNITS}])"
)
_SEPARATORS = re.compile(r"[\W_]+")
# The word each kind of personal data reads as (``moderation.pii.PII_KINDS``); a name says
# nothing about the business and is dropped.
_KIND_WORDS = {"id_number": "身份证号", "mobile": "手机号", "plate": "号牌号码",
               "landline": "电话号码", "bank_card": "银行卡号", "email": "邮箱",
               "licence_file": "档案编号", "vin": "车架号", "name": ""}
# The detector's masks (``moderation.pii``: at least two ``*``), each with the word it reads
# as, shape by shape; a name's ("张**", "欧阳**") is dropped, and any other run of ``*`` too.
_ID_LENGTH = 18  # an 18-character number is an ID number, whatever check digit it carries
_MASKS = (
    (re.compile(rf"[{PROVINCES}][A-Za-z][*]{{2,}}[0-9A-Za-z{SUFFIXES}]|使[*]{{5}}[0-9]"),
     "号牌号码"),
    (re.compile(r"(?<![0-9])1[3-9][0-9][*]{4}[0-9]{4}(?![0-9])"), "手机号"),
    (re.compile(r"(?<![0-9])[0-9]{3}[*]{10,13}[0-9Xx]{2}(?![0-9])"), "身份证号"),
    (re.compile(r"[0-9A-Za-z.+-]*[*]{2,}@[0-9A-Za-z.-]+"), "邮箱"),
    (re.compile(r"(?<![0-9])0[0-9]{2,3}-?[*]{4,}[0-9]{2}(?![0-9])"), "电话号码"),
    (re.compile(r"(?<![0-9A-Za-z])[A-HJ-NPR-Za-hj-npr-z0-9]{3}[*]{12}[A-HJ-NPR-Za-hj-npr-z0-9]{2}"
                r"(?![0-9A-Za-z])"), "车架号"),
    (re.compile(r"(?<![0-9])[0-9]{2}[*]{8}[0-9]{2}(?![0-9])"), "档案编号"),
    (re.compile(r"(?<![0-9])[0-9]{4}[*]{6,}[0-9]{4}(?![0-9])"), "银行卡号"),
    (re.compile(rf"(?:{'|'.join(sorted(COMPOUND_SURNAMES))}|[{''.join(sorted(SURNAMES))}])"
                r"[*]{2}(?![*])"), ""),
    (re.compile(r"[*]{2,}"), ""),
)
# Text with more digit groups than this is not searched for personal data by the detector
# (its reading of many groups is slow); the patterns after folding still apply.
MAX_DIGIT_GROUPS = 24
_DIGIT_GROUP = re.compile(r"[0-9０-９]+")
# In folded text (letters lower case): numbers shaped like an ID or a mobile number, which
# the detector refuses when a check digit or a date is wrong (a citizen's made-up example).
_PERSONAL = (
    (re.compile(r"(?<![0-9a-z])[0-9]{17}[0-9x](?![0-9a-z])"), " 身份证号 "),
    (re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"), " 手机号 "),
)
# Characters of question words, particles and pronouns: a stretch holding one is a piece of
# ordinary grammar ("车什么" is 车 + 什么, not a misspelt "车身"), never corrected.
_GRAMMAR = frozenset(
    "什么怎样咋哪谁的地得了吗呢吧啊呀嘛是我你您他她它这那们有在和与就都也还又去来到把被给让"
)


def _numeral(match: re.Match[str]) -> str:
    run = match.group(0)
    if not any(ch in "十百千万" for ch in run):
        return "".join(_DIGIT_OF[ch] for ch in run)  # read digit by digit: 一二一二三
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cn2an warns on input it then rejects
        try:
            return str(cn2an.cn2an(run, "smart"))
        except (ValueError, KeyError):
            return run


def numerals_to_digits(text: str) -> str:
    return _NUMERAL_RE.sub(_numeral, text)


def personal_data_named(raw: str) -> str:
    """Step 0 on the text as typed: each piece of personal data, or its mask, replaced by the
    word for what it is (spaced, so it never joins a neighbouring word)."""
    for pattern, word in _MASKS:
        raw = pattern.sub(partial(_spaced_kind, word), raw)
    if len(_DIGIT_GROUP.findall(raw)) > MAX_DIGIT_GROUPS:
        return raw
    return replace_found(raw, find_pii(raw), lambda item: (
        f" {_kind_word(_KIND_WORDS.get(item.kind, ''), raw[item.start : item.end])} "))


def _kind_word(word: str, found: str) -> str:
    """A bank card number (or its mask) of an ID number's length reads as one: an ID number
    with a wrong check digit may pass the card's."""
    card = word == "银行卡号"
    return "身份证号" if card and len(re.sub(r"\s", "", found)) == _ID_LENGTH else word


def _spaced_kind(word: str, match: re.Match[str]) -> str:
    return f" {_kind_word(word, match.group(0))} "


def numbers_named(folded: str) -> str:
    """After folding: numbers shaped like an ID or a mobile number read as one."""
    for pattern, word in _PERSONAL:
        folded = pattern.sub(word, folded)
    return folded


class Normalizer:
    """Built once from the domain words and the word list; afterwards only reads."""

    def __init__(self, words: WordListLike, domain_terms: Iterable[str],
                 other_terms: Iterable[str] = ()) -> None:
        """``domain_terms`` are the catalog's words (also homophone targets); ``other_terms``
        are only kept whole when cutting (the outside topics' words)."""
        import rjieba  # imported here: loading its dictionary costs 0.1 s and 30 MB

        self._typos = dict((self._early(bad), self._early(good)) for bad, good in words.typos)
        self._typo_re = _alternation(self._typos)
        spoken = {self._early(term) for term in domain_terms}
        spoken |= {self._early(w) for group in words.equivalent for w in group}
        spoken |= {self._early(w) for w, targets in words.expand for w in (w, *targets)}
        spoken |= set(self._typos.values())
        self._jieba: rjieba.Jieba = rjieba.Jieba()
        vocabulary = {numerals_to_digits(term) for term in spoken}
        others = {numerals_to_digits(self._early(term)) for term in other_terms}
        for term in sorted(vocabulary | others):
            if len(term) >= 2 and " " not in term:
                self._jieba.add_word(term, None, None)
        self.vocabulary = frozenset(vocabulary)
        # Homophone targets: domain words of 2-4 Chinese characters and the dictionary words
        # inside longer ones ("密码" of "忘记密码"), by their toneless pinyin.
        parts = {part for term in spoken for part in self._jieba.cut_for_search(term, False)}
        self._targets = {t for t in spoken | parts if 2 <= len(t) <= 4 and _HAN.fullmatch(t)}
        self._by_sound: dict[tuple[str, ...], str] = {}
        self._by_letters: dict[str, str] = {}
        for term in sorted(self._targets):
            sound = tuple(lazy_pinyin(term))
            self._by_sound.setdefault(sound, term)
            self._by_letters.setdefault("".join(sound), term)
        self._head = {
            numerals_to_digits(self._early(member)): numerals_to_digits(self._early(group[0]))
            for group in words.equivalent for member in group
        }
        self._expand = {
            numerals_to_digits(self._early(word)): tuple(
                self._head.get(t, t) for t in (numerals_to_digits(self._early(t))
                                               for t in targets))
            for word, targets in words.expand
        }
        self._stop = frozenset(numerals_to_digits(self._early(w)) for w in words.stopwords)
        self._known = lru_cache(maxsize=65536)(self._jieba.has_word)
        self._sound = lru_cache(maxsize=65536)(lambda s: tuple(lazy_pinyin(s)))

    def forms(self, word: str) -> frozenset[str]:
        """The word (folded, as the engine reads it) and every word of the word list's
        equivalence group that it heads or belongs to ("行驶证" → 行驶证, 行驶本, 车本 …)."""
        folded = numerals_to_digits(self._early(word))
        head = self._head.get(folded, folded)
        return frozenset({head, *(member for member, h in self._head.items() if h == head)})

    def _early(self, text: str) -> str:
        return fold(text)

    def text(self, raw: str) -> str:
        """Steps 1-5: the corrected text, punctuation kept as spaces."""
        text = numbers_named(self._early(personal_data_named(raw)))
        text = _SEPARATORS.sub(" ", text).strip()
        if self._typo_re is not None:
            text = self._typo_re.sub(lambda m: self._typos[m.group(0)], text)
        text = _LETTERS.sub(lambda m: self._by_letters.get(m.group(0), m.group(0)), text)
        text = _HAN.sub(lambda m: self._homophones(m.group(0)), text)
        return numerals_to_digits(text)

    def tokens(self, raw: str, *, read: str | None = None) -> list[str]:
        """Steps 1-7: canonical words, stopwords dropped, expansions appended. ``read`` is
        ``text(raw)`` when the caller has it already."""
        found: list[str] = []
        extra: list[str] = []
        for word in self._jieba.cut(self.text(raw) if read is None else read, False):
            if word.isspace() or word in self._stop:
                continue
            found.append(self._head.get(word, word))
            extra.extend(self._expand.get(word, ()))
        return found + extra

    def _homophones(self, run: str) -> str:
        # A misspelt word starts where a word starts: "桩车" of "充电桩车位" sounds like 撞车
        # but starts inside 充电桩, so it is left alone.
        starts = {0}
        for word in self._jieba.cut(run, False):
            starts.add(max(starts) + len(word))
        out: list[str] = []
        i = 0
        while i < len(run):
            for size in (4, 3, 2) if i in starts else ():
                window = run[i : i + size]
                if len(window) < size:
                    continue
                if window in self._targets:
                    break
                if self._known(window) or not _GRAMMAR.isdisjoint(window):
                    continue
                term = self._by_sound.get(self._sound(window))
                if term is not None and sum(a != b for a, b in zip(term, window, strict=True)) == 1:
                    window = term
                    break
            else:
                window = run[i]
            out.append(window)
            i += len(window)
        return "".join(out)


def _alternation(words: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(words), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None
