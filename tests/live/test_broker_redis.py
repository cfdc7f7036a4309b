"""The Redis publish script and the node's subscriber, on a real redis-server: idempotent,
in order (a seq ahead of its predecessor waits), the stream capped, the epoch made when
absent and new after Redis lost its data; the hub's channels fill gaps from the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from live.events import PUBLIC, STAFF
from live.frames import Connection, Frame, Numbered
from live.hub import Hub, numbered
from live.redis_broker import RedisBroker, keys_of, parse_message
from live.redis_link import Redis, open_redis
from tests.support import until


class Rows:
    """Events "committed" in a store: what the broker falls back to (``EventStore``)."""

    def __init__(self) -> None:
        self.events: dict[str, list[Numbered]] = {}

    def commit(self, session_id: str, n: int, audience: str = PUBLIC) -> list[Numbered]:
        mine = self.events.setdefault(session_id, [])
        new = [event(len(mine) + i + 1, audience) for i in range(n)]
        mine.extend(new)
        return new

    async def events_since(self, session_id: str, after_seq: int, limit: int) -> list[Any]:
        return [Row(e) for e in self.events.get(session_id, []) if e.seq > after_seq][:limit]

    async def last_event_seq(self, session_id: str) -> int:
        return len(self.events.get(session_id, []))


class Row:
    def __init__(self, e: Numbered) -> None:
        body = e.frame.body()
        self.seq = e.seq
        self.audience = e.audience
        self.kind = body.pop("kind")
        self.data = {k: v for k, v in body.items() if k not in ("type", "seq")}


def event(seq: int, audience: str = PUBLIC) -> Numbered:
    return numbered(seq, audience, "session", {"session": {"n": seq}})


class Outlet:
    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def send(self, frames: Sequence[Frame]) -> bool:
        self.frames.extend(frames)
        return True

    def seqs(self) -> list[int]:
        return [f.body()["seq"] for f in self.frames if f.body()["type"] == "event"]


@pytest.fixture
async def redis(redis_server: Any) -> AsyncIterator[Redis]:
    client = open_redis(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def stream_ids(redis: Redis, session_id: str) -> list[int]:
    rows = await redis.xrange(keys_of(session_id)[1])
    return [int(entry_id.decode().split("-")[0]) for entry_id, _ in rows]


async def test_publish_is_idempotent_and_numbered_by_seq(redis: Redis) -> None:
    broker = RedisBroker(redis, Hub(), Rows())
    epoch, last, waiting = await broker.append("s", [event(1), event(2)])
    assert (last, waiting) == (2, 0) and epoch
    again = await broker.append("s", [event(1), event(2)])  # a relay repeating them
    assert again == (epoch, 2, 0)
    assert await stream_ids(redis, "s") == [1, 2]
    rows = await redis.xrange(keys_of("s")[1])
    assert rows[0][1][b"a"] == b"public"
    assert Frame.raw(rows[0][1][b"f"]).body() == {"type": "event", "seq": 1, "kind": "session",
                                                 "session": {"n": 1}}


async def test_a_seq_ahead_waits_for_its_predecessor(redis: Redis) -> None:
    broker = RedisBroker(redis, Hub(), Rows())
    pubsub = redis.pubsub()
    await pubsub.subscribe("tp:ev:s")
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    await broker.append("s", [event(1)])
    assert (await broker.append("s", [event(4)]))[1:] == (1, 1)
    assert (await broker.append("s", [event(3)]))[1:] == (1, 2)
    assert await stream_ids(redis, "s") == [1]
    _, last, waiting = await broker.append("s", [event(2)])
    assert (last, waiting) == (4, 0)
    assert await stream_ids(redis, "s") == [1, 2, 3, 4]
    bodies = []
    for _ in range(2):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message is not None
        bodies.append(parse_message(message["data"]))
    assert [[e.seq for e in events] for _, events in bodies] == [[1], [2, 3, 4]]
    assert bodies[1][1][1].frame.body()["session"] == {"n": 3}
    assert await redis.exists(keys_of("s")[2]) == 0  # nothing left waiting
    await pubsub.aclose()


async def test_the_stream_is_capped(redis: Redis) -> None:
    broker = RedisBroker(redis, Hub(), Rows(), stream_max=10)
    for seq in range(1, 501):
        await broker.append("s", [event(seq)])
    ids = await stream_ids(redis, "s")
    assert ids[-1] == 500 and 10 <= len(ids) < 200


async def test_a_redis_that_lost_its_data_gives_a_new_epoch(redis_server: Any) -> None:
    redis = open_redis(redis_server.url)
    try:
        broker = RedisBroker(redis, Hub(), Rows())
        first, _, _ = await broker.append("s", [event(1), event(2)])
        redis_server.restart(keep_data=True)
        kept, last, _ = await broker.append("s", [event(3)])
        assert (kept, last) == (first, 3)
        redis_server.restart(keep_data=False)
        fresh, last, waiting = await broker.append("s", [event(5), event(4)])
        assert fresh != first and (last, waiting) == (5, 0)
        assert await stream_ids(redis, "s") == [4, 5]
    finally:
        await redis.aclose()


async def two_nodes(redis: Redis, rows: Rows) -> tuple[list[Hub], list[RedisBroker]]:
    hubs, brokers = [], []
    for _ in range(2):
        hub = Hub()
        broker = RedisBroker(redis, hub, rows)
        hub.history = broker
        await broker.start()
        await asyncio.wait_for(broker.subscribed.wait(), 5)
        hubs.append(hub)
        brokers.append(broker)
    return hubs, brokers


async def test_events_reach_every_node_in_order_and_gaps_are_fetched(redis: Redis) -> None:
    rows = Rows()
    rows.commit("s", 2)
    hubs, brokers = await two_nodes(redis, rows)
    try:
        outlets = []
        for hub in hubs:
            outlet = Outlet()
            await hub.attach(Connection("viewer", "s", outlet, viewer_id="v"), None,
                             lambda: {"questions": []})
            outlets.append(outlet)
        assert [o.frames[1].body()["seq"] for o in outlets] == [2, 2]  # the snapshot's
        brokers[0].publish("s", rows.commit("s", 3))
        await until(lambda: all(o.seqs() == [3, 4, 5] for o in outlets), "delivery")
        # Node 0 commits 6 and 7 but its publish of 6 is lost; 7 waits in Redis until the
        # broker fills 6 from the store; every node delivers 6 then 7.
        _, seven = rows.commit("s", 2)
        brokers[1].publish("s", [seven])
        await until(lambda: all(o.seqs() == [3, 4, 5, 6, 7] for o in outlets), "delivery")
        # A staff event does not reach the viewer, but counts in the sequence.
        brokers[1].publish("s", rows.commit("s", 1, STAFF) + rows.commit("s", 1))
        await until(lambda: all(o.seqs()[-1] == 9 for o in outlets), "delivery")
        assert all(o.seqs() == [3, 4, 5, 6, 7, 9] for o in outlets)
    finally:
        for broker in brokers:
            await broker.close()
        for hub in hubs:
            await hub.close()


async def test_a_lost_last_message_is_caught_by_the_position_check(redis: Redis) -> None:
    rows = Rows()
    hubs, brokers = await two_nodes(redis, rows)
    try:
        outlet = Outlet()
        await hubs[1].attach(Connection("viewer", "s", outlet, viewer_id="v"), None, dict)
        # Appended to the stream while node 1 was not listening: no message reaches it.
        await brokers[0].close()
        await brokers[1].close()
        await brokers[0].append("s", rows.commit("s", 2))
        assert outlet.seqs() == []
        await brokers[1].check_positions()
        await until(lambda: outlet.seqs() == [1, 2], "delivery")
    finally:
        for hub in hubs:
            await hub.close()


async def test_the_subscriber_comes_back_after_a_redis_restart(redis_server: Any) -> None:
    redis = open_redis(redis_server.url)
    rows = Rows()
    hubs, brokers = await two_nodes(redis, rows)
    try:
        outlet = Outlet()
        await hubs[1].attach(Connection("viewer", "s", outlet, viewer_id="v"), None, dict)
        brokers[0].publish("s", rows.commit("s", 1))
        await until(lambda: outlet.seqs() == [1], "delivery")
        redis_server.restart(keep_data=True)
        await until(lambda: brokers[1].subscribed.is_set() and brokers[0].subscribed.is_set(),
                    "subscribed again")
        brokers[0].publish("s", rows.commit("s", 1))
        await until(lambda: outlet.seqs() == [1, 2], "delivery")
    finally:
        for broker in brokers:
            await broker.close()
        for hub in hubs:
            await hub.close()
        await redis.aclose()
