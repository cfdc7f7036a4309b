"""Live video in Chromium: the viewer's page waits for the broadcast, starts playing when the
session goes live (no reload) through hls.js, and says when it has ended; the admin session
page and the moderation console show the ingest's health as it changes."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from playwright.async_api import Page, expect

from live.sessions import SessionForm
from settings import Settings
from tests.browser.conftest import Credentials, LiveServer, PageFactory, unexpected_errors
from tests.browser.test_staff_admin import log_in
from web import keys

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PLAYING = """() => {
  const v = document.getElementById("player-video");
  return !v.hidden && v.readyState >= 2 && v.currentTime > 0.5;
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recording on: a 320x180 test picture in 1-second segments keeps two cores free."""
    return settings.replace(media={"record": True, "test_picture_size": "320x180",
                                   "segment_seconds": 1})


async def current_time(page: Page) -> float:
    value: float = await page.evaluate(
        "() => document.getElementById('player-video').currentTime")
    return value


async def test_the_live_page_plays_the_broadcast_from_start_to_end(
        live_server: LiveServer, open_page: PageFactory, admin: Credentials) -> None:
    sessions = live_server.app[keys.SESSIONS]
    session = await sessions.create(
        SessionForm("驾驶证业务直播答疑", scheduled_start=time.time()), actor="test")
    viewer = await open_page(**PHONE)
    staff = await open_page(viewport={"width": 1280, "height": 800})
    await viewer.goto(f"/live/{session.id}")
    await expect(viewer.locator("#connection")).to_have_attribute("data-status", "connected")
    await expect(viewer.locator("#player-message")).to_have_text("直播尚未开始")
    await expect(viewer.locator("#player-video")).to_be_hidden()

    await log_in(staff, admin.name, admin.password)
    await expect(staff).to_have_url(re.compile(r"/staff$"))
    await staff.goto(f"/admin/sessions/{session.id}")
    await expect(staff.locator("#ingest-status")).to_have_text("未开始")

    await sessions.start(session.id, actor="test")
    # The page learns of the start over its websocket; hls.js fetches the playlist (404
    # until the recorder's first segment is written, then retried) and plays.
    await viewer.wait_for_function(PLAYING, timeout=30_000)
    assert await viewer.evaluate("() => typeof window.Hls") == "function"
    before = await current_time(viewer)
    await asyncio.sleep(1.5)
    assert await current_time(viewer) > before + 0.5  # it keeps playing
    await expect(viewer.locator("#player-message")).to_be_hidden()

    await expect(staff.locator("#ingest-status")).to_have_text("信号正常")
    await expect(staff.locator("#ingest-bitrate")).to_contain_text("bps", timeout=15_000)
    await staff.goto(f"/staff/sessions/{session.id}/moderate")
    await expect(staff.locator("#ingest-badge")).to_contain_text("视频：信号正常")

    await sessions.end(session.id, actor="test")
    await expect(viewer.locator("#player-message")).to_have_text("直播已结束")
    await expect(viewer.locator("#player-video")).to_be_hidden()
    await expect(staff.locator("#ingest-badge")).to_have_text("视频：已停止")

    # The playlist is 404 until the first segment exists; anything else is a real error.
    for page in (viewer, staff):
        assert unexpected_errors(open_page.console_errors(page), 404) == []
