"""Faults on the live sockets, against the real app on a loopback port: invalid Unicode,
a client that stops reading, a handshake abandoned before 101."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import socket
import struct
from pathlib import Path

import aiohttp
import pytest

from live.events import PUBLIC, SESSION
from live.hub import numbered
from tests.live.conftest import Live
from web import auth, caps, keys, ws


async def test_lone_surrogates_get_bad_text_and_the_socket_stays_open(live: Live) -> None:
    viewer = await live.viewer()
    for frame in ('{"type":"ask","id":"a","client_id":"c1","text":"驾照\\ud800到期"}',
                  '{"type":"ping","id":"\\udfff"}',
                  '{"type":"ask\\ud83d","id":"b"}',
                  '{"type":"ping","id":"c","\\ud800":1}'):
        await viewer.ws.send_str(frame)
        error = await viewer.until(lambda f: f["type"] == "error")
        assert error["code"] == "bad_text", (frame, error)
        assert error["message"]
    # A real surrogate pair (an emoji, escaped) is ordinary text.
    await viewer.ws.send_str('{"type":"ask","id":"ok","client_id":"c2",'
                             '"text":"驾照到期怎么换\\ud83d\\ude97"}')
    ack = await viewer.until(lambda f: f.get("re") == "ok")
    assert ack["type"] == "ack" and ack["created"]
    assert (await viewer.request("ping"))["type"] == "ack"


async def test_invalid_utf8_gets_bad_text_then_close_1007(live: Live) -> None:
    viewer = await live.viewer()
    bystander = await live.viewer()
    await viewer.ws.send_frame(b'{"type":"ping","id":"\xed\xa0\x80"}', aiohttp.WSMsgType.TEXT)
    error = await viewer.until(lambda f: f["type"] == "error")
    assert error["code"] == "bad_text"
    closing = await viewer.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert viewer.ws.close_code == 1007
    assert (await bystander.request("ping"))["type"] == "ack"


async def raw_viewer(live: Live) -> tuple[socket.socket, asyncio.StreamReader,
                                          asyncio.StreamWriter]:
    """A viewer socket by hand, with a tiny receive buffer; returns after the 101."""
    client = await live.site.new_client()
    assert (await client.get(f"/live/{live.session.id}")).status == 200
    cookie = next(c for c in client.session.cookie_jar if c.key == "tp_viewer")
    origin = str(client.make_url("/")).rstrip("/")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    server = live.site.first.server
    await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 24)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/live/{live.session.id} HTTP/1.1\r\n"
                  f"Host: {server.host}:{server.port}\r\nOrigin: {origin}\r\n"
                  f"Cookie: tp_viewer={cookie.value}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, reader, writer


async def test_a_client_that_stops_reading_is_dropped_and_cut_off(live: Live) -> None:
    hub = live.app[keys.HUB]
    reader_ok = await live.viewer()
    sock, reader, writer = await raw_viewer(live)
    assert hub.counts(live.session.id)["viewers"] == 2
    limit = live.app[keys.SETTINGS].live.send_queue_frames
    padding = "路" * 20_000  # about 60 KB per frame
    # The stalled client never reads; events keep coming. Once the kernel buffers and then
    # its send queue are full, it must be dropped, while the other viewer is served.
    dropped = asyncio.Event()
    for i in range(limit + 400):
        # Straight to the broker (as fast as the old synchronous publish): a transaction
        # per event would give the stalled client's reader time to empty the kernel buffers.
        channel = hub.channels[live.session.id]
        live.app[keys.BROKER].publish(live.session.id, [numbered(
            channel.seq + 1, PUBLIC, SESSION, {"session": {"n": i, "padding": padding}})])
        await reader_ok.until(lambda f, i=i: f.get("session", {}).get("n") == i)
        reader_ok.seen.clear()
        if hub.counts(live.session.id)["viewers"] == 1:
            dropped.set()
            break
    assert dropped.is_set(), "the stalled client was never dropped"
    assert (await reader_ok.request("ping"))["type"] == "ack"
    # The server has let go of the socket: reading now ends (EOF or reset), and if the Close
    # frame made it out before the cut, it says 4008.
    data = bytearray()
    with pytest.raises((ConnectionResetError, EOFError)):
        async with asyncio.timeout(20):
            while chunk := await reader.read(1 << 20):
                data.extend(chunk)
            raise EOFError
    close = data.rfind(b"\x88\x11" + struct.pack("!H", 4008))
    assert close == -1 or data[close + 4:close + 19] == b"too slow, resume"
    writer.close()
    sock.close()


async def test_a_handshake_abandoned_before_101_logs_one_line(
        live: Live, caplog: pytest.LogCaptureFixture) -> None:
    server = live.site.first.server
    caplog.set_level(logging.INFO)
    for attempt in range(60):
        sock = socket.create_connection((server.host, server.port))
        # SO_LINGER 0: the close is a reset, at once. Closing after 0–4 ms lands some of
        # the resets while the server is still between reading the request and its 101.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall((f"GET /ws/live/{live.session.id} HTTP/1.1\r\n"
                      f"Host: {server.host}:{server.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        await asyncio.sleep(attempt % 5 / 1000)
        sock.close()
    await asyncio.sleep(0.5)
    viewer = await live.viewer()  # the server is fine
    assert (await viewer.request("ping"))["type"] == "ack"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records]
    aborted = [r for r in caplog.records if "aborted before 101" in r.getMessage()]
    assert aborted, "no handshake was cut in the window: the test did not test anything"
    assert all("\n" not in r.getMessage() for r in aborted)


def test_every_close_code_the_server_sends_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent.parent / "docs" / "protocol.md").read_text(
        encoding="utf-8")
    section = doc[doc.index("## Close codes"):doc.index("## Reconnecting")]
    documented = {int(code) for code in re.findall(r"^\| (\d{4}) \|", section, re.M)}
    sent = {code for code, _ in ws.CLOSE_REASONS.values()} | set(ws.CLOSE_FATAL.values()) | {
        ws.CLOSE_TOO_MANY_ERRORS, ws.CLOSE_UNAUTHORIZED, 1009, caps.CLOSE_BUSY,
        auth.CLOSE_PASSWORD_CHANGE}
    assert sent <= documented, sent - documented
