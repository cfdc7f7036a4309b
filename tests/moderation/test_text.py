"""The matching form of text (``fold``) and where its characters came from; input cleaning
is tested with the ingest chain (tests/moderation/test_filters.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moderation.text import fold, fold_signature, fold_with_offsets, simplified_table, squeeze


def test_fold_folds_full_width_and_case() -> None:
    assert fold("Ｃ１驾照　１２１２３ＡＰＰ") == "c1驾照 12123app"


def test_fold_turns_punctuation_symbols_and_query_syntax_into_spaces() -> None:
    assert fold('驾照，到期了？！ "NEAR(年检*)" OR -title:^x {"$ne":1} 🚗') == (
        "驾照 到期了 near 年检 or title x ne 1"
    )


def test_fold_drops_invisible_characters_inside_words() -> None:
    assert fold("驾\u200b照\u200d到\ufeff期\u2066") == "驾照到期"


def test_fold_of_nothing_useful_is_empty() -> None:
    assert fold(" ！？…—·\n\t_ ") == ""


def test_traditional_characters_fold_to_simplified() -> None:
    assert simplified_table(), "the OpenCC tables (opencc-python-reimplemented) are a dependency"
    assert fold("駕駛證遺失，怎麼補辦？") == "驾驶证遗失 怎么补办"
    # Characters that are also written in simplified text keep their form.
    assert fold("乾坤") == "乾坤"


def test_squeeze_keeps_letters_and_digits_only() -> None:
    assert squeeze("驾 照？ Ｃ１") == "驾照c1"


def test_offsets_point_back_at_the_original_characters() -> None:
    text = "Ｃ１ ﬁle 驾\u200b照"
    folded, offsets = fold_with_offsets(text)
    assert folded == "c1 file 驾照"
    assert offsets is not None
    found = folded.index("驾照")
    assert text[offsets[found] : offsets[found + 1] + 1] == "驾\u200b照"
    assert fold_with_offsets("abc 驾照") == ("abc 驾照", None)


# What clip texts and queries are made of: Chinese (both scripts), ASCII and full-width
# letters and digits, punctuation, invisible characters, ligatures and circled digits.
# (Combining accents are left out: NFKC composes them across characters, which a fold
# character by character cannot; Chinese text has none.)
TEXT = st.text(st.sampled_from(list("驾照駕駛證遺失补辦ＡＢＣ１２abcABC12 ，。！?\u200b\u3000ﬁ①_")),
               max_size=40)


@given(TEXT)
def test_folding_by_character_finds_the_words_fold_gives(text: str) -> None:
    folded, offsets = fold_with_offsets(text)
    for word in fold(text).split():
        assert word in folded
    if offsets is not None:
        assert len(offsets) == len(folded)
        assert all(0 <= position < len(text) for position in offsets)


def test_the_signature_names_the_fold() -> None:
    assert fold_signature() == fold_signature()
    assert fold_signature().startswith("1:")
