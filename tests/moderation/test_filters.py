"""Ingest filters: normalization, blocked terms, duplicates, suggested items, the whole chain."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.catalog import Catalog, load_catalog
from moderation.filters import (
    BlockedTerm,
    Screened,
    Suggestion,
    TextRejected,
    find_duplicate,
    match_terms,
    normalize_text,
    screen,
    similarity,
    suggest_item,
    terms_verdict,
)

CATALOG = load_catalog()


# --- normalize_text ------------------------------------------------------------------------


def test_whitespace_is_collapsed_and_trimmed() -> None:
    assert normalize_text("  驾照\n\n到期了\t怎么\u3000换？ ") == "驾照 到期了 怎么 换？"


def test_text_is_nfc_normalized() -> None:
    assert normalize_text("cafe\u0301") == "café"
    assert normalize_text("cafe\u200b\u0301") == "café"  # composed once the blocker is gone


@pytest.mark.parametrize(
    "hidden",
    ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u00ad", "\x00", "\x07", "\x7f"],
)
def test_control_format_and_zero_width_characters_are_removed(hidden: str) -> None:
    assert normalize_text(f"驾{hidden}照") == "驾照"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t", "\u200b\u200b", "\u3164", " \ufeff "])
def test_nothing_left_is_empty(blank: str) -> None:
    with pytest.raises(TextRejected) as caught:
        normalize_text(blank)
    assert caught.value.code == "empty"
    assert caught.value.message == "问题不能为空。"
    assert str(caught.value) == "问题不能为空。"


def test_too_long_counts_characters_after_trimming() -> None:
    assert normalize_text("  " + "问" * 300 + "  ") == "问" * 300
    with pytest.raises(TextRejected) as caught:
        normalize_text("问" * 301)
    assert (caught.value.code, caught.value.message) == ("too_long", "问题最多 300 字。")
    with pytest.raises(TextRejected, match="最多 20 字"):
        normalize_text("问" * 21, max_len=20)


def test_too_short() -> None:
    assert normalize_text("年检", min_len=2) == "年检"
    with pytest.raises(TextRejected) as caught:
        normalize_text("嗯", min_len=2)
    assert (caught.value.code, caught.value.message) == ("too_short", "问题至少 2 字。")


def test_text_rejected_is_a_value_error() -> None:
    assert issubclass(TextRejected, ValueError)


TRICKY = "e\u0301\u0327\u200b\u200d\u202e\ufeff\x00\x85\u2028 \n\t\u3000\u3164驾照A"


@given(
    st.one_of(st.text(max_size=400), st.text(alphabet=TRICKY, max_size=40)),
    st.integers(min_value=1, max_value=300),
)
def test_normalized_text_is_clean_and_within_bounds(text: str, max_len: int) -> None:
    try:
        out = normalize_text(text, max_len=max_len)
    except TextRejected as exc:
        assert exc.code in {"empty", "too_long"}
        return
    assert 1 <= len(out) <= max_len
    assert out == out.strip()
    assert "  " not in out
    assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in out)
    assert not any(ch.isspace() and ch != " " for ch in out)
    assert unicodedata.is_normalized("NFC", out)
    assert normalize_text(out, max_len=max_len) == out


# --- blocked terms -------------------------------------------------------------------------

FOOL = BlockedTerm("傻逼", "reject")
SPAM = BlockedTerm("加微信", "hold")
SB = BlockedTerm("sb", "hold")


@pytest.mark.parametrize(
    "text",
    ["你个傻逼", "傻 逼", "傻*逼", "傻.。、逼", "傻😀逼", "傻\u200b逼"],
)
def test_term_matches_with_noise_between_its_characters(text: str) -> None:
    assert match_terms(text, [FOOL]) == [FOOL]


def test_letters_between_the_characters_break_the_match() -> None:
    assert match_terms("傻x逼", [FOOL]) == []


@pytest.mark.parametrize("text", ["你是SB吧", "你是ｓｂ", "S-B", "傻sb"])
def test_ascii_terms_ignore_case_and_width(text: str) -> None:
    assert match_terms(text, [SB]) == [SB]


@pytest.mark.parametrize("text", ["USB 接口", "sbc", "asb"])
def test_ascii_terms_match_only_at_word_edges(text: str) -> None:
    assert match_terms(text, [SB]) == []


def test_matches_are_listed_once_in_the_order_of_the_terms() -> None:
    text = "加微信，傻逼，加 微 信"
    assert match_terms(text, [SPAM, FOOL, SPAM, BlockedTerm("罚款", "hold")]) == [SPAM, FOOL]


def test_a_term_without_letters_matches_nothing() -> None:
    assert match_terms("！！！", [BlockedTerm("！！", "hold")]) == []


def test_verdict_reject_wins_over_hold() -> None:
    assert terms_verdict([]) == "ok"
    assert terms_verdict([SPAM]) == "hold"
    assert terms_verdict([SPAM, FOOL]) == "reject"
    assert terms_verdict([FOOL, SPAM]) == "reject"


# --- duplicates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("请问驾照丢了怎么办", "驾照丢了"),
        ("你好，电瓶车怎么上牌？", "电动车怎么上牌"),
        ("驾驶证丢了", "驾照丢失了"),
        ("我的手机138****5678收不到验证码", "手机138****5678 收不到验证码了"),
    ],
)
def test_same_question_in_other_words_scores_one(a: str, b: str) -> None:
    assert similarity(a, b) == 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("驾照到期了怎么换证", "请问我的驾照快到期了怎么换证呢"),
        ("违章怎么在网上处理", "网上怎么处理违章"),
    ],
)
def test_rewordings_reach_the_default_threshold(a: str, b: str) -> None:
    assert similarity(a, b) >= 0.6


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("科目二怎么预约", "科目三怎么预约"),
        ("驾照丢了怎么补办", "行驶证丢了怎么补办"),
        ("车牌丢了", "驾照丢了"),
        ("电瓶车怎么上牌", "驾照丢了怎么补"),
    ],
)
def test_different_questions_stay_below_the_threshold(a: str, b: str) -> None:
    assert similarity(a, b) < 0.6


def test_nothing_but_fillers_is_like_nothing() -> None:
    assert similarity("你好", "请问") == 0.0
    assert similarity("怎么办", "怎么办") == 0.0
    assert similarity("", "驾照") == 0.0


@given(st.text(max_size=30), st.text(max_size=30))
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    score = similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == similarity(b, a)


def test_find_duplicate_returns_the_most_similar_open_question() -> None:
    open_questions = [
        ("q1", "电动车上牌要带什么"),
        ("q2", "驾照到期了怎么换证"),
        ("q3", "我的驾照到期了，怎么换证？"),
    ]
    found = find_duplicate("驾照到期了怎么换证呀", open_questions)
    assert found is not None
    assert found[0] == "q2"  # q3 is equally similar; the first wins
    assert found[1] == 1.0


def test_find_duplicate_respects_the_threshold() -> None:
    open_questions = [("q1", "驾照到期了怎么换证"), ("q2", "年审需要带什么")]
    assert find_duplicate("违章怎么在网上处理", open_questions) is None
    assert find_duplicate("违章怎么在网上处理", []) is None
    score = similarity("驾照快到期了怎么换证", "驾照到期了怎么换证")
    assert find_duplicate("驾照快到期了怎么换证", open_questions, threshold=score) == (
        "q1",
        score,
    )
    assert find_duplicate("驾照快到期了怎么换证", open_questions, threshold=score + 0.01) is None


# --- suggestion ----------------------------------------------------------------------------

SUGGESTIONS = [
    # 机动车
    ("年审需要带什么", "vehicle-inspection"),
    ("年检过期了怎么办", "vehicle-inspection"),
    ("新车6年免检怎么领标", "inspection-exempt-sticker"),
    ("外地车在杭州年检", "inspection-offsite"),
    ("车辆年检预约", "inspection-booking"),
    ("车牌丢了怎么补", "plate-replace"),
    ("行驶证副页盖满了怎么办", "vehicle-license-replace"),
    ("二手车过户需要什么材料", "used-car-transfer"),
    ("新车怎么上牌", "new-vehicle-registration"),
    ("换车了想保留原来的车牌号", "plate-retain"),
    ("车贷还完了怎么解押", "mortgage-release"),
    ("临牌过期了怎么办", "temporary-plate"),
    ("车被拖走了怎么提车", "impounded-vehicle-release"),
    ("绿本丢了", "registration-cert"),
    # 驾驶证
    ("我的驾照快到期了怎么换证", "license-renewal"),
    ("驾照丢了怎么办", "license-reissue"),
    ("驾照年审", "license-audit"),
    ("扣了12分怎么办", "full-score-study"),
    ("学法减分怎么弄", "points-reduction"),
    ("科目二怎么预约", "exam-booking"),
    ("考驾照怎么报名", "first-license-application"),
    ("C1增驾B2要什么条件", "add-vehicle-class"),
    ("驾驶证被注销了还能恢复吗", "restore-qualification"),
    ("70岁以上还能开车吗要三力测试吗", "elderly-three-tests"),
    ("驾照还剩几分怎么查", "points-query"),
    # 电动自行车
    ("电瓶车怎么上牌", "ebike-registration"),
    ("电动车牌照丢了", "ebike-plate-replace"),
    ("电瓶车卖给别人要过户吗", "ebike-transfer"),
    ("我的电动车能不能上牌", "ebike-eligibility-query"),
    ("电瓶车不戴头盔被罚款了", "ebike-violation"),
    ("电动车报废了怎么注销", "ebike-deregistration"),
    ("电动车以旧换新有补贴吗", "ebike-trade-in"),
    # 线上办
    ("违章怎么在网上处理", "violation-handling"),
    ("闯红灯被拍了怎么处理", "violation-handling"),
    ("怎么查违章", "violation-query"),
    ("罚款怎么交", "fine-payment"),
    ("被拍了但不是我开的怎么申诉", "violation-appeal"),
    ("12123注册不了怎么办", "app-register"),
    ("12123密码忘记了", "app-password"),
    ("手机号换了收不到验证码", "app-change-phone"),
    ("追尾了怎么快处快赔", "accident-quick"),
    ("浙里办找不到电动车入口", "zlb-traffic-entry"),
    ("我的车在12123里不显示", "bind-vehicle"),
]


@pytest.mark.parametrize(("question", "item_id"), SUGGESTIONS)
def test_colloquial_question_suggests_the_right_item(question: str, item_id: str) -> None:
    suggestion = suggest_item(question, CATALOG)
    assert suggestion is not None
    assert suggestion.item_id == item_id
    item = CATALOG.get(item_id)
    assert item is not None
    assert suggestion.category == item.category
    assert suggestion.score > 0
    assert suggestion.matched


def test_suggestions_cover_every_category() -> None:
    by_id = {item.id: item for item in CATALOG.items}
    assert {by_id[item_id].category for _, item_id in SUGGESTIONS} == set(CATALOG.categories)


def test_suggestion_reports_matched_phrases_in_catalog_words() -> None:
    suggestion = suggest_item("违章怎么在网上处理？", CATALOG)
    assert suggestion == Suggestion(
        item_id="violation-handling",
        category="线上办",
        score=suggestion.score if suggestion else 0.0,
        matched=("交通违法", "网上处理"),
    )


@pytest.mark.parametrize("question", ["今天天气怎么样", "主播你好", "驾驶证", "谢谢", "？", ""])
def test_no_suggestion_without_a_telling_match(question: str) -> None:
    assert suggest_item(question, CATALOG) is None


def test_suggestion_ignores_masked_personal_data() -> None:
    suggestion = suggest_item("浙A****5违章怎么处理", CATALOG)
    assert suggestion is not None
    assert suggestion.item_id == "violation-handling"


def test_suggestion_works_with_any_catalog() -> None:
    tiny = Catalog(tuple(i for i in CATALOG.items if i.id in {"plate-replace", "license-renewal"}))
    found = suggest_item("驾照到期了", tiny)
    assert found is not None
    assert found.item_id == "license-renewal"
    assert suggest_item("电瓶车怎么上牌", Catalog(())) is None


# --- screen --------------------------------------------------------------------------------

TODAY = date(2024, 6, 1)


def run_screen(raw: str, **overrides: object) -> Screened:
    options: dict[str, object] = {
        "terms": [FOOL, SPAM],
        "open_questions": [],
        "catalog": CATALOG,
        "today": TODAY,
    }
    options.update(overrides)
    return screen(raw, **options)  # type: ignore[arg-type]


def test_screen_runs_the_whole_chain() -> None:
    result = run_screen(
        "  你好，我的电瓶车\n车牌丢了，电话 138-1234-5678  ",
        open_questions=[("q1", "年审要带什么"), ("q9", "电动车牌照丢了，电话 139****5678")],
    )
    assert result.text == "你好，我的电瓶车 车牌丢了，电话 138****5678"
    assert result.pii == ["mobile"]
    assert result.verdict == "ok"
    assert result.matched_terms == []
    assert result.duplicate_of == "q9"
    assert result.duplicate_score >= 0.6
    assert result.suggestion is not None
    assert result.suggestion.item_id == "ebike-plate-replace"


def test_terms_are_matched_before_masking() -> None:
    spammer = BlockedTerm("13812345678", "reject")
    result = run_screen("加我 13812345678", terms=[spammer])
    assert result.text == "加我 138****5678"
    assert result.verdict == "reject"
    assert result.matched_terms == ["13812345678"]


def test_held_question_lists_its_terms() -> None:
    result = run_screen("想学车的加 微 信")
    assert result.verdict == "hold"
    assert result.matched_terms == ["加微信"]
    assert result.duplicate_of is None
    assert result.duplicate_score == 0.0


def test_screen_refuses_empty_and_overlong_questions() -> None:
    with pytest.raises(TextRejected) as caught:
        run_screen("\u200b \n")
    assert caught.value.code == "empty"
    with pytest.raises(TextRejected) as caught:
        run_screen("问" * 51, max_len=50)
    assert caught.value.code == "too_long"
    with pytest.raises(TextRejected) as caught:
        run_screen("问", min_len=2)
    assert caught.value.code == "too_short"


def test_duplicates_are_found_on_masked_text() -> None:
    # Two viewers, two numbers that mask alike: the stored question and the new one match.
    result = run_screen(
        "我的手机13800005678收不到验证码",
        open_questions=[("q1", "我的手机138****5678收不到验证码")],
    )
    assert (result.duplicate_of, result.duplicate_score) == ("q1", 1.0)
