"""The hub: who is connected to which broadcast on this node, fan-out, and resume.

Events arrive already numbered: the store gives each broadcast's events consecutive sequence
numbers inside the transaction that commits them (``live.eventlog``), and the node's broker
(``live.broker``) hands them here, from this process or, through Redis, from any node. Each
broadcast has a ``Channel`` that delivers them in sequence order, exactly once: an event it
already has is skipped, one that arrives ahead of a missing one waits while the gap is
fetched from the broker's history (and the store behind it). Every event is serialized once
into a ``Frame``, kept in a bounded replay buffer and offered to the connections entitled to
it: the public (every viewer), the staff, or one viewer (the asker). Offering never waits: a
connection's ``Outlet`` writes at once or keeps a bounded backlog, and a connection that
falls too far behind is dropped rather than allowed to slow everyone else down.

A client reconnects, to this node or any other, with the cursor ``EPOCH:SEQ`` it last saw.
It gets exactly what it missed, in order — from the channel's buffer, else from the broker's
history — or, when neither reaches back that far or the epoch is another (the history was
lost), a fresh snapshot; the hello frame tells it which.

This module knows nothing about aiohttp, websocket framing or Redis: ``web.wsframes``
implements the outlets, ``web.ws`` owns the sockets, ``live.broker`` the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from live.events import PUBLIC, STAFF, viewer_of
from live.frames import Connection, Frame, Numbered, Outlet, numbered

__all__ = ["Channel", "Connection", "Frame", "History", "Hub", "NoHistory", "Numbered",
           "Outlet", "Unavailable", "numbered", "parse_cursor"]

log = logging.getLogger(__name__)

# A gap waits this long for the missing event to arrive by itself (a publish racing
# another) before the channel fetches it.
GAP_GRACE_SECONDS = 0.05


class History(Protocol):
    """Where a channel starts from and fetches what it missed (the node's broker)."""

    async def position(self, session_id: str) -> tuple[str, int]:
        """The broadcast's epoch and the last sequence number committed for it."""
        ...

    async def history(self, session_id: str, after: int, upto: int) -> list[Numbered] | None:
        """The events ``after`` < seq <= ``upto`` in order, without a hole: all of them, or
        the run that follows ``after`` when the rest cannot be had (a caller checks what it
        got), or None when not even the first can be had."""
        ...


class NoHistory:
    """One process without a store behind it (tests): a new epoch, nothing to fetch."""

    def __init__(self) -> None:
        self.epoch = secrets.token_hex(4)

    async def position(self, session_id: str) -> tuple[str, int]:
        return self.epoch, 0

    async def history(self, session_id: str, after: int, upto: int) -> list[Numbered] | None:
        return None


def parse_cursor(since: str | None) -> tuple[str, int] | None:
    epoch, _, seq_text = (since or "").partition(":")
    if not epoch or not seq_text.isdigit() or len(seq_text) > 18:
        return None
    return epoch, int(seq_text)


class Unavailable(Exception):
    """A broadcast's channel cannot start: the broker or the store is unreachable."""


class Channel:
    """The connections and the numbered event stream of one broadcast on this node."""

    def __init__(self, session_id: str, buffer_size: int, epoch: str, seq: int) -> None:
        self.session_id = session_id
        self.epoch = epoch
        self.seq = seq  # the last event delivered, in order
        self.buffer: deque[Numbered] = deque(maxlen=buffer_size)
        self.ahead: dict[int, Numbered] = {}  # arrived before an event still missing
        self.filling: asyncio.Task[None] | None = None
        self.viewers: dict[str, set[Connection]] = {}
        self.public: set[Connection] = set()
        self.staff: set[Connection] = set()

    def cursor(self) -> str:
        return f"{self.epoch}:{self.seq}"

    def deliver(self, events: Iterable[Numbered],
                listeners: Sequence[Callable[[str, Numbered], None]] = ()) -> None:
        """Take events in sequence order: an old one is skipped, one ahead of a gap waits.
        Every connection gets its share of what could be delivered in one batch (one write
        for a socket that keeps up)."""
        per: dict[Connection, list[Frame]] = {}
        for event in events:
            if event.seq <= self.seq:
                continue
            if event.seq != self.seq + 1:
                self.ahead[event.seq] = event
                continue
            self._take(event, per, listeners)
            while self.ahead:
                nxt = self.ahead.pop(self.seq + 1, None)
                if nxt is None:
                    break
                self._take(nxt, per, listeners)
        for conn, frames in per.items():
            conn.offer(frames)

    def _take(self, event: Numbered, per: dict[Connection, list[Frame]],
              listeners: Sequence[Callable[[str, Numbered], None]]) -> None:
        self.seq = event.seq
        self.buffer.append(event)
        for listener in listeners:
            try:
                listener(self.session_id, event)
            except Exception:
                log.exception("hub listener %r failed on event %s", listener, event.seq)
        frame = event.frame
        for conn in self._targets(event.audience):
            found = per.get(conn)
            if found is None:
                per[conn] = [frame]
            else:
                found.append(frame)

    def _targets(self, audience: str) -> Iterable[Connection]:
        if audience == PUBLIC:
            return tuple(self.public)
        if audience == STAFF:
            return tuple(self.staff)
        return tuple(self.viewers.get(viewer_of(audience), ()))

    def gap(self) -> int:
        """The last sequence number missing before the events waiting, or 0."""
        return min(self.ahead) - 1 if self.ahead else 0

    def missed(self, conn: Connection, seq: int) -> list[Frame] | None:
        """The frames ``conn`` is entitled to after ``seq``, or None when the buffer no
        longer reaches back that far (or ``seq`` is ahead of this channel)."""
        if seq > self.seq:
            return None
        oldest = self.buffer[0].seq if self.buffer else self.seq + 1
        if seq + 1 < oldest:
            return None
        return [e.frame for e in self.buffer if e.seq > seq and conn.entitled(e.audience)]

    def connections(self) -> tuple[Connection, ...]:
        return (*self.staff, *self.public)

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
    def __init__(self, *, buffer_size: int = 1000, queue_size: int = 256,
                 history: History | None = None) -> None:
        self.buffer_size = buffer_size
        self.queue_size = queue_size
        self.history: History = history or NoHistory()
        # How far back a resume or a catch-up reads the history (the stream holds about
        # ``buffer_size`` events; the store more).
        self.reach = max(buffer_size, 1000)
        self.channels: dict[str, Channel] = {}
        # Told of every event this node delivers, in order, before any socket is offered it.
        self.listeners: list[Callable[[str, Numbered], None]] = []
        self._opening: dict[str, list[tuple[str, Sequence[Numbered]]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- delivery (the broker calls these) ------------------------------------------------

    def deliver(self, session_id: str, epoch: str, events: Sequence[Numbered]) -> None:
        """Numbered events of ``epoch`` for a broadcast, in any order, possibly repeated.
        A broadcast nobody on this node follows is skipped (its channel starts from the
        broker's position when its first socket arrives)."""
        channel = self.channels.get(session_id)
        if channel is None:
            opening = self._opening.get(session_id)
            if opening is not None:
                opening.append((epoch, events))
            return
        if epoch != channel.epoch:
            # The broker's history was lost and begun again: cursors of the old epoch now
            # resume from a snapshot; the sequence numbers (the store's) go on.
            channel.epoch = epoch
        channel.deliver(events, self.listeners)
        if channel.ahead and channel.filling is None:
            channel.filling = self._spawn(self._fill(channel))

    def behind(self, session_id: str, epoch: str, last: int) -> None:
        """The broker's position for a broadcast (a periodic check): catch up if this node
        has missed the newest events."""
        channel = self.channels.get(session_id)
        if channel is None:
            return
        if epoch and epoch != channel.epoch:
            channel.epoch = epoch
        if last > channel.seq and channel.filling is None:
            channel.filling = self._spawn(self._fill(channel, last))

    async def _fill(self, channel: Channel, target: int = 0) -> None:
        try:
            if not target:
                await asyncio.sleep(GAP_GRACE_SECONDS)  # the missing one may be on its way
            while self.channels.get(channel.session_id) is channel:
                upto = max(channel.gap(), target)
                if upto <= channel.seq:
                    return
                if not await self.catch_up(channel, upto):
                    self._resync(channel, upto)
        except Exception:
            log.exception("filling a gap on %s failed", channel.session_id)
        finally:
            channel.filling = None

    async def catch_up(self, channel: Channel, upto: int) -> bool:
        """Fetch and deliver what this channel is missing up to ``upto``; False when the
        history cannot supply it."""
        after = channel.seq
        if upto <= after:
            return True
        got = await self.history.history(channel.session_id, after,
                                         min(upto, after + self.reach))
        if got is None:
            return False
        channel.deliver(got, self.listeners)
        return channel.seq > after

    def _resync(self, channel: Channel, upto: int) -> None:
        """Events up to ``upto`` cannot be had: the channel's connections start again (from
        a snapshot) and the channel goes on after them."""
        log.warning("events %d..%d of %s cannot be fetched; its %d sockets resync",
                    channel.seq + 1, upto, channel.session_id, len(channel.connections()))
        for conn in channel.connections():
            conn.drop("resync")
        channel.seq = upto
        channel.buffer.clear()
        channel.deliver((), self.listeners)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- connections ----------------------------------------------------------------------

    async def ready(self, session_id: str) -> Channel:
        """The broadcast's channel, started from the broker's position if new."""
        found = self.channels.get(session_id)
        if found is not None:
            return found
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            found = self.channels.get(session_id)
            if found is None:
                self._opening[session_id] = []
                try:
                    epoch, last = await self.history.position(session_id)
                except Exception as exc:
                    raise Unavailable(f"cannot start the channel of {session_id}: {exc}") \
                        from exc
                finally:
                    early = self._opening.pop(session_id)
                found = self.channels[session_id] = Channel(session_id, self.buffer_size,
                                                            epoch, last)
                for epoch_of, events in early:
                    self.deliver(session_id, epoch_of, events)
        self._locks.pop(session_id, None)
        return found

    async def attach(self, conn: Connection, since: str | None,
                     snapshot: Callable[[], dict[str, Any]]) -> str:
        """Attach ``conn`` and queue its first frames: a hello, then what it missed (from
        the buffer, else the broker's history) or a snapshot. The last step runs without
        awaiting, so no event can slip in between. Returns "replay" or "snapshot"."""
        channel = await self.ready(conn.session_id)
        replay: list[Frame] | None = None
        cursor = parse_cursor(since)
        if cursor is not None and cursor[0] == channel.epoch:
            epoch, seq = cursor
            if channel.seq < seq <= channel.seq + self.reach:
                # It saw more than this node has delivered yet.
                with contextlib.suppress(Exception):
                    await self.catch_up(channel, seq)
            replay = channel.missed(conn, seq)
            if replay is None and channel.seq - self.reach <= seq < channel.seq:
                upto = channel.seq
                try:
                    got = await self.history.history(conn.session_id, seq, upto)
                except Exception as exc:  # no history to be had: a snapshot will do
                    log.warning("history of %s unreadable: %s", conn.session_id, exc)
                    got = None
                tail = channel.missed(conn, upto)
                # Only a whole range replays: a history that has lost part of it (a trimmed
                # stream or store) would leave a hole before the tail.
                if (got is not None and len(got) == upto - seq and got[-1].seq == upto
                        and tail is not None and channel.epoch == epoch):
                    replay = [e.frame for e in got if conn.entitled(e.audience)] + tail
        return self._attach(conn, channel, replay, snapshot)

    def _attach(self, conn: Connection, channel: Channel, replay: list[Frame] | None,
                snapshot: Callable[[], dict[str, Any]]) -> str:
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
            for conn in channel.connections():
                conn.drop(reason)

    async def close(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        for task in tuple(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def counts(self, session_id: str) -> dict[str, int]:
        channel = self.channels.get(session_id)
        return channel.counts() if channel else {"viewers": 0, "staff": 0}
