"""A slow, lossy link without the kernel's netem: TCP relays that hold each chunk back.

Some kernels are built without the netem queueing discipline (``sch_netem``) and have no
modules to load, so ``tc netem`` cannot slow the namespaced node's veth. Then the harness
puts a ``LagRelay`` on each of that node's links instead — HAProxy → node, node → Redis,
node → MongoDB — and ``LagRelays.shape`` gives them what netem would have:

- **delay**: every chunk read from one side is written to the other ``delay`` seconds
  later, in order, in both directions (so a round trip costs twice the delay, as with netem
  on both ends of the veth);
- **loss**: TCP hides a lost packet from the application as a stall until the sender's
  retransmission timer fires (at least 200 ms on Linux). A relay cannot drop bytes of a
  stream without breaking it, so with probability ``loss`` a chunk waits one such timeout
  more, and everything behind it waits too: what the application sees of a lost packet.

The relays run on an event loop of their own in a daemon thread, so they keep moving while
the test's loop or a synchronous wait (a node starting) is busy. With no shaping they add
one loopback hop. Closing either side closes the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

RETRANSMIT_TIMEOUT = 0.2  # Linux's minimum RTO: what one lost packet costs the stream
CHUNK = 65536


@dataclass
class Shape:
    delay: float = 0.0
    loss: float = 0.0


@dataclass
class LagRelay:
    """Listens on ``listen`` and relays each connection to ``target`` through ``shape``."""

    listen: tuple[str, int]
    target: tuple[str, int]
    shape: Shape
    server: asyncio.Server | None = None
    conns: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, *self.listen)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for w in list(self.conns):
            w.close()

    async def _serve(self, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self.conns |= {client_w, up_w}
        try:
            await asyncio.gather(self._pump(client_r, up_w), self._pump(up_r, client_w))
        finally:
            for w in (client_w, up_w):
                self.conns.discard(w)
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                    ) -> None:
        """Copy one direction, each chunk due ``delay`` after it was read (later if "lost"),
        never before the chunk ahead of it."""
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            last = 0.0
            try:
                while chunk := await reader.read(CHUNK):
                    at = time.monotonic() + self.shape.delay
                    if self.shape.loss and random.random() < self.shape.loss:
                        at += RETRANSMIT_TIMEOUT
                    last = max(last, at)
                    due.put_nowait((last, chunk))
            except OSError:
                pass
            due.put_nowait((last, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                at, chunk = await due.get()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()
        except OSError:
            return
        finally:
            reading.cancel()


class LagRelays:
    """Relays on their own event loop in a daemon thread, all sharing one ``Shape``."""

    def __init__(self) -> None:
        self.shape = Shape()
        self.relays: list[LagRelay] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lag-relays",
                                        daemon=True)
        self._thread.start()

    def add(self, listen: tuple[str, int], target: tuple[str, int]) -> LagRelay:
        relay = LagRelay(listen, target, self.shape)
        asyncio.run_coroutine_threadsafe(relay.start(), self._loop).result(10)
        self.relays.append(relay)
        return relay

    @contextlib.contextmanager
    def shaping(self, *, delay_ms: int = 0, loss_pct: float = 0.0) -> Iterator[None]:
        """Each relay delays by ``delay_ms`` per direction, and ``loss_pct`` % of chunks
        stall one retransmission timeout, for the duration of the block."""
        self.shape.delay, self.shape.loss = delay_ms / 1000, loss_pct / 100
        try:
            yield
        finally:
            self.shape.delay, self.shape.loss = 0.0, 0.0

    def stop(self) -> None:
        async def stop_all() -> None:
            for relay in self.relays:
                await relay.stop()
            running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await asyncio.sleep(0.05)  # the closed transports let go of their sockets

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(stop_all(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()
