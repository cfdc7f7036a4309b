"""What the hub hands around: a serialized ``Frame``, a ``Numbered`` event, and the
``Connection`` of one websocket with its ``Outlet`` (the socket layer's side, ``web.wsframes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from live.events import PUBLIC, STAFF, viewer_audience
from store.jsontext import dumps_utf8


class Frame:
    """One server message, serialized once and shared by every connection it goes to."""

    __slots__ = ("data", "wire")

    def __init__(self, body: Mapping[str, Any]) -> None:
        # A lone surrogate cannot be sent as UTF-8. Parsing refuses them at the edge; one that
        # slips in some other way becomes "?" rather than an unsendable frame.
        self.data: bytes = dumps_utf8(body)
        # The socket layer's encoding of this frame (web.wsframes), made once on first use.
        self.wire: bytes | None = None

    @classmethod
    def raw(cls, data: bytes) -> Frame:
        """A frame already serialized (an event as another node serialized it)."""
        frame = cls.__new__(cls)
        frame.data = data
        frame.wire = None
        return frame

    def body(self) -> Any:
        """The frame decoded again (for tests and logs)."""
        return json.loads(self.data)


@dataclass(eq=False, slots=True)
class Numbered:
    """One event with its sequence number, serialized once: the frame is
    ``{"type": "event", "seq": ..., "kind": ..., **fields}``."""

    seq: int
    audience: str
    frame: Frame


def numbered(seq: int, audience: str, kind: str, data: Mapping[str, Any]) -> Numbered:
    return Numbered(seq, audience, Frame({"type": "event", "seq": seq, "kind": kind, **data}))


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
