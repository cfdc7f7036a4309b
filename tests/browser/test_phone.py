"""Broadcasting from a phone in Chromium with fake media devices: a host signs in on a
phone-sized page, opens the camera page, starts, and the session's HLS playlist gains
segments with video and audio from the fake camera and microphone; the page shows what it
is doing, takes a camera switch and a stop, and passes axe-core at phone size."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from live.ffmpeg import find_ffmpeg, find_ffprobe
from live.hls_recorder import session_playlist
from live.sessions import SessionForm
from settings import Settings
from store.records import LiveSession
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    DEFAULT_CHROMIUM,
    LOCALE,
    LiveServer,
    chromium_path,
    unexpected_errors,
)
from tests.browser.test_a11y_axe import PHONE, Audit, axe_source
from tests.browser.test_staff_admin import log_in
from tests.conftest import require
from tests.support import PASSWORD, until
from web import keys

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(media={"record": True, "segment_seconds": 1})


@pytest.fixture
async def fake_media_browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    require(executable is not None,
            f"Chromium not found at {os.environ.get('CHROMIUM_PATH') or DEFAULT_CHROMIUM}")
    assert executable is not None
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=[*CHROMIUM_ARGS, *FAKE_MEDIA])
        try:
            yield chromium
        finally:
            await chromium.close()


def segments(playlist: Path) -> list[str]:
    if not playlist.exists():
        return []
    return [line for line in playlist.read_text().splitlines()
            if line and not line.startswith("#")]


def streams(path: Path) -> dict[str, str]:
    ffprobe = find_ffprobe("", find_ffmpeg(""))
    require(ffprobe is not None, "ffprobe is not installed")
    assert ffprobe is not None
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        if line.strip():
            name, kind = line.strip().split(",")
            found[kind] = name
    return found


async def host_session(live_server: LiveServer) -> LiveSession:
    officer = await live_server.app[keys.ACCOUNTS].create(
        "officer", "host", PASSWORD, actor="test", display_name="王警官")
    return await live_server.app[keys.SESSIONS].create(
        SessionForm("街面执勤 · 手机直播", scheduled_start=time.time(), host_ids=(officer.id,),
                    source_kind="browser"), actor="test")


async def open_camera(browser: Browser, live_server: LiveServer, session_id: str) -> Page:
    context = await browser.new_context(locale=LOCALE, base_url=live_server.url, **PHONE)
    page = await context.new_page()
    await log_in(page, "officer", PASSWORD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作台")
    await page.get_by_role("link", name="手机直播").click()  # on the staff home page
    await expect(page).to_have_url(f"{live_server.url}/staff/sessions/{session_id}/camera")
    return page


async def test_a_host_goes_live_from_the_phone_page(
        live_server: LiveServer, fake_media_browser: Browser) -> None:
    session = await host_session(live_server)
    page = await open_camera(fake_media_browser, live_server, session.id)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    audit = Audit(axe_source())
    # The preview shows the camera before anything is sent.
    await page.wait_for_function(
        "() => document.getElementById('preview').videoWidth > 0", timeout=15_000)
    await expect(page.locator("#state")).to_have_text("未开始")
    await audit.check(page, "camera page, idle")

    # Pressed before the broadcast starts: it waits, then sends once the session is live.
    await page.get_by_role("button", name="开始推流").click()
    await expect(page.locator("#state")).to_have_text("等待直播开始")
    await live_server.app[keys.SESSIONS].start(session.id, actor="test")
    await expect(page.locator("#state")).to_have_text("推流中", timeout=20_000)

    playlist = session_playlist(live_server.app[keys.SETTINGS].media_dir, session.id)
    recordings = live_server.app[keys.RECORDINGS]
    try:
        await until(lambda: len(segments(playlist)) >= 3, "segments from the phone", timeout=60)
    except AssertionError:
        sender = live_server.app[keys.PHONES].sender(session.id)
        received = sender.received if sender else None
        raise AssertionError(f"no segments: {recordings.health(session.id)}, "
                             f"{received} bytes from the phone") from None
    found = streams(playlist.parent / segments(playlist)[1])
    assert found == {"video": "h264", "audio": "aac"}, found
    await expect(page.locator("#ingest")).to_contain_text("视频：信号正常", timeout=15_000)
    await expect(page.get_by_role("button", name="停止推流")).to_be_visible()
    await audit.check(page, "camera page, live")

    # Mute is a toggle button; switching the camera starts a new stream at once.
    mute = page.get_by_role("button", name="静音")
    await mute.click()
    await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    before = len(segments(playlist))
    await page.get_by_role("button", name="切换摄像头").click()
    await expect(page.locator("#state")).to_have_text("推流中", timeout=20_000)
    await until(lambda: len(segments(playlist)) >= before + 2, "segments after the switch",
                timeout=60)
    assert "#EXT-X-DISCONTINUITY" in playlist.read_text()

    await page.get_by_role("button", name="停止推流").click()
    await expect(page.locator("#state")).to_have_text("未开始")
    await expect(page.locator("#ingest")).to_contain_text("视频：", timeout=5_000)
    audit.assert_clean()
    assert unexpected_errors([f"console.error: {e}" for e in errors]) == []
