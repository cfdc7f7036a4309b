"""The desk in Chromium: the review and statistics pages draw their charts (the canvas has
painted pixels, under the site's CSP, with no console error), and an export downloaded from
the statistics page holds the store's rows."""

from __future__ import annotations

import csv
import io
import re

from playwright.async_api import Page, expect

from store.records import Question
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_staff_admin import log_in
from tests.store.test_aggregates import DAY0, fixture
from web import keys

PASSWORD = "desk-password-14"
PAINTED = """(canvas) => {
  const { width, height } = canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted += 1;
  return { painted, total: width * height };
}"""


async def painted(page: Page, selector: str) -> int:
    canvas = page.locator(selector)
    await expect(canvas).to_have_attribute("data-state", "drawn")
    counts = await canvas.evaluate(PAINTED)
    assert counts["total"] > 10_000, counts  # a real drawing surface, not a 0×0 stub
    return int(counts["painted"])


async def staff_page(live_server: LiveServer, open_page: PageFactory) -> Page:
    await fixture(live_server.app[keys.STORE])
    await live_server.add_staff("mod", "moderator", PASSWORD)
    page = await open_page(accept_downloads=True)
    await log_in(page, "mod", PASSWORD)
    await expect(page).to_have_url(re.compile(r"/staff$"))
    return page


async def test_review_and_statistics_draw_their_charts(live_server: LiveServer,
                                                       open_page: PageFactory) -> None:
    page = await staff_page(live_server, open_page)
    await page.goto("/staff/review?period=week&date=2026-05-04")
    await expect(page.get_by_role("heading", level=1)).to_have_text("每日复盘")
    assert await painted(page, "#review-days") > 500
    assert await painted(page, "#review-categories") > 500
    await expect(page.locator("#review-clusters")).to_contain_text("驾照到期怎么换")

    await page.goto("/staff/stats?from=2026-05-04&to=2026-05-05&by=session")
    await expect(page.get_by_role("heading", level=1)).to_have_text("数据统计")
    assert await painted(page, "#stats-questions") > 500
    await expect(page.locator("#stats-table")).to_contain_text("s1")
    # An empty period still draws axes, but far less than the bars above.
    await page.goto("/staff/stats?from=2020-01-01&to=2020-01-02")
    empty = await painted(page, "#stats-questions")
    await page.goto("/staff/stats?from=2026-05-04&to=2026-05-05")
    assert await painted(page, "#stats-questions") > empty
    assert unexpected_errors(open_page.console_errors(page)) == []


async def test_a_downloaded_export_holds_the_store_rows(live_server: LiveServer,
                                                        open_page: PageFactory) -> None:
    page = await staff_page(live_server, open_page)
    await page.goto("/staff/stats?from=2026-05-04&to=2026-05-05")
    async with page.expect_download() as info:
        await page.locator("a[href^='/api/export/questions.csv']").click()
    download = await info.value
    assert download.suggested_filename == "questions-2026-05-04-2026-05-05.csv"
    path = await download.path()
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    stored = sorted((q for q in await live_server.app[keys.STORE].find(Question)
                     if DAY0 <= q.created_at < DAY0 + 2 * 86400),
                    key=lambda q: (q.created_at, q.id))
    assert [(r[0], r[3], r[7]) for r in rows[1:]] == [(q.id, q.state, q.text) for q in stored]
    assert unexpected_errors(open_page.console_errors(page)) == []
