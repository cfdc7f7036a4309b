"""A queue per host in Chromium (issue 15): a session with an officer and a presenter, each
at their own host console. Each console lists its own queue and air and what the other has
on air, live; both may be on air at once, and the viewers' page and a per-host overlay show
it. The moderator switches the "me too" order, which the consoles follow and describe, and
moves a queued question by dragging it. axe-core finds nothing on the consoles."""

from __future__ import annotations

import re
import time

from playwright.async_api import Page, expect

from live.sessions import SessionForm
from moderation.actions import ACTIONS, perform
from store.records import LiveSession, Question, StaffUser
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_a11y_axe import Audit, audit
from tests.browser.test_staff_admin import log_in
from web import keys

__all__ = ["audit"]  # the axe-core fixture

PASSWORD = "correct-horse-battery"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
TEXTS = {
    "officer": "驾驶证到期换证需要体检吗",
    "presenter": "电动自行车上牌要带什么材料",
    "anyone": "车辆年检可以异地办理吗",
    "officer2": "扣分满十二分以后怎么学习",
}


async def two_host_session(server: LiveServer) -> tuple[LiveSession, StaffUser, StaffUser,
                                                         StaffUser]:
    accounts = server.app[keys.ACCOUNTS]
    mod = await accounts.create("mod.li", "moderator", PASSWORD, actor="test",
                                display_name="李审核")
    officer = await accounts.create("host.wang", "host", PASSWORD, actor="test",
                                    display_name="王警官")
    presenter = await accounts.create("host.zhao", "host", PASSWORD, actor="test",
                                      display_name="赵主播")
    sessions = server.app[keys.SESSIONS]
    created = await sessions.create(
        SessionForm(title="驾驶证业务直播答疑", scheduled_start=time.time(),
                    scheduled_end=time.time() + 3600, host_ids=(officer.id, presenter.id),
                    presenter="赵主播"), actor="test")
    return await sessions.start(created.id, actor="test"), mod, officer, presenter


async def approved(server: LiveServer, session: LiveSession, mod: StaffUser, n: int, text: str,
                   host_id: str = "") -> Question:
    moderation = server.app[keys.MODERATION]
    q, _ = await moderation.ask(session.id, f"viewer-{n}", "127.0.0.1", f"c{n}", text)
    fields = {"question_id": q.id, "version": q.version, "category": "驾驶证"}
    if host_id:
        fields["host_id"] = host_id
    await perform(ACTIONS["approve"], moderation, session.id, mod, fields)
    return (await moderation.board(session.id)).questions[q.id]


async def console(open_page: PageFactory, name: str, path: str) -> Page:
    page = await open_page(**DESKTOP)
    await log_in(page, name, PASSWORD)
    await expect(page).to_have_url(re.compile(r"/staff$"))
    await page.goto(path)
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    return page


async def test_two_hosts_each_run_their_own_queue_and_air(
    live_server: LiveServer, open_page: PageFactory, audit: Audit
) -> None:
    session, mod, officer, presenter = await two_host_session(live_server)
    ids = {}
    for n, (key, text) in enumerate(TEXTS.items()):
        host = {"officer": officer.id, "officer2": officer.id,
                "presenter": presenter.id}.get(key, "")
        ids[key] = (await approved(live_server, session, mod, n, text, host)).id
    host_path = f"/staff/sessions/{session.id}/host"
    wang = await console(open_page, "host.wang", host_path)
    zhao = await console(open_page, "host.zhao", host_path)
    viewer = await open_page(**DESKTOP)
    await viewer.goto(f"/live/{session.id}")
    overlay = await open_page(viewport={"width": 1280, "height": 720})
    await overlay.goto(f"/overlay/{session.id}?host={presenter.id}")

    # Each console lists its own queue: routed to that host, or to none.
    await expect(wang.locator("#queue .host-text")).to_have_text(
        [TEXTS["officer"], TEXTS["anyone"], TEXTS["officer2"]])
    await expect(zhao.locator("#queue .host-text")).to_have_text(
        [TEXTS["presenter"], TEXTS["anyone"]])
    await expect(wang.locator("#queue-rule")).to_contain_text("仅供参考")

    # The officer goes on air; the presenter's console shows it under the other host's air.
    await wang.locator("#queue li", has_text=TEXTS["officer"]).get_by_role(
        "button", name="上直播").click()
    await expect(wang.locator("#air .air-text")).to_have_text(TEXTS["officer"])
    others = zhao.locator("#others-air-block")
    await expect(others).to_be_visible()
    await expect(others).to_contain_text("王警官")
    await expect(others).to_contain_text(TEXTS["officer"])
    await expect(zhao.locator("#air")).to_contain_text("现在没有问题在直播")
    await expect(overlay.locator("#on-air")).to_be_hidden()  # the presenter's: nothing yet

    # The presenter goes on air too: two questions on air, one per host.
    await zhao.locator("#queue li", has_text=TEXTS["presenter"]).get_by_role(
        "button", name="上直播").click()
    await expect(zhao.locator("#air .air-text")).to_have_text(TEXTS["presenter"])
    await expect(wang.locator("#others-air")).to_contain_text(TEXTS["presenter"])
    await expect(wang.locator("#others-air")).to_contain_text("赵主播")
    await expect(viewer.locator("#on-air-body .on-air-text")).to_have_text(
        [TEXTS["officer"], TEXTS["presenter"]])
    await expect(overlay.locator("#on-air-text")).to_contain_text(TEXTS["presenter"])
    await audit.check(wang, "host console, two hosts on air")
    await audit.check(zhao, "host console, the other host's air listed")

    # The officer's second question waits: one on air per host.
    await wang.locator("#queue li", has_text=TEXTS["officer2"]).get_by_role(
        "button", name="上直播").click()
    await expect(wang.locator("#queue li", has_text=TEXTS["officer2"]).get_by_role(
        "alert")).to_contain_text("已有问题正在直播")
    # Answered: it leaves both consoles' air.
    await wang.locator("#air").get_by_role("button", name="已解答").click()
    await expect(wang.locator("#air")).to_contain_text("现在没有问题在直播")
    await expect(zhao.locator("#others-air-block")).to_be_hidden()
    await expect(viewer.locator("#on-air-body .on-air-text")).to_have_text([TEXTS["presenter"]])
    await audit.check(viewer, "live page, one of two hosts on air")

    # The moderator lets "me too" raise questions: three viewers ask the officer's second.
    moderation = live_server.app[keys.MODERATION]
    for n in range(3):
        await moderation.me_too(session.id, f"fan-{n}", ids["officer2"])
    moderator = await console(open_page, "mod.li", f"/staff/sessions/{session.id}/moderate")
    await moderator.get_by_role("tab", name=re.compile("队列")).click()
    await expect(moderator.locator("#queue-rule")).to_contain_text("不改变顺序")
    await moderator.get_by_label("“也想问”多的问题自动靠前").check()
    await expect(wang.locator("#queue .host-text")).to_have_text(
        [TEXTS["officer2"], TEXTS["anyone"]])
    await expect(wang.locator("#queue-rule")).to_contain_text("越多越靠前")
    await expect(viewer.locator("#queue-hint")).to_contain_text("越靠前")
    await expect(moderator.locator("#queue-rule")).to_contain_text("前移一位")
    await audit.check(moderator, "moderator console, queue with me-too order on")

    # Drag: the question for any host goes above the officer's second, and stays there.
    cards = moderator.locator("#list .mod-card.state-queued")
    await expect(cards.locator(".mod-text")).to_have_text([TEXTS["officer2"], TEXTS["anyone"]])
    await cards.filter(has_text=TEXTS["anyone"]).drag_to(
        cards.filter(has_text=TEXTS["officer2"]), target_position={"x": 20, "y": 5})
    await expect(cards.locator(".mod-text")).to_have_text([TEXTS["anyone"], TEXTS["officer2"]])
    await expect(wang.locator("#queue .host-text")).to_have_text(
        [TEXTS["anyone"], TEXTS["officer2"]])
    audit.assert_clean()
    for page in (wang, zhao, viewer, overlay, moderator):
        assert unexpected_errors(open_page.console_errors(page)) == []
