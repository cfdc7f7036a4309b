"""web.wsframes: frames that any websocket parser reads back, order across the direct and the
queued path, nothing after a Close, and a bounded close for a peer that stopped reading.

The server side is a real aiohttp websocket on a loopback port; the client is a raw TCP
socket (with a tiny receive buffer, so that "stops reading" fills up fast) whose bytes are
decoded by an independent parser, the ``websockets`` library's Sans-I/O frame reader.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode
from websockets.streams import StreamReader

from live.hub import Frame
from web.wsframes import HIGH_WATER, HOLD_AT_MOST, FrameSender, frame_header, wire

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537]


def decode_all(data: bytes) -> list[WireFrame]:
    """Every frame in ``data`` (which must end on a frame boundary)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = WireFrame.parse(reader.read_exact, mask=False, max_size=None)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        else:
            raise AssertionError("truncated frame")
    return frames


def payload_of_size(size: int) -> tuple[Frame, bytes]:
    """A hub frame whose UTF-8 payload is exactly ``size`` bytes (JSON of a padded string)."""
    if size < 4:
        frame = Frame({})
        frame.data = b"1" * size if size else b""
        return frame, frame.data
    text = "驾" * ((size - 2) // 3) + "x" * ((size - 2) % 3)
    frame = Frame({})
    frame.data = json.dumps(text, ensure_ascii=False).encode()
    assert len(frame.data) == size
    return frame, frame.data


@pytest.mark.parametrize("size", SIZES)
def test_frames_decode_at_every_length_boundary(size: int) -> None:
    frame, payload = payload_of_size(size)
    [decoded] = decode_all(wire(frame))
    assert decoded.opcode is Opcode.TEXT and decoded.fin
    assert decoded.data == payload
    assert not any((decoded.rsv1, decoded.rsv2, decoded.rsv3))
    assert wire(frame) is wire(frame)  # encoded once, then shared


def test_headers_use_the_shortest_length_form() -> None:
    assert frame_header(125) == b"\x81\x7d"
    assert frame_header(126) == b"\x81\x7e\x00\x7e"
    assert frame_header(65535) == b"\x81\x7e\xff\xff"
    assert frame_header(65536) == b"\x81\x7f" + (65536).to_bytes(8, "big")


@dataclass
class Peer:
    """One server-side socket (its sender) and the raw client connected to it."""

    sender: FrameSender
    ws: web.WebSocketResponse
    transport: asyncio.Transport
    done: asyncio.Event
    reader: asyncio.StreamReader = field(init=False)
    writer: asyncio.StreamWriter = field(init=False)
    received: bytearray = field(default_factory=bytearray)

    async def read_all(self, timeout: float = 10.0) -> list[WireFrame]:
        """Read until the server ends the connection, answering its Close."""
        async with asyncio.timeout(timeout):
            while chunk := await self.reader.read(1 << 20):
                self.received.extend(chunk)
                if _has_close(self.received):
                    self.writer.write(_masked_close())
        return decode_all(bytes(self.received))

    async def read_frames(self, count: int, timeout: float = 10.0) -> list[WireFrame]:
        async with asyncio.timeout(timeout):
            while True:
                frames = _complete_frames(bytes(self.received))
                if len(frames) >= count:
                    return frames
                self.received.extend(await self.reader.read(1 << 20))


def _complete_frames(data: bytes) -> list[WireFrame]:
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    while reader.buffer:
        parser = WireFrame.parse(reader.read_exact, mask=False, max_size=None)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        else:
            break
    return frames


def _has_close(data: bytes) -> bool:
    return any(f.opcode is Opcode.CLOSE for f in _complete_frames(data))


def _masked_close() -> bytes:
    mask = os.urandom(4)
    body = (1000).to_bytes(2, "big")
    return b"\x88" + bytes((0x80 | len(body),)) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(body))


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[int], Awaitable[Peer]]]:
    """Open a socket pair: server side with send buffers kept small, client with a tiny
    receive buffer, so a client that does not read backs the server up within kilobytes."""
    ready: asyncio.Queue[Peer] = asyncio.Queue()
    limit = [64]
    coalesce = [False]

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, timeout=60.0)  # only our bound applies
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                                      4096)
        peer = Peer(FrameSender(ws, transport, limit=limit[0], coalesce=coalesce[0]), ws,
                    transport, asyncio.Event())
        await ready.put(peer)
        await peer.done.wait()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = TestServer(app)
    await server.start_server()
    opened: list[Peer] = []

    async def open_peer(size: int = 64, staff: bool = False) -> Peer:
        limit[0] = size
        coalesce[0] = staff
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 22)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        peer = await ready.get()
        peer.reader, peer.writer = reader, writer
        opened.append(peer)
        return peer

    yield open_peer
    for peer in opened:
        peer.done.set()
        peer.writer.close()
    await server.close()


def numbered(i: int, size: int = 10) -> Frame:
    return Frame({"n": i, "pad": "x" * size})


def numbers(frames: list[WireFrame]) -> list[int]:
    return [json.loads(f.data)["n"] for f in frames if f.opcode is Opcode.TEXT]


async def test_a_socket_that_keeps_up_gets_direct_writes_and_holds_no_task(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(64)
    assert peer.sender.send([numbered(0), numbered(1)])
    assert peer.sender.behind == 0 and peer.sender._writer is None
    frames = await peer.read_frames(2)
    assert numbers(frames) == [0, 1]


async def test_direct_and_queued_writes_keep_order(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(10_000)
    sent = 0
    queued_seen = False
    # Big and small frames, one or several at a time, with the loop running in between:
    # the first go straight to the transport, then the buffer passes HIGH_WATER and the
    # rest wait in the backlog for aiohttp's writer, and new ones keep arriving meanwhile.
    for round_ in range(60):
        batch = [numbered(sent + k, 30_000 if (sent + k) % 7 == 0 else 50)
                 for k in range(1 + round_ % 3)]
        assert peer.sender.send(batch)
        sent += len(batch)
        queued_seen = queued_seen or peer.sender.behind > 0
        await asyncio.sleep(0)
    assert queued_seen, "the backlog was never used"
    frames = await peer.read_frames(sent, timeout=20)
    assert numbers(frames) == list(range(sent))
    await asyncio.sleep(0.05)
    assert peer.sender.behind == 0 and peer.sender._writer is None  # released once caught up


async def test_a_full_backlog_refuses_instead_of_growing(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(8)
    big = numbered(0, HIGH_WATER * 2)
    assert peer.sender.send([big])  # fills the transport past HIGH_WATER
    results = [peer.sender.send([numbered(i)]) for i in range(1, 12)]
    assert results == [True] * 8 + [False] * 3
    assert peer.sender.behind <= 8


async def test_nothing_is_written_after_the_close_frame(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(1000)
    assert peer.sender.send([numbered(0, HIGH_WATER * 2)])
    for i in range(1, 20):
        peer.sender.send([numbered(i, 2000)])
    assert peer.sender.behind > 0  # the writer task is waiting for the client to read
    closing = asyncio.create_task(peer.sender.close(4008, "too slow, resume", within=5))
    await asyncio.sleep(0)
    assert peer.sender.closing
    for i in range(20, 40):  # published while the close handshake is under way
        assert peer.sender.send([numbered(i, 2000)])
    frames = await peer.read_all()
    await closing
    assert frames[-1].opcode is Opcode.CLOSE
    assert int.from_bytes(frames[-1].data[:2], "big") == 4008
    assert all(n < 20 for n in numbers(frames))
    assert [f.opcode for f in frames].count(Opcode.CLOSE) == 1


async def test_direct_writes_stop_once_the_handshake_started(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(64)
    closing = asyncio.create_task(peer.ws.close(code=1001, message=b"bye"))  # aiohttp's own
    await asyncio.sleep(0)
    assert peer.sender.send([numbered(1)])  # accepted, and dropped: the socket is closing
    frames = await peer.read_all()
    await closing
    assert [f.opcode for f in frames] == [Opcode.CLOSE]


async def test_a_peer_that_never_reads_is_cut_off_in_bounded_time(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(1000)
    frames = [numbered(0, HIGH_WATER * 4), *(numbered(i, 4000) for i in range(1, 50))]
    for frame in frames:
        peer.sender.send([frame])
    async with asyncio.timeout(10):  # generous: the bound is 0.5 s (the test is no timer)
        await peer.sender.close(4008, "too slow, resume", within=0.5)
    # Cut off: the socket itself is closed, although the client has not read a byte (a
    # graceful transport.close() would keep it open until the client reads everything).
    server_socket = peer.transport.get_extra_info("socket")
    await asyncio.sleep(0.1)
    assert server_socket.fileno() == -1
    received = 0
    async with asyncio.timeout(10):  # and the client finds the connection ended
        while chunk := await peer.reader.read(1 << 20):
            received += len(chunk)
    assert received < sum(len(wire(f)) for f in frames)  # what still waited was dropped


async def test_held_frames_leave_in_one_write_in_order(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(64)
    writes = count_writes(peer)
    peer.sender.hold()
    assert peer.sender.send([numbered(0)]) and peer.sender.send([numbered(1), numbered(2)])
    assert writes == []  # nothing written while held
    assert peer.sender.release()
    assert len(writes) == 1
    assert numbers(await peer.read_frames(3)) == [0, 1, 2]
    assert peer.sender.release()  # releasing twice (or with nothing held) is harmless


async def test_holding_never_gathers_more_than_its_bound(
        connect: Callable[[int], Awaitable[Peer]]) -> None:
    peer = await connect(10 * HOLD_AT_MOST)
    peer.sender.hold()
    for i in range(HOLD_AT_MOST + 3):
        assert peer.sender.send([numbered(i)])
    # The first HOLD_AT_MOST went out when the bound was reached; three are still held.
    assert numbers(await peer.read_frames(HOLD_AT_MOST)) == list(range(HOLD_AT_MOST))
    assert peer.sender.release()
    got = numbers(await peer.read_frames(HOLD_AT_MOST + 3))
    assert got == list(range(HOLD_AT_MOST + 3))


def count_writes(peer: Peer) -> list[bytes]:
    """The transport's writes from now on (each one a system call)."""
    writes: list[bytes] = []
    real_write = peer.transport.write

    def counting(data: bytes) -> None:  # type: ignore[override]
        writes.append(bytes(data))
        real_write(data)

    peer.transport.write = counting  # type: ignore[method-assign]
    return writes


Connect = Callable[..., Awaitable[Peer]]


async def test_a_staff_socket_gets_one_write_per_pass_of_the_loop(connect: Connect) -> None:
    peer = await connect(64, staff=True)
    writes = count_writes(peer)
    for i in range(10):  # ten events in one pass (a group commit's questions)
        assert peer.sender.send([numbered(i)])
    assert len(writes) == 1  # the first at once, the rest gathered
    await asyncio.sleep(0)
    assert len(writes) == 2  # the next pass: the nine gathered, in one piece
    assert numbers(await peer.read_frames(10)) == list(range(10))
    await asyncio.sleep(0.01)
    assert peer.sender.send([numbered(10)])  # quiet again: written at once
    assert len(writes) == 3


async def test_a_viewer_socket_is_not_coalesced(connect: Connect) -> None:
    peer = await connect(64)
    writes = count_writes(peer)
    for i in range(3):
        assert peer.sender.send([numbered(i)])
    assert len(writes) == 3


async def test_a_reply_takes_what_was_gathered_with_it_at_once(connect: Connect) -> None:
    peer = await connect(64, staff=True)
    writes = count_writes(peer)
    assert peer.sender.send([numbered(0)]) and peer.sender.send([numbered(1)])  # 1 gathered
    peer.sender.hold()  # a moderator's action: its own event, then its ack
    assert peer.sender.send([numbered(2)]) and peer.sender.send([numbered(3)])
    assert peer.sender.release()
    assert len(writes) == 2  # not left for the next pass
    assert numbers(await peer.read_frames(4)) == [0, 1, 2, 3]


async def test_gathered_frames_go_before_the_close(connect: Connect) -> None:
    peer = await connect(64, staff=True)
    for i in range(5):
        assert peer.sender.send([numbered(i)])
    closing = asyncio.create_task(peer.sender.close(1000, ""))
    frames = await peer.read_all()
    await closing
    assert numbers(frames) == list(range(5))
    assert frames[-1].opcode is Opcode.CLOSE


async def test_gathering_is_bounded_like_the_backlog(connect: Connect) -> None:
    peer = await connect(4, staff=True)
    results = [peer.sender.send([numbered(i)]) for i in range(7)]
    assert results == [True] * 5 + [False] * 2  # one written, four gathered, then refused


async def test_order_holds_when_a_coalesced_socket_falls_behind(connect: Connect) -> None:
    peer = await connect(10_000, staff=True)
    sent = 0
    for round_ in range(40):
        for _ in range(1 + round_ % 4):
            assert peer.sender.send([numbered(sent, 30_000 if sent % 5 == 0 else 40)])
            sent += 1
        await asyncio.sleep(0)
    assert numbers(await peer.read_frames(sent, timeout=20)) == list(range(sent))
