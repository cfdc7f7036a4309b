"""Every response carries the security headers, aiohttp's own low-level 400s included, and
state changes are accepted only for a host we serve. The server runs through
``web.server.EdgeRunner`` (as ``run.py serve`` does) and is spoken to over raw sockets
where a client library would refuse to send the request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from settings import Settings
from tests.support import ClientFactory, Site
from web import keys
from web.app import create_app
from web.security import HEADERS, HSTS
from web.server import EdgeRunner

PUBLIC = "https://help.example.cn"

Request = Callable[[bytes], "asyncio.Future[bytes]"]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[web.Application, int]]:
    app = create_app(settings)
    runner = EdgeRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield app, runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` on a new connection; the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


MALFORMED = {
    "request line over 8,190 bytes":
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "header over 8,190 bytes":
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"b" * 9000 + b"\r\n\r\n",
    "control byte in a header":
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\x01b\r\n\r\n",
    "space before the colon":
        b"GET / HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n",
    "not HTTP at all":
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
    "bad chunked body":
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n",
}


@pytest.mark.parametrize("public_url", ["", PUBLIC])
@pytest.mark.parametrize("case", list(MALFORMED))
async def test_aiohttps_own_400s_carry_the_headers_and_log_one_line(
        settings: Settings, caplog: pytest.LogCaptureFixture, case: str,
        public_url: str) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(settings.replace(server={"public_url": public_url})) as (_, port):
        caplog.clear()
        status, headers, body = await exchange(port, MALFORMED[case])
    assert status == 400
    for name, value in HEADERS.items():
        assert headers[name.lower()] == value, name
    assert ("strict-transport-security" in headers) == bool(public_url)
    assert body == b"400 Bad Request\n"  # nothing of the request echoed back
    refusals = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(refusals) == 1, caplog.text
    assert "\n" not in refusals[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], caplog.text


async def test_hsts_only_when_the_public_address_is_https(settings: Settings) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: help.example.cn\r\nConnection: close\r\n\r\n"
    async with serving(settings.replace(server={"public_url": PUBLIC})) as (_, port):
        status, headers, _ = await exchange(port, request)
        assert status == 200 and headers["strict-transport-security"] == HSTS
        missing = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        status, headers, _ = await exchange(port, missing)
        assert status == 404 and headers["strict-transport-security"] == HSTS
    for public in ("", "http://help.example.cn"):
        async with serving(settings.replace(server={"public_url": public})) as (_, port):
            status, headers, _ = await exchange(port, request)
            assert status == 200 and "strict-transport-security" not in headers
            assert headers["content-security-policy"] == HEADERS["Content-Security-Policy"]


# --- Host and Origin --------------------------------------------------------------------


def login_post(host: str, origin: str | None) -> dict[str, object]:
    """A login POST with a CSRF cookie and field that match (as a script can make them)."""
    token = "t" * 43
    headers = {"Host": host, "Cookie": f"tp_csrf={token}"}
    if origin is not None:
        headers["Origin"] = origin
    return {"data": {"_csrf": token, "name": "boss", "password": "wrong-password-1"},
            "headers": headers, "allow_redirects": False}


async def test_without_public_url_a_foreign_host_with_matching_origin_is_refused(
        site: Site) -> None:
    port = site.first.server.port
    for host in (f"evil.example:{port}", f"tippocket.localtest.me:{port}"):
        refused = await site.first.post("/login", **login_post(host, f"http://{host}"))
        assert refused.status == 403, host
        handshake = await site.first.get("/ws/live/nope", headers={
            "Host": host, "Origin": f"http://{host}"})
        assert handshake.status == 403, host
    # Literal addresses and localhost cannot be rebound by DNS: the check passes and the
    # request reaches its handler (a wrong password; an unknown session).
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        answered = await site.first.post("/login", **login_post(host, f"http://{host}"))
        assert answered.status == 401, host
        handshake = await site.first.get("/ws/live/nope", headers={
            "Host": host, "Origin": f"http://{host}"})
        assert handshake.status == 404, host


async def test_with_public_url_host_and_origin_must_be_the_public_address(
        settings: Settings, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(create_app(settings.replace(server={"public_url": PUBLIC})))
    port = client.server.port
    for host, origin in ((f"127.0.0.1:{port}", None),
                         (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"),
                         ("evil.example", "https://evil.example"),
                         ("help.example.cn:8443", "https://help.example.cn:8443"),
                         ("help.example.cn", "https://evil.example"),
                         ("help.example.cn", "http://help.example.cn")):
        response = await client.post("/login", **login_post(host, origin))
        assert response.status == 403, (host, origin)
    for host, origin in (("help.example.cn", PUBLIC), ("HELP.example.cn:443", PUBLIC),
                         ("help.example.cn", None)):
        response = await client.post("/login", **login_post(host, origin))
        assert response.status == 401, (host, origin)
    # Reading stays open to any Host (a health check from the machine itself, say).
    assert (await client.get("/healthz")).status == 200


async def test_a_warning_at_start_when_public_url_is_not_set(
        settings: Settings, aiohttp_client: ClientFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    await aiohttp_client(create_app(settings))
    assert "public_url is not set" in caplog.text
    caplog.clear()
    app = create_app(settings.replace(server={"public_url": PUBLIC}))
    await aiohttp_client(app)
    assert "public_url is not set" not in caplog.text
    assert app[keys.SETTINGS].server.public_url == PUBLIC
