"""The clustered node's Redis client against a real redis-server: it reconnects by itself
after Redis restarts, and a dead Redis fails a command within the timeout, not later."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from live.redis_link import COMMAND_TIMEOUT_S, CONNECT_TIMEOUT_S, open_redis


async def test_the_client_comes_back_after_a_redis_restart(redis_server: Any) -> None:
    client = open_redis(redis_server.url)
    try:
        await client.set("k", "v")
        redis_server.restart(keep_data=True)
        # The pooled connection died with the server: the first command may fail, the
        # next one reconnects.
        for _ in range(3):
            try:
                assert await client.get("k") == b"v"
                break
            except redis.ConnectionError:
                continue
        else:
            pytest.fail("the client did not reconnect")
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
