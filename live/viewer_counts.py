"""How many viewers and staff watch a session: on one process the hub's own count; on a
cluster the sum over every live node.

``LocalViewerCounts`` asks the hub. ``RedisViewerCounts`` also writes this node's counts to
Redis every ``BEAT_SECONDS``: a hash ``tp:counts:{node}`` (session → "viewers staff")
replaced whole in one MULTI and expiring after ``TTL_SECONDS``, and the node's name in a
sorted set ``tp:nodes`` scored by its last beat. Reading sums this node's hub with the other
nodes' hashes; a node that dies stops beating and its hash expires, so its viewers drop out
of the sum within ``TTL_SECONDS``. A node that stops cleanly deletes its hash at once.

The counts are a display: when Redis does not answer, reading falls back to this node's
own count (logged), and a missed beat is tried again at the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.exceptions import RedisError

from live.hub import Hub
from live.redis_link import Redis

log = logging.getLogger(__name__)

BEAT_SECONDS = 1.0
TTL_SECONDS = 3.0
# A node not heard from for this long is dropped from the set of nodes.
FORGET_NODE_SECONDS = 3600.0
NODES_KEY = "tp:nodes"


class ViewerCounts(Protocol):
    async def counts(self, session_id: str) -> dict[str, int]:
        """{"viewers": n, "staff": m} for the session, over every node."""
        ...


class LocalViewerCounts:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def counts(self, session_id: str) -> dict[str, int]:
        return self.hub.counts(session_id)


def counts_key(node: str) -> str:
    return f"tp:counts:{node}"


class RedisViewerCounts:
    def __init__(self, redis: Redis, hub: Hub, node: str, *,
                 beat_seconds: float = BEAT_SECONDS, ttl_seconds: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.hub = hub
        self.node = node
        self.beat_seconds = beat_seconds
        self.ttl_ms = int(ttl_seconds * 1000)
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat_forever())

    async def stop(self, *, forget: bool = True) -> None:
        """Stop beating; ``forget`` deletes this node's counts at once (a clean stop)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if forget:
            try:
                await self.redis.delete(counts_key(self.node))
            except (RedisError, OSError) as exc:
                log.warning("viewer counts of node %s left to expire: %s", self.node, exc)

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self.beat()
            except (RedisError, OSError) as exc:
                log.warning("viewer counts not written (tried again in %s s): %s",
                            self.beat_seconds, exc)
            await asyncio.sleep(self.beat_seconds)

    async def beat(self) -> None:
        """Write this node's counts once."""
        mine = {sid: f"{c['viewers']} {c['staff']}" for sid in tuple(self.hub.channels)
                if (c := self.hub.counts(sid))["viewers"] or c["staff"]}
        now = self.clock()
        key = counts_key(self.node)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if mine:
                pipe.hset(key, mapping=mine)
                pipe.pexpire(key, self.ttl_ms)
            pipe.zadd(NODES_KEY, {self.node: now})
            pipe.zremrangebyscore(NODES_KEY, "-inf", now - FORGET_NODE_SECONDS)
            await pipe.execute()

    async def counts(self, session_id: str) -> dict[str, int]:
        total = dict(self.hub.counts(session_id))
        try:
            nodes = [n.decode() for n in await self.redis.zrange(NODES_KEY, 0, -1)]
            others = [n for n in nodes if n != self.node]
            if not others:
                return total
            async with self.redis.pipeline(transaction=False) as pipe:
                for node in others:
                    pipe.hget(counts_key(node), session_id)
                found = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("viewer counts of other nodes unavailable, this node's only: %s", exc)
            return total
        for value in found:
            if value:
                viewers, _, staff = value.decode().partition(" ")
                total["viewers"] += int(viewers)
                total["staff"] += int(staff or 0)
        return total
