"""The sign-in throttle of a cluster, in Redis (``moderation.logins.SignInThrottle``).

The same rules as ``moderation.logins.LoginThrottle``: failures per (account name, client
address) and per address (``ADDRESS_FACTOR`` times the allowance), the lock doubling from
``first_wait`` up to ``max_wait`` once the allowance is spent, a success forgetting only its
own pair. Each key is a hash {count, until (ms)} that expires ``max_wait`` after its lock
ends, which is exactly when the in-memory throttle forgets a pair. A failure updates both
keys in one Lua script (which also treats a pair past that time as forgotten, whatever the
key's TTL), so failures arriving at two nodes at once both count.

If Redis does not answer, ``wait`` raises ``LimitsUnavailable`` and sign-in is refused (fail
closed: an attacker who can make Redis slow must not get unthrottled guesses). Recording a
failure or a success after the password was checked raises the same; the sign-in then
fails with the same message.
"""

from __future__ import annotations

from collections.abc import Callable

from redis.exceptions import RedisError

from live.redis_link import Redis
from moderation.logins import ADDRESS_FACTOR
from moderation.ratelimit import LimitsUnavailable
from moderation.redis_limits import NOW_LUA, PREFIX, now_arg, run_script

# KEYS: pair, address. ARGV: now, pair allowance, address allowance, first wait ms, max ms.
FAIL_SCRIPT = NOW_LUA + """
local first, longest = tonumber(ARGV[4]), tonumber(ARGV[5])
local function fail(key, allowance)
  local rec = redis.call('HMGET', key, 'count', 'until')
  local count, locked = tonumber(rec[1]) or 0, tonumber(rec[2]) or now
  if now >= locked + longest then count, locked = 0, now end  -- forgotten
  count = count + 1
  local beyond = count - allowance
  if beyond >= 0 then
    local wait = math.min(longest, first * math.pow(2, math.min(beyond, 32)))
    locked = math.max(locked, now + math.floor(wait))
  else
    locked = math.max(locked, now)
  end
  redis.call('HSET', key, 'count', count, 'until', locked)
  redis.call('PEXPIRE', key, locked + longest - now)
end
fail(KEYS[1], tonumber(ARGV[2]))
fail(KEYS[2], tonumber(ARGV[3]))
return 0
"""

# KEYS: pair, address. ARGV: now. Returns the longer lock left, in ms.
WAIT_SCRIPT = NOW_LUA + """
local wait = 0
for _, key in ipairs(KEYS) do
  local locked = tonumber(redis.call('HGET', key, 'until'))
  if locked and locked - now > wait then wait = locked - now end
end
return wait
"""


class RedisLoginThrottle:
    def __init__(self, redis: Redis, max_failures: int, max_wait: int, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.max_wait_ms = int(max_wait * 1000)
        self.first_wait_ms = max(1000, self.max_wait_ms // 16)
        self.clock = clock
        self._fail = redis.register_script(FAIL_SCRIPT)
        self._wait = redis.register_script(WAIT_SCRIPT)

    def _keys(self, name: str, client: str) -> list[str]:
        return [f"{PREFIX}login:pair:{name.strip().lower()[:64]}|{client}",
                f"{PREFIX}login:addr:{client}"]

    async def wait(self, name: str, client: str) -> int:
        if not self.max_failures:
            return 0
        waited = await run_script(self._wait, "sign-in throttle", self._keys(name, client),
                                  [now_arg(self.clock)])
        return -(-waited // 1000)  # whole seconds, rounded up

    async def record_failure(self, name: str, client: str) -> None:
        if not self.max_failures:
            return
        await run_script(self._fail, "sign-in throttle", self._keys(name, client),
                         [now_arg(self.clock), self.max_failures,
                          self.max_failures * ADDRESS_FACTOR, self.first_wait_ms,
                          self.max_wait_ms])

    async def record_success(self, name: str, client: str) -> None:
        if not self.max_failures:
            return
        pair = self._keys(name, client)[0]
        try:
            await self.redis.delete(pair)
        except (RedisError, OSError) as exc:
            raise LimitsUnavailable("sign-in throttle") from exc
