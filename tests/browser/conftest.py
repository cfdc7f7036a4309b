"""Browser fixtures: the real app on a loopback port, driven by Debian's Chromium.

Playwright's own browser download is never used: Chromium comes from ``/usr/bin/chromium``
(or ``CHROMIUM_PATH``). When it is missing, ``require`` skips locally and fails under CI=true.

Everything here is function-scoped, so each test gets its own event loop, server, browser and
data directory. Set ``TP_BROWSER_SCREENSHOTS=1`` to save a screenshot of every open page of a
failed test into that test's ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

from settings import Settings
from tests.conftest import require
from web import keys
from web.app import create_app

HERE = Path(__file__).parent
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS_ON_FAILURE = os.environ.get("TP_BROWSER_SCREENSHOTS", "") not in ("", "0")
LOCALE = "zh-CN"


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when this machine has none."""
    candidate = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which(candidate)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/browser is a browser test (``-m "not browser"`` skips them)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def failed(node: pytest.Item) -> bool:
    reports = node.stash.get(PHASE_REPORTS, {})
    return any(report.failed for report in reports.values())


# --- the server ---------------------------------------------------------------------------


@dataclass
class LiveServer:
    """The app built by ``create_app``, listening on 127.0.0.1."""

    app: web.Application
    url: str

    async def admin_password(self) -> str:
        """Create the initial ``admin`` (on an empty store) and return its password."""
        password = await self.app[keys.ACCOUNTS].ensure_initial_admin()
        assert password is not None, "the store already has staff accounts"
        return password

    async def add_staff(self, name: str, role: str, password: str,
                        display_name: str = "") -> None:
        await self.app[keys.ACCOUNTS].create(name, role, password, actor="test",
                                             display_name=display_name)


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    app = create_app(settings)
    # A short shutdown_timeout: a browser may still hold keep-alive connections at teardown.
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield LiveServer(app=app, url=f"http://{host}:{port}")
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class Credentials:
    name: str
    password: str


@pytest.fixture
async def admin(live_server: LiveServer) -> Credentials:
    """The initial admin account of the live server."""
    return Credentials("admin", await live_server.admin_password())


# --- the browser --------------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    require(executable is not None,
            f"Chromium not found at {os.environ.get('CHROMIUM_PATH') or DEFAULT_CHROMIUM} "
            "(apt-get install chromium, or set CHROMIUM_PATH)")
    assert executable is not None
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


# The app serves no /favicon.ico yet, so Chromium logs a 404 for it on the first page of
# every context. Known gap (reported); drop this once the app serves an icon.
KNOWN_NOISE = ("/favicon.ico",)


def unexpected_errors(errors: list[str], *expected_statuses: int) -> list[str]:
    """``errors`` without the known favicon 404 and without "Failed to load resource"
    lines for the HTTP statuses the test provoked on purpose (e.g. a 401 login page)."""
    statuses = tuple(f"status of {status} " for status in expected_statuses)
    return [
        error for error in errors
        if not (error.startswith("console.error: Failed to load resource:")
                and (any(noise in error for noise in KNOWN_NOISE)
                     or any(status in error for status in statuses)))
    ]


@dataclass
class ConsoleWatch:
    """Console errors, uncaught exceptions and CSP violations seen by one page."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        # Chromium reports CSP violations ("Refused to ...") as console errors.
        if message.type == "error":
            location = message.location.get("url", "")
            self.errors.append(f"console.error: {message.text} ({location})")


@dataclass
class PageFactory:
    """Opens pages, each in a fresh context (no shared cookies), and remembers them."""

    browser: Browser
    base_url: str
    contexts: list[BrowserContext] = field(default_factory=list)
    watches: dict[Page, ConsoleWatch] = field(default_factory=dict)

    async def __call__(self, **context_options: Any) -> Page:
        options: dict[str, Any] = {"locale": LOCALE, "base_url": self.base_url}
        options.update(context_options)
        context = await self.browser.new_context(**options)
        self.contexts.append(context)
        page = await context.new_page()
        watch = ConsoleWatch()
        watch.attach(page)
        self.watches[page] = watch
        return page

    def console_errors(self, page: Page) -> list[str]:
        return self.watches[page].errors

    async def screenshot_all(self, directory: Path) -> list[Path]:
        saved = []
        for number, page in enumerate(self.watches, start=1):
            if page.is_closed():
                continue
            path = directory / f"failure-{number}.png"
            try:
                await page.screenshot(path=str(path), full_page=True)
            except PlaywrightError:
                continue
            saved.append(path)
        return saved

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def open_page(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[PageFactory]:
    """``await open_page()`` gives a new page in a new context; paths resolve against the
    live server (``page.goto("/login")``)."""
    factory = PageFactory(browser, live_server.url)
    try:
        yield factory
    finally:
        if SCREENSHOTS_ON_FAILURE and isinstance(request.node, pytest.Item) \
                and failed(request.node):
            for path in await factory.screenshot_all(tmp_path):
                print(f"screenshot: {path}")
        await factory.close()


@pytest.fixture
async def page(open_page: PageFactory) -> Page:
    """A page in a fresh zh-CN context, against the live server."""
    return await open_page()


@pytest.fixture
def console_errors(page: Page, open_page: PageFactory) -> list[str]:
    """The ``page`` fixture's console errors so far (a live list)."""
    return open_page.console_errors(page)
