"""The hub without sockets: entitlement, serialize-once fan-out, slow clients, resume."""

from __future__ import annotations

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
from live.hub import Connection, Frame, Hub


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


def connect(hub: Hub, kind: str = "viewer", since: str | None = None, room: int = 1000,
            **ids: str) -> tuple[Connection, Outlet]:
    outlet = Outlet(room)
    conn = Connection(kind, "s", outlet, **ids)
    hub.connect(conn, since, snapshot)
    return conn, outlet


def snapshot() -> dict[str, object]:
    return {"questions": []}


def question(n: int, audience: str = PUBLIC) -> Event:
    return Event(audience, QUESTION, {"question": {"n": n}})


async def test_events_reach_exactly_their_audience() -> None:
    hub = Hub()
    _, alice = connect(hub, viewer_id="alice")
    _, bob = connect(hub, viewer_id="bob")
    _, mod = connect(hub, "staff", user_id="m")
    for outlet in (alice, bob, mod):
        outlet.take()
    hub.publish("s", [question(1), question(2, STAFF), question(3, viewer_audience("alice"))])
    assert [f["question"]["n"] for f in alice.take()] == [1, 3]
    assert [f["question"]["n"] for f in bob.take()] == [1]
    assert [f["question"]["n"] for f in mod.take()] == [2]


async def test_each_event_is_serialized_once_and_shared() -> None:
    hub = Hub()
    outlets = [connect(hub, viewer_id=f"v{i}")[1] for i in range(50)]
    for outlet in outlets:
        outlet.frames.clear()
    hub.publish("s", [Event(PUBLIC, SESSION, {"session": {"x": 1}}), question(1)])
    first = outlets[0].frames
    assert len(first) == 2
    for outlet in outlets:  # the same Frame objects, not 50 copies, in one batch each
        assert all(a is b for a, b in zip(outlet.frames, first, strict=True))
        assert outlet.batches == 2  # the first frames, then one for both events


async def test_a_connection_that_cannot_keep_up_is_dropped_alone() -> None:
    hub = Hub(queue_size=4)
    slow, slow_outlet = connect(hub, viewer_id="slow", room=4)
    fast, fast_outlet = connect(hub, viewer_id="fast")
    reasons: list[str] = []
    slow.on_drop = reasons.append
    for i in range(5):
        hub.publish("s", [question(i)])
        fast_outlet.take()  # the fast client keeps up
    assert slow.dropped == "slow_consumer" and reasons == ["slow_consumer"]
    assert len(slow_outlet.frames) == 4 and not fast.dropped
    hub.publish("s", [question(9)])
    assert len(slow_outlet.frames) == 4  # nothing more is offered to a dropped connection


async def test_resume_replays_exactly_what_was_missed() -> None:
    hub = Hub()
    first, outlet = connect(hub, viewer_id="alice")
    cursor = str(outlet.take()[0]["cursor"])
    hub.disconnect(first)
    hub.publish("s", [question(1), question(2, STAFF), question(3, viewer_audience("bob")),
                      question(4, viewer_audience("alice"))])
    outlet = Outlet()
    again = Connection("viewer", "s", outlet, viewer_id="alice")
    assert hub.connect(again, cursor, snapshot) == "replay"
    got = outlet.take()
    assert got[0]["type"] == "hello" and got[0]["resume"] == "replay"
    assert [(f["seq"], f["question"]["n"]) for f in got[1:]] == [(1, 1), (4, 4)]


async def test_resume_falls_back_to_a_snapshot() -> None:
    hub = Hub(buffer_size=3)
    conn, outlet = connect(hub, viewer_id="a")
    epoch = outlet.take()[0]["epoch"]
    hub.disconnect(conn)
    for i in range(5):
        hub.publish("s", [question(i)])
    for since in [f"{epoch}:0", f"other:{5}", f"{epoch}:99", "garbage"]:
        c, o = connect(hub, since=since, viewer_id="a")
        got = o.take()
        assert got[0]["resume"] == "snapshot" and got[1]["type"] == "snapshot", since
        assert got[1]["seq"] == 5
        hub.disconnect(c)
    _, up_to_date = connect(hub, since=f"{epoch}:5", viewer_id="a")
    got = up_to_date.take()
    assert got[0]["resume"] == "replay" and len(got) == 1


async def test_a_replay_longer_than_the_send_queue_becomes_a_snapshot() -> None:
    hub = Hub(buffer_size=100, queue_size=8)
    conn, outlet = connect(hub, viewer_id="a")
    epoch = outlet.take()[0]["epoch"]
    hub.disconnect(conn)
    hub.publish("s", [question(i) for i in range(7)])
    _, outlet = connect(hub, since=f"{epoch}:0", viewer_id="a")
    assert outlet.take()[0]["resume"] == "snapshot"


async def test_drop_user_and_login_close_only_those_sockets() -> None:
    hub = Hub()
    a1, _ = connect(hub, "staff", user_id="a", login_id="la1")
    a2 = Connection("staff", "s2", Outlet(), user_id="a", login_id="la2")
    hub.connect(a2, None, snapshot)
    b, _ = connect(hub, "staff", user_id="b", login_id="lb")
    hub.drop_login("la1", "logged_out")
    assert (a1.dropped, a2.dropped, b.dropped) == ("logged_out", "", "")
    assert hub.drop_user("a", "logged_out") == 2
    assert a2.dropped == "logged_out" and not b.dropped
    hub.drop_all("server_shutdown")
    assert b.dropped == "server_shutdown" and a1.dropped == "logged_out"


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
