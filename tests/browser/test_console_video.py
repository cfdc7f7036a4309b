"""Video beyond the live page, in Chromium: the moderation and host consoles play the live
picture muted with the broadcast delay beside it (axe-core clean), and the embeddable player
plays inside a frame of an allowed origin while a page of any other origin cannot frame it."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Frame, Page, expect

from live.sessions import SessionForm
from settings import Settings
from store.records import LiveSession
from tests.browser.conftest import Credentials, LiveServer, PageFactory, unexpected_errors
from tests.browser.test_a11y_axe import PHONE, Audit, audit
from tests.browser.test_staff_admin import log_in
from web import keys

__all__ = ["audit"]  # the axe-core fixture

SECONDS = re.compile(r"^\d+(\.\d)? 秒$")
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PLAYING = """() => {
  const v = document.getElementById("player-video");
  return !!v && !v.hidden && v.readyState >= 2 && v.currentTime > 0.5;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


ALLOWED_PORT, OTHER_PORT = free_port(), free_port()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recording on (a 320x180 test picture in 1-second segments), and one origin that may
    frame the embeddable player."""
    return settings.replace(media={"record": True, "test_picture_size": "320x180",
                                   "segment_seconds": 1},
                            embed={"frame_ancestors": f"http://127.0.0.1:{ALLOWED_PORT}"})


async def live_session(server: LiveServer, title: str = "驾驶证业务直播答疑") -> LiveSession:
    sessions = server.app[keys.SESSIONS]
    session = await sessions.create(SessionForm(title, scheduled_start=time.time()),
                                    actor="test")
    return await sessions.start(session.id, actor="test")


async def test_the_consoles_play_the_live_picture_muted_with_the_delay(
        live_server: LiveServer, open_page: PageFactory, admin: Credentials,
        audit: Audit) -> None:
    session = await live_session(live_server)
    page = await open_page(**DESKTOP)
    await log_in(page, admin.name, admin.password)
    await expect(page).to_have_url(f"{live_server.url}/staff")
    for console in ("moderate", "host"):
        await page.goto(f"/staff/sessions/{session.id}/{console}")
        await page.wait_for_function(PLAYING, timeout=30_000)
        video = page.locator("#player-video")
        assert await video.evaluate("v => v.muted && !v.paused")
        await expect(page.locator("#player-unmute")).to_be_visible()
        # The delay: wall clock minus the playing frame's EXT-X-PROGRAM-DATE-TIME.
        delay = page.locator("#broadcast-delay")
        await expect(delay).to_have_text(SECONDS, timeout=10_000)
        seconds = float(await delay.get_attribute("data-seconds") or "nan")
        assert 0 <= seconds < 30, seconds
        await audit.check(page, f"{console} console with the live picture")
        await page.locator("#player-unmute").click()
        assert not await video.evaluate("v => v.muted")

    # The picture follows the session: ended, the console says so without a reload.
    await live_server.app[keys.SESSIONS].end(session.id, actor="test")
    await expect(page.locator("#player-message")).to_have_text("直播已结束")
    await expect(page.locator("#broadcast-delay")).to_have_text("—")
    audit.assert_clean()
    assert unexpected_errors(open_page.console_errors(page), 404) == []


# --- the embeddable player -----------------------------------------------------------------


@pytest.fixture
async def framing_sites(live_server: LiveServer) -> AsyncIterator[dict[str, str]]:
    """Two other sites, each a page framing ``/embed/<id>`` (the id in its query): one on
    the allowed origin, one not."""

    async def page(request: web.Request) -> web.Response:
        src = f"{live_server.url}/embed/{request.query['session']}"
        return web.Response(content_type="text/html", text=(
            "<!doctype html><html lang='zh-CN'><title>外部网站</title>"
            f"<iframe id='player' title='直播' src='{src}' width='640' height='400'>"
            "</iframe></html>"))

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    urls = {}
    for name, port in (("allowed", ALLOWED_PORT), ("other", OTHER_PORT)):
        await web.TCPSite(runner, "127.0.0.1", port).start()
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        yield urls
    finally:
        await runner.cleanup()


def embedded(page: Page) -> Frame:
    [frame] = [f for f in page.frames if f is not page.main_frame]
    return frame


async def test_only_an_allowed_origin_can_frame_the_embedded_player(
        live_server: LiveServer, open_page: PageFactory,
        framing_sites: dict[str, str], audit: Audit) -> None:
    session = await live_session(live_server, "嵌入播放测试")
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        direct = await open_page(**viewport)
        await audit.visit(direct, f"/embed/{session.id}", f"embedded player ({size})")
    audit.assert_clean()

    allowed = await open_page(**DESKTOP)
    await allowed.goto(f"{framing_sites['allowed']}/?session={session.id}")
    frame = embedded(allowed)
    await frame.wait_for_function(PLAYING, timeout=30_000)
    assert await frame.evaluate("() => document.getElementById('player-video').muted")
    assert await frame.locator("h1").text_content() == "嵌入播放测试"

    other = await open_page(**DESKTOP)
    await other.goto(f"{framing_sites['other']}/?session={session.id}")
    await other.wait_for_timeout(1500)
    blocked = embedded(other)
    assert await blocked.locator("#player").count() == 0  # Chromium's error page instead
    assert any("frame-ancestors" in e for e in open_page.console_errors(other)), \
        open_page.console_errors(other)

    # The site's own pages keep refusing every frame, the allowed origin's included.
    live_page = await open_page(**DESKTOP)
    await live_page.route(f"{framing_sites['allowed']}/live", lambda route: route.fulfill(
        content_type="text/html",
        body=f"<iframe src='{live_server.url}/live/{session.id}'></iframe>"))
    await live_page.goto(f"{framing_sites['allowed']}/live")
    await live_page.wait_for_timeout(1500)
    assert await embedded(live_page).locator("#player").count() == 0


# --- simulcast on the admin session page -----------------------------------------------------


async def test_an_admin_adds_a_destination_and_sees_its_health_live(
        live_server: LiveServer, open_page: PageFactory, admin: Credentials,
        audit: Audit) -> None:
    sessions = live_server.app[keys.SESSIONS]
    session = await sessions.create(SessionForm("转推场", scheduled_start=time.time()),
                                    actor="test")
    key = "Br0wserS3cretStreamKey77"
    page = await open_page(**DESKTOP)
    await log_in(page, admin.name, admin.password)
    await expect(page).to_have_url(f"{live_server.url}/staff")
    await page.goto(f"/admin/sessions/{session.id}")
    form = page.locator("form.simulcast-add")
    await form.get_by_label("名称").fill("抖音")
    await form.get_by_label("推流地址").fill(f"rtmp://127.0.0.1:{OTHER_PORT}/third")
    await form.get_by_label("推流密钥").fill(key)
    await form.get_by_role("button", name="添加转推目标").click()
    row = page.locator("#simulcast-targets tbody tr[data-target-id]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("••••ey77")
    await expect(row.locator('[data-field="status"]')).to_have_text("未开始")
    assert key not in await page.content()

    await sessions.start(session.id, actor="test")  # nothing listens on that port
    await expect(row.locator('[data-field="status"]')).to_have_text("推流中断",
                                                                     timeout=30_000)
    await expect(row.locator('[data-field="error"]')).to_contain_text("Connection refused")
    assert key not in await page.content()
    await audit.check(page, "admin session page with a simulcast destination down")
    page.once("dialog", lambda dialog: dialog.accept())  # 删除转推目标“抖音”吗？
    await row.get_by_role("button", name="删除转推目标 抖音").click()
    await expect(page.locator("#simulcast-targets tbody tr[data-target-id]")).to_have_count(0)
    await live_server.app[keys.SIMULCASTS].settle()
    assert live_server.app[keys.SIMULCASTS].pushing(session.id) == []
    audit.assert_clean()
