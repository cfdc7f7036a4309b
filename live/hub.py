"""The hub: who is connected to which broadcast, fan-out, and resume.

Each broadcast has a ``Channel`` with one sequence counter. Every event (``live.events``) is
numbered, serialized once into a ``Frame``, kept in a bounded replay buffer and offered to
the connections entitled to it: the public (every viewer), the staff, or one viewer (the
asker). Offering never waits: a connection's ``Outlet`` writes at once or keeps a bounded
backlog, and a connection that falls too far behind is dropped rather than allowed to slow
everyone else down. A dropped client reconnects with the last sequence number it saw; if the
buffer still reaches back that far it gets exactly what it missed, in order, else a fresh
snapshot — and the hello frame tells it which.

This module knows nothing about aiohttp or websocket framing: ``web.wsframes`` implements
the outlets and ``web.ws`` owns the sockets.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from live.events import PUBLIC, STAFF, Event, viewer_audience, viewer_of
from live.protocol import dumps


class Frame:
    """One server message, serialized once and shared by every connection it goes to."""

    __slots__ = ("data", "wire")

    def __init__(self, body: Mapping[str, Any]) -> None:
        # A lone surrogate cannot be sent as UTF-8. Parsing refuses them at the edge; one that
        # slips in some other way becomes "?" rather than an unsendable frame.
        self.data: bytes = dumps(body).encode("utf-8", "replace")
        # The socket layer's encoding of this frame (web.wsframes), made once on first use.
        self.wire: bytes | None = None

    def body(self) -> Any:
        """The frame decoded again (for tests and logs)."""
        return json.loads(self.data)


class Outlet(Protocol):
    """Where a connection's frames go; the socket layer implements it (web.wsframes)."""

    def send(self, frames: Sequence[Frame]) -> bool:
        """Write or queue ``frames``, in order, without waiting; False when the connection
        has fallen too far behind to take them (the hub then drops it)."""
        ...


@dataclass(eq=False, slots=True)
class Connection:
    """One websocket's place in the hub."""

    kind: str  # "viewer" or "staff"
    session_id: str
    outlet: Outlet
    viewer_id: str = ""
    user_id: str = ""
    login_id: str = ""
    dropped: str = ""
    on_drop: Callable[[str], None] | None = None

    @property
    def alive(self) -> bool:
        return not self.dropped

    def entitled(self, audience: str) -> bool:
        if self.kind == "staff":
            return audience == STAFF
        return audience == PUBLIC or audience == viewer_audience(self.viewer_id)

    def offer(self, frames: Sequence[Frame]) -> bool:
        """Hand frames to the socket without waiting; one that cannot keep up is dropped."""
        if self.dropped:
            return False
        if self.outlet.send(frames):
            return True
        self.drop("slow_consumer")
        return False

    def say(self, body: Mapping[str, Any]) -> bool:
        """Send one frame to this connection alone (an ack, an error)."""
        return self.offer((Frame(body),))

    def drop(self, reason: str) -> None:
        if self.dropped:
            return
        self.dropped = reason
        if self.on_drop is not None:
            self.on_drop(reason)


class Channel:
    """The connections and the numbered event stream of one broadcast."""

    def __init__(self, session_id: str, buffer_size: int) -> None:
        self.session_id = session_id
        # A new epoch per process: sequence numbers from before a restart never match.
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.buffer: deque[tuple[int, str, Frame]] = deque(maxlen=buffer_size)
        self.viewers: dict[str, set[Connection]] = {}
        self.public: set[Connection] = set()
        self.staff: set[Connection] = set()

    def cursor(self) -> str:
        return f"{self.epoch}:{self.seq}"

    def publish(self, events: Iterable[Event]) -> None:
        """Number and serialize each event once, then hand every connection its share in
        one batch (one write for a socket that keeps up)."""
        per: dict[Connection, list[Frame]] = {}
        for event in events:
            self.seq += 1
            frame = Frame({"type": "event", "seq": self.seq, "kind": event.kind, **event.data})
            self.buffer.append((self.seq, event.audience, frame))
            for conn in self._targets(event.audience):
                found = per.get(conn)
                if found is None:
                    per[conn] = [frame]
                else:
                    found.append(frame)
        for conn, frames in per.items():
            conn.offer(frames)

    def _targets(self, audience: str) -> Iterable[Connection]:
        if audience == PUBLIC:
            return tuple(self.public)
        if audience == STAFF:
            return tuple(self.staff)
        return tuple(self.viewers.get(viewer_of(audience), ()))

    def missed(self, conn: Connection, since: str) -> list[Frame] | None:
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
        self.channel(session_id).publish(events)

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
        first = [Frame({"type": "hello", "resume": mode, "cursor": channel.cursor(),
                        "epoch": channel.epoch})]
        if replay is None:
            first.append(Frame({"type": "snapshot", "seq": channel.seq, **snapshot()}))
        else:
            first.extend(replay)
        channel.add(conn)
        conn.offer(first)
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
