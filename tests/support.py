"""Shared test helpers and the ``site`` fixture: the app from the real factory, served on a
loopback port, and real HTTP clients (registered as a plugin by ``tests/conftest.py``).

The app is built on SQLite unless a test asks for both backends with ``@both_backends``:
then it runs once on SQLite and once on MongoDB (a database of its own on the
``mongodb_uri`` server, dropped afterwards)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from settings import Secret, Settings
from store.base import Store
from store.records import StaffUser
from store.sqlite import SQLiteStore
from web import keys
from web.app import create_app

CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')
PASSWORD = "correct-horse-battery"

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


async def sign_in(http: aiohttp.ClientSession | TestClient[web.Request, web.Application],
                  name: str, password: str = PASSWORD) -> None:
    """Log in as staff account ``name`` through the login form, CSRF token and all."""
    async with http.get("/login") as page:
        csrf = csrf_of(await page.text())
    form = {"name": name, "password": password, "_csrf": csrf, "next": "/staff"}
    async with http.post("/login", data=form, allow_redirects=False) as done:
        assert done.status == 303, await done.text()


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


@dataclass
class Site:
    """One running server, and a way to open more browsers (cookie jars) on it."""

    app: web.Application
    first: TestClient[web.Request, web.Application]
    make_client: ClientFactory

    async def new_client(self) -> TestClient[web.Request, web.Application]:
        return await self.make_client(self.first.server)

    async def add_user(self, name: str, role: str, password: str = PASSWORD) -> StaffUser:
        return await self.app[keys.ACCOUNTS].create(name, role, password, actor="test")

    async def login(self, name: str, password: str = PASSWORD,
                    client: TestClient[web.Request, web.Application] | None = None
                    ) -> TestClient[web.Request, web.Application]:
        client = client or await self.new_client()
        await sign_in(client, name, password)
        return client


BACKENDS = ["sqlite", pytest.param("mongodb", marks=pytest.mark.mongodb)]
# Runs a test that uses ``site`` (or ``live``) once on each store backend.
both_backends = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture
def backend() -> str:
    """The store backend ``site`` builds the app on; ``@both_backends`` parametrises it."""
    return "sqlite"


@pytest.fixture
async def app_settings(settings: Settings, backend: str, request: pytest.FixtureRequest
                       ) -> AsyncIterator[Settings]:
    """``settings`` for the chosen backend. MongoDB: a database of its own per test."""
    if backend == "sqlite":
        yield settings
        return
    from store.mongo import MongoStore

    uri = request.getfixturevalue("mongodb_uri")
    database = f"tp_app_{secrets.token_hex(6)}"
    yield settings.replace(store={"backend": "mongodb", "mongodb_uri": Secret(uri),
                                  "mongodb_database": database})
    # The app (and any restarted one) has closed its store by now: drop what it wrote.
    leftover = MongoStore(uri, database=database, timeout_ms=5000)
    await leftover.open()
    await leftover.drop_database()
    await leftover.close()


@pytest.fixture
async def site(app_settings: Settings, backend: str, aiohttp_client: ClientFactory) -> Site:
    app = create_app(app_settings)
    first = await aiohttp_client(app)
    assert app[keys.STORE].backend == backend
    return Site(app, first, aiohttp_client)


async def staff_csrf(client: TestClient[web.Request, web.Application], path: str = "/staff"
                     ) -> str:
    response = await client.get(path)
    assert response.status == 200
    return csrf_of(await response.text())


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.mongodb)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A store of each backend: SQLite (a real file) and MongoDB (``mongodb_uri``)."""
    if request.param == "sqlite":
        backend: Store = SQLiteStore(tmp_path / "store.sqlite3")
    else:
        from store.mongo import MongoStore

        uri = request.getfixturevalue("mongodb_uri")
        # A database of its own per test keeps tests independent on a shared server.
        backend = MongoStore(uri, database=f"tp_test_{secrets.token_hex(6)}", timeout_ms=5000)
    await backend.open()
    try:
        yield backend
    finally:
        if request.param == "mongodb":
            await backend.drop_database()  # type: ignore[attr-defined]
        await backend.close()


async def until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for ``check()`` to hold, polling; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
