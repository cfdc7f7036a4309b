"""The live loop in a real browser: a viewer, a moderator and a host, each in their own
context, walk questions from the ask box to the air (and to a decline) over the websockets."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from playwright.async_api import Page, expect

from live.sessions import SessionForm
from store.records import LiveSession, Question, ReasonTemplate, new_id
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_staff_admin import log_in
from web import keys

PASSWORD = "correct-horse-battery"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
OFF_TOPIC = "与本场直播主题无关，请拨打 122 咨询。"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@dataclass
class Stage:
    session: LiveSession
    viewer: Page
    moderator: Page
    host: Page


async def live_session(server: LiveServer) -> LiveSession:
    """A moderator, a host, and a broadcast that has started, made through the services."""
    accounts = server.app[keys.ACCOUNTS]
    await accounts.create("mod.li", "moderator", PASSWORD, actor="test", display_name="李审核")
    host = await accounts.create("host.wang", "host", PASSWORD, actor="test",
                                 display_name="王警官")
    sessions = server.app[keys.SESSIONS]
    created = await sessions.create(
        SessionForm(title="驾驶证业务直播答疑", scheduled_start=time.time(),
                    scheduled_end=time.time() + 3600, host_ids=(host.id,),
                    presenter="王警官"),
        actor="test")
    return await sessions.start(created.id, actor="test")


async def connected(page: Page) -> None:
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")


async def open_stage(server: LiveServer, open_page: PageFactory) -> Stage:
    session = await live_session(server)
    viewer = await open_page(**PHONE)
    moderator = await open_page(**DESKTOP)
    host = await open_page(**DESKTOP)
    await log_in(moderator, "mod.li", PASSWORD)
    await expect(moderator).to_have_url(re.compile(r"/staff$"))
    await log_in(host, "host.wang", PASSWORD)
    await expect(host).to_have_url(re.compile(r"/staff$"))

    await viewer.goto(f"/live/{session.id}")
    await moderator.goto(f"/staff/sessions/{session.id}/moderate")
    await host.goto(f"/staff/sessions/{session.id}/host")
    for page in (viewer, moderator, host):
        await connected(page)
    await expect(viewer.get_by_role("heading", level=1)).to_have_text("驾驶证业务直播答疑")
    # Recording is off in the tests unless a test turns it on (tests/browser/test_video.py).
    await expect(viewer.locator("#player")).to_contain_text("本场直播未开启视频")
    return Stage(session, viewer, moderator, host)


async def ask(viewer: Page, text: str, nickname: str = "") -> None:
    box = viewer.get_by_label("你的问题")
    await box.fill(text)
    await expect(viewer.locator("#ask-counter")).to_have_text(f"{len(text)}/300")
    if nickname:
        await viewer.get_by_label("昵称（可不填）").fill(nickname)
    await viewer.get_by_role("button", name="提交问题").click()


def assert_no_console_errors(open_page: PageFactory, *pages: Page) -> None:
    for page in pages:
        assert unexpected_errors(open_page.console_errors(page)) == [], page.url


async def test_a_question_goes_from_the_viewer_through_moderation_to_the_air(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    stage = await open_stage(live_server, open_page)
    viewer, moderator, host = stage.viewer, stage.moderator, stage.host

    question = "驾驶证快到期了，能在网上换证吗？我的电话13812345678"
    masked = "驾驶证快到期了，能在网上换证吗？我的电话138****5678"
    await ask(viewer, question, nickname="老张")

    mine = viewer.locator("#mine li[data-question-id]")
    await expect(mine).to_have_count(1)
    await expect(mine.locator(".question-text")).to_have_text(masked)
    await expect(mine.locator(".my-state")).to_have_text("等待审核")
    await expect(mine).to_contain_text("为保护隐私，已隐去你问题中的个人信息")
    await expect(viewer.get_by_label("你的问题")).to_have_value("")

    # The moderator's console shows it within a second, masked, with its flags.
    card = moderator.locator(".mod-card", has_text="驾驶证快到期了")
    await expect(card).to_be_visible(timeout=1000)
    await expect(card.locator(".mod-text")).to_have_text(masked)
    await expect(card.locator(".mod-nick")).to_have_text("老张")
    await expect(card.locator(".badge.pii")).to_have_text("已隐去手机号")
    assert "13812345678" not in await moderator.content()
    assert "13812345678" not in await viewer.content()

    await card.get_by_label("分类").select_option("驾驶证")
    await card.get_by_label("业务事项").select_option("license-renewal")
    await card.get_by_role("button", name="通过").click()
    await expect(moderator.locator(".mod-card", has_text="驾驶证快到期了")).to_have_count(0)
    await moderator.get_by_role("tab", name=re.compile("队列")).click()
    queued_card = moderator.locator(".mod-card", has_text="驾驶证快到期了")
    await expect(queued_card.locator(".state-tag")).to_have_text("队列第 1 位")
    await expect(queued_card.locator(".badge.category")).to_have_text("驾驶证")

    await expect(mine.locator(".my-state")).to_have_text("已进入队列（第 1 位）")
    public = viewer.locator("#queue li", has_text="驾驶证快到期了")
    await expect(public).to_be_visible()
    await expect(public.get_by_role("button", name="我的问题")).to_be_disabled()

    # The host puts it on the air; the viewer sees it there.
    next_up = host.locator(".host-item", has_text="驾驶证快到期了")
    await expect(next_up).to_contain_text("驾驶证")
    await next_up.get_by_role("button", name="上直播").click()
    await expect(host.locator("#air .air-text")).to_have_text(masked)
    await expect(host.locator("#air")).to_contain_text("0 人也想问")
    await expect(viewer.locator("#on-air-body .on-air-text")).to_have_text(masked)
    await expect(mine.locator(".my-state")).to_have_text("正在直播解答")
    await expect(viewer.locator("#queue li")).to_have_count(0)

    await host.get_by_role("button", name="已解答").click()
    await expect(host.locator("#air")).to_contain_text("现在没有问题在直播")
    await expect(mine.locator(".my-state")).to_have_text("已在直播中解答")
    await expect(viewer.locator("#answered li", has_text="驾驶证快到期了")).to_be_visible()
    await expect(viewer.locator("#on-air-body")).to_contain_text("暂时没有正在解答的问题")

    for page in (viewer, moderator, host):
        assert "13812345678" not in await page.content()
    assert_no_console_errors(open_page, viewer, moderator, host)


async def test_a_declined_question_shows_the_reason_to_the_viewer(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    store = live_server.app[keys.STORE]
    await store.insert(ReasonTemplate(id=new_id(), text=OFF_TOPIC, position=1.0,
                                      created_at=time.time()))
    stage = await open_stage(live_server, open_page)
    viewer, moderator = stage.viewer, stage.moderator

    await ask(viewer, "附近哪家饭店好吃？")
    card = moderator.locator(".mod-card", has_text="附近哪家饭店好吃")
    await expect(card).to_be_visible(timeout=1000)
    await card.get_by_role("button", name="拒绝").click()
    await card.get_by_label("常用原因").select_option(label=OFF_TOPIC)
    await expect(card.get_by_label("拒绝原因")).to_have_value(OFF_TOPIC)
    # Ticked, the question teaches the understanding engine (questions.OFF_TOPIC).
    await card.get_by_label(re.compile("不属于车驾管业务")).check()
    await card.get_by_role("button", name="确认拒绝").click()
    await expect(card).to_have_count(0)
    (declined,) = await store.find(Question, {"state": "declined"})
    assert declined.flags.get("off_topic") is True

    mine = viewer.locator("#mine li[data-question-id]")
    await expect(mine.locator(".my-state")).to_have_text("未采用")
    await expect(mine.locator(".decline-reason")).to_have_text(f"原因：{OFF_TOPIC}")
    await expect(viewer.locator("#queue li")).to_have_count(0)

    await moderator.get_by_role("tab", name=re.compile("已处理")).click()
    await expect(moderator.locator(".mod-card", has_text="附近哪家饭店好吃")).to_contain_text(
        "未采用原因：与本场直播主题无关")
    assert_no_console_errors(open_page, viewer, moderator, stage.host)
