"""The clustered node's Redis client against a real redis-server: the first commands after
a Redis restart succeed on new connections, and a dead Redis fails a command within the
timeout, not later."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis

from live.redis_link import COMMAND_TIMEOUT_S, CONNECT_TIMEOUT_S, open_redis


async def test_the_first_commands_after_a_redis_restart_succeed(redis_server: Any) -> None:
    client = open_redis(redis_server.url)
    script = client.register_script("return redis.call('GET', KEYS[1])")
    try:
        await client.set("k", "v")
        # Several pooled connections, all of which die with the server.
        await asyncio.gather(*(script(keys=["k"]) for _ in range(4)))
        assert len(client.connection_pool._available_connections) >= 2
        redis_server.restart(keep_data=True)
        # Each command takes a dead pooled connection and is sent again on a new one;
        # the script is loaded again into the restarted server.
        assert await asyncio.gather(*(script(keys=["k"]) for _ in range(4))) == [b"v"] * 4
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()


async def test_a_dead_redis_fails_fast(redis_server: Any) -> None:
    client = open_redis(redis_server.url)
    try:
        redis_server.kill()
        started = time.monotonic()
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            await client.ping()
        assert time.monotonic() - started < CONNECT_TIMEOUT_S + COMMAND_TIMEOUT_S + 1
    finally:
        await client.aclose()
