"""The clip search index: updates, filters, sorting, pagination, highlights, suggestions,
staleness and rebuilds, and every kind of bad input."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clips.highlight
import clips.search
from clips.highlight import Segment
from clips.search import SearchIndex, SearchResult
from clips.search_query import (
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_QUERY_CHARS,
    BadSearchRequest,
    SearchError,
    match_expression,
)
from clips.search_schema import IndexedClip, fingerprint_of
from moderation.catalog import Catalog, load_catalog
from moderation.segment import Segmenter, Term, WordList, load_word_list
from store.records import Clip

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def segmenter(catalog: Catalog) -> Segmenter:
    return Segmenter.for_catalog(catalog, load_word_list())


@pytest.fixture
def index(tmp_path: Path, segmenter: Segmenter, catalog: Catalog) -> Iterator[SearchIndex]:
    with SearchIndex(tmp_path / "search.sqlite3", segmenter, catalog) as index:
        yield index


def make(
    catalog: Catalog, clip_id: str, item_id: str, title: str, *, question: str = "",
    summary: str = "", captions: str = "", published: float = 0.0, views: int = 0,
    updated: float | None = None,
) -> IndexedClip:
    item = catalog.get(item_id)
    assert item is not None
    published = published or T0 + int(clip_id.strip("abcdefghijklmnopqrstuvwxyz-") or 0)
    return IndexedClip(
        clip_id=clip_id, title=title, question=question, summary=summary, captions=captions,
        keywords=(item.name, *item.keywords), category=item.category, item_id=item_id,
        published_at=published, updated_at=updated if updated is not None else published,
        views=views,
    )


@pytest.fixture
def library(catalog: Catalog) -> list[IndexedClip]:
    return [
        make(catalog, "c1", "license-renewal", "驾驶证有效期满换证怎么办",
             question="驾驶证下个月到期，去哪里换？", summary="期满前90天内可以在12123申请换证。",
             captions="主持人：驾驶证快到期了怎么办？民警：先体检，再在12123申请期满换证，新证邮寄到家。",
             views=30),
        make(catalog, "c2", "license-reissue", "驾驶证遗失怎么补领",
             question="驾驶证找不到了", summary="在12123申请补证，新证邮寄。", views=50),
        make(catalog, "c3", "vehicle-inspection", "私家车多久检验一次",
             question="新车第六年要上线检验吗？", summary="第6年、第10年上线检验。", views=10),
        make(catalog, "c4", "inspection-booking", "检验可以提前预约",
             question="检测站排队太久", summary="在12123预约检验时段。", views=70),
        make(catalog, "c5", "ebike-registration", "电动自行车上牌要带什么",
             question="电瓶车上牌要什么材料？<script>alert(1)</script>",
             summary="带身份证、发票和合格证到登记点。", views=90),
        make(catalog, "c6", "ebike-registration", "新国标电动自行车注册登记",
             question="电动车能在网上预约登记吗？", summary="可以在浙里办预约。", views=5),
        make(catalog, "c7", "app-register", "交管１２１２３怎么注册",
             question="12123注册一直失败", summary="用本人身份证和手机号注册。", views=20),
        make(catalog, "c8", "violation-handling", "交通违法可以网上处理",
             question="被拍了闯红灯要去交警队吗？", summary="在12123上处理电子监控违法。",
             views=40),
    ]


@pytest.fixture
def filled(index: SearchIndex, library: list[IndexedClip]) -> SearchIndex:
    index.rebuild(library)
    return index


def ids(result: SearchResult) -> list[str]:
    return [hit.clip_id for hit in result.hits]


def text(segments: tuple[Segment, ...]) -> str:
    return "".join(segment.text for segment in segments)


def marked(segments: tuple[Segment, ...]) -> list[str]:
    return [segment.text for segment in segments if segment.match]


# --- finding ---------------------------------------------------------------------------------


def test_colloquial_words_find_clips_in_catalog_words(filled: SearchIndex) -> None:
    result = filled.search("驾照快到期了在哪里换")
    assert ids(result)[0] == "c1"
    assert result.terms == ("驾照", "快到期", "换")
    assert not result.relaxed and result.corrections == ()


def test_a_typo_is_corrected_and_reported(filled: SearchIndex) -> None:
    result = filled.search("电频车上牌")
    assert ids(result)[0] == "c5"
    assert result.corrections == (("电频车上牌", "电瓶车上牌"),)
    assert result.query == "电瓶车上牌"


def test_when_no_clip_has_every_word_some_will_do(filled: SearchIndex) -> None:
    result = filled.search("驾照到期换证 火星文")
    assert result.relaxed
    assert ids(result)[0] == "c1"


def test_upsert_adds_and_replaces(index: SearchIndex, catalog: Catalog) -> None:
    index.upsert(make(catalog, "c1", "license-renewal", "新证邮寄到家"))
    assert ids(index.search("邮寄")) == ["c1"]
    index.upsert(make(catalog, "c1", "license-renewal", "体检医院怎么选"))
    assert index.search("邮寄").total == 0
    assert ids(index.search("体检医院")) == ["c1"]
    assert index.fingerprint() == fingerprint_of(1, T0 + 1)


def test_changing_publication_time_moves_the_clip(index: SearchIndex, catalog: Catalog) -> None:
    index.upsert(make(catalog, "a1", "license-renewal", "换证一", published=T0 + 10))
    index.upsert(make(catalog, "a2", "license-renewal", "换证二", published=T0 + 20))
    assert ids(index.search("换证", sort="newest")) == ["a2", "a1"]
    index.upsert(make(catalog, "a1", "license-renewal", "换证一", published=T0 + 30))
    assert ids(index.search("换证", sort="newest")) == ["a1", "a2"]
    assert index.search("").total == 2


def test_clips_published_at_the_same_moment_are_both_kept(
    index: SearchIndex, catalog: Catalog
) -> None:
    for clip_id in ("x1", "x2", "x3"):
        index.upsert(make(catalog, clip_id, "license-renewal", "换证", published=T0))
    assert sorted(ids(index.search("换证"))) == ["x1", "x2", "x3"]


def test_remove_takes_a_clip_out(filled: SearchIndex) -> None:
    assert filled.remove("c5") is True
    assert "c5" not in ids(filled.search("电瓶车上牌"))
    assert filled.remove("c5") is False
    assert filled.remove("never-indexed") is False


def test_the_index_survives_reopening(
    tmp_path: Path, segmenter: Segmenter, catalog: Catalog, library: list[IndexedClip]
) -> None:
    path = tmp_path / "search.sqlite3"
    with SearchIndex(path, segmenter, catalog) as first:
        first.rebuild(library)
        fingerprint = first.fingerprint()
    with SearchIndex(path, segmenter, catalog) as again:
        assert ids(again.search("驾照到期"))[0] == "c1"
        assert not again.needs_rebuild(fingerprint)


def test_a_closed_index_says_so(tmp_path: Path, segmenter: Segmenter, catalog: Catalog) -> None:
    index = SearchIndex(tmp_path / "search.sqlite3", segmenter, catalog)
    with pytest.raises(SearchError, match="not open"):
        index.search("驾照")


# --- filters, sorting, pages -----------------------------------------------------------------


def test_filters_combine_with_the_query(filled: SearchIndex) -> None:
    assert set(ids(filled.search("12123"))) == {"c1", "c2", "c4", "c7", "c8"}
    assert set(ids(filled.search("12123", category="驾驶证"))) == {"c1", "c2"}
    assert ids(filled.search("12123", item_id="license-reissue")) == ["c2"]
    assert ids(filled.search("12123", category="驾驶证", item_id="license-reissue")) == ["c2"]
    assert filled.search("12123", category="机动车", item_id="license-reissue").total == 0


def test_filters_alone_list_their_clips(filled: SearchIndex) -> None:
    assert ids(filled.search("", category="电动自行车")) == ["c6", "c5"]
    assert ids(filled.search("", item_id="ebike-registration", sort="popular")) == ["c5", "c6"]
    assert filled.search("", category="没有这个类别").total == 0


@pytest.mark.parametrize("query", ["", "   ", "！？。…", "请问怎么办呢？"])
def test_a_query_with_nothing_to_search_lists_the_newest(
    filled: SearchIndex, query: str
) -> None:
    result = filled.search(query)
    assert result.total == 8 and result.terms == ()
    assert ids(result) == [f"c{n}" for n in range(8, 0, -1)]
    assert result.suggestions is None


def test_sort_orders(filled: SearchIndex) -> None:
    assert ids(filled.search("12123", sort="newest")) == ["c8", "c7", "c4", "c2", "c1"]
    assert ids(filled.search("12123", sort="popular")) == ["c4", "c2", "c8", "c1", "c7"]
    relevance = filled.search("12123注册")
    assert ids(relevance)[0] == "c7"
    assert relevance.hits[0].score > 0
    assert [hit.score for hit in relevance.hits] == sorted(
        (hit.score for hit in relevance.hits), reverse=True
    )


def test_popular_walks_the_views_index_with_many_matches(
    filled: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    sorted_here = ids(filled.search("12123", sort="popular"))
    monkeypatch.setattr(clips.search, "POPULAR_SCAN_MIN", 1)
    assert ids(filled.search("12123", sort="popular")) == sorted_here
    assert ids(filled.search("12123", sort="popular", page=2, per_page=2)) == sorted_here[2:4]


def test_set_views_changes_the_most_watched(filled: SearchIndex) -> None:
    before = filled.fingerprint()
    filled.set_views("c6", 1000)
    assert ids(filled.search("电动自行车", sort="popular"))[0] == "c6"
    assert filled.fingerprint() == before
    filled.set_views("c6", 1001, updated_at=T0 + 500)  # as the store counted it
    assert filled.fingerprint() == fingerprint_of(8, T0 + 500)


def test_pages_cover_every_match_once(filled: SearchIndex) -> None:
    seen: list[str] = []
    for page in range(1, 5):
        result = filled.search("", page=page, per_page=3)
        assert result.pages == 3
        seen += ids(result)
    assert sorted(seen) == [f"c{n}" for n in range(1, 9)]


def test_a_page_past_the_end_is_empty_but_keeps_the_total(filled: SearchIndex) -> None:
    result = filled.search("12123", page=99)
    assert result.total == 5 and result.hits == () and result.pages == 1
    assert result.suggestions is None


def test_beyond_the_rank_window_matches_follow_newest_first(
    tmp_path: Path, segmenter: Segmenter, catalog: Catalog
) -> None:
    with SearchIndex(tmp_path / "s.sqlite3", segmenter, catalog, rank_window=4) as index:
        index.rebuild(
            make(catalog, f"w{n}", "license-renewal", "换证" + "。驾照" * (n % 3), published=T0 + n)
            for n in range(1, 11)
        )
        pages = [ids(index.search("驾照换证", page=page, per_page=3)) for page in (1, 2, 3, 4)]
        flat = [clip_id for page in pages for clip_id in page]
        assert sorted(flat) == sorted(f"w{n}" for n in range(1, 11))
        # the newest four are ranked; the rest follow, newest first
        assert set(flat[:4]) == {"w10", "w9", "w8", "w7"}
        assert flat[4:] == [f"w{n}" for n in range(6, 0, -1)]


# --- highlights ------------------------------------------------------------------------------


def test_highlights_mark_the_words_and_keep_the_text(filled: SearchIndex) -> None:
    hit = filled.search("驾照到期").hits[0]
    assert text(hit.highlights["title"]) == hit.title
    assert text(hit.highlights["question"]) == hit.question
    assert "驾驶证" in marked(hit.highlights["title"])
    assert "到期" in marked(hit.highlights["question"])


def test_highlighted_text_is_never_markup(filled: SearchIndex) -> None:
    hit = filled.search("电瓶车上牌").hits[0]
    assert hit.clip_id == "c5"
    assert text(hit.highlights["question"]) == "电瓶车上牌要什么材料？<script>alert(1)</script>"
    assert all("<mark>" not in segment.text for segment in hit.highlights["question"])


def test_full_width_text_is_highlighted_for_a_half_width_query(filled: SearchIndex) -> None:
    hit = filled.search("12123", item_id="app-register").hits[0]
    assert marked(hit.highlights["title"]) == ["交管１２１２３"]  # a synonym of 12123
    assert marked(hit.highlights["question"]) == ["12123"]


def test_captions_are_shown_as_an_excerpt_around_the_match(
    index: SearchIndex, catalog: Catalog
) -> None:
    captions = "开场白。" * 40 + "驾驶证到期要先体检。" + "结束语。" * 40
    index.upsert(make(catalog, "c1", "license-renewal", "标题", captions=captions))
    excerpt = index.search("体检").hits[0].highlights["captions"]
    assert excerpt[0] == Segment("…", False) and excerpt[-1] == Segment("…", False)
    assert "体检" in marked(excerpt)
    assert len(text(excerpt)) <= clips.highlight.SNIPPET_CHARS + 2
    assert index.search("标题").hits[0].highlights["captions"] == ()


# --- nothing found ---------------------------------------------------------------------------


def test_no_results_suggest_the_closest_items_and_their_most_watched_clips(
    filled: SearchIndex,
) -> None:
    result = filled.search("电瓶车上牌", category="驾驶证")
    assert result.total == 0 and result.hits == ()
    assert result.suggestions is not None
    first = result.suggestions.items[0]
    assert first.item_id == "ebike-registration" and first.category == "电动自行车"
    assert [clip.clip_id for clip in first.clips] == ["c5", "c6"]  # most watched first


def test_nonsense_suggests_the_most_watched_clips(filled: SearchIndex) -> None:
    result = filled.search("火星文")
    assert result.suggestions is not None and result.suggestions.items == ()
    assert [clip.clip_id for clip in result.suggestions.popular][:3] == ["c5", "c4", "c2"]
    in_category = filled.search("火星文", category="机动车").suggestions
    assert in_category is not None
    assert [clip.clip_id for clip in in_category.popular] == ["c4", "c3"]


# --- bad input -------------------------------------------------------------------------------

HOSTILE = [
    'NEAR(驾照 年检', '"', '"驾照', '驾照"', '*', '驾*', 'OR', 'AND', 'NOT', '驾照 OR 年检',
    '-驾照', '^驾照', 'title:驾照', '{title question}: 驾照', 'clip_text:*', '(', ')', '))((',
    '{"$ne": 1}', '{"$gt": ""}', "'; DROP TABLE clips; --", 'x" OR 1=1 --', '\x00驾照',
    '驾照\u202e到期', '<script>alert(1)</script>', '%s %d {0}', '\\', '``', 'NEAR/2',
    '驾照 NEAR/3 年检', '"" AND ""', 'rank:1', 'rowid = 1', '∗', '＊ＯＲ＊', '🚗' * 50,
]  # fmt: skip


@pytest.mark.parametrize("hostile", HOSTILE)
def test_query_syntax_and_injection_in_any_parameter_is_just_text(
    filled: SearchIndex, hostile: str
) -> None:
    filled.search(hostile)
    filled.search("驾照 " + hostile, sort="popular", page=2)
    assert filled.search("驾照", category=hostile).total == 0
    assert filled.search(hostile, item_id=hostile, sort="newest").total == 0
    assert filled.search("", category="驾驶证").total == 2  # nothing was dropped


def test_an_overlong_query_is_cut(filled: SearchIndex) -> None:
    query = "驾照" + "啊" * (MAX_QUERY_CHARS - 2) + "电瓶车"
    result = filled.search(query)
    assert result.truncated
    assert "电瓶车" not in result.terms and "驾照" in result.terms
    assert not filled.search("驾照").truncated
    filled.search("驾照 " * 100_000)  # whitespace collapses; still cut


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"page": 0}, "页码"),
        ({"page": -1}, "页码"),
        ({"page": MAX_PAGE + 1}, "页码"),
        ({"page": 10**30}, "页码"),
        ({"page": True}, "页码"),
        ({"page": "2"}, "页码"),
        ({"page": 1.5}, "页码"),
        ({"per_page": 0}, "每页条数"),
        ({"per_page": MAX_PER_PAGE + 1}, "每页条数"),
        ({"sort": "rank"}, "排序方式"),
        ({"sort": None}, "排序方式"),
        ({"category": "类" * 101}, "筛选条件 category"),
        ({"item_id": 5}, "筛选条件 item"),
        ({"query": 5}, "查询必须是文字"),
        ({"query": b"\xe9\xa9\xbe"}, "查询必须是文字"),
    ],
)
def test_bad_parameters_are_refused_clearly(
    filled: SearchIndex, arguments: dict[str, object], message: str
) -> None:
    query = arguments.pop("query", "驾照")
    with pytest.raises(BadSearchRequest, match=message):
        filled.search(query, **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, segmenter: Segmenter, catalog: Catalog
) -> Iterator[SearchIndex]:
    path = tmp_path_factory.mktemp("shared") / "search.sqlite3"
    with SearchIndex(path, segmenter, catalog) as index:
        index.rebuild(
            make(catalog, f"s{n}", item.id, f"{item.name}常见问题",
                 question="、".join(item.keywords), summary=item.description, views=n)
            for n, item in enumerate(catalog.items, start=1)
        )
        yield index


QUERY_ALPHABET = '驾照年检电瓶车上牌违章审肾找"*()-^:{}ORANDNEAR 　，！\x00'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=st.text(alphabet=st.sampled_from(QUERY_ALPHABET), max_size=40) | st.text(max_size=40),
    category=st.none() | st.text(max_size=20),
    sort=st.sampled_from(("relevance", "newest", "popular")),
    page=st.integers(min_value=1, max_value=5),
)
def test_any_text_gives_a_page(
    shared: SearchIndex, query: str, category: str | None, sort: str, page: int
) -> None:
    result = shared.search(query, category=category, sort=sort, page=page, per_page=5)
    assert 0 <= len(result.hits) <= 5
    for hit in result.hits:
        assert text(hit.highlights["title"]) == hit.title


# --- staleness and rebuilds ------------------------------------------------------------------


def test_a_new_index_needs_a_rebuild_even_for_an_empty_store(index: SearchIndex) -> None:
    assert index.fingerprint() == fingerprint_of(0, 0.0)
    assert index.needs_rebuild(fingerprint_of(0, 0.0))  # never built by this analyzer
    index.rebuild([])
    assert not index.needs_rebuild(fingerprint_of(0, 0.0))


def test_the_fingerprint_follows_the_store(
    filled: SearchIndex, library: list[IndexedClip], catalog: Catalog
) -> None:
    store = fingerprint_of(len(library), max(doc.updated_at for doc in library))
    assert not filled.needs_rebuild(store)
    edited = make(catalog, "c3", "vehicle-inspection", "改过的标题", updated=T0 + 100)
    assert filled.needs_rebuild(fingerprint_of(len(library), T0 + 100))  # store moved on
    filled.upsert(edited)
    assert not filled.needs_rebuild(fingerprint_of(len(library), T0 + 100))
    filled.remove("c5")
    assert filled.fingerprint() == fingerprint_of(len(library) - 1, T0 + 100)


def test_another_analyzer_needs_a_rebuild(
    filled: SearchIndex, tmp_path: Path, catalog: Catalog, library: list[IndexedClip]
) -> None:
    store = filled.fingerprint()
    filled.close()
    words = load_word_list()
    changed = WordList((*words.equivalent, ("新词甲", "新词乙")), words.expand, words.typos,
                       words.homophones, words.stopwords)
    other = Segmenter.for_catalog(catalog, changed)
    with SearchIndex(filled.path, other, catalog) as reopened:
        assert reopened.needs_rebuild(store)
        reopened.rebuild(library)
        assert not reopened.needs_rebuild(store)


def test_rebuild_replaces_everything_and_keeps_updates_made_meanwhile(
    filled: SearchIndex, catalog: Catalog
) -> None:
    def docs() -> Iterator[IndexedClip]:
        yield make(catalog, "n1", "license-renewal", "驾驶证换证")
        # the app publishes and unpublishes while the rebuild reads the store
        filled.upsert(make(catalog, "n9", "move-car", "一键挪车"))
        filled.remove("n2")
        filled.set_views("n1", 77)
        yield make(catalog, "n2", "license-reissue", "驾驶证补证")  # read before the removal
        yield make(catalog, "n3", "vehicle-inspection", "车辆检验")

    assert filled.rebuild(docs()) == 3
    assert sorted(ids(filled.search(""))) == ["n1", "n3", "n9"]
    assert filled.search("c1").total == 0
    assert ids(filled.search("挪车")) == ["n9"]
    assert filled.search("", sort="popular").hits[0].clip_id == "n1"
    assert not filled.path.with_name(filled.path.name + ".rebuild").exists()


def test_a_failed_rebuild_leaves_the_old_index(filled: SearchIndex, catalog: Catalog) -> None:
    def docs() -> Iterator[IndexedClip]:
        yield make(catalog, "n1", "license-renewal", "驾驶证换证")
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError):
        filled.rebuild(docs())
    assert filled.search("").total == 8
    filled.upsert(make(catalog, "n2", "move-car", "一键挪车"))  # still writable
    assert filled.search("").total == 9


def test_one_rebuild_at_a_time(filled: SearchIndex, catalog: Catalog) -> None:
    def docs() -> Iterator[IndexedClip]:
        with pytest.raises(SearchError, match="already running"):
            filled.rebuild([])
        yield make(catalog, "n1", "license-renewal", "驾驶证换证")

    assert filled.rebuild(docs()) == 1


def test_duplicates_in_a_rebuild_keep_the_last(index: SearchIndex, catalog: Catalog) -> None:
    index.rebuild([make(catalog, "d1", "license-renewal", "体检医院"),
                   make(catalog, "d1", "license-renewal", "邮寄地址")])
    assert index.search("体检医院").total == 0
    assert ids(index.search("邮寄地址")) == ["d1"]


def test_a_corrupt_file_is_replaced_by_an_empty_index(
    tmp_path: Path, segmenter: Segmenter, catalog: Catalog
) -> None:
    path = tmp_path / "search.sqlite3"
    path.write_bytes(b"this is not a database" * 1000)
    with SearchIndex(path, segmenter, catalog) as index:
        assert index.search("").total == 0
        assert index.needs_rebuild(fingerprint_of(0, 0.0))


def test_an_index_of_another_schema_version_is_replaced(
    filled: SearchIndex, segmenter: Segmenter, catalog: Catalog
) -> None:
    filled.close()
    with sqlite3.connect(filled.path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with SearchIndex(filled.path, segmenter, catalog) as index:
        assert index.search("").total == 0


def test_someone_elses_database_is_not_touched(
    tmp_path: Path, segmenter: Segmenter, catalog: Catalog
) -> None:
    path = tmp_path / "tippocket.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE clips (id TEXT)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SearchError, match="not a search index"):
        SearchIndex(path, segmenter, catalog).open()
    assert path.read_bytes() == before


# --- threads, helpers ------------------------------------------------------------------------


def test_threads_may_search_and_update_at_once(filled: SearchIndex, catalog: Catalog) -> None:
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            if n % 5 == 0:
                filled.upsert(make(catalog, f"t{n}", "move-car", f"挪车{n}"))
            filled.search("驾照 挪车", sort=("relevance", "newest", "popular")[n % 3])
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(60)))
    assert errors == []
    assert filled.search("挪车").total == 12


def test_an_indexed_clip_is_made_from_a_store_record(catalog: Catalog) -> None:
    record = Clip(id="k1", session_id="s1", state="published", title="标题", summary="摘要",
                  category="驾驶证", item_id="license-renewal", tags=["换证"],
                  published_at=T0, updated_at=T0 + 5, views=3)
    doc = IndexedClip.from_clip(record, question="问", captions="字幕",
                                item=catalog.get("license-renewal"))
    assert doc.keywords[0] == "驾驶证有效期满换证" and doc.keywords[-1] == "换证"
    assert (doc.clip_id, doc.question, doc.captions, doc.updated_at, doc.views) == (
        "k1", "问", "字幕", T0 + 5, 3)
    assert IndexedClip.from_clip(record).keywords == ("换证",)


def test_every_token_is_quoted_in_the_fts_expression() -> None:
    terms = [Term('a"b', ('a"b', "or")), Term("near", ("near",))]
    assert match_expression(terms, require_all=True) == '("a""b" OR "or") AND "near"'
