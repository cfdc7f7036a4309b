"""/ask in Chromium: a citizen types a question, reads the answers with their 一键办理
button, leaves the question for the next broadcast and lands on a page of their own that
shows its state — with no console error and no CSP violation (the pages have no script)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Page

from live.sessions import SessionForm
from moderation.understander import Understander
from settings import Settings
from tests.browser.conftest import LiveServer, unexpected_errors
from tests.support import until
from tests.web.understanding import shared_builder
from web import keys
from web.app import create_app


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The browser fixtures' server, with the understanding engine on (one per process)."""
    app = create_app(settings.replace(understanding={"enabled": True}))
    app[keys.UNDERSTANDER] = Understander(build=shared_builder)
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        await until(app[keys.UNDERSTANDER].ready.is_set, "the understanding engine",
                    timeout=240)
        host, port = runner.addresses[0][:2]
        yield LiveServer(app=app, url=f"http://{host}:{port}")
    finally:
        await runner.cleanup()


async def test_a_citizen_finds_answers_and_leaves_the_question(
        page: Page, live_server: LiveServer, console_errors: list[str]) -> None:
    session = await live_server.app[keys.SESSIONS].create(
        SessionForm("交警视频帮 周五场", scheduled_start=time.time() + 86400), actor="test")
    await page.goto("/clips")
    async with page.expect_navigation():
        await page.get_by_role("link", name="事事有回音").click()
    await page.get_by_label("你的问题").fill("驾照丢了咋补办")
    async with page.expect_navigation():
        await page.get_by_role("button", name="找答案").click()
    answers = page.locator("#ask-answers .answer-faq")
    assert await answers.count() >= 1
    assert await page.get_by_role("link", name="一键办理").count() >= 1

    async with page.expect_navigation():
        await page.get_by_role("button", name="留给下一场直播").click()
    assert "/ask/q/" in page.url
    assert await page.locator("#follow-state").inner_text() == "等待审核"
    assert "驾照丢了咋补办" in await page.locator("#follow-text").inner_text()
    board = await live_server.app[keys.MODERATION].board(session.id)
    assert [q.text for q in board.questions.values()] == ["驾照丢了咋补办"]
    assert unexpected_errors(console_errors) == []
