"""The cluster's asking limits and sign-in throttle on a real redis-server: two clients stand
for two nodes. Each decides exactly as the in-memory implementation does (the same random
sequence of attempts, the same fake clock), counts are shared between the nodes, concurrent
attempts cannot slip under a limit, every key expires, and a dead Redis refuses (fail
closed) with ``LimitsUnavailable`` instead of letting anything through."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from live.redis_link import Redis, open_redis
from moderation.logins import LoginThrottle
from moderation.ratelimit import LimitsUnavailable, LocalAskLimits, LocalWindow
from moderation.redis_limits import RedisAskLimits, RedisWindow
from moderation.redis_logins import RedisLoginThrottle


class FakeClock:
    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def nodes(redis_server: Any) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two Redis clients, as two nodes would hold."""
    a, b = open_redis(redis_server.url), open_redis(redis_server.url)
    yield a, b
    await a.aclose()
    await b.aclose()


async def test_asking_limits_decide_as_the_in_memory_ones(nodes: tuple[Redis, Redis]) -> None:
    clock = FakeClock()
    local = LocalAskLimits(3, 5, clock=clock)
    shared = [RedisAskLimits(r, 3, 5, clock=clock) for r in nodes]
    rng = random.Random(13)
    for step in range(300):
        clock.now += rng.choice((0.0, 0.5, 2.0, 7.0, 21.0))
        viewer, address = f"v{rng.randrange(4)}", f"a{rng.randrange(2)}"
        slow = rng.choice((0.0, 0.0, 10.0))
        expected = await local.admit("s1", viewer, address, slow)
        got = await shared[step % 2].admit("s1", viewer, address, slow)
        assert got == pytest.approx(expected, abs=0.002), (step, viewer, address, slow)


async def test_two_nodes_share_one_viewer_window(nodes: tuple[Redis, Redis]) -> None:
    a, b = (RedisAskLimits(r, 2, 100) for r in nodes)
    assert await a.admit("s1", "v1", "x", 0) == 0
    assert await b.admit("s1", "v1", "y", 0) == 0
    wait = await a.admit("s1", "v1", "z", 0)
    assert 0 < wait <= 60
    assert await b.admit("s1", "v2", "z", 0) == 0  # another viewer is not held up


async def test_slow_mode_holds_on_the_other_node(nodes: tuple[Redis, Redis]) -> None:
    a, b = (RedisAskLimits(r, 100, 100) for r in nodes)
    assert await a.admit("s1", "v1", "x", 30) == 0
    wait = await b.admit("s1", "v1", "x", 30)
    assert 29 < wait <= 30
    assert await b.admit("s2", "v1", "x", 30) == 0  # slow mode is per session


async def test_concurrent_attempts_on_two_nodes_admit_exactly_the_limit(
        nodes: tuple[Redis, Redis]) -> None:
    a, b = (RedisAskLimits(r, 5, 1000) for r in nodes)
    waits = await asyncio.gather(*(node.admit("s1", "v1", f"a{i}", 0)
                                   for i in range(20) for node in (a, b)))
    assert sum(1 for w in waits if w == 0) == 5


async def test_every_limit_key_expires(nodes: tuple[Redis, Redis]) -> None:
    redis = nodes[0]
    await RedisAskLimits(redis, 5, 5).admit("s1", "v1", "10.0.0.1", 0)
    await RedisWindow(redis, "session", 5, 60).record("s1")
    await RedisLoginThrottle(redis, 3, 160).record_failure("boss", "10.0.0.1")
    keys = await redis.keys("tp:*")
    assert len(keys) == 6
    for key in keys:
        assert await redis.pttl(key) > 0, key


async def test_window_checks_without_recording_then_records(
        nodes: tuple[Redis, Redis]) -> None:
    clock = FakeClock()
    local = LocalWindow(2, 60, clock=clock)
    shared = [RedisWindow(r, "session", 2, 60, clock=clock) for r in nodes]
    for step in range(8):
        clock.now += 11
        node = shared[step % 2]
        assert await node.wait("s1") == pytest.approx(await local.wait("s1"), abs=0.002)
        if step % 3 != 2:
            await node.record("s1")
            await local.record("s1")


async def test_sign_in_throttle_decides_as_the_in_memory_one(
        nodes: tuple[Redis, Redis]) -> None:
    clock = FakeClock()
    local = LoginThrottle(3, 160, clock=clock)
    shared = [RedisLoginThrottle(r, 3, 160, clock=clock) for r in nodes]
    rng = random.Random(7)
    for step in range(300):
        clock.now += rng.choice((0.0, 1.0, 5.0, 40.0, 200.0))
        name, client = rng.choice(("boss", "Boss ", "ann")), rng.choice(("A", "B"))
        node = shared[step % 2]
        assert await node.wait(name, client) == await local.wait(name, client), step
        if rng.random() < 0.85:
            await node.record_failure(name, client)
            await local.record_failure(name, client)
        else:
            await node.record_success(name, client)
            await local.record_success(name, client)


async def test_a_lock_set_on_one_node_holds_on_the_other(nodes: tuple[Redis, Redis]) -> None:
    a, b = (RedisLoginThrottle(r, 2, 160) for r in nodes)
    await a.record_failure("boss", "A")
    await b.record_failure("boss", "A")
    assert await b.wait("boss", "A") == 10
    assert await a.wait("boss", "A") == 10
    assert await a.wait("boss", "B") == 0


async def test_a_dead_redis_refuses_every_check(redis_server: Any) -> None:
    redis = open_redis(redis_server.url)
    try:
        limits = RedisAskLimits(redis, 5, 5)
        window = RedisWindow(redis, "session", 5, 60)
        throttle = RedisLoginThrottle(redis, 3, 160)
        assert await limits.admit("s1", "v1", "x", 0) == 0
        redis_server.kill()
        with pytest.raises(LimitsUnavailable):
            await limits.admit("s1", "v1", "x", 0)
        with pytest.raises(LimitsUnavailable):
            await window.wait("s1")
        with pytest.raises(LimitsUnavailable):
            await throttle.wait("boss", "A")
        with pytest.raises(LimitsUnavailable):
            await throttle.record_failure("boss", "A")
        # Back with no data: the scripts are loaded again and the limits work.
        redis_server.restart(keep_data=False)
        for _ in range(3):
            try:
                assert await limits.admit("s1", "v1", "x", 0) == 0
                break
            except LimitsUnavailable:
                continue
        else:
            pytest.fail("the limits did not come back with Redis")
    finally:
        await redis.aclose()
