"""Live fixtures: a running app with a live broadcast, and real websocket clients.

``live`` is built on ``site`` (tests/support.py): SQLite, or each backend in turn for a test
marked ``@both_backends``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from live.sessions import SessionForm
from store.records import LiveSession
from tests.support import Site
from web import keys

Client = TestClient[web.Request, web.Application]


@dataclass
class Socket:
    """A websocket client that remembers the stream cursor, for resume tests."""

    ws: aiohttp.ClientWebSocketResponse
    epoch: str = ""
    seq: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    backlog: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame: dict[str, Any] = json.loads(msg.data)
        if frame["type"] == "hello":
            self.epoch = frame["epoch"]
            self.seq = int(frame["cursor"].split(":")[1])
        elif "seq" in frame:
            self.seq = frame["seq"]
        self.seen.append(frame)
        return frame

    async def until(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """The first frame, received or still unclaimed, that matches; frames skipped over
        stay unclaimed for later calls, so the order of waits does not matter."""
        for i, frame in enumerate(self.backlog):
            if predicate(frame):
                return self.backlog.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if predicate(frame):
                    return frame
                self.backlog.append(frame)

    async def request(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        """Send a request and return its ack or error."""
        self.counter += 1
        rid = f"r{self.counter}"
        await self.ws.send_str(json.dumps({"type": kind, "id": rid, **fields}))
        return await self.until(lambda f: f.get("re") == rid)

    @property
    def cursor(self) -> str:
        return f"{self.epoch}:{self.seq}"

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class Live:
    site: Site
    session: LiveSession
    sockets: list[Socket] = field(default_factory=list)

    @property
    def app(self) -> web.Application:
        return self.site.app

    async def viewer(self, client: Client | None = None, since: str | None = None) -> Socket:
        client = client or await self.site.new_client()
        if "tp_viewer" not in {c.key for c in client.session.cookie_jar}:
            assert (await client.get(f"/live/{self.session.id}")).status == 200
        return await self.connect(client, f"/ws/live/{self.session.id}", since)

    async def staff(self, name: str, role: str, since: str | None = None,
                    client: Client | None = None) -> Socket:
        if client is None:
            await self.site.add_user(name, role)
            client = await self.site.login(name)
        return await self.connect(client, f"/ws/staff/{self.session.id}", since)

    async def connect(self, client: Client, path: str, since: str | None) -> Socket:
        params = {"since": since} if since else None
        origin = str(client.make_url("/")).rstrip("/")
        ws = await client.ws_connect(path, params=params, origin=origin)
        sock = Socket(ws)
        self.sockets.append(sock)
        hello = await sock.recv()
        assert hello["type"] == "hello", hello
        if hello["resume"] == "snapshot":
            assert (await sock.recv())["type"] == "snapshot"
        return sock


@pytest.fixture
async def live(site: Site) -> AsyncIterator[Live]:
    sessions = site.app[keys.SESSIONS]
    broadcast = await sessions.create(SessionForm("交警视频帮 上午场", scheduled_start=1.8e9),
                                      actor="test")
    broadcast = await sessions.start(broadcast.id, actor="test")
    live = Live(site, broadcast)
    yield live
    # Close our ends first: the server's close handshake waits for a reply that an idle
    # test client (unlike a browser) would never send.
    for sock in live.sockets:
        await sock.close()


def question_event(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "event" and frame.get("kind") == "question"
