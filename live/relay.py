"""The relay: every committed event reaches Redis, even when its node died before publishing.

One relay is active per cluster: every node runs a ``Relay``, and the one holding the lease
(``tp:relay:lease``, ``SET NX PX``, renewed every third of its life; given up when a renewal
fails) follows the store's change stream (``Store.watch_events``) and republishes each event
through the same idempotent script as the producers (``RedisBroker.append``): an event a
node already published is a no-op, a missing one goes out, in order. The change stream's
resume token is saved in Redis (``tp:relay:token``) after every event,
so the next holder — on any node, after the holder died — continues after the last event
relayed (an event relayed but not yet saved is published twice: a no-op).

A Redis that lost its data lost the token too: the relay then starts from "now", and what
committed while Redis was away reaches the other nodes through their gap filling (the next
event shows the gap) and the producers' own publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol, cast

from live.broker import from_store
from live.redis_broker import RedisBroker
from live.redis_link import Redis

log = logging.getLogger(__name__)

# How long stopping may wait for the change stream's task, and in how many cancels.
STOP_SECONDS = 2.0
CANCEL_TRIES = 4

LEASE_KEY = "tp:relay:lease"
TOKEN_KEY = "tp:relay:token"  # noqa: S105 - a Redis key name, not a secret
LEASE_MS = 5000

# Renew only a lease this node still holds (another node may have taken it after expiry).
RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ChangeStream(Protocol):
    def watch_events(self, resume_token: Any = None) -> AsyncIterator[tuple[Any, Any]]: ...


class Relay:
    def __init__(self, redis: Redis, store: ChangeStream, broker: RedisBroker, node: str, *,
                 lease_ms: int = LEASE_MS) -> None:
        self.redis = redis
        self.store = store
        self.broker = broker
        self.node = node
        self.lease_ms = lease_ms
        self.active = False  # holding the lease right now
        self.relayed = 0  # events republished while active (each a no-op or a rescue)
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            # One cancel: its own cleanup (_lead's) does the repeated cancels of the stream.
            await self._end(self._task, STOP_SECONDS + 1, tries=1)
        with contextlib.suppress(Exception):
            await self._release(keys=[LEASE_KEY], args=[self.node])

    async def _run(self) -> None:
        while True:
            try:
                if await self.redis.set(LEASE_KEY, self.node, nx=True, px=self.lease_ms):
                    await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay on %s: %s", self.node, exc)
            finally:
                self.active = False
            await asyncio.sleep(self.lease_ms / 3000)

    async def _lead(self) -> None:
        """Hold the lease and follow the change stream until the lease is lost."""
        self.active = True
        log.info("relay active on %s", self.node)
        follow = asyncio.get_running_loop().create_task(self._follow())
        try:
            while not follow.done():
                done, _ = await asyncio.wait({follow}, timeout=self.lease_ms / 3000)
                if done:
                    break
                if not await self._renew(keys=[LEASE_KEY], args=[self.node, self.lease_ms]):
                    log.warning("relay on %s lost its lease", self.node)
                    break
        finally:
            await self._end(follow, STOP_SECONDS)
            with contextlib.suppress(Exception):  # let another node take over at once
                await self._release(keys=[LEASE_KEY], args=[self.node])
        if follow.done() and not follow.cancelled() and follow.exception() is not None:
            raise cast(BaseException, follow.exception())

    async def _end(self, task: asyncio.Task[None], within: float,
                   tries: int = CANCEL_TRIES) -> None:
        """Cancel ``task`` and wait for it, at most ``within`` seconds. A change stream's read
        can take a cancellation for a lost connection and resume (PyMongo's async change
        stream did, against SecantusDB, and a node's shutdown waited for ever): so cancel
        again while waiting, and past the bound leave the task to end with the store."""
        for _ in range(tries):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=within / tries)
            if done:
                with contextlib.suppress(BaseException):
                    task.result()
                return
        log.warning("relay on %s: its change stream did not stop within %g s; it ends when "
                    "the store closes", self.node, within)

    async def _follow(self) -> None:
        saved = await cast(Awaitable[Any], self.redis.get(TOKEN_KEY))
        token: Any = json.loads(saved) if saved else None
        last_token: Any = token
        try:
            try:
                stream = self.store.watch_events(token)
                async for event, new_token in stream:
                    await self.broker.append(event.session_id, [from_store(event)])
                    self.relayed += 1
                    last_token = new_token
                    await self._save(last_token)
            except Exception as exc:
                if token is None or last_token is not token:
                    raise
                # The saved token no longer resumes (the oplog moved on): start from now.
                log.warning("relay token unusable (%s); following from now", exc)
                await self.redis.delete(TOKEN_KEY)
                raise
        finally:
            if last_token is not None and last_token is not token:
                with contextlib.suppress(Exception):
                    await self._save(last_token)

    async def _save(self, token: Any) -> None:
        await self.redis.set(TOKEN_KEY, json.dumps(_plain(token)))


def _plain(token: Any) -> Any:
    """A resume token as JSON: MongoDB's is ``{"_data": "<hex>"}``."""
    if isinstance(token, dict):
        return {str(k): _plain(v) for k, v in token.items()}
    if isinstance(token, bytes):
        return token.hex()
    return token
