"""Websocket framing for the hub's fan-out: serialize once, write many, never after a Close.

A hub ``Frame`` is JSON-encoded once; its websocket encoding (a FIN text frame, unmasked as
server frames are) is built once too, on first use, and shared by every socket it goes to.

``FrameSender`` is a connection's ``live.hub.Outlet``. A socket that keeps up gets each
batch of frames in one ``transport.write``, straight from the publisher: no queue, no task,
nothing held per idle socket. A socket that falls behind (its transport buffer is above
``HIGH_WATER``, or frames are already waiting) gets a backlog and a writer task that sends
through aiohttp's own writer (``send_frame``, which also waits for the socket to drain);
both are released once it has caught up. A backlog of more than ``limit`` frames means the
client is not reading: ``send`` answers False and the hub drops the connection.

A staff console's socket (``coalesce``) gets a stream of small events — every question
asked, every moderator's action — often several in one pass of the event loop (a group
commit acknowledges many questions at once). Its first batch in a pass is written at once;
what follows in the same pass is gathered and written in one piece at the start of the next
pass, so each such socket costs one system call per pass however busy the broadcast is.
Viewers' sockets are not coalesced: their events are few, and a fan-out must not wait.

Order: frames go straight to the transport only while nothing is waiting, and the writer
task hands each frame to aiohttp before it yields, so a socket sees frames in publish order.
Close: once the close handshake has started (ours or the client's) or the transport is
closing, nothing more is written; ``close`` is bounded in time, and a client that does not
read its Close frame is cut off (``transport.abort``) rather than held open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence

from aiohttp import WSMsgType, web

from live.hub import Frame

HIGH_WATER = 64 * 1024  # bytes buffered in the transport before a socket counts as behind
HOLD_AT_MOST = 32  # frames gathered by ``hold`` before they are written anyway
CLOSE_TIMEOUT = 2.0  # seconds a close may take (send Close, drain, await the reply)

_TEXT_FIN = 0x81


def frame_header(length: int) -> bytes:
    """The header of a server text frame (FIN, opcode 1, no mask) carrying ``length`` bytes."""
    if length < 126:
        return bytes((_TEXT_FIN, length))
    if length < 65536:
        return bytes((_TEXT_FIN, 126)) + length.to_bytes(2, "big")
    return bytes((_TEXT_FIN, 127)) + length.to_bytes(8, "big")


def wire(frame: Frame) -> bytes:
    """The frame as websocket bytes, encoded on first use and then shared."""
    encoded = frame.wire
    if encoded is None:
        encoded = frame.wire = frame_header(len(frame.data)) + frame.data
    return encoded


class FrameSender:
    """Sends one socket's hub frames in order, never waiting and never after a Close."""

    __slots__ = ("_backlog", "_coalesce", "_corked", "_held", "_transport", "_writer", "_ws",
                 "limit")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                 limit: int, *, coalesce: bool = False) -> None:
        self._ws = ws
        self._transport = transport
        self.limit = limit
        self._coalesce = coalesce
        self._backlog: deque[Frame] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._held: list[Frame] | None = None
        # Coalescing: frames gathered after this pass's write, or None (nothing written yet).
        self._corked: list[Frame] | None = None

    @property
    def closing(self) -> bool:
        """The close handshake has started or the connection is going away."""
        return self._ws.closed or self._transport.is_closing()

    @property
    def behind(self) -> int:
        """Frames waiting for the writer task (0 when the socket keeps up)."""
        return len(self._backlog) if self._backlog is not None else 0

    def hold(self) -> None:
        """Gather what is sent from now until ``release`` into one write: the frames a
        client's message causes (its own question's event, then the ack) leave together,
        one system call instead of several. At most ``HOLD_AT_MOST`` frames wait."""
        if self._held is None:
            self._held = []

    def release(self) -> bool:
        """Send what was held (in order, after nothing else); False as ``send`` would. A
        reply does not wait for the next pass: what was gathered goes now, with it."""
        held, self._held = self._held, None
        if not held:
            return True
        corked = self._corked
        if corked and not self.closing:
            self._corked = None
            return self._write(corked + held, force=False)
        return self.send(held)

    def send(self, frames: Sequence[Frame]) -> bool:
        if self.closing:
            return True  # the socket is going away; its handler ends the connection
        held = self._held
        if held is not None:
            held.extend(frames)
            if len(held) < HOLD_AT_MOST:
                return True
            # A message that takes long (a slow store) while events keep coming: what was
            # held goes out now, so holding never delays or piles up more than this.
            self._held = []
            frames = held
        corked = self._corked
        if corked is not None:
            corked.extend(frames)
            return len(corked) <= self.limit
        return self._write(frames, force=False)

    def _write(self, frames: Sequence[Frame], *, force: bool) -> bool:
        backlog = self._backlog
        if backlog is None:
            if self._transport.get_write_buffer_size() <= HIGH_WATER:
                self._transport.write(b"".join([wire(f) for f in frames]))
                if self._coalesce:
                    self._corked = []
                    asyncio.get_running_loop().call_soon(self._uncork)
                return True
            backlog = self._backlog = deque()
        if not force and len(backlog) + len(frames) > self.limit:
            return False
        backlog.extend(frames)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain(backlog))
        return True

    def _uncork(self) -> None:
        """The next pass: write what was gathered since the last write, if anything (and
        gather again after it). Frames accepted while gathering are never refused now: a
        socket that has fallen behind meanwhile gets them in its backlog, and the next
        ``send`` answers False if that is over the limit."""
        corked, self._corked = self._corked, None
        if corked and not self.closing:
            self._write(corked, force=True)

    async def _drain(self, backlog: deque[Frame]) -> None:
        try:
            while backlog and not self.closing:
                # send_frame writes before it first yields: no direct write can overtake.
                await self._ws.send_frame(backlog.popleft().data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            pass  # the connection is gone; the receive loop sees that and ends it
        finally:
            backlog.clear()
            self._backlog = None
            self._writer = None

    async def flush(self, within: float) -> None:
        """Wait up to ``within`` seconds for waiting frames (an error explaining a close)."""
        self._uncork()
        writer = self._writer
        if writer is not None:
            await asyncio.wait((writer,), timeout=within)

    def abort(self) -> None:
        """Cut the connection now, without a close handshake."""
        self._corked = None
        if self._writer is not None:
            self._writer.cancel()
        self._transport.abort()

    async def close(self, code: int, reason: str, within: float = CLOSE_TIMEOUT) -> None:
        """Close with ``code``: the handshake, or the connection cut if it takes longer than
        ``within`` seconds (a peer that does not read never answers our Close)."""
        self._uncork()  # what was gathered goes before the Close
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        try:
            if not self._ws.closed:
                async with asyncio.timeout(within):
                    await self._ws.close(code=code, message=reason.encode())
        except TimeoutError:
            pass
        finally:
            # A peer that stopped reading leaves bytes (our Close among them) in the buffer,
            # and transport.close() would wait for them forever.
            if not self._transport.is_closing() or self._transport.get_write_buffer_size():
                self._transport.abort()
