"""Fan-out across nodes through Redis (the Centrifugo model).

Per broadcast, three keys (one hash slot: ``tp:{SESSION}:…``):

* ``tp:{S}:s`` — a Stream of the broadcast's events, the entry ID ``SEQ-0`` (the store's
  sequence number), fields ``a`` (audience) and ``f`` (the serialized event frame); capped at
  about ``[live] resume_buffer_events`` entries;
* ``tp:{S}:m`` — a hash: ``epoch`` (made when absent: a Redis that lost its data starts a
  new epoch, and clients holding a cursor of the old one reload a snapshot) and ``last`` (the
  last sequence number appended);
* ``tp:{S}:p`` — a hash of events that arrived ahead of a missing predecessor.

Every publish is one Lua script (``PUBLISH_LUA``): an event at or below ``last`` is a no-op
(idempotent: the relay and a node may both publish it), the next one is appended and
released with every waiting successor it unblocks, a later one waits in the pending hash.
What is released goes out in one ``PUBLISH`` on ``tp:ev:SESSION``: ``EPOCH`` then one line
per event, ``SEQ<TAB>AUDIENCE<TAB>FRAME``, so a node hands the frame bytes to its sockets
without parsing them.

Every node holds one pubsub connection (``PSUBSCRIBE tp:ev:*``) and hands what arrives to its
hub, whose channels drop duplicates and fetch gaps (``history``: ``XRANGE``, then the store).
Every ``POSITION_CHECK_SECONDS`` it compares each channel with the stream's ``last`` (a lost
last message is caught there). The subscriber reconnects by itself after Redis restarts, and
checks every position again once it is back. A publish that Redis refuses is delivered to this
node's own hub, so local clients are served while Redis is away; the other nodes catch up from
the store when they see the next event, and the relay (``live.relay``) republishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from live.broker import EventStore, store_history
from live.frames import Frame, Numbered
from live.hub import Hub
from live.redis_link import Redis

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "tp:ev:"
POSITION_CHECK_SECONDS = 2.0
RECONNECT_MAX_SECONDS = 2.0
KEY_TTL_SECONDS = 7 * 24 * 3600  # a broadcast's keys outlive a week of silence, no more
PENDING_HEAL_SECONDS = 1.0

PUBLISH_LUA = """
local meta, stream, pending = KEYS[1], KEYS[2], KEYS[3]
local epoch = redis.call('HGET', meta, 'epoch')
local last
if not epoch then
  epoch = ARGV[3]
  last = tonumber(ARGV[5]) - 1
  for i = 5, #ARGV, 2 do
    local s = tonumber(ARGV[i])
    if s - 1 < last then last = s - 1 end
  end
  redis.call('DEL', stream, pending)
  redis.call('HSET', meta, 'epoch', epoch, 'last', string.format('%d', last))
else
  last = tonumber(redis.call('HGET', meta, 'last'))
end
local waiting = redis.call('HLEN', pending)
local out = {}
local function release(seq, payload)
  local tab = string.find(payload, '\\t', 1, true)
  local id = string.format('%d', seq)
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], id .. '-0',
             'a', string.sub(payload, 1, tab - 1), 'f', string.sub(payload, tab + 1))
  out[#out + 1] = id .. '\\t' .. payload
  last = seq
end
for i = 5, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq == last + 1 then
    release(seq, ARGV[i + 1])
    while waiting > 0 do
      local key = string.format('%d', last + 1)
      local nxt = redis.call('HGET', pending, key)
      if not nxt then break end
      redis.call('HDEL', pending, key)
      waiting = waiting - 1
      release(last + 1, nxt)
    end
  elseif seq > last + 1 then
    waiting = waiting + redis.call('HSETNX', pending, ARGV[i], ARGV[i + 1])
  end
end
if #out > 0 then
  redis.call('HSET', meta, 'last', string.format('%d', last))
  redis.call('PUBLISH', ARGV[1], epoch .. '\\n' .. table.concat(out, '\\n'))
end
redis.call('EXPIRE', meta, ARGV[4])
redis.call('EXPIRE', stream, ARGV[4])
if waiting > 0 then redis.call('EXPIRE', pending, ARGV[4]) end
return {epoch, string.format('%d', last), waiting}
"""

# The epoch of a broadcast, made (with ``last`` = the store's last sequence number) when
# absent, so that a channel starts from a known place even before the first publish.
POSITION_LUA = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'last', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {ARGV[1], ARGV[2]}
end
return {epoch, redis.call('HGET', KEYS[1], 'last')}
"""


def keys_of(session_id: str) -> list[str]:
    """The meta hash, the stream and the pending hash of one broadcast."""
    return [f"tp:{{{session_id}}}:m", f"tp:{{{session_id}}}:s", f"tp:{{{session_id}}}:p"]


def payload(event: Numbered) -> bytes:
    return event.audience.encode() + b"\t" + event.frame.data


def parse_message(data: bytes) -> tuple[str, list[Numbered]]:
    """A PUBLISH body: the epoch and the events it carries."""
    head, _, body = data.partition(b"\n")
    events = []
    for line in body.split(b"\n"):
        seq, audience, frame = line.split(b"\t", 2)
        events.append(Numbered(int(seq), audience.decode(), Frame.raw(frame)))
    return head.decode(), events


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBroker:
    def __init__(self, redis: Redis, hub: Hub, store: EventStore, *,
                 stream_max: int = 1000) -> None:
        self.redis = redis
        self.hub = hub
        self.store = store
        self.stream_max = stream_max
        self._publish = redis.register_script(PUBLISH_LUA)
        self._position = redis.register_script(POSITION_LUA)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()  # set while the pubsub connection is up
        # A test hook: publishes whose events this returns False for never reach Redis
        # (a node that commits and dies before publishing).
        self.drop_publish: Any = None

    # --- publishing --------------------------------------------------------------------

    def publish(self, session_id: str, events: Sequence[Numbered]) -> None:
        if not events:
            return
        if self.drop_publish is not None and self.drop_publish(session_id, events):
            return
        self._spawn(self._send(session_id, events))

    async def append(self, session_id: str, events: Sequence[Numbered]) -> tuple[str, int, int]:
        """Run the publish script: returns (epoch, last, waiting). Raises ``RedisError``."""
        args: list[Any] = [CHANNEL_PREFIX + session_id, self.stream_max,
                           secrets.token_hex(4), KEY_TTL_SECONDS]
        for event in events:
            args.append(event.seq)
            args.append(payload(event))
        try:
            found = await self._publish(keys=keys_of(session_id), args=args)
        except RedisConnectionError:
            # A pooled connection from before a Redis restart fails once; the script is
            # idempotent, so running it again on a new connection is safe.
            found = await self._publish(keys=keys_of(session_id), args=args)
        epoch, last, waiting = found
        return _text(epoch), int(last), int(waiting)

    async def _send(self, session_id: str, events: Sequence[Numbered]) -> None:
        try:
            _, last, waiting = await self.append(session_id, events)
        except (RedisError, OSError) as exc:
            log.warning("publishing %d events of %s to Redis failed (%s); delivered on this "
                        "node only", len(events), session_id, exc)
            channel = self.hub.channels.get(session_id)
            if channel is not None:
                self.hub.deliver(session_id, channel.epoch, events)
            return
        if waiting:
            self._spawn(self._heal(session_id, last, max(e.seq for e in events)))

    async def _heal(self, session_id: str, last: int, upto: int) -> None:
        """Events wait behind a missing one: if it has not come after a while (its node died
        before publishing), publish it from the store."""
        await asyncio.sleep(PENDING_HEAL_SECONDS)
        try:
            now = await cast(Awaitable[Any], self.redis.hget(keys_of(session_id)[0], "last"))
            current = int(now) if now is not None else upto
            if current >= upto:
                return
            missing = await store_history(self.store, session_id, current, upto)
            if missing:
                await self.append(session_id, missing)
        except Exception as exc:
            log.warning("could not fill the publish gap of %s: %s", session_id, exc)

    # --- the hub's history -------------------------------------------------------------

    async def position(self, session_id: str) -> tuple[str, int]:
        last = await self.store.last_event_seq(session_id)
        epoch, _ = await self._position(keys=keys_of(session_id),
                                        args=[secrets.token_hex(4), last, KEY_TTL_SECONDS])
        return _text(epoch), last

    async def history(self, session_id: str, after: int, upto: int) -> list[Numbered] | None:
        if upto <= after:
            return []
        try:
            rows = await self.redis.xrange(keys_of(session_id)[1], f"{after + 1}-0", f"{upto}-0")
        except (RedisError, OSError) as exc:
            log.info("stream of %s unreadable (%s); reading the store", session_id, exc)
            rows = []
        found: list[Numbered] = []
        for entry_id, fields in rows:
            seq = int(_text(entry_id).partition("-")[0])
            if seq != after + len(found) + 1:
                break
            found.append(Numbered(seq, _text(fields[b"a"]), Frame.raw(fields[b"f"])))
        if found and found[-1].seq == upto:
            return found
        rest = await store_history(self.store, session_id, after + len(found), upto)
        if rest is None:
            return found or None
        return found + rest

    # --- subscribing -------------------------------------------------------------------

    async def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        self._checker = asyncio.get_running_loop().create_task(self._check_loop())

    async def close(self) -> None:
        for task in (self._listener, self._checker, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._listener, self._checker, *tuple(self._tasks)):
            if task is not None:
                with contextlib.suppress(BaseException):  # cancelled, or logged already
                    await task

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                self.subscribed.set()
                delay = 0.1
                self._spawn(self.check_positions())  # what went by while away
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    if message is not None and message["type"] == "pmessage":
                        self._received(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.subscribed.is_set():
                    log.warning("Redis subscription lost (%s); reconnecting", exc)
                self.subscribed.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):  # the connection is gone already
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _received(self, channel: bytes, data: bytes) -> None:
        session_id = _text(channel)[len(CHANNEL_PREFIX):]
        if session_id not in self.hub.channels:
            return
        try:
            epoch, events = parse_message(data)
        except ValueError:
            log.warning("malformed message on %s ignored", _text(channel))
            return
        self.hub.deliver(session_id, epoch, events)

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(POSITION_CHECK_SECONDS)
            await self.check_positions()

    async def check_positions(self) -> None:
        """Compare every channel of this node with its stream's last sequence number."""
        sessions = list(self.hub.channels)
        if not sessions:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for session_id in sessions:
                    pipe.hmget(keys_of(session_id)[0], ["epoch", "last"])
                found = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.info("position check skipped: %s", exc)
            return
        for session_id, (epoch, last) in zip(sessions, found, strict=True):
            if epoch is not None and last is not None:
                self.hub.behind(session_id, _text(epoch), int(last))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
