"""Fixtures of the web tests: ``answers_site``, the app with the understanding engine on."""

from __future__ import annotations

import pytest

from moderation.understander import Understander
from settings import Settings
from tests.support import ClientFactory, Site, until
from tests.web.understanding import shared_builder
from web import keys
from web.app import create_app


@pytest.fixture
async def answers_site(settings: Settings, aiohttp_client: ClientFactory) -> Site:
    """The app with the engine on, started, and its engine ready."""
    app = create_app(settings.replace(understanding={"enabled": True}))
    app[keys.UNDERSTANDER] = Understander(build=shared_builder)
    first = await aiohttp_client(app)
    understander = app[keys.UNDERSTANDER]
    await until(understander.ready.is_set, "the understanding engine", timeout=240)
    return Site(app, first, aiohttp_client)
