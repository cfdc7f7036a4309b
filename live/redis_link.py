"""The one Redis connection of a clustered node ([cluster] redis_url).

Redis carries what several hub nodes must share: the event fan-out and its short history
(``live.redis_broker``) and live limits such as rate limits and slow mode. A single-process
deployment has no Redis at all, so everything here is only built when a URL is set.
"""

from __future__ import annotations

import socket

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from settings import ClusterSettings, ServerSettings

# A command that does not answer within this time fails (and the caller says
# "unavailable") rather than hanging a request behind a dead or partitioned Redis.
COMMAND_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2.0

Redis = aioredis.Redis


def open_redis(url: str) -> Redis:
    """A pooled client for ``url``; connections are made on first use and re-made after a
    Redis restart. Replies are bytes (callers decode what they need).

    A command that finds its pooled connection closed (Redis restarted since the connection
    was last used) is sent once more on a new connection, at once: without that, the first
    command after every restart failed although Redis was up. A timeout is not retried, so
    a dead or partitioned Redis still fails within ``COMMAND_TIMEOUT_S`` plus one connect.
    (redis-py gives a client made by ``from_url`` no retry of its own.)"""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


def node_id(cluster: ClusterSettings, server: ServerSettings) -> str:
    """This node's name: the configured one, else host name and listening port."""
    return cluster.node_id or f"{socket.gethostname()}:{server.port}"
