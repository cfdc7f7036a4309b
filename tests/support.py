"""Shared test helpers and the ``site`` fixture: the app from the real factory, served on a
loopback port, and real HTTP clients (registered as a plugin by ``tests/conftest.py``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from settings import Settings
from store.records import StaffUser
from web import keys
from web.app import create_app

CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')
PASSWORD = "correct-horse-battery"

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


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
        page = await client.get("/login")
        form = {"name": name, "password": password, "_csrf": csrf_of(await page.text()),
                "next": "/staff"}
        response = await client.post("/login", data=form, allow_redirects=False)
        assert response.status == 303, await response.text()
        return client


@pytest.fixture
async def site(settings: Settings, aiohttp_client: ClientFactory) -> Site:
    app = create_app(settings)
    first = await aiohttp_client(app)
    return Site(app, first, aiohttp_client)


async def staff_csrf(client: TestClient[web.Request, web.Application], path: str = "/staff"
                     ) -> str:
    response = await client.get(path)
    assert response.status == 200
    return csrf_of(await response.text())
