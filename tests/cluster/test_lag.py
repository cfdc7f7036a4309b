"""The lag relays that stand in for netem: they delay, stall like a lost packet, keep order,
and pass everything through unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.cluster.lag import RETRANSMIT_TIMEOUT, LagRelays
from tests.services import free_port


@pytest.fixture
def relays() -> Iterator[LagRelays]:
    r = LagRelays()
    try:
        yield r
    finally:
        r.stop()


class Echo:
    """An echo server on the test's loop; ``close`` ends its connections too."""

    def __init__(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.echo, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Echo, int]]:
    server = Echo()
    port = await server.start()
    try:
        yield server, port
    finally:
        await server.close()


async def round_trips(port: int, n: int) -> tuple[list[float], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times, got = [], b""
    for i in range(n):
        msg = f"{i:04d}".encode() * 10
        started = time.monotonic()
        writer.write(msg)
        got += await reader.readexactly(len(msg))
        times.append(time.monotonic() - started)
    writer.close()
    await writer.wait_closed()
    return times, got


async def test_a_relay_delays_each_way_and_passes_bytes_unchanged(
        relays: LagRelays, echo: tuple[Echo, int]) -> None:
    relay = relays.add(("127.0.0.1", free_port()), ("127.0.0.1", echo[1]))
    fast, _ = await round_trips(relay.listen[1], 5)
    with relays.shaping(delay_ms=50):
        slow, got = await round_trips(relay.listen[1], 5)
    assert got == b"".join(f"{i:04d}".encode() * 10 for i in range(5))
    assert min(slow) >= 0.1  # 50 ms there, 50 ms back
    assert max(fast) < 0.1


async def test_loss_stalls_like_a_retransmission(relays: LagRelays,
                                                echo: tuple[Echo, int]) -> None:
    relay = relays.add(("127.0.0.1", free_port()), ("127.0.0.1", echo[1]))
    with relays.shaping(loss_pct=100):  # every chunk "lost" once, each way
        times, got = await round_trips(relay.listen[1], 3)
    assert len(got) == 120
    assert min(times) >= 2 * RETRANSMIT_TIMEOUT
