"""Readable everywhere (issue 16): the live page at 320 CSS pixels without horizontal
scrolling (WCAG 1.4.10), text at 200 % without text cut off (1.4.4), the language of every
page, and the clip video's text alternatives."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from live.ffmpeg import find_ffmpeg
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_a11y_axe import DESKTOP, seed_library
from tests.browser.test_live_loop import ask, open_stage
from tests.browser.test_staff_admin import log_in
from tests.web.clip_seed import add_clip, make_media, reindex
from web import keys

NARROW: dict[str, Any] = {"viewport": {"width": 320, "height": 640}, "is_mobile": True,
                          "has_touch": True}
LONG = ("驾驶证快到期了而且我人在外地出差暂时回不去，请问能不能在网上直接申请换证，"
        "新证可以邮寄到外地的地址吗？需要准备哪些照片和体检证明？")

# Elements whose content does not fit their box and is not scrollable: text is lost.
# Deliberate cuts are left out: .visually-hidden (read, not shown), the two-line excerpt of a
# library card (the whole text is on the clip page).
CUT_TEXT = """() => {
    const cut = [];
    for (const node of document.body.querySelectorAll("*")) {
        if (node.closest(".visually-hidden, .excerpt, [hidden]")) continue;
        if (!node.textContent.trim() || node.getClientRects().length === 0) continue;
        const style = getComputedStyle(node);
        const hides = (v) => v === "hidden" || v === "clip";
        const x = hides(style.overflowX) && node.scrollWidth > node.clientWidth + 1;
        const y = hides(style.overflowY) && node.scrollHeight > node.clientHeight + 1;
        if (x || y) cut.push(`${node.tagName.toLowerCase()}.${node.className}: ` +
            `${node.scrollWidth}x${node.scrollHeight} in ${node.clientWidth}x${node.clientHeight}`);
    }
    return cut;
}"""

SIDEWAYS = """() => ({scroll: document.documentElement.scrollWidth,
                     client: document.documentElement.clientWidth})"""


async def no_sideways_scroll(page: Page, state: str) -> None:
    size = await page.evaluate(SIDEWAYS)
    assert size["scroll"] <= size["client"], (state, size)


async def test_the_live_page_works_at_320_pixels_wide(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    stage = await open_stage(live_server, open_page)
    viewer = await open_page(**NARROW)
    await viewer.goto(f"/live/{stage.session.id}")
    await no_sideways_scroll(viewer, "empty")
    await ask(viewer, LONG, nickname="出差在外的老张")
    card = stage.moderator.locator(".mod-card", has_text="驾驶证快到期了")
    await card.get_by_label("分类").select_option("驾驶证")
    await card.get_by_label("业务事项").select_option("license-renewal")
    await card.get_by_role("button", name="通过").click()
    await expect(viewer.locator("#queue li")).to_have_count(1)
    await no_sideways_scroll(viewer, "queued")
    await stage.host.locator(".host-item").get_by_role("button", name="上直播").click()
    await expect(viewer.locator("#on-air-body .on-air-text")).to_have_text(LONG)
    await no_sideways_scroll(viewer, "on air")
    # Every control is inside the screen.
    for control in await viewer.locator("button:visible, textarea:visible, input:visible,"
                                        " a:visible").all():
        box = await control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, \
            (await control.evaluate("n => n.outerHTML"), box)
    for page in (viewer, stage.moderator, stage.host):
        assert unexpected_errors(open_page.console_errors(page)) == [], page.url


async def text_at_200_percent(page: Page, state: str) -> None:
    await page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    size = await page.evaluate(
        "() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert size == 32.0, (state, size)  # the pages size text in rem/em: it all grows
    assert await page.evaluate(CUT_TEXT) == [], state


async def test_text_resized_to_200_percent_is_not_cut_off(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    admin_password = await live_server.admin_password()  # before any other account
    await seed_library(live_server)
    stage = await open_stage(live_server, open_page)
    await ask(stage.viewer, LONG, nickname="老张")
    card = stage.moderator.locator(".mod-card", has_text="驾驶证快到期了")
    await expect(card).to_be_visible()
    await text_at_200_percent(stage.moderator, "moderator")
    await card.get_by_role("button", name="通过").click()
    await stage.host.locator(".host-item").get_by_role("button", name="上直播").click()
    await expect(stage.viewer.locator("#on-air-body .on-air-text")).to_have_text(LONG)
    await text_at_200_percent(stage.viewer, "live page, phone")
    await text_at_200_percent(stage.host, "host")
    page = await open_page(**DESKTOP)
    await page.goto(f"/live/{stage.session.id}")
    await expect(page.locator("#on-air-body .on-air-text")).to_have_text(LONG)
    # The check sees a box of fixed height that cuts its text (or it would prove nothing).
    # (Styled through the CSSOM: the page's CSP refuses style attributes.)
    await page.evaluate("""() => {
        const p = document.createElement("p");
        p.id = "cut";
        p.textContent = "一段在固定高度的盒子里放不下的文字，放大以后就被截掉了。";
        Object.assign(p.style, {height: "1.2rem", width: "6rem", overflow: "hidden"});
        document.querySelector("main").append(p);
    }""")
    found = await page.evaluate(CUT_TEXT)
    assert any(line.startswith("p.:") for line in found), found
    await page.evaluate("() => document.getElementById('cut').remove()")
    await text_at_200_percent(page, "live page, desktop")
    for path in ("/clips", "/clips?q=驾照快到期了在哪里换", "/clips?q=火星移民签证", "/login",
                 "/no-such-page"):
        await page.goto(path)
        await text_at_200_percent(page, path)
    clips = await live_server.app[keys.REVIEW].listing(state="published")
    await page.goto(f"/clips/{clips[0].id}")
    await text_at_200_percent(page, "clip page")
    moderator = stage.moderator
    for path in ("/staff/clips?state=all", f"/staff/clips/{clips[0].id}", "/staff"):
        await moderator.goto(path)
        await text_at_200_percent(moderator, path)
    admin = await open_page(**DESKTOP)
    await log_in(admin, "admin", admin_password)
    await expect(admin).to_have_url(re.compile(r"/staff$"))
    for path in ("/admin/sessions", f"/admin/sessions/{stage.session.id}", "/admin/staff",
                 "/admin/catalog", "/admin/lists", "/admin/synonyms", "/admin/audit"):
        await admin.goto(path)
        await text_at_200_percent(admin, path)


async def test_every_page_names_its_language_and_the_clip_video_its_alternatives(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    await seed_library(live_server)
    app = live_server.app
    files = await make_media(find_ffmpeg(), app[keys.SETTINGS].media_dir, "demo", seconds=2,
                             captions="问：驾照快到期了在哪里换？")
    clip = await add_clip(app, "license-renewal", "驾驶证期满换证", clip_id="demo",
                          question="驾照快到期了在哪里换？", summary="可以在交管12123上申请。",
                          files=files)
    await reindex(app)
    stage = await open_stage(live_server, open_page)
    page = await open_page(**DESKTOP)
    for target, path in ((page, "/"), (page, "/clips"), (page, f"/clips/{clip.id}"),
                         (page, "/login"), (page, "/no-such-page"),
                         (stage.viewer, f"/live/{stage.session.id}"),
                         (stage.moderator, f"/staff/sessions/{stage.session.id}/moderate"),
                         (stage.host, f"/staff/sessions/{stage.session.id}/host"),
                         (stage.moderator, "/staff/clips")):
        await target.goto(path)
        assert await target.evaluate("() => document.documentElement.lang") == "zh-CN", path

    # The clip: named by its title, captions in Chinese, and the question and the answer as
    # text on the page.
    await page.goto(f"/clips/{clip.id}")
    await expect(page.get_by_role("group", name="驾驶证期满换证")).to_be_visible()
    video = page.get_by_role("group", name="驾驶证期满换证").locator("video")
    await expect(video.locator("track[kind=captions]")).to_have_attribute("srclang", "zh")
    await expect(page.locator(".clip-question blockquote")).to_have_text("驾照快到期了在哪里换？")
    await expect(page.locator(".clip-summary .summary")).to_have_text("可以在交管12123上申请。")
    # The live picture is a named group; its state is text (a status), not only pixels.
    await expect(stage.viewer.get_by_role("group", name="直播画面")).to_be_visible()
    await expect(stage.viewer.locator("#player-message")).to_have_role("status")
    await expect(stage.viewer.locator("#player-message")).to_have_text("本场直播未开启视频")


async def test_highlights_do_not_move_for_readers_who_ask_for_less_motion(
    live_server: LiveServer, open_page: PageFactory
) -> None:
    stage = await open_stage(live_server, open_page)
    names = {}
    for motion in ("no-preference", "reduce"):
        page = await open_page(reduced_motion=motion, **DESKTOP)
        await page.goto(f"/live/{stage.session.id}")
        names[motion] = await page.evaluate("""() => {
            const li = document.createElement("li");
            li.className = "question flash";
            document.getElementById("queue").append(li);
            return getComputedStyle(li).animationName;
        }""")
    assert names == {"no-preference": "flash", "reduce": "none"}

