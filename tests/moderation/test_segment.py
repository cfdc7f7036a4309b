"""Text analysis for search: the word list, segmentation, query terms, typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.catalog import load_catalog
from moderation.segment import (
    MAX_TERMS,
    Segmenter,
    WordList,
    WordListError,
    load_word_list,
    parse_word_list,
)
from moderation.text import fold


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter.for_catalog(load_catalog(), load_word_list())


# --- the word list ---------------------------------------------------------------------------


def test_the_shipped_word_list_loads() -> None:
    words = load_word_list()
    assert any("驾照" in group and "驾驶证" in group for group in words.equivalent)
    assert ("驾找", "驾照") in words.typos
    assert {"请问", "怎么", "的", "了", "吗"} <= words.stopwords


def test_word_list_words_are_normalized() -> None:
    words = parse_word_list('[equivalent]\n"Ｃ１" = ["ｃ1照"]\n[typos]\n"ＡＢ" = "Cd"\n')
    assert words.equivalent == (("c1", "c1照"),)
    assert words.typos == (("ab", "cd"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[equivalent\n", "不是有效的 TOML"),
        ("[synonyms]\n", "未知的部分：synonyms"),
        ('[equivalent]\n"驾驶证" = ["驾照"]\n"驾照证" = ["驾照"]\n', "'驾照' 同时出现在同义词组"),
        ('[equivalent]\n"驾驶证" = "驾照"\n', "非空的词列表"),
        ('[equivalent]\n"驾驶证" = ["！！"]\n', "非空的词"),
        ('[expand]\n"年审" = []\n', "非空的词列表"),
        ('[typos]\n"驾找" = 1\n', "非空的词"),
        ('[homophones]\n"驾照" = "架"\n', "必须是一个字"),
        ("[stopwords]\nlist = []\n", "未知的键"),
        ("equivalent = 1\n", "必须是表"),
    ],
)
def test_a_bad_word_list_is_refused_with_the_entry_named(text: str, message: str) -> None:
    with pytest.raises(WordListError, match=message):
        parse_word_list(text, source="test.toml")


def test_an_unreadable_word_list_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(WordListError, match="无法读取搜索词表"):
        load_word_list(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("[typos]\n'\xe9' = 'e'\n".encode("latin-1"))
    with pytest.raises(WordListError, match="不是 UTF-8"):
        load_word_list(bad)


# --- segmentation ----------------------------------------------------------------------------


def test_catalog_and_word_list_terms_are_words(segmenter: Segmenter) -> None:
    assert segmenter.analyze("年审").terms[0].text == "年审"
    assert [t.text for t in segmenter.analyze("电瓶车上牌").terms] == ["电瓶车上牌"]


def test_clip_text_is_indexed_with_the_words_inside_long_words(segmenter: Segmenter) -> None:
    tokens = segmenter.index_tokens("机动车检验合格标志遗失了怎么补领？")
    assert {"机动车", "检验", "检验合格标志", "遗失", "补领"} <= set(tokens)
    assert not {"了", "怎么"} & set(tokens)  # stopwords


def test_index_text_is_space_separated_tokens(segmenter: Segmenter) -> None:
    assert segmenter.index_text("驾照，到期！") == "驾照 到期"


def test_query_stopwords_are_dropped(segmenter: Segmenter) -> None:
    terms = segmenter.analyze("请问我的驾照快到期了在哪里换呢？").terms
    assert [t.text for t in terms] == ["驾照", "快到期", "换"]


def test_query_words_carry_their_synonyms(segmenter: Segmenter) -> None:
    (term,) = segmenter.analyze("驾照").terms
    assert term.alternatives[0] == "驾照"
    assert "驾驶证" in term.alternatives
    (vehicle,) = segmenter.analyze("违章").terms
    assert "交通违法" in vehicle.alternatives


def test_one_way_expansions_do_not_come_back(segmenter: Segmenter) -> None:
    (colloquial,) = segmenter.analyze("年审").terms
    assert {"检验", "审验"} <= set(colloquial.alternatives)
    (official,) = segmenter.analyze("审验").terms
    assert "年审" not in official.alternatives


def test_a_long_word_has_its_parts(segmenter: Segmenter) -> None:
    (term,) = segmenter.analyze("电瓶车上牌").terms
    assert [part.text for part in term.parts] == ["电瓶车", "上牌"]
    assert "电动自行车" in term.parts[0].alternatives
    (short,) = segmenter.analyze("电瓶车").terms
    assert short.parts == ()  # 电瓶 + 车 would change the meaning


def test_lone_characters_are_weak_terms(segmenter: Segmenter) -> None:
    terms = {t.text: t for t in segmenter.analyze("车子丢了怎么补").terms}
    assert terms["丢了"].strong and terms["丢了"].domain
    assert terms["车子"].strong and not terms["车子"].domain
    assert not terms["补"].strong


def test_query_syntax_becomes_plain_words(segmenter: Segmenter) -> None:
    terms = segmenter.analyze('NEAR(驾照 OR "年检*") -title:^x').terms
    assert [t.text for t in terms] == ["near", "驾照", "or", "年检", "title", "x"]


def test_a_query_keeps_at_most_max_terms(segmenter: Segmenter) -> None:
    query = "驾照 年检 违章 过户 上牌 罚款 体检 预约 注销 挪车 解押 临牌 补领"
    terms = segmenter.analyze(query).terms
    assert len(terms) == MAX_TERMS
    assert [t.text for t in terms][:3] == ["驾照", "年检", "违章"]


def test_highlight_words_are_longest_first_and_skip_lone_characters(
    segmenter: Segmenter,
) -> None:
    words = segmenter.analyze("驾照丢了怎么补").highlight_words()
    assert "驾驶证" in words and "丢失" in words
    assert "补" not in words
    assert list(words) == sorted(words, key=lambda w: (-len(w), w))
    assert "补" in segmenter.analyze("补").highlight_words()  # nothing else to mark


# --- typos -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("驾找快到期了", "驾照快到期了"),  # listed typo
        ("我的车年肾过了", "我的车年审过了"),
        ("电频车上牌", "电瓶车上牌"),
        ("违张怎么处理", "违章怎么处理"),
        ("行使证丢了", "行驶证丢了"),
        ("驾驶正到期", "驾驶证到期"),  # homophone of a catalog word
        ("电平车", "电瓶车"),
    ],
)
def test_typos_are_corrected(segmenter: Segmenter, typed: str, searched: str) -> None:
    analyzed = segmenter.analyze(typed)
    assert analyzed.text == searched
    assert analyzed.corrections


@pytest.mark.parametrize(
    "text",
    ["我还证明不了", "年龄大了", "找到驾照了", "审核要多久", "上排座位", "检查一下", "c1增驾b2"],
)
def test_words_and_sound_text_are_left_alone(segmenter: Segmenter, text: str) -> None:
    assert segmenter.correct(fold(text)) == (fold(text), ())


def test_an_ambiguous_misspelling_is_not_corrected() -> None:
    words = WordList(homophones=(("椅", "丫"), ("凳", "丫")), stopwords=frozenset({"的"}))
    segmenter = Segmenter(words, ["驴椅", "驴凳", "马椅"])
    assert segmenter.correct("马丫")[0] == "马椅"  # one domain word it could be
    assert segmenter.correct("驴丫")[0] == "驴丫"  # 驴椅 or 驴凳?


def test_the_signature_follows_what_decides_indexing() -> None:
    catalog = load_catalog()
    words = load_word_list()
    first = Segmenter.for_catalog(catalog, words).signature
    assert Segmenter.for_catalog(catalog, words).signature == first
    more = WordList((*words.equivalent, ("新词甲", "新词乙")), words.expand, words.typos,
                    words.homophones, words.stopwords)
    assert Segmenter.for_catalog(catalog, more).signature != first
    typo_only = WordList(words.equivalent, words.expand, (*words.typos, ("驾招", "驾照")),
                         words.homophones, words.stopwords)
    assert Segmenter.for_catalog(catalog, typo_only).signature == first  # queries only
