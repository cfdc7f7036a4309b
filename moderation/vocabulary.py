"""The word list as duplicate detection and item suggestion read it: one substitution pass
that turns what citizens type into the catalog's words.

The words come from the one admin-editable word list (``moderation/synonyms.toml``, parsed
by ``moderation.segment``), the same list the library's search uses, so an admin's new
synonym or typo fixes suggestions and search alike. From it:

* every member of an ``[equivalent]`` group is replaced by the group's first word (the
  catalog's term): "驾照" → 驾驶证, "电瓶车" → 电动自行车;
* every ``[typos]`` entry by its correct spelling, and that by its group's first word:
  "驾找" → 驾照 → 驾驶证.

``[expand]`` entries are one-way ("年审" may mean 检验 or 审验) and are left to search, which
can look for several words at once; a substitution has to pick one. A member of one
character is never substituted: inside a question it is part of too many other words.

Matching is on ``moderation.text.squeeze``d text (folded, letters and digits only), in one
left-to-right pass, longest word first at each position. Each group's first word is a key
too, mapping to itself, so a catalog term is never rewritten from inside ("交通违法" stays,
although its member "违法" is a key).
"""

from __future__ import annotations

import re
from functools import cache

from moderation.segment import WordList, load_word_list
from moderation.text import squeeze


class Vocabulary:
    """The substitutions of one word list; immutable, hashable by identity (caches key on it)."""

    def __init__(self, words: WordList) -> None:
        self.words = words
        mapping: dict[str, str] = {}
        heads: set[str] = set()
        for group in words.equivalent:
            head = squeeze(group[0])
            heads.add(head)
            for member in group[1:]:
                word = squeeze(member)
                if len(word) >= 2 and word != head:
                    mapping[word] = head
        for typo, correct in words.typos:
            target = squeeze(correct)
            word = squeeze(typo)
            if len(word) >= 2 and word != target:
                mapping[word] = mapping.get(target, target)
        for head in heads:
            mapping.setdefault(head, head)
        self.mapping = mapping
        # The words questions are compared in: every target of a substitution.
        self.terms = frozenset(target for target in mapping.values() if target)
        keys = sorted(mapping, key=lambda word: (-len(word), word))
        self._pattern = re.compile("|".join(map(re.escape, keys))) if keys else None

    def canonical(self, text: str) -> str:
        """Folded, letters and digits only, in the catalog's words: the form questions are
        compared in."""
        letters = squeeze(text)
        if self._pattern is None:
            return letters
        return self._pattern.sub(lambda m: self.mapping[m.group(0)], letters)

    def canonical_typed(self, text: str) -> tuple[str, tuple[float, ...]]:
        """``canonical(text)`` and, for each of its characters, how many characters the
        citizen typed for it: 1 where nothing was replaced, 2/3 for each character of
        驾驶证 where 驾照 was typed. Evidence is weighed by what was typed, not by how long
        the catalog's word for it happens to be."""
        letters = squeeze(text)
        out: list[str] = []
        typed: list[float] = []
        position = 0
        for found in self._pattern.finditer(letters) if self._pattern is not None else ():
            out.append(letters[position:found.start()])
            typed.extend([1.0] * (found.start() - position))
            target = self.mapping[found.group(0)]
            out.append(target)
            typed.extend([len(found.group(0)) / len(target)] * len(target))
            position = found.end()
        out.append(letters[position:])
        typed.extend([1.0] * (len(letters) - position))
        return "".join(out), tuple(typed)


@cache
def shipped_vocabulary() -> Vocabulary:
    """The vocabulary of the word list shipped with the code (read once, when first used)."""
    return Vocabulary(load_word_list())
