"""The moderator console at broadcast speed, in Chromium: keyboard-only triage of 50
questions, search and filters, the help overlay, bulk actions, canned replies with the item
filled in, and the backchannel (an expert's note shown to the host, never to viewers)."""

from __future__ import annotations

import re
import time
import uuid

from playwright.async_api import Page, expect

from live.sessions import SessionForm
from store.records import LiveSession, Question, ReasonTemplate, new_id
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_staff_admin import log_in
from web import keys

PASSWORD = "correct-horse-battery"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TEXTS = ("驾驶证到期了怎么换证", "机动车年检需要带什么", "驾照扣分怎么查询", "电动车上牌要什么材料",
         "驾驶证丢了如何补办", "车辆违章在哪里处理", "摩托车驾驶证怎么考", "新车上牌流程是什么",
         "驾驶证满分学习在哪学", "异地年检怎么办")
REASON = "与本场直播的主题无关，欢迎拨打 122 咨询。"
REPLY = "您好，{item_name}可以在网上办理：{item_link}"


async def setup(server: LiveServer, hosts: int = 1) -> LiveSession:
    accounts = server.app[keys.ACCOUNTS]
    await accounts.create("mod.li", "moderator", PASSWORD, actor="test", display_name="李审核")
    host_ids = []
    for n in range(hosts):
        host = await accounts.create(f"host{n}", "host", PASSWORD, actor="test",
                                     display_name=f"主持人{n}")
        host_ids.append(host.id)
    store = server.app[keys.STORE]
    for kind, text in (("decline", REASON), ("reply", REPLY)):
        await store.insert(ReasonTemplate(id=new_id(), text=text, kind=kind, position=1.0))
    sessions = server.app[keys.SESSIONS]
    created = await sessions.create(
        SessionForm(title="驾驶证业务直播答疑", scheduled_start=time.time(),
                    scheduled_end=time.time() + 3600, host_ids=tuple(host_ids)), actor="test")
    return await sessions.start(created.id, actor="test")


async def ask_many(server: LiveServer, session: LiveSession, n: int) -> list[str]:
    """``n`` questions from ``n`` different viewers (each within its rate limit)."""
    moderation = server.app[keys.MODERATION]
    ids = []
    for i in range(n):
        text = f"{TEXTS[i % len(TEXTS)]}？我是第{i + 1}位"
        q, _ = await moderation.ask(session.id, f"viewer-{i}", f"10.0.{i // 250}.{i % 250}",
                                    uuid.uuid4().hex, text)
        ids.append(q.id)
    return ids


async def open_console(open_page: PageFactory, session: LiveSession, name: str = "mod.li",
                       path: str = "moderate") -> Page:
    page = await open_page(**DESKTOP)
    await log_in(page, name, PASSWORD)
    await expect(page).to_have_url(re.compile(r"/staff$"))
    await page.goto(f"/staff/sessions/{session.id}/{path}")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    return page


async def test_keyboard_only_triage_of_fifty_questions(live_server: LiveServer,
                                                       open_page: PageFactory) -> None:
    session = await setup(live_server)
    ids = await ask_many(live_server, session, 50)
    page = await open_console(open_page, session)
    pending = page.locator('[data-count="pending"]')
    await expect(pending).to_have_text("50")
    keyboard = page.keyboard
    await keyboard.press("j")
    await expect(page.locator(".mod-card.current")).to_have_count(1)
    plan = ["approve", "decline", "reply", "merge", "approve"]
    current = page.locator(".mod-card.current")
    for i in range(50):
        step = plan[i % len(plan)]
        if step == "approve":
            await keyboard.press("a")
        elif step == "decline":
            await keyboard.press("d")
            await expect(current.get_by_label("常用原因")).to_be_focused()
            await keyboard.press("ArrowDown")
            await keyboard.press("Enter")
        elif step == "reply":
            await keyboard.press("r")
            await expect(current.get_by_label("常用回复")).to_be_focused()
            await keyboard.press("ArrowDown")
            await expect(page.locator(".mod-card.current textarea")).not_to_have_value("")
            await keyboard.press("Enter")
        else:
            await keyboard.press("m")
            picker = page.locator(".mod-card.current select[aria-label='合并到']")
            await expect(picker).to_be_focused()
            # The most similar question is offered first and chosen already.
            await expect(picker.locator("option").nth(1)).to_have_text(re.compile(r"^\d+%"))
            await keyboard.press("Enter")
        await expect(pending).to_have_text(str(49 - i))
    await expect(page.locator("#list-empty")).to_have_text("没有待审核的问题。")

    store = live_server.app[keys.STORE]
    states = [(await store.get(Question, qid)).state for qid in ids]
    assert states.count("queued") == 20 and states.count("declined") == 10
    assert states.count("replied") == 10 and states.count("merged") == 10
    replied = [q for q in [await store.get(Question, qid) for qid in ids] if q.state == "replied"]
    # The placeholders were filled in from each question's (suggested) item.
    assert all("{item" not in q.reply and re.search(r"可以在网上办理：\S+", q.reply)
               for q in replied), [q.reply for q in replied]
    assert unexpected_errors(open_page.console_errors(page)) == []


async def test_search_filters_sorting_help_and_the_window(live_server: LiveServer,
                                                          open_page: PageFactory) -> None:
    session = await setup(live_server)
    await ask_many(live_server, session, 130)
    page = await open_console(open_page, session)
    await expect(page.locator('[data-count="pending"]')).to_have_text("130")
    # Only a window of the list is in the page; more on demand.
    await expect(page.locator(".mod-card")).to_have_count(100)
    await page.get_by_role("button", name=re.compile("再显示 30 条")).click()
    await expect(page.locator(".mod-card")).to_have_count(130)

    await page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="键盘快捷键")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("下一个问题")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    await page.keyboard.press("/")
    await expect(page.get_by_label("搜索问题")).to_be_focused()
    await page.keyboard.type("第7位")
    await expect(page.locator(".mod-card")).to_have_count(1)
    await expect(page.locator("#shown-count")).to_have_text("筛选出 1 / 130 条")
    await page.get_by_label("搜索问题").fill("")
    await page.get_by_label("筛选事项").select_option("license-renewal")
    await expect(page.locator(".mod-card")).to_have_count(13)
    await page.get_by_label("排序").select_option("oldest")
    await expect(page.locator(".mod-card").first).to_contain_text("我是第1位")
    await page.get_by_label("排序").select_option("newest")
    await expect(page.locator(".mod-card").first).to_contain_text("我是第121位")
    await page.get_by_label("筛选标记").select_option("held")
    await expect(page.locator(".mod-card")).to_have_count(0)
    assert unexpected_errors(open_page.console_errors(page)) == []


async def test_bulk_approve_and_decline(live_server: LiveServer, open_page: PageFactory) -> None:
    session = await setup(live_server)
    ids = await ask_many(live_server, session, 6)
    page = await open_console(open_page, session)
    await expect(page.locator('[data-count="pending"]')).to_have_text("6")
    await page.keyboard.press("j")
    for _ in range(3):
        await page.keyboard.press("x")
        await page.keyboard.press("j")
    await expect(page.locator("#selected-count")).to_have_text("已选 3 个")
    await page.keyboard.press("Shift+A")
    await expect(page.locator("#bulk-status")).to_have_text("已通过 3 个。")
    await expect(page.locator('[data-count="queue"]')).to_have_text("3")
    await page.get_by_label("全选当前显示").check()
    await page.get_by_role("button", name="批量拒绝").click()
    await expect(page.locator("#bulk-status")).to_have_text("已拒绝 3 个。")
    await expect(page.locator('[data-count="pending"]')).to_have_text("0")
    store = live_server.app[keys.STORE]
    declined = [q for q in [await store.get(Question, qid) for qid in ids]
                if q.state == "declined"]
    assert len(declined) == 3 and {q.decline_reason for q in declined} == {REASON}


async def test_an_experts_note_reaches_the_host_and_no_viewer(live_server: LiveServer,
                                                              open_page: PageFactory) -> None:
    session = await setup(live_server, hosts=2)
    await live_server.app[keys.ACCOUNTS].create("prof.zhao", "expert", PASSWORD, actor="test",
                                                display_name="赵专家")
    viewer = await open_page(**DESKTOP)
    await viewer.goto(f"/live/{session.id}")
    (qid,) = await ask_many(live_server, session, 1)
    moderator = await open_console(open_page, session)
    card = moderator.locator(".mod-card", has_text="驾驶证到期了怎么换证")
    await card.get_by_role("button", name="通过").click()
    await expect(moderator.locator('[data-count="queue"]')).to_have_text("1")

    expert = await open_console(open_page, session, "prof.zhao")
    await expect(expert.get_by_role("button", name="批量通过")).to_be_hidden()
    await expert.get_by_role("tab", name=re.compile("队列")).click()
    await expert.keyboard.press("j")
    await expert.keyboard.press("n")
    await expect(expert.get_by_label("备注内容")).to_be_focused()
    await expert.keyboard.type("换证可在交管12123 App 办理，无需到窗口")
    await expert.keyboard.press("Control+Enter")

    host = await open_console(open_page, session, "host0", "host")
    item = host.locator(".host-item", has_text="驾驶证到期了怎么换证")
    await expect(item.locator(".notes")).to_contain_text("无需到窗口")
    await expect(item.locator(".notes")).to_contain_text("赵专家")
    # The moderator sees the note too, and routes it to the other host: it leaves host0's queue.
    await moderator.get_by_role("tab", name=re.compile("队列")).click()
    await expect(moderator.locator(".mod-card .notes")).to_contain_text("无需到窗口")
    await moderator.locator(".mod-card").get_by_label("转给主持人").select_option(label="主持人1")
    await expect(item).to_have_count(0)
    await expect(host.locator("#other-queues")).to_have_text("主持人1的队列：1 个")
    other = await open_console(open_page, session, "host1", "host")
    await expect(other.locator(".host-item .notes")).to_contain_text("无需到窗口")
    await expect(viewer.locator("#queue li", has_text="驾驶证到期了怎么换证")).to_be_visible()
    assert "无需到窗口" not in await viewer.content()
    stored = await live_server.app[keys.STORE].get(Question, qid)
    assert stored.flags["notes"][0]["by"] == "赵专家"
