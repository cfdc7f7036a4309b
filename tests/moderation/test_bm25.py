"""The understanding engine's BM25 over items (moderation/understanding/bm25.py): whole words
outweigh their pieces, scores follow the textbook formula, and a document that grows counts
from the next question on (the gram vectors computed for earlier questions are not reused)."""

from __future__ import annotations

import math

import pytest

from moderation.understanding.bm25 import CHAR_WEIGHT, K1, PAIR_WEIGHT, B, Bm25Index, grams


def index() -> Bm25Index:
    bm25 = Bm25Index(["license", "vehicle", "ebike"])
    bm25.add("license", ["驾驶证", "补办"])
    bm25.add("vehicle", ["行驶证", "补办", "年检"])
    bm25.add("ebike", ["电动车", "上牌"])
    return bm25


def test_a_word_scores_its_own_document_by_the_formula() -> None:
    bm25 = index()
    lengths = [len(grams(words)) for words in
               (["驾驶证", "补办"], ["行驶证", "补办", "年检"], ["电动车", "上牌"])]
    assert lengths == [9, 12, 9]  # each word, its characters, and a longer word's pairs
    average = sum(lengths) / 3
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    norm = K1 * (1 - B + B * lengths[2] / average)
    # 上牌 itself, and its characters 上 and 牌 (each, like it, in this document only).
    expected = (1 + 2 * CHAR_WEIGHT) * idf * 1 * (K1 + 1) / (1 + norm)
    scores = bm25.scores(["上牌"])
    assert scores[2] == pytest.approx(expected)
    assert scores[:2] == [0.0, 0.0]


def test_the_whole_word_beats_the_pieces_it_shares() -> None:
    scores = index().scores(["行驶证"])
    assert scores[1] > scores[0] > 0  # 驾驶证 shares 驶证, 驶, 证 only
    assert PAIR_WEIGHT < 1


def test_a_document_that_grows_counts_from_the_next_question_on() -> None:
    bm25 = index()
    before = bm25.scores(["摩托"])
    assert before == [0.0, 0.0, 0.0]
    bm25.scores(["上牌"])  # computed (and kept) for the old documents
    bm25.add("ebike", ["摩托"])
    after = bm25.scores(["摩托"])
    assert after[2] > 0 and after[:2] == [0.0, 0.0]
    # Every document's statistics moved: an old word's score changed too.
    assert bm25.scores(["上牌"])[2] != index().scores(["上牌"])[2]
