"""The public library's pages: browse, filter, sort and page through /clips; search with
highlights, notes and suggestions; bad input of every kind; one clip's page with its video,
preview metadata and 一键办理; what search engines read."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from live.sessions import SessionForm
from store.records import Clip
from tests.support import Site
from tests.web.clip_seed import BASE_TIME, DAY, add_clip, add_relevance_library, reindex
from web import keys

CARD_TITLE = re.compile(r'<h2 class="clip-title"><a href="/clips/([^"]+)">(.*?)</a></h2>', re.S)


def card_ids(html: str) -> list[str]:
    return [clip_id for clip_id, _ in CARD_TITLE.findall(html)]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def get(site: Site, url: str) -> tuple[int, str]:
    response = await site.first.get(url)
    return response.status, await response.text()


@pytest.fixture
async def three(site: Site) -> dict[str, Clip]:
    """Three published clips in three categories, a draft and an unpublished clip."""
    clips = {
        "licence": await add_clip(site.app, "license-renewal", "驾驶证到期了怎么换",
                                  question="驾照下个月到期，去哪里换？",
                                  summary="在12123申请期满换证。", views=5, duration=65),
        "ebike": await add_clip(site.app, "ebike-registration", "电动自行车上牌",
                                published_at=BASE_TIME - DAY, views=50, duration=3725),
        "inspection": await add_clip(site.app, "vehicle-inspection", "私家车多久年检一次",
                                     published_at=BASE_TIME - 2 * DAY, views=20),
        "draft": await add_clip(site.app, "license-renewal", "草稿不公开", state="draft"),
        "unpublished": await add_clip(site.app, "license-renewal", "已下架不公开",
                                      state="unpublished"),
    }
    await reindex(site.app)
    return clips


# --- browse -----------------------------------------------------------------------------------


async def test_browse_lists_published_clips_newest_first_as_cards(
    site: Site, three: dict[str, Clip]
) -> None:
    status, html = await get(site, "/clips")
    assert status == 200
    assert card_ids(html) == [three[k].id for k in ("licence", "ebike", "inspection")]
    assert "草稿不公开" not in html and "已下架不公开" not in html
    licence = three["licence"].id
    assert (f'<img src="/media/clips/{licence}/g1.jpg" alt="" loading="lazy"' in html)
    assert '<span class="duration">1:05</span>' in html
    assert '<span class="duration">1:02:05</span>' in html  # an hour or more: h:mm:ss
    assert '<time datetime="2026-05-29T04:26:40+08:00">2026-05-29</time>' in html  # Beijing
    assert "5 次观看" in html and "50 次观看" in html
    assert "共 3 个视频" in text_of(html)
    port = site.first.server.port
    assert f'<link rel="canonical" href="http://127.0.0.1:{port}/clips">' in html
    # No inline script anywhere (the CSP forbids it): every script has a src.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


async def test_category_tabs_and_the_item_filter_narrow_the_list(
    site: Site, three: dict[str, Clip]
) -> None:
    status, html = await get(site, "/clips?category=" + quote("电动自行车"))
    assert status == 200 and card_ids(html) == [three["ebike"].id]
    assert re.search(r'<a href="[^"]*"\s*aria-current="page">电动自行车</a>', html)

    status, html = await get(site, "/clips?item=license-renewal")
    assert status == 200 and card_ids(html) == [three["licence"].id]
    # The item's category is the current tab, and the item is selected.
    assert re.search(r'aria-current="page">驾驶证</a>', html)
    assert '<option value="license-renewal" selected>' in html

    # The item decides its category: a contradicting category does not empty the list.
    status, html = await get(site, "/clips?item=license-renewal&category=" + quote("机动车"))
    assert status == 200 and card_ids(html) == [three["licence"].id]


async def test_most_watched_sort_orders_by_views(site: Site, three: dict[str, Clip]) -> None:
    status, html = await get(site, "/clips?sort=popular")
    assert status == 200
    assert card_ids(html) == [three[k].id for k in ("ebike", "inspection", "licence")]
    assert re.search(r'aria-current="true">最多观看</a>', html)
    status, html = await get(site, "/clips?sort=newest")
    assert card_ids(html) == [three[k].id for k in ("licence", "ebike", "inspection")]


async def test_pages_have_numbers_prev_next_and_canonical_links(site: Site) -> None:
    clips = [await add_clip(site.app, "vehicle-inspection", f"年检问题 {n}",
                            published_at=BASE_TIME - n * 3600) for n in range(30)]
    await reindex(site.app)
    port = site.first.server.port

    status, html = await get(site, "/clips")
    assert status == 200 and card_ids(html) == [c.id for c in clips[:24]]
    assert '<link rel="next" href="/clips?page=2">' in html
    assert 'rel="prev"' not in html
    assert '<span class="current" aria-current="page">1</span>' in html

    status, html = await get(site, "/clips?page=2")
    assert status == 200 and card_ids(html) == [c.id for c in clips[24:]]
    assert '<a rel="prev" href="/clips">上一页</a>' in html
    assert 'rel="next"' not in html
    assert f'<link rel="canonical" href="http://127.0.0.1:{port}/clips?page=2">' in html

    # Past the last page: an empty page that links back, not for search engines.
    status, html = await get(site, "/clips?page=3")
    assert status == 200 and card_ids(html) == []
    assert "第 3 页没有视频了（共 2 页）" in text_of(html)
    assert '<a href="/clips?page=2">回到最后一页</a>' in html
    assert '<meta name="robots" content="noindex, follow">' in html


# --- search ------------------------------------------------------------------------------------


async def test_a_colloquial_sentence_finds_the_right_item_first_with_matches_marked(
    site: Site
) -> None:
    await add_relevance_library(site.app)
    await reindex(site.app)
    status, html = await get(site, "/clips?q=" + quote("驾照快到期了在哪里换"))
    assert status == 200
    first = html[html.index('<li class="clip-card">'):]
    first = first[:first.index("</li>")]
    assert "驾驶证有效期满换证" in first  # the item of the first card
    assert "<mark>" in first
    assert 'value="驾照快到期了在哪里换"' in html  # the box keeps the query
    assert '<meta name="robots" content="noindex, follow">' in html


async def test_user_and_clip_text_is_escaped_around_the_marks(site: Site) -> None:
    await add_clip(site.app, "license-renewal", "<script>alert(1)</script>驾驶证到期",
                   question='<img src=x onerror="alert(2)">驾驶证')
    await reindex(site.app)
    status, html = await get(site, "/clips?q=" + quote("驾驶证 <b>bold</b>"))
    assert status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<b>bold" not in html and "&lt;b&gt;bold" in html
    assert "<mark>驾驶证</mark>" in html


async def test_typo_corrections_and_relaxed_queries_are_explained(site: Site) -> None:
    await add_relevance_library(site.app)
    await reindex(site.app)
    status, html = await get(site, "/clips?q=" + quote("驾找到期"))
    assert status == 200
    assert "你输入的是“驾找到期”" in text_of(html) and "已按“驾照" in text_of(html)
    status, html = await get(site, "/clips?q=" + quote("驾照洗衣机洗烂了"))
    assert status == 200
    assert "已按部分关键词搜索" in text_of(html)


async def test_no_result_suggests_items_with_their_clips_and_a_way_out(site: Site) -> None:
    await add_relevance_library(site.app)
    await reindex(site.app)
    q = quote("驾照到期")
    status, html = await get(site, f"/clips?q={q}&category=" + quote("电动自行车"))
    assert status == 200
    assert card_ids(html) == []
    text = text_of(html)
    assert "没有找到与“驾照到期”相关的视频" in text
    assert f'<a href="/clips?q={q}" id="clear-filters">' in html
    assert ('<a class="suggested-item" href="/clips?item=license-renewal">驾驶证有效期满换证</a>'
            in html)
    assert "驾驶证期满换证可以网上办" in text  # one of that item's most watched clips

    # Nonsense with no close item: the most watched clips.
    status, html = await get(site, "/clips?q=" + quote('{"$gt": ""}'))
    assert status == 200 and "大家都在看" in text_of(html)


# --- bad input ---------------------------------------------------------------------------------

LONG = "驾照到期怎么换" * 40

SENSIBLE_PAGES = [
    "q=", "q=%20%20%20", "q=" + quote(LONG), "q=" + quote("！？。，、…"), "q=" + quote("???"),
    "q=" + quote('"a" OR b*'), "q=" + quote("驾照 NEAR(a b) title:x ^c -d"),
    "q=" + quote('{"$gt": ""}'), "q%5B%24ne%5D=x", "q[$ne]=x", "category%5B%24ne%5D=x",
    "q=%00%01%7F", "q=%ED%A0%80", "q=%FF%FE", "q=" + quote("'; DROP TABLE clips; --"),
    "page=10000", "page=1", "sort=", "item=", "category=", "utm_source=wechat",
]
BAD_REQUESTS = [
    ("q=a&q=b", "只能出现一次"), ("page=0", "页码"), ("page=-1", "页码"), ("page=abc", "页码"),
    ("page=1.5", "页码"), ("page=10001", "页码"), ("page=99999999999999999999", "页码"),
    ("page=%EF%BC%91", "页码"), ("page=1&page=2", "只能出现一次"),
    ("category=" + quote("火星"), "分类"), ("category=" + "x" * 3000, "分类"),
    ("item=no-such-item", "业务事项"), ("item=" + quote('{"$ne": 1}'), "业务事项"),
    ("sort=views", "排序"), ("sort=" + quote("bm25(clip_text)"), "排序"),
]


@pytest.mark.parametrize("params", SENSIBLE_PAGES)
async def test_odd_input_still_gives_a_library_page(
    site: Site, three: dict[str, Clip], params: str
) -> None:
    status, html = await get(site, f"/clips?{params}")
    assert status == 200, params
    assert "Traceback" not in html and '<section class="library"' in html


@pytest.mark.parametrize(("params", "says"), BAD_REQUESTS)
async def test_bad_parameters_give_a_clear_400_page(
    site: Site, three: dict[str, Clip], params: str, says: str
) -> None:
    status, html = await get(site, f"/clips?{params}")
    assert status == 400, params
    assert "Traceback" not in html
    assert "400 · 请求有误" in html and says in text_of(html)
    assert '<a href="/clips">查看全部小贴士视频</a>' in html


async def test_an_overlong_query_is_cut_and_the_page_says_so(site: Site) -> None:
    status, html = await get(site, "/clips?q=" + quote(LONG))
    assert status == 200
    assert "搜索词太长，已只按前 100 个字搜索。" in text_of(html)
    assert f'value="{LONG[:100]}"' in html


# --- one clip ----------------------------------------------------------------------------------


async def test_clip_page_has_the_video_captions_text_and_preview_metadata(
    site: Site, three: dict[str, Clip]
) -> None:
    clip = three["licence"]
    status, html = await get(site, f"/clips/{clip.id}")
    assert status == 200
    media = f"/media/clips/{clip.id}/g1"
    assert (f'<video id="clip-video" controls playsinline preload="metadata" '
            f'poster="{media}.jpg">') in html
    assert f'<source src="{media}.mp4" type="video/mp4">' in html
    assert (f'<track kind="captions" srclang="zh" label="中文" src="{media}.vtt" default>'
            in html)
    text = text_of(html)
    for shown in ("驾驶证到期了怎么换", "驾照下个月到期，去哪里换？", "在12123申请期满换证。",
                  "驾驶证有效期满换证", "2026-05-29", "时长 1:05", "5 次观看"):
        assert shown in text, shown
    origin = f"http://127.0.0.1:{site.first.server.port}"
    assert f'<link rel="canonical" href="{origin}/clips/{clip.id}">' in html
    assert '<meta property="og:title" content="驾驶证到期了怎么换">' in html
    assert '<meta property="og:description" content="在12123申请期满换证。">' in html
    assert f'<meta property="og:image" content="{origin}{media}.jpg">' in html
    assert f'<meta property="og:video" content="{origin}{media}.mp4">' in html
    assert f'<meta property="og:url" content="{origin}/clips/{clip.id}">' in html
    assert f'<button type="button" id="copy-link" data-url="{origin}/clips/{clip.id}">' in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


async def test_a_12123_item_opens_the_web_portal_and_names_the_app(
    site: Site, three: dict[str, Clip]
) -> None:
    # The catalog's "12123://service/…" placeholders are not URLs (a scheme starts with a
    # letter): as an href a browser would resolve them to a path on this site.
    status, html = await get(site, f"/clips/{three['licence'].id}")
    assert status == 200
    assert ('<a class="service-button" id="service-button" href="https://zj.122.gov.cn/" '
            'target="_blank" rel="noopener">一键办理</a>') in html
    assert ("在 交管12123 网页版办理「驾驶证有效期满换证」；也可以在手机上打开交管12123 App 办理。"
            in text_of(html))
    assert "12123://" not in html


async def test_an_app_link_opens_the_app_with_a_web_fallback(site: Site) -> None:
    clip = await add_clip(site.app, "ebike-registration", "电动车上牌")
    status, html = await get(site, f"/clips/{clip.id}")
    assert status == 200
    assert ('<a class="service-button" id="service-button" '
            'href="zlb://service/ebike-registration">一键办理</a>') in html
    assert "在 浙里办 办理「电动自行车注册登记（上牌）」：手机上会打开浙里办 App。" in text_of(html)
    assert 'id="service-portal" href="https://www.zjzwfw.gov.cn/"' in html


async def test_the_service_button_opens_a_web_service_in_a_new_tab(site: Site) -> None:
    clip = await add_clip(site.app, "inspection-date-query", "下次年检是哪天")
    status, html = await get(site, f"/clips/{clip.id}")
    assert status == 200
    assert ('href="https://gab.122.gov.cn/views/inquiryjyqz.html" target="_blank" '
            'rel="noopener">一键办理</a>') in html


async def test_a_counter_only_item_shows_where_to_go_instead_of_a_link(site: Site) -> None:
    clip = await add_clip(site.app, "used-car-transfer", "二手车过户要带什么")
    status, html = await get(site, f"/clips/{clip.id}")
    assert status == 200
    text = text_of(html)
    assert '<summary class="service-button" id="service-button">一键办理</summary>' in html
    assert "需到窗口办理" in text and "不能在网上办理" in text
    assert "二手车买卖、赠与、继承" in text  # the item's description
    assert "window://" not in html


async def test_only_safe_link_schemes_become_the_service_button(site: Site) -> None:
    clip = await add_clip(site.app, "", "没有业务事项", service_link="javascript:alert(1)")
    status, html = await get(site, f"/clips/{clip.id}")
    assert status == 200
    assert "javascript:" not in html and 'id="service-button"' not in html


@pytest.mark.parametrize("which", ["draft", "unpublished"])
async def test_clips_that_are_not_published_are_not_found(
    site: Site, three: dict[str, Clip], which: str
) -> None:
    status, html = await get(site, f"/clips/{three[which].id}")
    assert status == 404 and "页面不存在" in html
    status, _ = await get(site, "/clips/" + quote("no such clip"))
    assert status == 404


async def test_related_clips_are_other_clips_of_the_same_item(site: Site) -> None:
    first = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    other = await add_clip(site.app, "license-renewal", "六年换十年怎么换", views=9)
    await add_clip(site.app, "license-renewal", "草稿", state="draft")
    await reindex(site.app)
    status, html = await get(site, f"/clips/{first.id}")
    assert status == 200
    related = html[html.index('<section class="related">'):]
    assert f'href="/clips/{other.id}"' in related
    assert f'href="/clips/{first.id}"' not in related and "草稿" not in related


# --- search engines ----------------------------------------------------------------------------


async def test_sitemap_lists_the_library_categories_and_published_clips_only(
    site: Site, three: dict[str, Clip]
) -> None:
    response = await site.first.get("/sitemap.xml")
    assert response.status == 200
    assert response.content_type == "application/xml"
    xml = await response.text()
    origin = f"http://127.0.0.1:{site.first.server.port}"
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f"<loc>{origin}/clips</loc>" in xml
    assert f"<loc>{origin}/clips?category={quote('电动自行车')}</loc>" in xml
    for key in ("licence", "ebike", "inspection"):
        assert f"<loc>{origin}/clips/{three[key].id}</loc>" in xml
    assert "<lastmod>2026-05-29T04:26:40+08:00</lastmod>" in xml
    for key in ("draft", "unpublished"):
        assert three[key].id not in xml


async def test_sitemap_lists_public_replays_only(site: Site) -> None:
    sessions = site.app[keys.SESSIONS]
    shown, kept = [await sessions.create(SessionForm(title, scheduled_start=1.8e9), actor="t")
                   for title in ("公开回放", "未公开")]
    for b in (shown, kept):
        await sessions.start(b.id, actor="t")
        await sessions.end(b.id, actor="t")
    await site.app[keys.REPLAYS].set_published(shown.id, True, actor="t")
    xml = await (await site.first.get("/sitemap.xml")).text()
    origin = f"http://127.0.0.1:{site.first.server.port}"
    assert f"<url><loc>{origin}/replay/{shown.id}</loc><lastmod>" in xml
    assert kept.id not in xml  # ended, but no one has made its replay public


async def test_robots_txt_points_at_the_sitemap_and_keeps_out_of_staff_pages(
    site: Site
) -> None:
    response = await site.first.get("/robots.txt")
    assert response.status == 200 and response.content_type == "text/plain"
    lines = (await response.text()).splitlines()
    assert [line for line in lines if line.startswith("Disallow")] == [
        "Disallow: /staff", "Disallow: /admin", "Disallow: /api/"]
    assert f"Sitemap: http://127.0.0.1:{site.first.server.port}/sitemap.xml" in lines


async def test_an_item_listing_shows_the_item_and_its_service_even_with_no_clips(
        site: Site) -> None:
    """Where a no-result suggestion leads: the item's page, never a dead end."""
    client = await site.new_client()
    page = await client.get("/clips", params={"item": "ebike-registration"})
    html = await page.text()
    assert page.status == 200 and 'id="item-card"' in html
    assert "电动自行车注册登记（上牌）" in html and 'id="service-button"' in html
    window = await client.get("/clips", params={"item": "plate-retain"})  # counter only
    html = await window.text()
    assert window.status == 200 and "需到窗口办理" in html and 'id="item-card"' in html
