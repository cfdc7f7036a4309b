"""Library search read through the understanding engine (``clips.search_understood``): a
colloquial query finds the clip of its business item first, even when plain BM25 puts
another item's clip first; filters, other sorts and later pages are left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clips.search import SearchIndex
from clips.search_schema import IndexedClip
from moderation.catalog import Catalog, load_catalog
from moderation.segment import Segmenter, load_word_list
from moderation.understanding import Result
from moderation.understanding.outside import OutsideTopic
from tests.web.understanding import shared_engine

# Written for this test (not from the relevance set), as citizens type them.
COLLOQUIAL = {
    "小电驴想挂个牌照去哪弄": "ebike-registration",
    "罚单的钱在手机上咋交": "fine-payment",
    "考驾照的时候科目一能换个地方考吗": "exam-location-change",
    "外地的车在这边能不能验": "inspection-offsite",
    "车牌子掉了一块": "plate-replace",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def index(tmp_path: Path, catalog: Catalog) -> Iterator[SearchIndex]:
    """One clip per catalog item, indexed as the app indexes a clip filed under it."""
    docs = [
        IndexedClip(
            clip_id=f"clip-{item.id}", title=item.name, question="", summary=item.description,
            captions=item.description, keywords=(item.name, *item.keywords),
            category=item.category, item_id=item.id,
            published_at=1_700_000_000.0 + n, updated_at=1_700_000_000.0 + n,
        )
        for n, item in enumerate(catalog.items)
    ]
    with SearchIndex(tmp_path / "search.sqlite3",
                     Segmenter.for_catalog(catalog, load_word_list()), catalog) as index:
        index.rebuild(docs)
        yield index


def reading(*items: str, outside: str = "") -> Result:
    """An engine's reading that understood ``items``; none: unsure, or about the ``outside``
    topic when one is named."""
    return Result(understood=bool(items), items=tuple((i, 0.9) for i in items), intents=items,
                  text="", outside=OutsideTopic(outside, "别处", (outside,)) if outside else None)


def first_items(index: SearchIndex, query: str, **params: str) -> list[str]:
    return [hit.item_id for hit in index.search(query, per_page=3, **params).hits]


def test_a_colloquial_query_finds_the_clip_of_its_item_first(index: SearchIndex) -> None:
    plain = {query: first_items(index, query) for query in COLLOQUIAL}
    engine = shared_engine()
    index.understand = engine.understand
    for query, item_id in COLLOQUIAL.items():
        assert first_items(index, query)[:1] == [item_id], query
    # Plain BM25 put another item first for most of them: the engine made the difference.
    assert sum(found[:1] != [COLLOQUIAL[query]] for query, found in plain.items()) >= 3


def test_an_understood_item_with_no_matching_word_still_brings_its_clips(
        index: SearchIndex) -> None:
    index.understand = lambda text: reading("registration-cert")
    result = index.search("钢印", per_page=5)
    assert result.hits and result.hits[0].item_id == "registration-cert"
    assert result.total >= 1 and result.suggestions is None


def test_filters_other_sorts_and_later_pages_are_plain(index: SearchIndex) -> None:
    query = "车牌子掉了一块"
    plain_newest = first_items(index, query, sort="newest")
    plain_page2 = index.search(query, per_page=3, page=2).hits
    index.understand = lambda text: reading("license-reissue")
    assert first_items(index, query, sort="newest") == plain_newest
    assert index.search(query, per_page=3, page=2).hits == plain_page2
    # An item filter wins over the engine's reading; so does a category that excludes it.
    assert set(first_items(index, query, item_id="plate-replace")) == {"plate-replace"}
    assert "license-reissue" not in first_items(index, query, category="机动车")
    assert first_items(index, query)[0] == "license-reissue"


# Written for this test, as people type them into a search box; none is about a business item.
NOT_OURS = ["办护照需要带什么材料", "结婚登记要预约吗", "社保卡丢了怎么补办", "房子过户要交什么税",
            "今天天气怎么样，会不会下雨", "公积金怎么提取出来"]


def test_a_query_that_is_not_ours_gets_no_unrelated_clips(index: SearchIndex) -> None:
    plain = {query: index.search(query, per_page=3) for query in NOT_OURS}
    index.understand = shared_engine().understand
    for query in NOT_OURS:
        result = index.search(query, per_page=3)
        assert (result.hits, result.total, result.not_ours) == ((), 0, True), query
        assert result.suggestions is None and result.where
        # On every page and in every order.
        for params in ({"page": 2}, {"sort": "newest"}, {"sort": "popular"},
                       {"category": "机动车"}):
            assert index.search(query, per_page=3, **params).hits == (), (query, params)
    # Plain BM25, relaxing the query, found clips sharing a word (材料, 预约, 补办, 过户).
    assert sum(bool(found.hits and found.relaxed) for found in plain.values()) >= 3
    # The engine recognised the topic: the result says whom to ask instead.
    assert "公积金" in index.search(NOT_OURS[-1]).where


def test_a_query_of_another_topic_keeps_clips_that_have_all_its_words(
        index: SearchIndex, catalog: Catalog) -> None:
    name = catalog.items[0].name
    index.understand = lambda text: reading(outside="生活")
    result = index.search(name, per_page=3)
    assert result.hits and not result.relaxed and result.not_ours
    assert result.hits[0].item_id == catalog.items[0].id


def test_a_query_the_engine_is_unsure_of_gets_the_plain_search_when_a_clip_has_its_words(
        index: SearchIndex, catalog: Catalog) -> None:
    query = catalog.items[0].keywords[0]
    plain = index.search(query, per_page=3)
    index.understand = lambda text: reading()
    assert plain.hits and not plain.relaxed
    assert index.search(query, per_page=3) == plain


def test_a_query_the_engine_is_unsure_of_gets_no_clip_that_merely_shares_a_word(
        index: SearchIndex) -> None:
    """No clip has all its words, and the engine cannot place it: the relaxed search's clips
    are unrelated as likely as not, so none are shown; the closest items are suggested, as
    for any search that finds nothing."""
    query = "办理流程和材料"
    plain = index.search(query, per_page=3)
    assert plain.hits and plain.relaxed and plain.suggestions is None
    index.understand = lambda text: reading()
    for params in ({}, {"page": 2}, {"sort": "newest"}, {"category": "机动车"}):
        result = index.search(query, per_page=3, **params)
        assert (result.hits, result.total, result.not_ours) == ((), 0, False), params
        assert result.suggestions is not None
        assert result.suggestions.items or result.suggestions.popular


def test_the_engines_next_items_follow_the_understood_one(index: SearchIndex,
                                                          catalog: Catalog) -> None:
    """What the citizen may mean if not the first: one clip of each of the engine's next two
    ranked items comes after the understood item's clips, before the plain hits."""
    ranked = ("license-reissue", "license-damaged", "vehicle-license-replace", "plate-replace")
    plain = [hit.item_id for hit in index.search("证件补办", per_page=5).hits]
    index.understand = lambda text: Result(
        understood=True, items=tuple((i, 0.9 - n / 5) for n, i in enumerate(ranked)),
        intents=ranked[:1], text="")
    hits = [hit.item_id for hit in index.search("证件补办", per_page=5).hits]
    assert hits[:3] == list(ranked[:3])
    assert [item for item in hits[3:] if item not in ranked[:3]] == [
        item for item in plain if item not in ranked[:3]][: len(hits) - 3]
    # Within a category the next items of other categories are left out, and the next one
    # of the category takes their place.
    category = catalog.get("license-reissue").category
    assert catalog.get("vehicle-license-replace").category != category
    assert catalog.get("license-damaged").category == category
    index.understand = lambda text: Result(
        understood=True, items=(("license-reissue", 0.9), ("vehicle-license-replace", 0.5),
                                ("plate-replace", 0.4), ("license-damaged", 0.3)),
        intents=("license-reissue",), text="")
    within = [hit.item_id for hit in index.search("证件补办", category=category,
                                                  per_page=3).hits]
    assert within[:2] == ["license-reissue", "license-damaged"]
