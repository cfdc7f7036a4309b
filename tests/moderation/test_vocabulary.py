"""The word list as suggestions and duplicate hints read it: substitutions into the catalog's
words, what is never substituted, and what the citizen typed."""

from __future__ import annotations

import pytest

from moderation.catalog import load_catalog
from moderation.filters import similarity
from moderation.segment import parse_word_list
from moderation.suggest import suggest_item
from moderation.vocabulary import Vocabulary, shipped_vocabulary

WORDS = parse_word_list(
    '[equivalent]\n"交通违法" = ["违章", "违法"]\n"驾驶证" = ["驾照", "本"]\n'
    '[expand]\n"年审" = ["检验"]\n[typos]\n"驾找" = "驾照"\n'
)


def test_members_and_typos_become_the_groups_first_word() -> None:
    words = Vocabulary(WORDS)
    assert words.canonical("违章了") == "交通违法了"
    assert words.canonical("驾找，丢了！") == "驾驶证丢了"  # a typo, then its group
    assert words.terms == {"交通违法", "驾驶证"}


def test_a_first_word_is_never_rewritten_from_inside() -> None:
    assert Vocabulary(WORDS).canonical("交通违法处理") == "交通违法处理"


def test_one_character_members_and_expansions_are_left_to_search() -> None:
    words = Vocabulary(WORDS)
    assert words.canonical("本子年审") == "本子年审"


def test_typed_lengths_follow_the_replacements() -> None:
    text, typed = Vocabulary(WORDS).canonical_typed("驾照到期")
    assert text == "驾驶证到期"
    assert typed == pytest.approx((2 / 3, 2 / 3, 2 / 3, 1.0, 1.0))
    assert sum(typed) == pytest.approx(len("驾照到期"))


@pytest.mark.parametrize(("typed", "canonical"), [
    # The entries of the former separate list (moderation/vocabulary.SYNONYMS), now read
    # from the one editable word list.
    ("驾照", "驾驶证"), ("驾驶本", "驾驶证"), ("行驶本", "行驶证"), ("小电驴", "电动自行车"),
    ("电瓶车", "电动自行车"), ("电摩", "电动摩托车"), ("年检", "检验"), ("违章", "交通违法"),
    ("车牌", "号牌"), ("丢失", "丢了"), ("扣分", "记分"), ("驾照年审", "审验"),
])
def test_the_shipped_list_carries_the_former_synonyms(typed: str, canonical: str) -> None:
    assert shipped_vocabulary().canonical(typed) == canonical


def test_an_edited_list_changes_suggestions_and_duplicates() -> None:
    catalog = load_catalog()
    plain = shipped_vocabulary()
    edited = Vocabulary(parse_word_list('[equivalent]\n"驾驶证" = ["小蓝本本", "驾照"]\n'))
    suggested = suggest_item("小蓝本本快到期了怎么换", catalog, edited)
    assert suggested is not None and suggested.item_id == "license-renewal"
    unsure = suggest_item("小蓝本本快到期了怎么换", catalog, plain)
    assert unsure is None or unsure.item_id != "license-renewal"
    assert similarity("小蓝本本丢了", "驾照丢了", edited) == 1.0
    assert similarity("小蓝本本丢了", "驾照丢了", plain) < 0.6
