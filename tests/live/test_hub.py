"""The hub without sockets: entitlement, serialize-once fan-out, slow clients, resume."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from live.events import (
    PUBLIC,
    QUESTION,
    SESSION,
    STAFF,
    Event,
    UnknownEvent,
    viewer_audience,
)
from live.hub import Connection, Frame, Hub, NoHistory, Numbered, numbered


class Outlet:
    """A socket stand-in: keeps what it is sent, and can take at most ``room`` frames."""

    def __init__(self, room: int = 1000) -> None:
        self.room = room
        self.frames: list[Frame] = []
        self.batches = 0

    def send(self, frames: Sequence[Frame]) -> bool:
        if len(self.frames) + len(frames) > self.room:
            return False
        self.frames.extend(frames)
        self.batches += 1
        return True

    def take(self) -> list[dict[str, Any]]:
        out = [f.body() for f in self.frames]
        self.frames.clear()
        return out


async def connect(hub: Hub, kind: str = "viewer", since: str | None = None, room: int = 1000,
                  **ids: str) -> tuple[Connection, Outlet]:
    outlet = Outlet(room)
    conn = Connection(kind, "s", outlet, **ids)
    await hub.attach(conn, since, snapshot)
    return conn, outlet


def publish(hub: Hub, events: Sequence[Event], session_id: str = "s") -> None:
    """Number ``events`` after the channel's last and deliver them (as a broker would)."""
    assert isinstance(hub.history, NoHistory)
    channel = hub.channels[session_id]
    hub.deliver(session_id, hub.history.epoch, [
        numbered(channel.seq + i + 1, e.audience, e.kind, e.data) for i, e in enumerate(events)])


def snapshot() -> dict[str, object]:
    return {"questions": []}


def question(n: int, audience: str = PUBLIC) -> Event:
    return Event(audience, QUESTION, {"question": {"n": n}})


async def test_events_reach_exactly_their_audience() -> None:
    hub = Hub()
    _, alice = await connect(hub, viewer_id="alice")
    _, bob = await connect(hub, viewer_id="bob")
    _, mod = await connect(hub, "staff", user_id="m")
    for outlet in (alice, bob, mod):
        outlet.take()
    publish(hub, [question(1), question(2, STAFF), question(3, viewer_audience("alice"))])
    assert [f["question"]["n"] for f in alice.take()] == [1, 3]
    assert [f["question"]["n"] for f in bob.take()] == [1]
    assert [f["question"]["n"] for f in mod.take()] == [2]


async def test_each_event_is_serialized_once_and_shared() -> None:
    hub = Hub()
    outlets = [(await connect(hub, viewer_id=f"v{i}"))[1] for i in range(50)]
    for outlet in outlets:
        outlet.frames.clear()
    publish(hub, [Event(PUBLIC, SESSION, {"session": {"x": 1}}), question(1)])
    first = outlets[0].frames
    assert len(first) == 2
    for outlet in outlets:  # the same Frame objects, not 50 copies, in one batch each
        assert all(a is b for a, b in zip(outlet.frames, first, strict=True))
        assert outlet.batches == 2  # the first frames, then one for both events


async def test_a_connection_that_cannot_keep_up_is_dropped_alone() -> None:
    hub = Hub(queue_size=4)
    slow, slow_outlet = await connect(hub, viewer_id="slow", room=4)
    fast, fast_outlet = await connect(hub, viewer_id="fast")
    reasons: list[str] = []
    slow.on_drop = reasons.append
    for i in range(5):
        publish(hub, [question(i)])
        fast_outlet.take()  # the fast client keeps up
    assert slow.dropped == "slow_consumer" and reasons == ["slow_consumer"]
    assert len(slow_outlet.frames) == 4 and not fast.dropped
    publish(hub, [question(9)])
    assert len(slow_outlet.frames) == 4  # nothing more is offered to a dropped connection


async def test_resume_replays_exactly_what_was_missed() -> None:
    hub = Hub()
    first, outlet = await connect(hub, viewer_id="alice")
    cursor = str(outlet.take()[0]["cursor"])
    hub.disconnect(first)
    publish(hub, [question(1), question(2, STAFF), question(3, viewer_audience("bob")),
                      question(4, viewer_audience("alice"))])
    outlet = Outlet()
    again = Connection("viewer", "s", outlet, viewer_id="alice")
    assert await hub.attach(again, cursor, snapshot) == "replay"
    got = outlet.take()
    assert got[0]["type"] == "hello" and got[0]["resume"] == "replay"
    assert [(f["seq"], f["question"]["n"]) for f in got[1:]] == [(1, 1), (4, 4)]


async def test_resume_falls_back_to_a_snapshot() -> None:
    hub = Hub(buffer_size=3)
    conn, outlet = await connect(hub, viewer_id="a")
    epoch = outlet.take()[0]["epoch"]
    hub.disconnect(conn)
    for i in range(5):
        publish(hub, [question(i)])
    for since in [f"{epoch}:0", f"other:{5}", f"{epoch}:99", "garbage"]:
        c, o = await connect(hub, since=since, viewer_id="a")
        got = o.take()
        assert got[0]["resume"] == "snapshot" and got[1]["type"] == "snapshot", since
        assert got[1]["seq"] == 5
        hub.disconnect(c)
    _, up_to_date = await connect(hub, since=f"{epoch}:5", viewer_id="a")
    got = up_to_date.take()
    assert got[0]["resume"] == "replay" and len(got) == 1


async def test_a_replay_longer_than_the_send_queue_becomes_a_snapshot() -> None:
    hub = Hub(buffer_size=100, queue_size=8)
    conn, outlet = await connect(hub, viewer_id="a")
    epoch = outlet.take()[0]["epoch"]
    hub.disconnect(conn)
    publish(hub, [question(i) for i in range(7)])
    _, outlet = await connect(hub, since=f"{epoch}:0", viewer_id="a")
    assert outlet.take()[0]["resume"] == "snapshot"


async def test_drop_user_and_login_close_only_those_sockets() -> None:
    hub = Hub()
    a1, _ = await connect(hub, "staff", user_id="a", login_id="la1")
    a2 = Connection("staff", "s2", Outlet(), user_id="a", login_id="la2")
    await hub.attach(a2, None, snapshot)
    b, _ = await connect(hub, "staff", user_id="b", login_id="lb")
    hub.drop_login("la1", "logged_out")
    assert (a1.dropped, a2.dropped, b.dropped) == ("logged_out", "", "")
    assert hub.drop_user("a", "logged_out") == 2
    assert a2.dropped == "logged_out" and not b.dropped
    hub.drop_all("server_shutdown")
    assert b.dropped == "server_shutdown" and a1.dropped == "logged_out"


class Shared:
    """A broker's history shared by several hubs (another node's events included)."""

    def __init__(self) -> None:
        self.epoch = "e1"
        self.events: list[Numbered] = []
        self.reads = 0

    def add(self, n: int, audience: str = PUBLIC) -> list[Numbered]:
        new = [numbered(len(self.events) + i + 1, audience, QUESTION, {"question": {"n": i}})
               for i in range(n)]
        self.events.extend(new)
        return new

    async def position(self, session_id: str) -> tuple[str, int]:
        return self.epoch, len(self.events)

    async def history(self, session_id: str, after: int, upto: int) -> list[Numbered] | None:
        self.reads += 1
        return [e for e in self.events if after < e.seq <= upto]


async def test_duplicates_are_skipped_and_early_events_wait_for_the_gap() -> None:
    shared = Shared()
    hub = Hub(history=shared)
    _, outlet = await connect(hub, viewer_id="a")
    outlet.take()
    one, two, three, four = shared.add(4)
    hub.deliver("s", "e1", [one, one])
    hub.deliver("s", "e1", [three])  # two is still on its way
    assert [f["seq"] for f in outlet.take()] == [1]
    hub.deliver("s", "e1", [two, four, three])
    assert [f["seq"] for f in outlet.take()] == [2, 3, 4]
    assert shared.reads == 0


async def test_a_gap_that_does_not_fill_itself_is_fetched() -> None:
    shared = Shared()
    hub = Hub(history=shared)
    _, outlet = await connect(hub, viewer_id="a")
    outlet.take()
    events = shared.add(5)
    hub.deliver("s", "e1", events[3:])  # 1..3 never arrive (a lost message)
    assert outlet.take() == []
    for _ in range(100):
        await asyncio.sleep(0.01)
        if hub.channels["s"].seq == 5:
            break
    assert [f["seq"] for f in outlet.take()] == [1, 2, 3, 4, 5]


async def test_resume_on_another_node_from_the_broker_history() -> None:
    shared = Shared()
    first, second = Hub(history=shared, buffer_size=2), Hub(history=shared, buffer_size=2)
    conn, outlet = await connect(first, viewer_id="a")
    cursor = outlet.take()[0]["cursor"]
    first.disconnect(conn)
    for hub in (first, second):
        await hub.ready("s")
    events = shared.add(3) + shared.add(1, STAFF) + shared.add(2)
    for hub in (first, second):
        hub.deliver("s", "e1", events)
    # The second node's buffer holds only 5 and 6: 1..4 come from the history.
    _, outlet = await connect(second, since=cursor, viewer_id="a")
    got = outlet.take()
    assert got[0]["resume"] == "replay" and got[0]["cursor"] == "e1:6"
    assert [f["seq"] for f in got[1:]] == [1, 2, 3, 5, 6]
    # A cursor ahead of this node (it has not seen 7 yet) waits for it; one of another
    # epoch (the history was lost) gets a snapshot.
    shared.add(1)
    _, outlet = await connect(second, since="e1:7", viewer_id="a")
    got = outlet.take()
    assert (got[0]["resume"], got[0]["cursor"], got[1:]) == ("replay", "e1:7", [])
    _, outlet = await connect(second, since="e0:7", viewer_id="a")
    assert outlet.take()[0]["resume"] == "snapshot"


async def test_a_resume_the_history_can_only_partly_supply_gets_a_snapshot() -> None:
    shared = Shared()
    hub = Hub(history=shared, buffer_size=2)
    conn, outlet = await connect(hub, viewer_id="a")
    cursor = outlet.take()[0]["cursor"]
    hub.disconnect(conn)
    await hub.ready("s")
    hub.deliver("s", "e1", shared.add(6))
    # The history holds 1 and 2 and has lost 3 and 4 (a stream trimmed, a store trimmed):
    # a replay of 1, 2, then the buffer's 5, 6 would skip two events without a word.
    kept = shared.events
    shared.events = kept[:2]
    _, outlet = await connect(hub, since=cursor, viewer_id="a")
    got = outlet.take()
    assert got[0]["resume"] == "snapshot" and got[1]["type"] == "snapshot"
    shared.events = kept
    _, outlet = await connect(hub, since=cursor, viewer_id="a")
    assert [f["seq"] for f in outlet.take()[1:]] == [1, 2, 3, 4, 5, 6]


def test_a_frame_with_a_lone_surrogate_is_still_sendable() -> None:
    frame = Frame({"text": "a\ud800b"})
    assert frame.data.decode("utf-8") == '{"text":"a?b"}'


def test_events_are_checked_against_the_vocabulary() -> None:
    with pytest.raises(UnknownEvent):
        Event(PUBLIC, "questoin", {"question": {}})
    with pytest.raises(UnknownEvent):
        Event(PUBLIC, "restriction", {"restriction": {}})  # staff only
    with pytest.raises(UnknownEvent):
        Event(STAFF, QUESTION, {"question": {}, "extra": 1})
    assert Event(viewer_audience("v"), QUESTION, {"question": {}}).kind == QUESTION
