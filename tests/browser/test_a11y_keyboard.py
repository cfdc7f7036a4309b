"""Keyboard, focus and announcements in a real browser (issue 16): skip links, the product's
own focus ring, where the focus goes after each action, and the live regions a screen reader
hears, checked with Playwright's ARIA snapshots."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Page, expect

from store.records import AuditEntry
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_a11y_axe import DESKTOP, PHONE, seed_library
from tests.browser.test_live_loop import Stage, connected, open_stage
from web import keys

FOCUS_RING = "rgb(29, 78, 216)"  # --focus in style.css


async def focused(page: Page) -> dict[str, str]:
    """What has the focus: its tag, id, text, focus key and outline."""
    return await page.evaluate("""() => {
        const a = document.activeElement;
        const style = getComputedStyle(a);
        return {tag: a.tagName.toLowerCase(), id: a.id, text: a.textContent.trim(),
                key: a.dataset.focusKey || "", question: a.dataset.questionId || "",
                outline: `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`};
    }""")


async def tab_to(page: Page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text is ``name``."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if (await focused(page))["text"] == name:
            return
    raise AssertionError(f"{name!r} not reached with Tab")


async def test_skip_links_and_the_focus_ring_on_the_library_and_live_pages(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    await seed_library(live_server)
    page = await open_page(**DESKTOP)
    await page.goto("/clips")
    await page.keyboard.press("Tab")
    skip = await focused(page)
    assert skip["text"] == "跳到主要内容", skip
    await expect(page.get_by_role("link", name="跳到主要内容")).to_be_visible()
    # The product's own ring (3px, --focus), not the browser's default.
    assert skip["outline"] == f"solid 3px {FOCUS_RING}", skip
    await page.keyboard.press("Enter")
    assert (await focused(page))["id"] == "main"
    await page.keyboard.press("Tab")
    after = await focused(page)
    assert after["id"] == "library-q", after  # past the header: the search box
    assert after["outline"] == f"solid 3px {FOCUS_RING}", after

    stage = await open_stage(live_server, open_page)
    viewer = stage.viewer
    await viewer.keyboard.press("Tab")
    await viewer.keyboard.press("Tab")
    assert (await focused(viewer))["text"] == "跳到提问框"
    await viewer.keyboard.press("Enter")
    assert (await focused(viewer))["id"] == "ask-text"
    # 404: the seeded clips' posters have no files.
    assert unexpected_errors(open_page.console_errors(page), 404) == []


async def ask_by_keyboard(viewer: Page, text: str) -> None:
    await viewer.locator("#ask-text").focus()
    await viewer.keyboard.insert_text(text)
    await viewer.keyboard.press("Tab")  # the nickname
    await viewer.keyboard.press("Tab")  # 提交问题
    assert (await focused(viewer))["text"] == "提交问题"
    await viewer.keyboard.press("Enter")


async def test_the_asker_hears_their_question_states_and_the_question_on_air(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    stage: Stage = await open_stage(live_server, open_page)
    viewer, moderator, host = stage.viewer, stage.moderator, stage.host
    await ask_by_keyboard(viewer, "驾驶证快到期了，能在网上换证吗？")

    # The focus follows the question into "我的问题" (it does not drop to the page).
    mine = viewer.locator("#mine li[data-question-id]")
    await expect(mine).to_have_count(1)
    await expect(mine).to_be_focused()
    await expect(viewer.locator("#mine-status")).to_match_aria_snapshot("- status")

    card = moderator.locator(".mod-card", has_text="驾驶证快到期了")
    await card.get_by_role("button", name="通过").click()
    await expect(viewer.locator("#mine-status")).to_match_aria_snapshot(
        "- status: 你的问题“驾驶证快到期了，能在网上换证吗？”：已进入队列（第 1 位）")
    # The lists themselves are not live regions: only the short message is read.
    await expect(viewer.locator("section.mine")).to_match_aria_snapshot("""
        - region "我的问题":
          - heading "我的问题" [level=2]
          - status: 你的问题“驾驶证快到期了，能在网上换证吗？”：已进入队列（第 1 位）
          - list:
            - listitem:
              - paragraph: 驾驶证快到期了，能在网上换证吗？
              - paragraph: /\\d\\d:\\d\\d/
              - paragraph: 已进入队列（第 1 位）
        """)
    await expect(mine).to_be_focused()  # re-rendered, and still where the asker was

    await host.locator(".host-item", has_text="驾驶证快到期了").get_by_role(
        "button", name="上直播").click()
    await expect(viewer.locator("#on-air-status")).to_match_aria_snapshot(
        "- status: 正在解答（你的问题）：驾驶证快到期了，能在网上换证吗？")
    await expect(viewer.locator("#mine-status")).to_match_aria_snapshot(
        "- status: 你的问题“驾驶证快到期了，能在网上换证吗？”：正在直播解答")
    # Errors, and only errors, are assertive.
    assert await viewer.locator("[aria-live=assertive]").count() == 0
    for region in await viewer.get_by_role("alert").all():
        assert await region.get_attribute("class") in ("error-text", "inline-error")

    # Another viewer hears the question going on air, without the "your question" note.
    other = await open_page(**PHONE)
    await other.goto(f"/live/{stage.session.id}")
    await connected(other)
    await host.get_by_role("button", name="退回队列").click()
    await expect(viewer.locator("#on-air-body")).to_contain_text("暂时没有正在解答的问题")
    await host.locator(".host-item").get_by_role("button", name="上直播").click()
    await expect(other.locator("#on-air-status")).to_match_aria_snapshot(
        "- status: 正在解答：驾驶证快到期了，能在网上换证吗？")
    for page in (viewer, moderator, host, other):
        assert unexpected_errors(open_page.console_errors(page)) == [], page.url


async def test_a_refused_question_is_an_alert_and_the_focus_returns_to_the_text(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    stage = await open_stage(live_server, open_page)
    viewer, moderator = stage.viewer, stage.moderator
    await moderator.locator("#slow-mode").select_option("60")
    await expect(viewer.locator("#ask-error")).to_be_hidden()
    await ask_by_keyboard(viewer, "第一个问题：怎么换驾驶证？")
    await expect(viewer.locator("#mine li[data-question-id]")).to_be_focused()
    await ask_by_keyboard(viewer, "第二个问题：怎么补领行驶证？")
    await expect(viewer.locator("#ask-error")).to_match_aria_snapshot(
        r"- alert: /提问太频繁，请 \d+ 秒后再试。/")
    # The countdown is on the (disabled) button: the alert is read once, not every second.
    await expect(viewer.locator("#ask-submit")).to_have_text(re.compile(r"^\d+ 秒后可再提问$"))
    message = await viewer.locator("#ask-error").inner_text()
    await expect(viewer.locator("#ask-submit")).not_to_have_text(
        await viewer.locator("#ask-submit").inner_text())
    assert await viewer.locator("#ask-error").inner_text() == message
    await expect(viewer.locator("#ask-text")).to_be_focused()
    await expect(viewer.locator("#ask-text")).to_have_value("第二个问题：怎么补领行驶证？")
    assert unexpected_errors(open_page.console_errors(viewer)) == []


async def slow_mode_changes(server: LiveServer, at_least: int) -> list[AuditEntry]:
    """The audit log's slow-mode entries, once there are ``at_least`` (or after 5 s)."""
    for _ in range(100):
        found = await server.app[keys.STORE].find(
            AuditEntry, {"action": "session.slow_mode"}, order_by=["at"])
        if len(found) >= at_least:
            return found
        await asyncio.sleep(0.05)
    return found


async def test_the_consoles_move_the_focus_to_what_comes_next(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    stage = await open_stage(live_server, open_page)
    viewer, moderator, host = stage.viewer, stage.moderator, stage.host
    for text in ("第一问：驾驶证到期怎么换？", "第二问：行驶证丢了怎么补？",
                 "第三问：年检要带什么？"):
        await ask_by_keyboard(viewer, text)
        await expect(moderator.locator(".mod-card", has_text=text)).to_be_visible()
    cards = moderator.locator("#list > li")
    await expect(cards).to_have_count(3)

    # Slow mode: the arrow keys browse the options; Enter applies the one chosen, once.
    await moderator.locator("#slow-mode").focus()
    await moderator.keyboard.press("ArrowDown")
    await moderator.keyboard.press("ArrowDown")
    await expect(moderator.locator("#slow-mode")).to_have_value("30")
    await moderator.keyboard.press("Enter")
    changes = await slow_mode_changes(live_server, 1)
    assert [entry.after for entry in changes] == [{"slow_mode_seconds": 30}], changes

    # The decline panel: opened with the keyboard, it takes the focus; Escape closes it and
    # gives the focus back to its button.
    first = cards.nth(0)
    first_id = await first.get_attribute("data-question-id")
    decline = first.get_by_role("button", name="拒绝")
    await decline.focus()
    await moderator.keyboard.press("Enter")
    await expect(first.get_by_label("常用原因")).to_be_focused()
    await expect(first.get_by_role("button", name="拒绝", exact=True)).to_have_attribute(
        "aria-expanded", "true")
    await moderator.keyboard.press("Escape")
    await expect(first.get_by_label("常用原因")).to_have_count(0)
    await expect(first.get_by_role("button", name="拒绝", exact=True)).to_be_focused()
    await expect(first.get_by_role("button", name="拒绝", exact=True)).to_have_attribute(
        "aria-expanded", "false")

    # Approving with the keyboard: the card leaves the list and the next question has focus.
    second_id = await cards.nth(1).get_attribute("data-question-id")
    await first.get_by_role("button", name="通过").focus()
    await moderator.keyboard.press("Enter")
    await expect(moderator.locator(f"#list > li[data-question-id='{first_id}']")).to_have_count(0)
    await expect(moderator.locator(f"#list > li[data-question-id='{second_id}']")).to_be_focused()

    # The tabs follow the tabs pattern: arrow keys move and select.
    tab = moderator.get_by_role("tab", name=re.compile("待审核"))
    await tab.focus()
    await moderator.keyboard.press("ArrowRight")
    queue_tab = moderator.get_by_role("tab", name=re.compile("队列"))
    await expect(queue_tab).to_be_focused()
    await expect(queue_tab).to_have_attribute("aria-selected", "true")

    # The host: 上直播 with the keyboard puts the focus on 已解答; answering it moves the focus
    # to the next question's 上直播.
    await moderator.get_by_role("tab", name=re.compile("待审核")).click()
    await cards.nth(0).get_by_role("button", name="通过").click()
    items = host.locator(".host-item")
    await expect(items).to_have_count(2)
    await items.nth(0).get_by_role("button", name="上直播").focus()
    await host.keyboard.press("Enter")
    await expect(host.get_by_role("button", name="已解答")).to_be_focused()
    await host.keyboard.press("Enter")
    await expect(host.locator("#air")).to_contain_text("现在没有问题在直播")
    await expect(items).to_have_count(1)
    await expect(items.nth(0).get_by_role("button", name="上直播")).to_be_focused()
    for page in (viewer, moderator, host):
        assert unexpected_errors(open_page.console_errors(page)) == [], page.url


async def test_the_item_filter_can_be_browsed_with_the_arrow_keys(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    await seed_library(live_server)
    page = await open_page(**DESKTOP)
    await page.goto("/clips")
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    select = page.get_by_label("业务事项")
    await select.focus()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    chosen = await select.input_value()
    options = await select.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert chosen == options[2], (chosen, options)  # two steps, no reload in between
    await expect(select).to_be_focused()
    assert loads == []
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"item="))
    assert parse_qs(urlsplit(page.url).query)["item"] == [chosen]
    assert len(loads) == 1

    # A pick with the pointer applies at once, as before.
    await page.get_by_label("业务事项").select_option(options[1])
    await expect(page).to_have_url(re.compile(rf"item={re.escape(options[1])}"))

    # Without JavaScript the 筛选 button applies the choice.
    plain = await open_page(java_script_enabled=False, **DESKTOP)
    await plain.goto("/clips")
    await plain.get_by_label("业务事项").select_option(options[2])
    await plain.get_by_role("button", name="筛选").click()
    await expect(plain).to_have_url(re.compile(rf"item={re.escape(options[2])}"))
    assert unexpected_errors(open_page.console_errors(page), 404) == []


# Every visible control gets a number; Tab must reach each, and each must show the ring.
NUMBER_CONTROLS = """() => {
    const controls = [...document.querySelectorAll(
        "a[href], button, input:not([type=hidden]), select, textarea, summary")]
        .filter((n) => !n.disabled && n.getClientRects().length > 0
                && n.tabIndex >= 0 && !n.closest("[aria-hidden=true], [inert]"));
    controls.forEach((n, i) => { n.dataset.a11yN = String(i); });
    return controls.map((n) => `${n.tagName.toLowerCase()} ${n.textContent.trim().slice(0, 20)}`
                              + ` ${n.getAttribute("aria-label") || n.name || n.id || ""}`);
}"""
ACTIVE = """() => {
    const a = document.activeElement;
    const style = getComputedStyle(a);
    return {n: a.dataset.a11yN ?? null, tag: a.tagName.toLowerCase(),
            ring: style.outlineStyle === "solid" && parseFloat(style.outlineWidth) >= 3};
}"""


async def walk_with_tab(page: Page, state: str) -> None:
    """Tab from the top of the page through every control: each is reached, with the ring."""
    controls = await page.evaluate(NUMBER_CONTROLS)
    assert controls, state
    # Start at the top: the first control (the skip link) takes the focus, then Tab on.
    await page.evaluate("() => document.querySelector('[data-a11y-n=\"0\"]').focus()")
    reached: set[str] = {"0"}
    for _ in range(len(controls) + 25):  # the video's own controls are Tab stops too
        await page.keyboard.press("Tab")
        active = await page.evaluate(ACTIVE)
        if active["tag"] == "body":
            break
        if active["n"] is not None:
            assert active["ring"], (state, controls[int(active["n"])])
            reached.add(active["n"])
    missed = [c for i, c in enumerate(controls) if str(i) not in reached]
    assert missed == [], (state, missed)


async def test_every_control_is_reached_with_tab_and_shows_the_focus_ring(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    await seed_library(live_server)
    stage = await open_stage(live_server, open_page)
    viewer, moderator, host = stage.viewer, stage.moderator, stage.host
    for text in ("第一问：驾驶证到期怎么换？", "第二问：行驶证丢了怎么补？"):
        await ask_by_keyboard(viewer, text)
        await expect(moderator.locator(".mod-card", has_text=text)).to_be_visible()
    await moderator.locator(".mod-card", has_text="第一问").get_by_role(
        "button", name="通过").click()
    await expect(host.locator(".host-item")).to_have_count(1)
    await walk_with_tab(viewer, "live page")
    await walk_with_tab(moderator, "moderator console")
    await walk_with_tab(host, "host console")
    page = await open_page(**DESKTOP)
    for path in ("/clips", "/clips?q=驾照快到期了在哪里换", "/login"):
        await page.goto(path)
        await walk_with_tab(page, path)
    clips = await live_server.app[keys.REVIEW].listing(state="published")
    await page.goto(f"/clips/{clips[0].id}")
    await walk_with_tab(page, "clip page")
