"""The documents a question is about: the plates and certificates the traffic administration
issues (驾驶证, 行驶证, 号牌 …), each with its colloquial forms from the word list
(驾照, 行车本, 车牌 …).

Two items often differ only by their document: losing a 驾驶证 and losing a 行驶证 are
different business items whose questions share nearly every other word, and five of the six
character n-grams of 行驶证 are also in 驾驶证. The n-gram model and BM25 can then rank first
the item of the document the question does not name. ``prefer_named_document`` corrects the
order with the one fact that decides it: when the question names a document and the first
item's name names only other ones, an item among the next ones whose name names the
question's document comes first.

Measured (bench/RESULTS.md): on the dev half (2-fold) and on the knowledge base's phrasings
read by engines that did not learn them (2-fold), the rule moves the right item first for
four questions and the wrong one for none.

``OtherDocuments`` finds the documents other departments issue (身份证, 护照, 不动产证 …, listed
by the outside topics): losing, renewing or replacing one of them is asked with the same words
as for a driving licence, and only the document tells the two apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

# The documents the administration issues, by the word list's canonical form. Documents a
# citizen brings (a medical certificate, an identity card) are not among them: a question
# about a licence's medical check names the certificate without being about it.
ISSUED = ("驾驶证", "电子驾驶证", "行驶证", "号牌", "临时号牌", "登记证书", "检验合格标志")
REACH = 3  # the item that names the question's document must be among the first REACH
# A document named within BROUGHT_REACH characters after one of these is brought along, and
# so is one in a list ("带身份证和户口本") or a copy of one ("身份证复印件").
_BROUGHT = frozenset("带拿凭持用和及、")
_COPIES = ("复印件", "原件", "照片")
BROUGHT_REACH = 3
# A document's number typed after it ("身份证330102…", masked "330*************29"), not a
# count ("身份证3天前丢了").
NUMBER = r"[:：]?\s*[0-9][0-9*xX]{5,}"


class Documents:
    """Finds the issued documents a text names, by any of their forms, the longest form
    first (临时号牌 is a 临时号牌, not a 号牌)."""

    def __init__(self, forms: Callable[[str], Iterable[str]]) -> None:
        self._of: dict[str, str] = {}
        for document in ISSUED:
            for form in forms(document):
                self._of.setdefault(form, document)
        alternatives = sorted(self._of, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def named(self, *texts: str) -> frozenset[str]:
        """The documents the texts name, each with the documents it is a kind of (an
        电子驾驶证 is a 驾驶证, a 临时号牌 a 号牌)."""
        found = {self._of[m.group(0)] for text in texts for m in self._pattern.finditer(text)}
        return frozenset(kind for kind in ISSUED for document in found if kind in document)


class OtherDocuments:
    """Finds the first document another department issues that a text asks about, as the
    label of that department's topic. A document followed by 号 or by a number (six digits or
    more, masked or not) is its number given (``normalize`` reads a typed identity card number
    as 身份证号), and one just after 带, 拿, 凭, 持 or 用, in a list (和, 及, 、) or followed
    by 复印件 is brought along ("补办要带身份证吗"): a traffic question often gives either."""

    def __init__(self, documents: Iterable[tuple[str, str]]) -> None:
        self._of = {document: label for document, label in documents}
        alternatives = sorted(self._of, key=len, reverse=True)
        self._pattern = (re.compile(
            f"(?:{'|'.join(map(re.escape, alternatives))})(?!号|{NUMBER})")
                         if alternatives else None)

    def named(self, text: str) -> str | None:
        if self._pattern is None:
            return None
        for found in self._pattern.finditer(text):
            before = text[max(0, found.start() - BROUGHT_REACH) : found.start()]
            if _BROUGHT.isdisjoint(before) and not text.startswith(_COPIES, found.end()):
                return self._of[found.group(0)]
        return None

    def without(self, text: str) -> str:
        """The text with every document of another department blanked out, so that the
        产权证 inside 不动产权证 is not read as one of ours."""
        return self._pattern.sub(" ", text) if self._pattern else text


def prefer_named_document(ranked: Sequence[str], asked: frozenset[str],
                          named: Callable[[str], frozenset[str]]) -> int:
    """The position in ``ranked`` (item ids, best first) of the item to put first: 0, unless
    the question names documents (``asked``), the first item's name (``named``) names only
    others, and one of the next ``REACH - 1`` items' names names one of the question's."""
    if not asked or not ranked:
        return 0
    first = named(ranked[0])
    if not first or first & asked:
        return 0
    return next((n for n, item_id in enumerate(ranked[1:REACH], start=1)
                 if named(item_id) & asked), 0)
