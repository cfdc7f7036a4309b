"""The document rule of the understanding engine (moderation/understanding/documents.py): an
item whose name names the document a question names comes before one whose name names only
another, on a real engine over a small catalog; and the rule's parts on their own."""

from __future__ import annotations

import heapq
from dataclasses import replace

import pytest

from moderation.catalog import Catalog, CatalogItem
from moderation.segment import parse_word_list
from moderation.understanding import Understanding
from moderation.understanding.documents import (
    REACH,
    Documents,
    OtherDocuments,
    prefer_named_document,
)
from moderation.understanding.engine import SHORTLIST, confidence
from moderation.understanding.outside import OutsideTopic

WORDS = parse_word_list("""
[equivalent]
"驾驶证" = ["驾照", "驾驶本"]
"行驶证" = ["行车本", "车本"]
"号牌" = ["车牌", "牌照"]
"临时号牌" = ["临牌"]
"电子驾驶证" = ["电子驾照"]
"丢了" = ["找不着", "找不到", "丢失"]
"补领" = ["补办", "补"]
""")


def item(item_id: str, name: str, description: str, keywords: tuple[str, ...]) -> CatalogItem:
    return CatalogItem(id=item_id, category="证件", name=name, description=description,
                       keywords=keywords, channel="12123", link="", link_status="ok")


# A lost driving licence is said in many ways, a lost vehicle licence in few: the shared
# words (丢了, 补领) and the shared characters of 驾驶证 / 行驶证 favour the first.
CATALOG = Catalog((
    item("licence-lost", "驾驶证遗失补证", "驾驶证丢了可以补领；驾照找不到了补办；丢了驾照怎么补",
         ("驾照丢了", "补驾照", "驾照找不到", "丢了怎么补", "补办", "找不着了补一个")),
    item("vehicle-licence-lost", "补换领机动车行驶证", "行驶证损坏可以换领",
         ("补行驶证",)),
    item("fine", "交通违法罚款缴纳", "罚款可以在网上交", ("交罚款", "罚单")),
))


@pytest.fixture(scope="module")
def engine() -> Understanding:
    return Understanding.build(CATALOG, WORDS)


def scored(engine: Understanding, text: str) -> list[str]:
    """The items by calibrated confidence alone, before the document rule."""
    _, candidates, _ = engine.candidates(text)
    shortlist = heapq.nlargest(SHORTLIST, candidates, key=lambda c: c.score)
    return [c.item_id for c in sorted(shortlist, key=confidence, reverse=True)]


def ranked(engine: Understanding, text: str) -> list[str]:
    return [item_id for item_id, _ in engine.understand(text).items]


def test_the_item_naming_the_questions_document_comes_first(engine: Understanding) -> None:
    question = "行车本找不着了怎么补一个"
    assert scored(engine, question)[0] == "licence-lost"  # what the scores alone say
    result = engine.understand(question)
    assert [item_id for item_id, _ in result.items][:2] == ["vehicle-licence-lost",
                                                            "licence-lost"]
    # each place keeps its confidence: the first is still the most confident
    values = [value for _, value in result.items]
    assert values == sorted(values, reverse=True)


def test_without_a_named_document_the_scores_decide(engine: Understanding) -> None:
    question = "证件找不着了怎么补一个"
    assert ranked(engine, question)[0] == scored(engine, question)[0] == "licence-lost"


def test_the_first_item_naming_the_questions_document_stays(engine: Understanding) -> None:
    question = "驾照找不着了怎么补一个"
    assert ranked(engine, question)[0] == scored(engine, question)[0] == "licence-lost"


def test_documents_are_found_by_any_form_and_with_their_kind(engine: Understanding) -> None:
    documents = Documents(engine.normalizer.forms)
    assert documents.named("行车本 丢了") == {"行驶证"}
    assert documents.named("驾驶本", "车牌") == {"驾驶证", "号牌"}
    assert documents.named("临牌过期") == {"临时号牌", "号牌"}  # the longest form first
    assert documents.named("电子驾照") == {"电子驾驶证", "驾驶证"}
    assert documents.named("体检证明") == frozenset()


@pytest.mark.parametrize(("asked", "expected"), [
    (frozenset(), 0),  # the question names no document
    (frozenset({"驾驶证"}), 0),  # the first item names it
    (frozenset({"行驶证"}), 2),  # the first does not, the third does
    (frozenset({"号牌"}), 0),  # none within reach does
])
def test_which_item_comes_first(asked: frozenset[str], expected: int) -> None:
    names = {"a": frozenset({"驾驶证"}), "b": frozenset(), "c": frozenset({"行驶证"}),
             "d": frozenset({"号牌"})}
    assert REACH == 3
    assert prefer_named_document(["a", "b", "c", "d"], asked, names.__getitem__) == expected


def test_a_first_item_naming_no_document_is_left_first() -> None:
    names = {"a": frozenset[str](), "b": frozenset({"行驶证"})}
    assert prefer_named_document(["a", "b"], frozenset({"行驶证"}), names.__getitem__) == 0


# --- other departments' documents -----------------------------------------------------------

ID_CARDS = OutsideTopic("户籍与身份证件", "派出所", ("户口迁移", "护照办理"), ("身份证", "护照"))


@pytest.fixture(scope="module")
def with_id_cards() -> Understanding:
    return Understanding.build(CATALOG, WORDS, outside=[ID_CARDS])


def test_a_question_about_another_departments_document_is_theirs(
    with_id_cards: Understanding,
) -> None:
    # Without the topic's documents the shared verbs file it under the lost driving licence.
    without = Understanding.build(CATALOG, WORDS, outside=[replace(ID_CARDS, documents=())])
    assert without.understand("身份证丢了怎么补办").intents == ("licence-lost",)
    result = with_id_cards.understand("身份证丢了怎么补办")
    assert not result.understood and result.intents == ()
    assert result.outside is not None and result.outside.name == "户籍与身份证件"
    assert "licence-lost" not in [item_id for item_id, _ in result.items]


def test_a_question_naming_our_document_too_or_bringing_theirs_is_ours(
    with_id_cards: Understanding,
) -> None:
    for text in ("身份证和驾照都丢了怎么补", "补办驾照要带身份证吗", "补办要带身份证吗",
                 "身份证号330102199001011234，驾照丢了怎么补"):
        result = with_id_cards.understand(text)
        assert result.understood and result.intents[0] == "licence-lost", text
        assert result.outside is None, text


def test_an_item_about_no_document_still_answers_beside_their_document(
    with_id_cards: Understanding,
) -> None:
    result = with_id_cards.understand("身份证丢了，罚单还能在网上交罚款吗")
    assert result.understood and result.intents[0] == "fine"


def test_other_documents_skip_numbers_and_documents_brought_along() -> None:
    documents = OtherDocuments([("身份证", "outside:0"), ("护照", "outside:1")])
    assert documents.named("身份证丢了") == "outside:0"
    assert documents.named("护照过期了") == "outside:1"
    assert documents.named("身份证号 驾照丢了") is None
    # Followed by its number: a number given, as the normaliser reads 身份证号.
    assert documents.named("对方身份证330102199003154821，过户要到场吗") is None
    assert documents.named("护照: 12345678 丢了") is None
    assert documents.named("对方身份证330*************29，过户要到场吗") is None  # masked
    assert documents.named("身份证3天前丢了怎么补") == "outside:0"  # a count, not a number
    assert documents.named("补办要带身份证吗") is None
    assert documents.named("拿着身份证去，护照丢了") == "outside:1"
    assert documents.named("过户要带身份证和护照吗") is None  # a list of things brought
    assert documents.named("身份证复印件可以吗") is None
    assert documents.without("不动产权证 护照丢了") == "不动产权证  丢了"
    assert OtherDocuments([]).named("身份证丢了") is None
