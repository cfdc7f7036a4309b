"""The asking limits of a cluster, in Redis: every node checks and records against the same
counts, each check-and-record one atomic Lua script.

- ``RedisAskLimits``: a viewer's question against the per-viewer and per-address sliding
  windows and the session's slow mode. One script reads all three and records in all three
  only when all allow, so two nodes taking the same viewer's questions at the same moment
  cannot both slip under a limit, and a refusal by one limit counts against none.
- ``RedisWindow``: a sliding window on one key (the session's question rate, ``web.caps``).

A window is a sorted set of the attempts' times (milliseconds), pruned on every check and
expiring one window after its last attempt; slow mode is one key per (session, viewer)
holding the time of the last accepted question, kept for the longest slow mode
(``SLOW_MODE_MAX_SECONDS``) so that turning slow mode on applies at once to someone who has
just asked. Nothing is kept without a TTL. Time is Redis's own clock (``TIME``), so nodes
whose clocks differ still share one window; tests may pass a clock instead.

When Redis does not answer (down, partitioned, over ``live.redis_link`` timeouts) every
check raises ``LimitsUnavailable``: the question is refused with ``unavailable``, never let
through unlimited.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from live.redis_link import Redis
from moderation.ratelimit import LimitsUnavailable

log = logging.getLogger(__name__)

PREFIX = "tp:"
# The longest slow mode a moderator may set (moderation.actions: slow_mode seconds).
SLOW_MODE_MAX_SECONDS = 3600

# ARGV[1] is the time in ms, or -1 for Redis's clock. Waits are returned in whole ms (a Lua
# number becomes an integer reply), at least 1 when there is any wait at all.
NOW_LUA = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function window_wait(key, count, per)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  if redis.call('ZCARD', key) < count then return 0 end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, math.min(tonumber(oldest[2]) - (now - per), per))
end
"""

# KEYS: viewer window, address window, slow mode (session, viewer).
# ARGV: now, member, viewer count, viewer window ms, address count, address window ms,
#       slow mode ms (0 = off), how long to keep the last question's time (ms).
ASK_SCRIPT = NOW_LUA + """
local member = ARGV[2]
local wait = 0
local slow = tonumber(ARGV[7])
if slow > 0 then
  local last = redis.call('GET', KEYS[3])
  if last then
    local left = math.min(tonumber(last) + slow - now, slow)
    if left > 0 then wait = math.max(wait, left) end
  end
end
wait = math.max(wait, window_wait(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4])))
wait = math.max(wait, window_wait(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6])))
if wait > 0 then return math.ceil(wait) end
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('SET', KEYS[3], now, 'PX', ARGV[8])
return 0
"""

# KEYS: the window. ARGV: now, member, count, window ms, record (1) or only check (0).
WINDOW_SCRIPT = NOW_LUA + """
local per = tonumber(ARGV[4])
local wait = window_wait(KEYS[1], tonumber(ARGV[3]), per)
if wait > 0 then return math.ceil(wait) end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], per)
end
return 0
"""


def now_arg(clock: Callable[[], float] | None) -> int:
    """The script's time argument: the clock's time in ms, or -1 (Redis's clock)."""
    return -1 if clock is None else int(clock() * 1000)


async def run_script(script: Any, what: str, keys: list[str], args: list[Any]) -> int:
    """Run a registered script; any Redis failure becomes ``LimitsUnavailable``."""
    try:
        return int(await script(keys=keys, args=args))
    except (RedisError, OSError) as exc:
        log.warning("%s: Redis did not answer, refusing (fail closed): %s", what, exc)
        raise LimitsUnavailable(what) from exc


class RedisAskLimits:
    """``moderation.ratelimit.AskLimits`` shared through Redis (see the module docstring)."""

    def __init__(self, redis: Redis, viewer_per_minute: int, address_per_minute: int, *,
                 clock: Callable[[], float] | None = None, per_seconds: float = 60.0) -> None:
        self.redis = redis
        self.viewer_per_minute = viewer_per_minute
        self.address_per_minute = address_per_minute
        self.window_ms = int(per_seconds * 1000)
        self.clock = clock
        self._script = redis.register_script(ASK_SCRIPT)

    async def admit(self, session_id: str, viewer_id: str, address: str,
                    slow_seconds: float) -> float:
        keys = [f"{PREFIX}rl:viewer:{viewer_id}", f"{PREFIX}rl:addr:{address}",
                f"{PREFIX}slow:{session_id}:{viewer_id}"]
        args = [now_arg(self.clock), secrets.token_hex(8), self.viewer_per_minute,
                self.window_ms, self.address_per_minute, self.window_ms,
                int(slow_seconds * 1000), SLOW_MODE_MAX_SECONDS * 1000]
        return await run_script(self._script, "asking limits", keys, args) / 1000


class RedisWindow:
    """``moderation.ratelimit.WindowLimit`` shared through Redis: at most ``count`` per
    ``per_seconds`` for each key under ``name``."""

    def __init__(self, redis: Redis, name: str, count: int, per_seconds: float, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.name = name
        self.count = count
        self.window_ms = int(per_seconds * 1000)
        self.clock = clock
        self._script = redis.register_script(WINDOW_SCRIPT)

    async def _run(self, key: str, record: bool) -> float:
        args = [now_arg(self.clock), secrets.token_hex(8), self.count, self.window_ms,
                "1" if record else "0"]
        waited = await run_script(self._script, f"{self.name} limit",
                                  [f"{PREFIX}rl:{self.name}:{key}"], args)
        return waited / 1000

    async def wait(self, key: str) -> float:
        return await self._run(key, record=False)

    async def record(self, key: str) -> None:
        await self._run(key, record=True)
