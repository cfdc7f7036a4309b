"""The replay of a real recorded session in Chromium (issues 14 and 16): the recorder's test
picture recorded live through the app, two questions answered on air with a caption line,
the session ended; an admin publishes the replay from the session's page; a viewer's
Chromium plays it through hls.js, a click (and Enter) on a chapter seeks the video there, the
captions track has cues, and axe-core finds nothing at desktop and phone size."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from playwright.async_api import Page, expect

from clips.replays import media_offset
from clips.timeline import load_playlist
from live.hls_recorder import session_playlist
from live.sessions import SessionForm
from settings import Settings
from store.records import Caption, LiveSession, Question, new_id
from tests.browser.conftest import Credentials, LiveServer, PageFactory, unexpected_errors
from tests.browser.test_a11y_axe import DESKTOP, PHONE, Audit, axe_source
from tests.browser.test_staff_admin import log_in
from tests.support import until
from web import keys

FIRST = "驾驶证快到期了，在哪里换证？"
SECOND = "电动自行车上牌要带什么材料？"
LINE = "民警：到期前九十天内都可以办理换证。"
CAPTIONS = ("[...document.getElementById('replay-video').textTracks]"
            ".find(t => t.kind === 'captions')")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recording on: a 320x180 test picture in 1-second segments keeps two cores free."""
    return settings.replace(media={"record": True, "test_picture_size": "320x180",
                                   "segment_seconds": 1})


def recorded(server: LiveServer, session_id: str) -> int:
    try:
        return len(load_playlist(session_playlist(server.app[keys.SETTINGS].media_dir,
                                                  session_id)).segments)
    except FileNotFoundError:
        return 0


async def answered(server: LiveServer, session: LiveSession, text: str, item: str) -> str:
    """A question answered on air now (the path of an answer is tested in tests/live)."""
    now = time.time()
    question = Question(id=new_id(), session_id=session.id, viewer_id="v", client_id=new_id(),
                        text=text, state="answered", item_id=item, category="驾驶证",
                        on_air_at=now, answered_at=now + 2, created_at=now - 30)
    await server.app[keys.STORE].insert(question)
    return question.id


async def recorded_session(server: LiveServer) -> tuple[LiveSession, list[str]]:
    sessions = server.app[keys.SESSIONS]
    session = await sessions.create(SessionForm("驾驶证业务直播答疑",
                                                scheduled_start=time.time()), actor="test")
    await sessions.start(session.id, actor="test")
    await until(lambda: recorded(server, session.id) >= 2, "two segments", timeout=30)
    first = await answered(server, session, FIRST, "license-renewal")
    await server.app[keys.STORE].insert(Caption(id=new_id(), session_id=session.id,
                                                text=LINE, at=time.time() + 0.5))
    await until(lambda: recorded(server, session.id) >= 8, "six more segments", timeout=30)
    second = await answered(server, session, SECOND, "ebike-registration")
    await asyncio.sleep(3)
    await sessions.end(session.id, actor="test")
    await server.app[keys.RECORDINGS].settle()
    return session, [first, second]


async def offsets(server: LiveServer, session: LiveSession, ids: list[str]) -> list[float]:
    timeline = load_playlist(session_playlist(server.app[keys.SETTINGS].media_dir, session.id))
    found = []
    for qid in ids:
        question = await server.app[keys.STORE].get(Question, qid)
        offset = media_offset(timeline, question.on_air_at)
        assert offset is not None
        found.append(offset)
    return found


async def seeked_to(page: Page, offset: float) -> None:
    await page.wait_for_function(
        f"() => Math.abs(document.getElementById('replay-video').currentTime - {offset}) < 0.6",
        timeout=15_000)


async def test_a_replay_plays_seeks_to_chapters_and_has_captions(
        live_server: LiveServer, open_page: PageFactory, admin: Credentials) -> None:
    session, ids = await recorded_session(live_server)
    first, second = await offsets(live_server, session, ids)
    assert second - first > 4  # far enough apart that a seek is seen

    viewer = await open_page(**DESKTOP)
    response = await viewer.goto(f"/replay/{session.id}")
    assert response is not None and response.status == 404  # staff publish it first

    staff = await open_page(**DESKTOP)
    await log_in(staff, admin.name, admin.password)
    await expect(staff).to_have_url(re.compile(r"/staff$"))
    await staff.goto(f"/admin/sessions/{session.id}")
    await expect(staff.locator("#replay-state")).to_have_text("未公开")
    await staff.locator("#replay-publish").click()
    await expect(staff.locator("#replay-state")).to_have_text("已公开")

    await viewer.goto(f"/replay/{session.id}")
    await expect(viewer.locator("#replay-title")).to_have_text("驾驶证业务直播答疑")
    chapters = viewer.locator("button.chapter")
    await expect(chapters).to_have_count(2)
    await expect(chapters.nth(0)).to_contain_text(FIRST)
    await expect(viewer.locator(f"#q-{ids[1]}")).to_contain_text("电动自行车注册登记（上牌）")
    await viewer.wait_for_function(
        "() => document.getElementById('replay-video').readyState >= 1", timeout=20_000)
    assert await viewer.evaluate("() => typeof window.Hls") == "function"
    duration = await viewer.evaluate("() => document.getElementById('replay-video').duration")
    assert duration == pytest.approx(len(load_playlist(session_playlist(
        live_server.app[keys.SETTINGS].media_dir, session.id)).segments), abs=3)

    await chapters.nth(1).click()
    await seeked_to(viewer, second)
    await expect(chapters.nth(1)).to_have_attribute("aria-current", "true")
    await chapters.nth(0).focus()
    await viewer.keyboard.press("Enter")
    await seeked_to(viewer, first)
    await expect(chapters.nth(0)).to_have_attribute("aria-current", "true")

    # The captions track (default, showing) loads by itself; hls.js must not clear it.
    loaded = f"() => {{ const t = {CAPTIONS}; return t && t.cues && t.cues.length > 0; }}"
    await viewer.wait_for_function(loaded, timeout=10_000)
    cues: list[Any] = await viewer.evaluate(f"() => [...{CAPTIONS}.cues].map(c => c.text)")
    assert LINE in cues and f"问：{FIRST}" in cues and f"问：{SECOND}" in cues

    audit = Audit(axe_source())
    await audit.check(viewer, "replay (desktop)")
    phone = await open_page(**PHONE)
    await audit.visit(phone, f"/replay/{session.id}", "replay (phone)")
    await audit.visit(staff, f"/replay/{session.id}", "replay (staff)")
    await audit.visit(staff, f"/admin/sessions/{session.id}", "admin session, replay published")
    await audit.visit(staff, "/admin/sessions", "session list with a replay")
    await audit.visit(staff, "/staff", "staff home listing the ended session")
    await audit.visit(viewer, "/clips", "library front page listing the replay")
    await expect(viewer.locator("#replays")).to_contain_text("驾驶证业务直播答疑")
    await audit.visit(phone, "/schedule", "schedule listing past replays (phone)")
    await expect(phone.locator("#past-replays a")).to_have_attribute(
        "href", f"/replay/{session.id}")
    audit.assert_clean()
    for page in (viewer, phone, staff):
        assert unexpected_errors(open_page.console_errors(page), 404) == []
