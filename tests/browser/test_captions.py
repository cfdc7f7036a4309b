"""Live captions in a real browser (issue 16): a captioner types lines in the caption console
with the keyboard only; a viewer's live page shows the newest lines under the video, in a
polite log region (checked with Playwright's ARIA snapshots), without moving the focus."""

from __future__ import annotations

import re

from playwright.async_api import expect

from store.records import Caption
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_a11y_axe import Audit, audit
from tests.browser.test_live_loop import DESKTOP, PASSWORD, PHONE, connected, live_session
from tests.browser.test_staff_admin import log_in
from web import keys

__all__ = ["audit"]  # the axe-core fixture


async def test_a_captioners_lines_reach_the_viewers_live_region(
    live_server: LiveServer, open_page: PageFactory, audit: Audit
) -> None:
    session = await live_session(live_server)
    await live_server.add_staff("cap.zhao", "captioner", PASSWORD, display_name="赵字幕")
    captioner = await open_page(**DESKTOP)
    await log_in(captioner, "cap.zhao", PASSWORD)
    await expect(captioner).to_have_url(re.compile(r"/staff$"))
    await captioner.get_by_role("link", name="进入字幕台").click()
    await expect(captioner).to_have_url(re.compile(rf"/staff/sessions/{session.id}/captions$"))
    viewer = await open_page(**PHONE)
    await viewer.goto(f"/live/{session.id}")
    for page in (captioner, viewer):
        await connected(page)
    region = viewer.locator("#captions")
    await expect(region).to_match_aria_snapshot('- log "实时字幕"')
    await audit.check(captioner, "caption console: empty")
    await viewer.locator("#ask-text").focus()

    # Keyboard only: the box has the focus, Enter sends, the box is cleared and keeps it.
    box = captioner.get_by_label("字幕内容")
    await expect(box).to_be_focused()
    first = "民警：驾驶证有效期满前九十天内都可以换证。"
    await captioner.keyboard.type(first)
    await captioner.keyboard.press("Enter")
    await expect(captioner.locator("#sent li")).to_have_count(1)
    await expect(captioner.locator("#sent li")).to_contain_text(first)
    await expect(box).to_have_value("")
    await expect(box).to_be_focused()
    await expect(region).to_match_aria_snapshot("""
        - log "实时字幕":
          - paragraph: 民警：驾驶证有效期满前九十天内都可以换证。
        """)
    # The region is polite and never takes the focus from what the viewer was doing.
    assert await region.get_attribute("aria-live") == "polite"
    await expect(viewer.locator("#ask-text")).to_be_focused()

    # Personal data is masked before anyone sees it; only the newest three lines stay.
    for line in ("有问题请打 13812345678 咨询。", "第三句。", "第四句。"):
        await box.press_sequentially(line)
        await box.press("Enter")
        await expect(box).to_have_value("")
    await expect(captioner.locator("#sent li")).to_have_count(4)
    await expect(region).to_match_aria_snapshot("""
        - log "实时字幕":
          - paragraph: /^有问题请打 1\\S+ 咨询。$/
          - paragraph: 第三句。
          - paragraph: 第四句。
        """)
    assert "13812345678" not in await region.inner_text()
    await audit.check(captioner, "caption console: lines sent")
    await audit.check(viewer, "live page: captions")
    stored = await live_server.app[keys.STORE].find(Caption, {"session_id": session.id},
                                                    order_by=["at"])
    assert [c.by for c in stored] == ["cap.zhao"] * 4
    assert stored[1].text in await region.inner_text()

    # A refusal is an alert, and the line stays in the box to send again later.
    await live_server.app[keys.SESSIONS].end(session.id, actor="test")
    await box.press_sequentially("直播结束后的一句。")
    await box.press("Enter")
    await expect(captioner.get_by_role("alert")).to_have_text(
        "直播没有在进行，现在不能发送字幕。")
    await expect(box).to_have_value("直播结束后的一句。")
    await expect(captioner.locator("#sent li")).to_have_count(4)
    await audit.check(captioner, "caption console: refused")
    audit.assert_clean()
    for page in (captioner, viewer):
        assert unexpected_errors(open_page.console_errors(page)) == [], page.url
