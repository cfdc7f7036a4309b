"""Two hub nodes on two loopback ports sharing one MongoDB database (SecantusDB) and one
redis-server, each built by the real factory (``web.app.create_app``) with its own data
directory and node id: what a cluster is, minus HAProxy. ``two_nodes`` yields them with one
live session; ``a.viewer()``/``b.staff()`` open real websockets on either node. A test
module uses it with ``from tests.live.two_nodes import two_nodes_fixture  # noqa: F401``.

Events do not flow between the nodes here (that is the broker's job, tested with it): these
tests pin down that the shared state is right without them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from live.sessions import SessionForm
from settings import Secret, Settings
from store.records import StaffUser
from tests.live.conftest import Client, Live
from tests.support import PASSWORD, ClientFactory, Site
from web import keys
from web.app import create_app


@dataclass
class TwoNodes:
    a: Live
    b: Live
    redis: Any  # tests.services.RedisProcess

    @property
    def nodes(self) -> tuple[Live, Live]:
        return self.a, self.b

    async def add_user(self, name: str, role: str) -> StaffUser:
        """An account (in the shared store), usable on both nodes."""
        return await self.a.site.add_user(name, role)

    async def staff_clients(self, name: str, role: str) -> tuple[Client, Client]:
        """One logged-in browser on each node for a new account."""
        await self.add_user(name, role)
        return await self.a.site.login(name, PASSWORD), await self.b.site.login(name, PASSWORD)


def node_settings(settings: Settings, tmp_path: Path, name: str, uri: str, database: str,
                  redis_url: str) -> Settings:
    return settings.replace(
        server={"data_dir": str(tmp_path / f"node-{name}")},
        store={"backend": "mongodb", "mongodb_uri": Secret(uri), "mongodb_database": database},
        cluster={"redis_url": Secret(redis_url), "node_id": f"node-{name}"})


@pytest.fixture(name="two_nodes")
async def two_nodes_fixture(settings: Settings, tmp_path: Path, mongodb_uri: str, redis_server: Any,
                    aiohttp_client: ClientFactory) -> AsyncIterator[TwoNodes]:
    database = f"tp_two_{secrets.token_hex(6)}"
    sites = []
    for name in ("a", "b"):
        app = create_app(node_settings(settings, tmp_path, name, mongodb_uri, database,
                                       redis_server.url))
        sites.append(Site(app, await aiohttp_client(app), aiohttp_client))
    sessions = sites[0].app[keys.SESSIONS]
    created = await sessions.create(SessionForm("两个节点", scheduled_start=1.8e9), actor="t")
    session = await sessions.start(created.id, actor="t")
    nodes = TwoNodes(Live(sites[0], session), Live(sites[1], session), redis_server)
    yield nodes
    for live in nodes.nodes:
        for sock in live.sockets:
            await sock.close()
    for site in sites:
        await site.first.close()  # the apps close their stores before the database goes
    from store.mongo import MongoStore

    leftover = MongoStore(mongodb_uri, database=database, timeout_ms=5000)
    await leftover.open()
    await leftover.drop_database()
    await leftover.close()
