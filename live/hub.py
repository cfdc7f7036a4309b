"""The hub: who is connected to which broadcast, fan-out, and resume.

Each broadcast has a ``Channel`` with one sequence counter. Every event is serialized once,
numbered, kept in a bounded replay buffer and offered to the connections entitled to it:
the public (every viewer), the staff, or one viewer (the asker). Offering never waits: each
connection has a bounded send queue, drained by its own writer task, and a connection whose
queue is full is dropped rather than allowed to slow everyone else down. A dropped client
reconnects with the last sequence number it saw; if the buffer still reaches back that far
it gets exactly what it missed, in order, else a fresh snapshot — and the hello frame tells
it which.

This module knows nothing about aiohttp: ``web.ws`` owns the sockets and drains the queues.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from live.protocol import dumps

PUBLIC = "public"
STAFF = "staff"


def viewer_audience(viewer_id: str) -> str:
    return f"viewer:{viewer_id}"


@dataclass(frozen=True)
class Event:
    audience: str  # PUBLIC, STAFF or viewer_audience(id)
    kind: str
    data: dict[str, Any]


# How the services hand events to the hub: ``Hub.publish(session_id, events)``.
Publish = Callable[[str, Iterable[Event]], None]


@dataclass(eq=False)
class Connection:
    """One websocket's place in the hub. ``queue`` holds serialized frames to send."""

    kind: str  # "viewer" or "staff"
    session_id: str
    viewer_id: str = ""
    user_id: str = ""
    login_id: str = ""
    queue_size: int = 256
    queue: asyncio.Queue[str] = field(init=False)
    dropped: str = ""
    on_drop: Callable[[str], None] | None = None
    # Writes encoded frames straight to the socket when nothing is queued; False = cannot.
    write: Callable[[bytes], bool] | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_size)

    def entitled(self, audience: str) -> bool:
        if self.kind == "staff":
            return audience == STAFF
        return audience == PUBLIC or audience == viewer_audience(self.viewer_id)

    def offer(self, frame: str) -> bool:
        """Queue a frame without waiting; a full queue drops the connection."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.drop("slow_consumer")
            return False
        return True

    def offer_many(self, frames: list[tuple[str, bytes]]) -> None:
        if self.dropped:
            return
        if self.write is not None and self.queue.empty() and self.write(
                b"".join(wire for _, wire in frames)):
            return
        for text, _ in frames:
            if not self.offer(text):
                return

    def drop(self, reason: str) -> None:
        if self.dropped:
            return
        self.dropped = reason
        if self.on_drop is not None:
            self.on_drop(reason)


def ws_frame(text: str) -> bytes:
    """A server text frame (FIN, unmasked): the same bytes for every recipient."""
    data = text.encode()
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + data
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + data


class Channel:
    """The connections and the numbered event stream of one broadcast."""

    def __init__(self, session_id: str, buffer_size: int) -> None:
        self.session_id = session_id
        # A new epoch per process: sequence numbers from before a restart never match.
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.buffer: deque[tuple[int, str, str]] = deque(maxlen=buffer_size)
        self.viewers: dict[str, set[Connection]] = {}
        self.public: set[Connection] = set()
        self.staff: set[Connection] = set()

    def cursor(self) -> str:
        return f"{self.epoch}:{self.seq}"

    def publish(self, event: Event) -> int:
        self.seq += 1
        frame = dumps({"type": "event", "seq": self.seq, "kind": event.kind, **event.data})
        self.buffer.append((self.seq, event.audience, frame))
        for conn in self._targets(event.audience):
            conn.offer(frame)
        return self.seq

    def publish_many(self, events: list[Event]) -> None:
        per: dict[Connection, list[tuple[str, bytes]]] = {}
        for event in events:
            self.seq += 1
            frame = dumps({"type": "event", "seq": self.seq, "kind": event.kind, **event.data})
            self.buffer.append((self.seq, event.audience, frame))
            item = (frame, ws_frame(frame))
            for conn in self._targets(event.audience):
                found = per.get(conn)
                if found is None:
                    per[conn] = [item]
                else:
                    found.append(item)
        for conn, frames in per.items():
            conn.offer_many(frames)

    def _targets(self, audience: str) -> Iterable[Connection]:
        if audience == PUBLIC:
            return tuple(self.public)
        if audience == STAFF:
            return tuple(self.staff)
        return tuple(self.viewers.get(audience.removeprefix("viewer:"), ()))

    def missed(self, conn: Connection, since: str) -> list[str] | None:
        """The frames ``conn`` is entitled to after cursor ``since``, or None when the
        buffer no longer reaches back that far (or the cursor is from another epoch)."""
        epoch, _, seq_text = since.partition(":")
        if epoch != self.epoch or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if seq > self.seq:
            return None
        oldest = self.buffer[0][0] if self.buffer else self.seq + 1
        if seq + 1 < oldest:
            return None
        return [frame for s, audience, frame in self.buffer if s > seq and conn.entitled(audience)]

    def add(self, conn: Connection) -> None:
        if conn.kind == "staff":
            self.staff.add(conn)
        else:
            self.public.add(conn)
            self.viewers.setdefault(conn.viewer_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        self.staff.discard(conn)
        self.public.discard(conn)
        mine = self.viewers.get(conn.viewer_id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.viewers[conn.viewer_id]

    def counts(self) -> dict[str, int]:
        return {"viewers": len(self.public), "staff": len(self.staff)}


class Hub:
    def __init__(self, *, buffer_size: int = 1000, queue_size: int = 256) -> None:
        self.buffer_size = buffer_size
        self.queue_size = queue_size
        self.channels: dict[str, Channel] = {}

    def channel(self, session_id: str) -> Channel:
        found = self.channels.get(session_id)
        if found is None:
            found = self.channels[session_id] = Channel(session_id, self.buffer_size)
        return found

    def publish(self, session_id: str, events: Iterable[Event]) -> None:
        self.channel(session_id).publish_many(list(events))

    def connect(self, conn: Connection, since: str | None,
                snapshot: Callable[[], dict[str, Any]]) -> str:
        """Attach ``conn`` and queue its first frames: a hello, then what it missed or a
        snapshot. Runs without awaiting, so no event can slip in between. Returns
        "replay" or "snapshot"."""
        channel = self.channel(conn.session_id)
        replay = channel.missed(conn, since) if since else None
        if replay is not None and len(replay) > self.queue_size - 2:
            replay = None  # more than the send queue holds: a snapshot is smaller
        mode = "snapshot" if replay is None else "replay"
        conn.offer(dumps({"type": "hello", "resume": mode, "cursor": channel.cursor(),
                          "epoch": channel.epoch}))
        if replay is None:
            conn.offer(dumps({"type": "snapshot", "seq": channel.seq, **snapshot()}))
        else:
            for frame in replay:
                conn.offer(frame)
        channel.add(conn)
        return mode

    def disconnect(self, conn: Connection) -> None:
        channel = self.channels.get(conn.session_id)
        if channel is not None:
            channel.remove(conn)

    def drop_user(self, user_id: str, reason: str) -> int:
        """Close every staff socket of one account (logout, disabled, role changed)."""
        dropped = 0
        for channel in self.channels.values():
            for conn in tuple(channel.staff):
                if conn.user_id == user_id:
                    conn.drop(reason)
                    dropped += 1
        return dropped

    def drop_login(self, login_id: str, reason: str) -> None:
        """Close the staff sockets opened under one login (that device logged out)."""
        for channel in self.channels.values():
            for conn in tuple(channel.staff):
                if conn.login_id == login_id:
                    conn.drop(reason)

    def drop_all(self, reason: str) -> None:
        for channel in self.channels.values():
            for conn in (*channel.staff, *channel.public):
                conn.drop(reason)

    def counts(self, session_id: str) -> dict[str, int]:
        channel = self.channels.get(session_id)
        return channel.counts() if channel else {"viewers": 0, "staff": 0}
