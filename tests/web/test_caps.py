"""Caps over real websockets: sockets per viewer cookie and per client address, and the
question rate of a whole session, each refused as ``busy``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from live.sessions import SessionForm
from settings import Settings
from tests.live.conftest import Client, Live, Socket
from tests.support import Site
from web import keys
from web.caps import CLOSE_BUSY

PER_VIEWER, PER_ADDRESS, PER_SESSION = 2, 4, 3


PROXY = "127.0.0.2"  # a load balancer in front of the node: X-Forwarded-For from it counts


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(server={"trusted_proxies": f"{PROXY}, 10.9.0.0/16"}, live={
        "viewer_sockets_max": PER_VIEWER, "address_sockets_max": PER_ADDRESS,
        "session_questions_per_minute": PER_SESSION,
        "viewer_questions_per_minute": 100, "address_questions_per_minute": 100})


@pytest.fixture
async def live(site: Site) -> AsyncIterator[Live]:
    sessions = site.app[keys.SESSIONS]
    broadcast = await sessions.create(SessionForm("上午场", scheduled_start=1.8e9), actor="t")
    live = Live(site, await sessions.start(broadcast.id, actor="t"))
    yield live
    for sock in live.sockets:
        await sock.close()


async def client_at(site: Site, address: str, forwarded_for: str = "") -> Client:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    return await site.make_client(
        site.first.server, connector=aiohttp.TCPConnector(local_addr=(address, 0)),
        headers=headers)


async def refused(client: Client, path: str) -> dict[str, Any]:
    """Open a socket that should be refused: its one frame, then its close code."""
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect(path, origin=origin)
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    frame: dict[str, Any] = json.loads(msg.data)
    closing = await ws.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == CLOSE_BUSY, closing
    await ws.close()
    return frame


async def test_sockets_per_viewer_cookie_are_capped_and_given_back(live: Live) -> None:
    client = await live.site.new_client()
    path = f"/ws/live/{live.session.id}"
    first = await live.viewer(client)
    for _ in range(PER_VIEWER - 1):
        await live.viewer(client)
    frame = await refused(client, path)
    assert frame["code"] == "busy" and frame["retry_after"] > 0 and frame["message"]
    # Another viewer on the same address is not affected.
    await live.viewer()
    # A closed socket gives its slot back.
    await first.close()
    live.sockets.remove(first)
    await live.viewer(client)


async def test_sockets_per_address_are_capped_viewers_and_staff_together(
        live: Live) -> None:
    site = live.site
    crowd = [await client_at(site, "127.0.0.2") for _ in range(PER_ADDRESS)]
    for client in crowd[:-1]:
        await live.viewer(client)
    await site.add_user("mod", "moderator")
    mod = await site.login("mod", client=crowd[-1])
    await live.staff("mod", "moderator", client=mod)
    # Everyone at 127.0.0.2 is at the cap: a new viewer and the moderator's second console.
    newcomer = await client_at(site, "127.0.0.2")
    assert (await newcomer.get(f"/live/{live.session.id}")).status == 200
    assert (await refused(newcomer, f"/ws/live/{live.session.id}"))["code"] == "busy"
    assert (await refused(mod, f"/ws/staff/{live.session.id}"))["code"] == "busy"
    # Another address is not.
    await live.viewer(await client_at(site, "127.0.0.3"))
    caps = site.app[keys.CAPS]
    assert caps.addresses["127.0.0.2"] == PER_ADDRESS


async def test_behind_a_trusted_proxy_each_client_is_its_forwarded_address(
        live: Live) -> None:
    site = live.site
    caps = site.app[keys.CAPS]
    # Through the proxy: the address the proxy appended last (not itself a trusted proxy)
    # is the client's; what the client claimed further left is not believed.
    for _ in range(PER_ADDRESS):
        await live.viewer(await client_at(site, PROXY, "203.0.113.9"))
    blocked = await client_at(site, PROXY, "198.51.100.1, 203.0.113.9")
    assert (await blocked.get(f"/live/{live.session.id}")).status == 200  # its cookie
    assert (await refused(blocked, f"/ws/live/{live.session.id}"))["code"] == "busy"
    await live.viewer(await client_at(site, PROXY, "203.0.113.10, 10.9.0.4"))
    assert caps.addresses["203.0.113.9"] == PER_ADDRESS
    assert caps.addresses["203.0.113.10"] == 1
    # From anywhere else the header is ignored: a client cannot pick its own address.
    await live.viewer(await client_at(site, "127.0.0.3", "203.0.113.9"))
    assert caps.addresses["127.0.0.3"] == 1 and caps.addresses["203.0.113.9"] == PER_ADDRESS


async def ask(sock: Socket, text: str) -> dict[str, Any]:
    return await sock.request("ask", client_id=f"c-{text}", text=text)


async def test_the_question_rate_of_a_whole_session_is_capped(live: Live) -> None:
    # Each viewer at an address of its own, so that only the session's cap can apply.
    viewers = [await live.viewer(await client_at(live.site, f"127.0.1.{n + 1}"))
               for n in range(PER_SESSION + 1)]
    for n, sock in enumerate(viewers[:PER_SESSION]):
        reply = await ask(sock, f"驾驶证到期了怎么换证 第{n}个问题")
        assert reply["type"] == "ack" and reply["created"] is True, reply
    # The next question, from a viewer who has not asked yet, is refused as busy.
    late = await ask(viewers[-1], "电动自行车上牌需要什么材料")
    assert late["type"] == "error" and late["code"] == "busy", late
    assert 0 < late["retry_after"] <= 60 and late["message"]
    # The session is busy, not the viewer: the socket stays open and can still ask later.
    assert not viewers[-1].ws.closed
    # Another session has its own allowance.
    sessions = live.app[keys.SESSIONS]
    other = await sessions.create(SessionForm("下午场", scheduled_start=1.8e9), actor="t")
    other = await sessions.start(other.id, actor="t")
    client = await client_at(live.site, "127.0.2.1")
    assert (await client.get(f"/live/{other.id}")).status == 200
    sock = await live.connect(client, f"/ws/live/{other.id}", None)
    assert (await ask(sock, "下午场的第一个问题：年审在哪里办"))["type"] == "ack"
