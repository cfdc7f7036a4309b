"""axe-core over every page in its real states, at desktop and phone sizes (issue 16).

axe-core comes from npm (``node_modules/axe-core``, a dev dependency installed by ``make``'s
``npm ci``); it is evaluated in the page through the DevTools protocol, which the page's
Content-Security-Policy does not apply to, so the pages are checked exactly as served.
Each test walks one area (public pages, the live page's three states, the consoles, the
admin pages) and fails with every violation of every page it saw, so one run shows all.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from live.sessions import SessionForm
from store.records import LiveSession, ReasonTemplate, new_id
from tests.browser.conftest import LiveServer, PageFactory
from tests.browser.test_live_loop import PASSWORD, ask, connected
from tests.browser.test_staff_admin import log_in
from tests.conftest import require
from tests.web.clip_seed import add_clip, add_relevance_library, reindex
from web import keys

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                         "has_touch": True}
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
QUERY = "驾照快到期了在哪里换"


def axe_source() -> str:
    require(AXE.is_file(), f"axe-core not installed at {AXE} (run: npm ci)")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Audit:
    """Runs axe-core on pages and keeps every violation, labelled by the page state."""

    source: str
    found: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    async def check(self, page: Page, state: str) -> None:
        if not await page.evaluate("() => typeof window.axe === 'object'"):
            await page.evaluate(self.source)
        result = await page.evaluate(
            """async (tags) => {
                const r = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                                   resultTypes: ["violations"]});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => ({target: n.target.join(" "),
                                              summary: n.failureSummary}))}));
            }""", TAGS)
        self.checked.append(state)
        for violation in result:
            for node in violation["nodes"]:
                detail = " ".join(str(node["summary"] or "").split())
                self.found.append(f"[{state}] {violation['id']} ({violation['impact']}) "
                                  f"{node['target']}: {detail[:300]}")

    async def visit(self, page: Page, path: str, state: str, status: int = 200) -> None:
        response = await page.goto(path)
        assert response is not None and response.status == status, (path, response)
        await self.check(page, state)

    def assert_clean(self) -> None:
        assert self.checked
        assert not self.found, (f"{len(self.found)} axe-core violations on "
                                f"{len(self.checked)} page states:\n" + "\n".join(self.found))


@pytest.fixture
def audit() -> Audit:
    return Audit(axe_source())


# --- seeding ------------------------------------------------------------------------------


async def staff(server: LiveServer) -> tuple[str, str]:
    """A moderator and a host; returns the host's id."""
    accounts = server.app[keys.ACCOUNTS]
    await accounts.create("mod.li", "moderator", PASSWORD, actor="test", display_name="李审核")
    host = await accounts.create("host.wang", "host", PASSWORD, actor="test",
                                 display_name="王警官")
    return host.id, host.name


async def new_session(server: LiveServer, host_id: str, title: str,
                      session_id: str = "") -> LiveSession:
    sessions = server.app[keys.SESSIONS]
    created = await sessions.create(
        SessionForm(title=title, description="民警在线解答驾驶证业务。",
                    scheduled_start=time.time() + 600, scheduled_end=time.time() + 4200,
                    host_ids=(host_id,), presenter="王警官"),
        actor="test")
    return created


async def seed_library(server: LiveServer) -> None:
    """The relevance library plus one clip in each review state, under a real session."""
    app = server.app
    await app[keys.STORE].insert(LiveSession(id="s-test", title="往期直播", status="ended",
                                           created_at=time.time()))
    await add_relevance_library(app)
    for state in ("draft", "failed", "pending", "unpublished"):
        await add_clip(app, "license-renewal", f"{state} 片段", state=state,
                       clip_id=f"clip-{state}", error="ffmpeg: boom" if state == "failed" else "")
    await reindex(app)


# --- the tests ----------------------------------------------------------------------------


@SIZES
async def test_public_pages_have_no_axe_violations(
    live_server: LiveServer, open_page: PageFactory, audit: Audit, size: dict[str, Any]
) -> None:
    await seed_library(live_server)
    host_id, _ = await staff(live_server)
    await new_session(live_server, host_id, "下午场直播答疑")
    page = await open_page(**size)
    await audit.visit(page, "/", "home")
    await audit.visit(page, "/clips", "library")
    await audit.visit(page, "/clips?item=license-renewal", "library filtered by item")
    await audit.visit(page, f"/clips?q={QUERY}", "search with results")
    await expect(page.locator("mark").first).to_be_visible()
    await audit.visit(page, "/clips?q=火星移民签证", "search without results")
    await audit.visit(page, "/clips?page=99", "library past the last page")
    await audit.visit(page, "/clips?page=abc", "library bad request", status=400)
    first = await live_server.app[keys.REVIEW].listing(state="published")
    await audit.visit(page, f"/clips/{first[0].id}", "clip page")
    await audit.visit(page, "/ask", "ask: empty")
    await audit.visit(page, "/ask?q=驾照丢了怎么补办", "ask: answers for a question")
    await audit.visit(page, "/ask?q=今天天气怎么样", "ask: nothing found")
    await audit.visit(page, "/no-such-page", "404", status=404)
    await audit.visit(page, "/schedule", "broadcast schedule")
    await audit.visit(page, "/login", "login")
    form = page.locator("form[action='/login']")
    await form.get_by_label("账号").fill("nobody")
    await form.get_by_label("密码").fill("wrong")
    await form.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await audit.check(page, "login error")
    audit.assert_clean()


@SIZES
async def test_live_page_before_during_and_after_a_broadcast_has_no_axe_violations(
    live_server: LiveServer, open_page: PageFactory, audit: Audit, size: dict[str, Any]
) -> None:
    store = live_server.app[keys.STORE]
    await store.insert(ReasonTemplate(id=new_id(), text="与本场直播主题无关。", position=1.0,
                                      created_at=time.time()))
    host_id, _ = await staff(live_server)
    session = await new_session(live_server, host_id, "驾驶证业务直播答疑")
    viewer = await open_page(**size)
    await viewer.goto(f"/live/{session.id}")
    await connected(viewer)
    await audit.check(viewer, "live: before")
    await ask(viewer, "开播前先问：驾驶证快到期了怎么换？")
    await expect(viewer.locator("#mine li[data-question-id]")).to_have_count(1)
    await audit.check(viewer, "live: before, one question asked")

    sessions = live_server.app[keys.SESSIONS]
    await sessions.start(session.id, actor="test")
    moderator = await open_page(**DESKTOP)
    host = await open_page(**DESKTOP)
    await log_in(moderator, "mod.li", PASSWORD)
    await expect(moderator).to_have_url(re.compile(r"/staff$"))
    await log_in(host, "host.wang", PASSWORD)
    await expect(host).to_have_url(re.compile(r"/staff$"))
    await moderator.goto(f"/staff/sessions/{session.id}/moderate")
    await host.goto(f"/staff/sessions/{session.id}/host")
    await connected(moderator)
    await connected(host)
    await ask(viewer, "网上可以换证吗？电话13812345678")
    await ask(viewer, "附近哪家饭店好吃？")
    for text in ("开播前先问", "网上可以换证吗"):
        card = moderator.locator(".mod-card", has_text=text)
        await card.get_by_role("button", name="通过").click()
        await expect(card).to_have_count(0)
    await expect(viewer.locator("#queue li")).to_have_count(2)
    await audit.check(viewer, "live: during, queue")
    await host.locator(".host-item", has_text="开播前先问").get_by_role(
        "button", name="上直播").click()
    await expect(viewer.locator("#on-air-body .on-air-text")).to_contain_text("开播前先问")
    await audit.check(viewer, "live: during, on air")
    card = moderator.locator(".mod-card", has_text="附近哪家饭店好吃")
    await card.get_by_role("button", name="拒绝").click()
    await card.get_by_label("常用原因").select_option(label="与本场直播主题无关。")
    await card.get_by_role("button", name="确认拒绝").click()
    await expect(viewer.locator("#mine .decline-reason")).to_have_count(1)
    await host.get_by_role("button", name="已解答").click()
    await expect(viewer.locator("#answered li")).to_have_count(1)
    await audit.check(viewer, "live: during, answered and declined")

    await sessions.end(session.id, actor="test")
    await expect(viewer.locator("#session-status")).to_have_text(re.compile("已结束"))
    await audit.check(viewer, "live: after (the open page)")
    await audit.visit(viewer, f"/live/{session.id}", "live: after (reloaded)")
    audit.assert_clean()


@SIZES
async def test_moderator_and_host_consoles_have_no_axe_violations(
    live_server: LiveServer, open_page: PageFactory, audit: Audit, size: dict[str, Any]
) -> None:
    host_id, _ = await staff(live_server)
    session = await new_session(live_server, host_id, "驾驶证业务直播答疑")
    await live_server.app[keys.SESSIONS].start(session.id, actor="test")
    viewer = await open_page(**PHONE)
    moderator = await open_page(**size)
    host = await open_page(**size)
    await log_in(moderator, "mod.li", PASSWORD)
    await expect(moderator).to_have_url(re.compile(r"/staff$"))
    await audit.check(moderator, "staff home (moderator)")
    await log_in(host, "host.wang", PASSWORD)
    await expect(host).to_have_url(re.compile(r"/staff$"))
    await viewer.goto(f"/live/{session.id}")
    await moderator.goto(f"/staff/sessions/{session.id}/moderate")
    await host.goto(f"/staff/sessions/{session.id}/host")
    for page in (viewer, moderator, host):
        await connected(page)
    await audit.check(moderator, "moderator: empty")
    await audit.check(host, "host: empty")
    await ask(viewer, "驾驶证快到期了，能在网上换证吗？我的电话13812345678", nickname="老张")
    await ask(viewer, "二手车过户要带什么材料？")
    card = moderator.locator(".mod-card", has_text="二手车过户")
    await expect(card).to_be_visible()
    await audit.check(moderator, "moderator: pending questions")
    await card.get_by_role("button", name="通过").click()
    await expect(card).to_have_count(0)
    pending = moderator.locator(".mod-card", has_text="驾驶证快到期了")
    await pending.get_by_role("button", name="拒绝").click()
    await audit.check(moderator, "moderator: decline form open")
    await moderator.get_by_role("tab", name=re.compile("队列")).click()
    await audit.check(moderator, "moderator: queue tab")
    await expect(host.locator(".host-item")).to_have_count(1)
    await audit.check(host, "host: one queued")
    await host.locator(".host-item").get_by_role("button", name="上直播").click()
    await expect(host.locator("#air .air-text")).to_be_visible()
    await audit.check(host, "host: on air")
    await moderator.get_by_role("tab", name=re.compile("已处理")).click()
    await audit.check(moderator, "moderator: handled tab")
    await audit.visit(host, "/account/password", "change password")
    audit.assert_clean()


@SIZES
async def test_admin_pages_have_no_axe_violations(
    live_server: LiveServer, open_page: PageFactory, audit: Audit, size: dict[str, Any]
) -> None:
    password = await live_server.admin_password()
    await seed_library(live_server)
    host_id, _ = await staff(live_server)
    session = await new_session(live_server, host_id, "驾驶证业务直播答疑")
    ended = await new_session(live_server, host_id, "上周直播")
    await live_server.app[keys.SESSIONS].start(ended.id, actor="test")
    await live_server.app[keys.SESSIONS].end(ended.id, actor="test")
    page = await open_page(**size)
    await log_in(page, "admin", password)
    await expect(page).to_have_url(re.compile(r"/staff$"))
    await audit.check(page, "staff home (admin)")
    for path, state in (
        ("/admin/sessions", "sessions"),
        (f"/admin/sessions/{session.id}", "session detail"),
        (f"/admin/sessions/{ended.id}", "ended session detail"),
        ("/admin/staff", "staff"),
        ("/admin/catalog", "catalog"),
        ("/admin/catalog/item", "catalog: new item"),
        ("/admin/catalog/item?id=license-renewal", "catalog: an item"),
        ("/admin/catalog/raw", "catalog: raw"),
        ("/admin/synonyms", "synonyms"),
        ("/admin/search-misses", "search misses"),
        ("/admin/knowledge", "knowledge base"),
        ("/admin/knowledge/entry?id=license-reissue-1", "knowledge base: an entry"),
        ("/admin/understanding", "understanding: confusions"),
        ("/admin/lists", "lists"),
        ("/admin/schedule", "broadcast schedule"),
        ("/admin/audit", "audit"),
        ("/admin/audit?action=session.start", "audit filtered"),
        ("/staff/review", "daily review"),
        ("/staff/stats", "desk figures"),
        ("/staff/clips", "clip review: drafts"),
        ("/staff/clips?state=all", "clip review: all"),
        ("/staff/clips?state=failed", "clip review: failed"),
        ("/staff/clips/clip-draft", "clip review: a draft"),
        ("/staff/clips/clip-failed", "clip review: a failed clip"),
        (f"/staff/sessions/{ended.id}/clips/new", "clip review: manual cut"),
    ):
        await audit.visit(page, path, state)
    await audit.visit(page, "/admin/sessions/nope", "admin 404", status=404)
    await page.goto("/admin/staff")
    form = page.locator("form#add-staff")
    await form.get_by_label("账号（小写字母开头）").fill("zhang.wei")
    await form.get_by_role("button", name="添加").click()
    await expect(page.get_by_role("status")).to_contain_text("已保存")
    await audit.check(page, "staff: account added")
    password = (await page.locator("code.password").inner_text()).strip()
    newcomer = await open_page(**size)
    await log_in(newcomer, "zhang.wei", password)
    await expect(newcomer).to_have_url(re.compile(r"/account/password$"))
    await audit.check(newcomer, "password change required")
    audit.assert_clean()

