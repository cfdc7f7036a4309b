"""The relay on a real redis-server and a real MongoDB store (SecantusDB): one holder of the
lease follows the change stream and publishes what nobody else did; when the holder dies
without letting go, another node takes over after the lease expires and continues from the
saved resume token, so an event committed in between still reaches Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from live.events import PUBLIC, SESSION
from live.hub import Hub
from live.redis_broker import RedisBroker, keys_of
from live.redis_link import Redis, open_redis
from live.relay import Relay
from store.mongo import MongoStore
from tests.support import until

pytestmark = pytest.mark.mongodb


@pytest.fixture
async def mongo(mongodb_uri: str) -> AsyncIterator[MongoStore]:
    store = MongoStore(mongodb_uri, database=f"tp_relay_{secrets.token_hex(6)}",
                       timeout_ms=5000)
    await store.open()
    try:
        yield store
    finally:
        await store.drop_database()
        await store.close()


@pytest.fixture
async def redis(redis_server: Any) -> AsyncIterator[Redis]:
    client = open_redis(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def commit(store: MongoStore, n: int) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s", [(PUBLIC, SESSION, {"session": {"n": n}})])


async def last(redis: Redis) -> int:
    found = await redis.hget(keys_of("s")[0], "last")  # type: ignore[misc]
    return int(found) if found is not None else 0


async def last_becomes(redis: Redis, want: int, timeout: float) -> int:
    """Redis's last published seq once it is ``want``, or whatever it is at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        got = await last(redis)
        if got == want or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)


async def test_a_new_holder_continues_where_the_dead_one_stopped(
        mongo: MongoStore, redis: Redis) -> None:
    broker = RedisBroker(redis, Hub(), mongo)
    relays = [Relay(redis, mongo, broker, name, lease_ms=600) for name in ("a", "b")]
    for relay in relays:
        await relay.start()
    try:
        await until(lambda: any(r.active for r in relays), "a relay holding the lease")
        holder = next(r for r in relays if r.active)
        other = next(r for r in relays if r is not holder)
        # Nobody publishes: only the relay brings the events to Redis. Its change stream
        # opens a moment after it takes the lease: commit until it relays one.
        n = 0
        while await last(redis) == 0:
            assert n < 50, "the relay never published"
            n += 1
            await commit(mongo, n)
            await last_becomes(redis, n, 0.5)
        assert not other.active
        # The holder dies (no release): the lease runs out and the other takes over,
        # continuing from the saved token: what was committed in between goes out too.
        assert holder._task is not None
        holder._task.cancel()
        await commit(mongo, n + 1)
        await until(lambda: other.active, "the other relay taking over", 10)
        await commit(mongo, n + 2)
        assert await last_becomes(redis, n + 2, 10) == n + 2
        rows = await redis.xrange(keys_of("s")[1])
        ids = [int(i.decode().split("-")[0]) for i, _ in rows]
        assert ids == list(range(ids[0], n + 3)) and ids[0] <= n
    finally:
        for relay in relays:
            await relay.stop()


class StubbornStream:
    """A store whose change stream takes a cancellation for a lost connection and waits
    again, ``swallow`` times (what PyMongo's async change stream did against SecantusDB)."""

    def __init__(self, swallow: int) -> None:
        self.swallow = swallow
        self.watching = asyncio.Event()
        self.ended = False

    async def watch_events(self, token: Any = None) -> AsyncIterator[tuple[Any, Any]]:
        self.watching.set()
        try:
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if self.swallow <= 0:
                        raise
                    self.swallow -= 1  # "resume": wait for the next change again
        finally:
            self.ended = True
        yield  # an async generator  # pragma: no cover


async def test_stopping_cancels_again_a_change_stream_that_resumed(redis: Redis) -> None:
    stream = StubbornStream(swallow=2)
    relay = Relay(redis, stream, broker=None,  # type: ignore[arg-type]
                  node=f"n-{secrets.token_hex(3)}")
    await relay.start()
    await asyncio.wait_for(stream.watching.wait(), 10)
    started = time.monotonic()
    await asyncio.wait_for(relay.stop(), 10)
    assert time.monotonic() - started < 5
    assert stream.ended  # the third cancel reached it
    await redis.delete("tp:relay:lease")
