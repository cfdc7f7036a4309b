"""The public clip library in a real browser, on a phone-sized screen: search as a citizen
types, open the clip, play it (a view is counted), press 一键办理."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, Route, expect

from live.ffmpeg import find_ffmpeg
from store.records import Clip
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.web.clip_seed import ClipMedia, add_clip, add_relevance_library, make_media, reindex
from web import keys

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
QUERY = "驾照快到期了在哪里换"
PORTAL = "https://zj.122.gov.cn/"


def fake_site(opened: list[str]) -> Callable[[Route], Awaitable[None]]:
    """A stand-in for an outside service site, noting what was asked of it."""
    async def answer(route: Route) -> None:
        opened.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html",
                            body="<!doctype html><title>办理</title>")
    return answer


async def playable_library(server: LiveServer) -> ClipMedia:
    """The relevance library, every clip sharing the real files of a published demo clip."""
    app = server.app
    media_dir = app[keys.SETTINGS].media_dir
    files = await make_media(find_ffmpeg(), media_dir, "demo", seconds=4,
                             captions="问：驾照快到期了在哪里换？")
    await add_clip(app, "license-renewal", "驾驶证期满换证演示", clip_id="demo", files=files)
    await add_relevance_library(app, files=files)
    await reindex(app)
    return files


async def start_playing(page: Page) -> None:
    video = page.locator("#clip-video")
    # Muted, so that the autoplay policy allows play() without a tap.
    await video.evaluate("v => { v.muted = true; return v.play(); }")
    await page.wait_for_function(
        "() => document.getElementById('clip-video').currentTime > 0.5", timeout=15_000)


async def test_search_open_play_and_press_the_service_button_on_a_phone(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    await playable_library(live_server)
    page = await open_page(**PHONE)
    await page.goto("/clips")
    await expect(page.get_by_role("heading", level=1)).to_have_text("小贴士视频")

    await page.get_by_role("searchbox").fill(QUERY)
    await page.get_by_role("searchbox").press("Enter")
    await expect(page).to_have_url(re.compile(r"/clips\?q="))
    first = page.locator(".clip-card").first
    await expect(first.locator(".item-name")).to_have_text("驾驶证有效期满换证")
    await expect(first.locator("mark").first).to_be_visible()
    # The poster is lazy and loads (the media route serves it).
    await expect(first.locator("img")).to_have_attribute("loading", "lazy")

    await first.locator(".clip-title a").click()
    await expect(page).to_have_url(re.compile(r"/clips/[^/?]+$"))
    clip_id = page.url.rsplit("/", 1)[1]
    clip = await live_server.app[keys.STORE].get(Clip, clip_id)
    await expect(page.get_by_role("heading", level=1)).to_have_text(clip.title)
    await expect(page.locator("#clip-views")).to_have_text(f"{clip.views} 次观看")

    await start_playing(page)
    # Captions load from the clip's WebVTT file.
    await page.wait_for_function(
        "() => document.querySelector('#clip-video track').readyState === 2")
    # Playback counted one view (once: replaying does not count again).
    await expect(page.locator("#clip-views")).to_have_text(f"{clip.views + 1} 次观看")
    await page.locator("#clip-video").evaluate("v => { v.currentTime = 0; return v.play(); }")
    await page.wait_for_timeout(300)
    assert (await live_server.app[keys.STORE].get(Clip, clip_id)).views == clip.views + 1

    # 一键办理 opens the item's service (the 交管12123 web portal: the catalog has no usable
    # app link for it yet) in a new tab; the real site is not reached.
    opened: list[str] = []
    await page.context.route(f"{PORTAL}**", fake_site(opened))
    await expect(page.locator(".service-channel")).to_contain_text("交管12123")
    async with page.expect_popup() as popup_info:
        await page.get_by_role("link", name="一键办理").click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    assert popup.url == PORTAL and opened[0] == PORTAL

    assert unexpected_errors(open_page.console_errors(page)) == []


async def test_service_button_opens_a_web_service_or_shows_the_counter_guidance(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    files = await playable_library(live_server)
    app = live_server.app
    web_clip = await add_clip(app, "inspection-date-query", "下次年检是哪天", files=files)
    counter_clip = await add_clip(app, "used-car-transfer", "二手车过户要带什么", files=files)
    await reindex(app)
    link = "https://gab.122.gov.cn/views/inquiryjyqz.html"

    page = await open_page(**PHONE)
    opened: list[str] = []
    await page.context.route("https://gab.122.gov.cn/**", fake_site(opened))
    await page.goto(f"/clips/{web_clip.id}")
    async with page.expect_popup() as popup_info:
        await page.get_by_role("link", name="一键办理").click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    assert popup.url == link and opened[0] == link
    await popup.close()

    await page.goto(f"/clips/{counter_clip.id}")
    guide = page.locator("#window-guide")
    await expect(guide).to_be_hidden()
    await page.get_by_text("一键办理", exact=True).click()
    await expect(guide).to_be_visible()
    await expect(guide.get_by_role("heading")).to_have_text("需到窗口办理")
    await expect(guide).to_contain_text("二手车买卖、赠与、继承")
    assert page.url.endswith(f"/clips/{counter_clip.id}")  # nothing was opened

    assert unexpected_errors(open_page.console_errors(page)) == []
