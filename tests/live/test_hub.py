"""The hub without sockets: entitlement, serialize-once fan-out, slow clients, resume."""

from __future__ import annotations

import json

from live.hub import PUBLIC, STAFF, Connection, Event, Hub, viewer_audience


def frames(conn: Connection) -> list[dict[str, object]]:
    out = []
    while not conn.queue.empty():
        out.append(json.loads(conn.queue.get_nowait()))
    return out


def snapshot() -> dict[str, object]:
    return {"questions": []}


async def test_events_reach_exactly_their_audience() -> None:
    hub = Hub()
    alice = Connection("viewer", "s", viewer_id="alice")
    bob = Connection("viewer", "s", viewer_id="bob")
    mod = Connection("staff", "s", user_id="m")
    for conn in (alice, bob, mod):
        hub.connect(conn, None, snapshot)
        frames(conn)
    hub.publish("s", [Event(PUBLIC, "question", {"n": 1}), Event(STAFF, "question", {"n": 2}),
                      Event(viewer_audience("alice"), "question", {"n": 3})])
    assert [f["n"] for f in frames(alice)] == [1, 3]
    assert [f["n"] for f in frames(bob)] == [1]
    assert [f["n"] for f in frames(mod)] == [2]


async def test_each_event_is_serialized_once_and_shared() -> None:
    hub = Hub()
    conns = [Connection("viewer", "s", viewer_id=f"v{i}") for i in range(50)]
    for conn in conns:
        hub.connect(conn, None, snapshot)
        frames(conn)
    hub.publish("s", [Event(PUBLIC, "session", {"x": 1})])
    sent = [conn.queue.get_nowait() for conn in conns]
    assert all(frame is sent[0] for frame in sent)  # the same str object, not 50 copies


async def test_a_full_queue_drops_only_that_connection() -> None:
    hub = Hub(queue_size=4)
    slow = Connection("viewer", "s", viewer_id="slow", queue_size=4)
    fast = Connection("viewer", "s", viewer_id="fast", queue_size=4)
    reasons: list[str] = []
    slow.on_drop = reasons.append
    hub.connect(slow, None, snapshot)
    hub.connect(fast, None, snapshot)
    frames(fast)
    for i in range(5):
        hub.publish("s", [Event(PUBLIC, "tick", {"i": i})])
        frames(fast)  # the fast client keeps up
    assert slow.dropped == "slow_consumer" and reasons == ["slow_consumer"]
    assert not fast.dropped


async def test_resume_replays_exactly_what_was_missed() -> None:
    hub = Hub()
    first = Connection("viewer", "s", viewer_id="alice")
    hub.connect(first, None, snapshot)
    hello = frames(first)[0]
    cursor = str(hello["cursor"])
    hub.disconnect(first)
    hub.publish("s", [Event(PUBLIC, "q", {"n": 1}), Event(STAFF, "q", {"n": 2}),
                      Event(viewer_audience("bob"), "q", {"n": 3}),
                      Event(viewer_audience("alice"), "q", {"n": 4})])
    again = Connection("viewer", "s", viewer_id="alice")
    assert hub.connect(again, cursor, snapshot) == "replay"
    got = frames(again)
    assert got[0]["type"] == "hello" and got[0]["resume"] == "replay"
    assert [(f["seq"], f["n"]) for f in got[1:]] == [(1, 1), (4, 4)]


async def test_resume_falls_back_to_a_snapshot() -> None:
    hub = Hub(buffer_size=3)
    conn = Connection("viewer", "s", viewer_id="a")
    hub.connect(conn, None, snapshot)
    epoch = frames(conn)[0]["epoch"]
    hub.disconnect(conn)
    for i in range(5):
        hub.publish("s", [Event(PUBLIC, "q", {"n": i})])
    cases = [f"{epoch}:0", f"other:{5}", f"{epoch}:99", "garbage"]
    for since in cases:
        c = Connection("viewer", "s", viewer_id="a")
        assert hub.connect(c, since, snapshot) == "snapshot", since
        got = frames(c)
        assert got[0]["resume"] == "snapshot" and got[1]["type"] == "snapshot"
        assert got[1]["seq"] == 5
        hub.disconnect(c)
    up_to_date = Connection("viewer", "s", viewer_id="a")
    assert hub.connect(up_to_date, f"{epoch}:5", snapshot) == "replay"
    assert len(frames(up_to_date)) == 1


async def test_drop_user_and_login_close_only_those_sockets() -> None:
    hub = Hub()
    a1 = Connection("staff", "s1", user_id="a", login_id="la1")
    a2 = Connection("staff", "s2", user_id="a", login_id="la2")
    b = Connection("staff", "s1", user_id="b", login_id="lb")
    for conn in (a1, a2, b):
        hub.connect(conn, None, snapshot)
    hub.drop_login("la1", "logged_out")
    assert (a1.dropped, a2.dropped, b.dropped) == ("logged_out", "", "")
    assert hub.drop_user("a", "logged_out") == 2
    assert a2.dropped == "logged_out" and not b.dropped


def test_ws_frame_encodes_each_length_form() -> None:
    from live.hub import ws_frame

    for size, header in ((5, b"\x81\x05"), (200, b"\x81\x7e\x00\xc8"),
                         (70_000, b"\x81\x7f" + (70_000).to_bytes(8, "big"))):
        frame = ws_frame("x" * size)
        assert frame.startswith(header) and frame.endswith(b"x" * size)
        assert len(frame) == len(header) + size
    assert ws_frame("驾照") == b"\x81\x06" + "驾照".encode()


async def test_direct_writes_keep_order_and_fall_back_to_the_queue() -> None:
    hub = Hub()
    written: list[bytes] = []
    accept = [True]

    def write(data: bytes) -> bool:
        if accept[0]:
            written.append(data)
        return accept[0]

    conn = Connection("viewer", "s", viewer_id="v")
    hub.connect(conn, None, snapshot)
    conn.write = write
    # Queue not empty (hello, snapshot waiting): frames must queue behind them.
    hub.publish("s", [Event(PUBLIC, "a", {}), Event(PUBLIC, "b", {})])
    assert written == [] and [f["kind"] for f in frames(conn)[2:]] == ["a", "b"]
    # Queue empty: one write carries both frames, in order.
    hub.publish("s", [Event(PUBLIC, "c", {}), Event(PUBLIC, "d", {})])
    assert len(written) == 1 and written[0].index(b'"c"') < written[0].index(b'"d"')
    # The socket cannot take it now (busy or backed up): the queue does.
    accept[0] = False
    hub.publish("s", [Event(PUBLIC, "e", {})])
    assert [f["kind"] for f in frames(conn)] == ["e"]
