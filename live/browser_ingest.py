"""Broadcasting from a phone's browser: where a phone's stream meets the recorder's ffmpeg.

A session whose source is ``browser:`` is recorded by an ffmpeg that reads its input from
stdin (``live.recorder_commands.source_input_args``). The phone's page (``web.phone_pages``)
records the camera and microphone with MediaRecorder and sends the chunks over an
authenticated websocket; the socket's handler hands them to this session's ``PhoneFeed``
(``push``), and the recorder's ffmpeg run reads them through ``PhoneFeed.stream()``, which
``live.ffmpeg.run_ffmpeg`` copies into ffmpeg's stdin.

One phone connection is one MediaRecorder stream is one ffmpeg run. A WebM stream cannot
be joined mid-way (its header, with the tracks, is in the first chunk only), so:

* a phone that connects while no ffmpeg is reading is buffered from its first chunk (up to
  ``max_buffer`` bytes) until the recorder's next run takes it;
* a phone that leaves (or is taken over) ends its stream: ffmpeg sees the end of its input,
  writes its last segment and exits; the recorder reports ``down`` (a gap opens) and starts a
  new ffmpeg, which waits for the phone's next connection and appends to the same playlist
  behind an ``EXT-X-DISCONTINUITY`` (hlsenc's ``append_list``);
* an ffmpeg run that ends while the phone is still sending (it stalled, it failed) cannot
  continue that stream: the phone is told to start afresh (``kick("restart")``), and its new
  MediaRecorder stream, header first, goes to the next run.

One sender at a time per session: a second connection is refused (``PhoneBusy``) unless it
asks to take over, which ends the first one's stream (``kick("taken_over")``).

Plain asyncio, no aiohttp: the web layer owns the sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

MAX_BUFFER_BYTES = 16 * 1024 * 1024  # ~50 s of a 2.5 Mbit/s phone while no ffmpeg reads


class PhoneBusy(Exception):
    """Another phone is already sending this session's picture."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"another phone is sending (staff {user_id})")
        self.user_id = user_id


@dataclass(eq=False)
class PhoneSender:
    """One phone connection: its chunks, in order, from the first."""

    user_id: str
    kick: Callable[[str], None]  # end the connection, with the reason
    started_at: float = field(default_factory=time.time)
    ended: str | None = None  # why it ended: disconnected, taken_over, restart, overloaded
    buffered: int = 0
    received: int = 0
    chunks: deque[bytes] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    streaming: bool = False  # an ffmpeg run is reading it

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
        self.ready.set()


class PhoneFeed:
    """One session's meeting point between the phone's socket and the recorder's ffmpeg."""

    def __init__(self, session_id: str, max_buffer: int = MAX_BUFFER_BYTES) -> None:
        self.session_id = session_id
        self.max_buffer = max_buffer
        self.current: PhoneSender | None = None
        self._attached = asyncio.Event()

    def attach(self, user_id: str, kick: Callable[[str], None], *,
               take_over: bool = False) -> PhoneSender:
        """A new phone connection; PhoneBusy when another is sending and ``take_over`` is
        not set (with it, the other one is ended and told why)."""
        current = self.current
        if current is not None and current.ended is None:
            if not take_over:
                raise PhoneBusy(current.user_id)
            self.end(current, "taken_over")
        sender = PhoneSender(user_id, kick)
        self.current = sender
        self._attached.set()
        return sender

    def push(self, sender: PhoneSender, chunk: bytes) -> bool:
        """Queue a chunk for ffmpeg; False when this sender has been ended (taken over,
        restarted, or over its buffer: its connection is being closed)."""
        if sender.ended is not None or sender is not self.current:
            return False
        if sender.buffered + len(chunk) > self.max_buffer:
            self.end(sender, "overloaded")
            return False
        sender.chunks.append(chunk)
        sender.buffered += len(chunk)
        sender.received += len(chunk)
        sender.ready.set()
        return True

    def detach(self, sender: PhoneSender, reason: str = "disconnected") -> None:
        """The connection has closed: its stream ends (ffmpeg gets the end of input)."""
        sender.end(reason)
        if self.current is sender:
            self.current = None

    def end(self, sender: PhoneSender, reason: str) -> None:
        """End ``sender``'s stream and close its connection, telling it ``reason``."""
        self.detach(sender, reason)
        sender.kick(reason)

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """One ffmpeg run's input: the current (else the next) phone's chunks, from its first,
        until it leaves."""
        while self.current is None or self.current.ended is not None:
            self._attached.clear()
            await self._attached.wait()
        sender = self.current
        sender.streaming = True
        try:
            while True:
                if sender.chunks:
                    chunk = sender.chunks.popleft()
                    sender.buffered -= len(chunk)
                    yield chunk
                elif sender.ended is not None:
                    return
                else:
                    sender.ready.clear()
                    await sender.ready.wait()
        finally:
            sender.streaming = False
            if sender.ended is None:
                # The run ended under a phone that is still sending: its stream cannot be
                # resumed mid-way, so the phone starts a new one for the next run.
                self.end(sender, "restart")


class PhoneFeeds:
    """The feeds of every session, made on first use (one per session, a few bytes each)."""

    def __init__(self, max_buffer: int = MAX_BUFFER_BYTES) -> None:
        self.max_buffer = max_buffer
        self._feeds: dict[str, PhoneFeed] = {}

    def feed(self, session_id: str) -> PhoneFeed:
        found = self._feeds.get(session_id)
        if found is None:
            found = self._feeds[session_id] = PhoneFeed(session_id, self.max_buffer)
        return found

    def end(self, session_id: str, reason: str = "ended") -> None:
        """End the phone's stream (the session ended): ffmpeg gets the end of its input and
        finishes its last segment; the phone is told why."""
        found = self._feeds.get(session_id)
        if found is not None and found.current is not None:
            found.end(found.current, reason)

    def sender(self, session_id: str) -> PhoneSender | None:
        """The phone sending this session's picture now, if any."""
        found = self._feeds.get(session_id)
        return None if found is None or found.current is None else found.current


@dataclass
class ByteBudget:
    """A token bucket on bytes and on messages: what one phone may send. ``take`` is False
    once the phone sends faster than ``bytes_per_second`` (or ``messages_per_second``) on
    average over the bucket's ``burst_seconds``."""

    bytes_per_second: float
    messages_per_second: float
    burst_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _bytes: float = -1.0
    _messages: float = -1.0
    _at: float = 0.0

    def take(self, size: int) -> bool:
        now = self.clock()
        if self._bytes < 0:
            self._bytes = self.bytes_per_second * self.burst_seconds
            self._messages = self.messages_per_second * self.burst_seconds
            self._at = now
        elapsed = max(0.0, now - self._at)
        self._at = now
        self._bytes = min(self.bytes_per_second * self.burst_seconds,
                          self._bytes + elapsed * self.bytes_per_second) - size
        self._messages = min(self.messages_per_second * self.burst_seconds,
                             self._messages + elapsed * self.messages_per_second) - 1
        return self._bytes >= 0 and self._messages >= 0
