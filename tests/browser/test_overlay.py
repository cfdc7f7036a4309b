"""The on-air overlay for broadcast software (issue 15; captions in it, issue 16), in a real
browser: a transparent page that shows the question on air with its business item and the
live captions, follows the broadcast live, and takes its look from [overlay] settings."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import expect

from moderation.actions import ACTIONS, perform
from moderation.captions import CaptionTrack
from store.records import StaffUser
from tests.browser.conftest import LiveServer, PageFactory
from tests.browser.test_a11y_axe import Audit, audit
from tests.browser.test_live_loop import live_session
from web import keys

__all__ = ["audit"]  # the axe-core fixture

SCENE = {"viewport": {"width": 1280, "height": 720}}


async def staff_user(server: LiveServer, name: str) -> StaffUser:
    found = await server.app[keys.STORE].user_by_name(name)
    assert found is not None
    return found


async def test_the_overlay_follows_the_question_on_air_and_the_captions(
    live_server: LiveServer, open_page: PageFactory, audit: Audit
) -> None:
    session = await live_session(live_server)
    moderation = live_server.app[keys.MODERATION]
    moderator = await staff_user(live_server, "mod.li")
    host = await staff_user(live_server, "host.wang")
    page = await open_page(**SCENE)
    await page.goto(f"/overlay/{session.id}")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    # Transparent, so the programme shows through; nothing on air yet, so nothing shown.
    for selector in ("html", "body"):
        background = await page.eval_on_selector(
            selector, "n => getComputedStyle(n).backgroundColor")
        assert background == "rgba(0, 0, 0, 0)"
    await expect(page.locator("#on-air")).to_be_hidden()

    q, _ = await moderation.ask(session.id, "viewer-1", "127.0.0.1", "c1",
                                "驾驶证到期了去哪里换证？我电话13812345678")
    await perform(ACTIONS["approve"], moderation, session.id, moderator,
                  {"question_id": q.id, "version": q.version, "category": "驾驶证",
                   "item_id": "license-renewal"})
    queued = (await moderation.board(session.id)).questions[q.id]
    await perform(ACTIONS["on_air"], moderation, session.id, host,
                  {"question_id": q.id, "version": queued.version})
    panel = page.locator("#on-air")
    await expect(panel).to_be_visible()
    await expect(panel.locator("#on-air-text")).to_contain_text("驾驶证到期了去哪里换证")
    await expect(panel.locator("#on-air-item")).to_have_text(
        moderation.catalog.get("license-renewal").name)
    assert "13812345678" not in await panel.inner_text()  # the public, masked text only
    # The look comes from the settings, as CSS custom properties.
    font = await page.eval_on_selector("#on-air", "n => getComputedStyle(n).fontSize")
    assert font == f"{live_server.app[keys.SETTINGS].overlay.font_px}px"

    track = CaptionTrack.of(moderation, by="test")
    await track.submit(session.id, "民警：到期前九十天内都可以换证。", time.time())
    captions = page.locator("#captions")
    await expect(captions).to_contain_text("到期前九十天内都可以换证")
    await audit.check(page, "overlay: a question on air with captions")

    on_air = (await moderation.board(session.id)).questions[q.id]
    await perform(ACTIONS["answered"], moderation, session.id, host,
                  {"question_id": q.id, "version": on_air.version})
    await expect(panel).to_be_hidden()
    audit.assert_clean()


@pytest.mark.parametrize(("query", "status"), [("?position=top&captions=0", 200),
                                               ("?position=left", 400),
                                               ("?captions=yes", 400),
                                               ("?host=not-a-host-of-it", 400)])
async def test_a_scene_chooses_position_and_captions(
    live_server: LiveServer, open_page: PageFactory, query: str, status: int
) -> None:
    session = await live_session(live_server)
    page = await open_page(**SCENE)
    response = await page.goto(f"/overlay/{session.id}{query}")
    assert response is not None and response.status == status
    if status == 200:
        await expect(page.locator("#overlay")).to_have_class("overlay overlay-top")
        assert await page.locator("#captions").count() == 0


async def test_an_unknown_session_has_no_overlay(live_server: LiveServer,
                                                 open_page: PageFactory) -> None:
    page = await open_page(**SCENE)
    response = await page.goto("/overlay/no-such-session")
    assert response is not None and response.status == 404
