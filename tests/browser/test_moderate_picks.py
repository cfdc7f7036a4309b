"""The moderator console shows the understanding engine's top three items on a pending
question, each with its confidence, and one key (1, 2 or 3) approves it under that item."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from moderation.understander import Understander
from store.records import Question
from tests.browser.conftest import LiveServer, PageFactory, unexpected_errors
from tests.browser.test_moderate_console import open_console, setup
from tests.web.understanding import shared_engine
from web import keys


async def test_a_suggested_item_is_picked_with_one_key(live_server: LiveServer,
                                                       open_page: PageFactory) -> None:
    # The engine the app would build (shared by the test process), suggesting on new questions.
    understander = Understander()
    understander.engine = shared_engine()
    moderation = live_server.app[keys.MODERATION]
    moderation.item_hints = understander.item_hints
    session = await setup(live_server)
    asked, _ = await moderation.ask(session.id, "viewer-1", "10.0.0.1", uuid.uuid4().hex,
                                    "驾驶证弄丢了要去哪里补一本")
    await moderation.hints_settled()  # the engine's reading follows the ack
    question = (await moderation.board(session.id)).questions[asked.id]
    suggested = [s["id"] for s in question.flags["suggested_items"]]
    assert len(suggested) == 3
    items = [moderation.catalog.get(item_id) for item_id in suggested]
    names = [item.name for item in items if item is not None]

    page = await open_console(open_page, session)
    card = page.locator(f"#q-{question.id}")
    picks = card.locator(".mod-picks button.pick")
    await expect(picks).to_have_count(3)
    for n, name in enumerate(names):
        await expect(picks.nth(n)).to_contain_text(f"{n + 1} {name}")
        await expect(picks.nth(n)).to_contain_text("%")
    await page.keyboard.press("j")
    await expect(page.locator(".mod-card.current")).to_have_count(1)
    await page.keyboard.press("2")
    await expect(page.locator('[data-count="pending"]')).to_have_text("0")

    stored = await live_server.app[keys.STORE].get(Question, question.id)
    assert stored.state == "queued" and stored.item_id == suggested[1]
    item = moderation.catalog.get(suggested[1])
    assert item is not None and stored.category == item.category
    assert unexpected_errors(open_page.console_errors(page)) == []
