"""Rate limits on asking: a sliding-window limit per key (a viewer, a client address) and the
session's slow mode (a minimum interval between one viewer's questions, set by a moderator).

Both are in-memory and pure apart from the injected clock: ``check`` answers how long the
caller must wait (0 when the attempt is allowed, and then recorded) and never raises, so the
caller turns a wait into a message (``wait_message``). Memory is bounded: keys whose window
has passed are evicted as new keys arrive, and beyond ``max_keys`` the least recently used key
is dropped. Dropping a key that is still inside its window forgets its history — a flood of
distinct keys could let one key ask early — which is the price of a hard memory bound.

What the service asks through (``AskLimits``, ``WindowLimit``) has two implementations: the
in-memory one here (one process) and ``moderation.redis_limits`` (a cluster: the same checks
as atomic Lua scripts in Redis, shared by every node). ``web.app`` picks one.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

Clock = Callable[[], float]

DEFAULT_MAX_KEYS = 50_000


class LimitsUnavailable(Exception):
    """The shared limits (Redis) did not answer: the attempt is refused, never let through."""


class AskLimits(Protocol):
    """A viewer's question against the per-viewer and per-address windows and the session's
    slow mode, checked and recorded as one step: a refusal by one limit counts against none."""

    async def admit(self, session_id: str, viewer_id: str, address: str,
                    slow_seconds: float) -> float:
        """0.0 when the question may go (then recorded everywhere), else the seconds to
        wait. Raises ``LimitsUnavailable`` when the limits cannot be consulted."""
        ...


class WindowLimit(Protocol):
    """A sliding window on one kind of key, checked and recorded separately (the session's
    question rate: checked before the question is screened, counted once it is stored)."""

    async def wait(self, key: str) -> float:
        """0.0 if ``key`` has room now, else the seconds to wait (nothing recorded)."""
        ...

    async def record(self, key: str) -> None: ...


def wait_message(seconds: float) -> str:
    """The viewer-facing refusal for a wait, rounded up to whole seconds (at least 1)."""
    return f"提问太频繁，请 {max(1, math.ceil(seconds))} 秒后再试。"


class RateLimiter:
    """At most ``count`` attempts per key in any window of ``per_seconds`` (sliding log).

    A sliding log is exact (no burst of ``2 * count`` across a fixed-window boundary) and
    cheap here: each key keeps at most ``count`` timestamps.
    """

    def __init__(
        self,
        count: int,
        per_seconds: float,
        *,
        clock: Clock,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if not per_seconds > 0 or math.isinf(per_seconds):
            raise ValueError("per_seconds must be a positive number")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.count = count
        self.per_seconds = float(per_seconds)
        self.max_keys = max_keys
        self._clock = clock
        # key -> timestamps of its allowed attempts inside the window, oldest first; the
        # dict itself is ordered by last use, least recent first.
        self._log: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str, *, record: bool = True) -> float:
        """0.0 if ``key`` may go now (the attempt is recorded unless ``record`` is false),
        else the seconds to wait."""
        now = self._clock()
        horizon = now - self.per_seconds
        times = self._log.get(key)
        if times is None:
            times = deque()
            self._log[key] = times
            self._evict(horizon, keep=key)
        else:
            self._log.move_to_end(key)
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) < self.count:
            if record:
                times.append(now)
            return 0.0
        # A clock that stepped back could make this exceed the window; never ask for more.
        return min(times[0] - horizon, self.per_seconds)

    def reset(self, key: str) -> None:
        self._log.pop(key, None)

    def __len__(self) -> int:
        return len(self._log)

    def _evict(self, horizon: float, *, keep: str) -> None:
        # Least recently used first: stop at the first key still inside its window, since
        # eviction only needs to keep pace with insertion, not to be complete.
        while len(self._log) > 1:
            key, times = next(iter(self._log.items()))
            if key == keep:
                break
            if len(self._log) <= self.max_keys and times and times[-1] > horizon:
                break
            del self._log[key]


class SlowMode:
    """A minimum interval between one viewer's questions; 0 turns it off.

    Accepted questions are recorded even while slow mode is off, so that turning it on
    applies at once to someone who has just asked.
    """

    def __init__(
        self,
        interval: float = 0.0,
        *,
        clock: Clock,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._clock = clock
        self._interval = _check_interval(interval)
        self._last: OrderedDict[str, float] = OrderedDict()  # least recently asked first

    @property
    def interval(self) -> float:
        return self._interval

    def set_interval(self, seconds: float) -> None:
        """Change the interval (seconds, 0 = off); applies to the next ``check``."""
        self._interval = _check_interval(seconds)

    def check(self, viewer_id: str, *, record: bool = True) -> float:
        """0.0 if the viewer may ask now (recorded unless ``record`` is false), else the
        seconds to wait."""
        now = self._clock()
        last = self._last.get(viewer_id)
        if last is not None and self._interval > 0:
            wait = min(last + self._interval - now, self._interval)
            if wait > 0:
                return wait
        if not record:
            return 0.0
        self._last[viewer_id] = now
        self._last.move_to_end(viewer_id)
        self._evict(now)
        return 0.0

    def __len__(self) -> int:
        return len(self._last)

    def _evict(self, now: float) -> None:
        # The dict is in order of last accepted question, so everything before the first
        # viewer still inside the interval is idle. With slow mode off nobody has to wait,
        # and only the size bound applies.
        while len(self._last) > 1:
            last = next(iter(self._last.values()))
            idle = self._interval > 0 and last <= now - self._interval
            if not idle and len(self._last) <= self.max_keys:
                break
            self._last.popitem(last=False)


def _check_interval(seconds: float) -> float:
    if math.isnan(seconds) or seconds < 0 or math.isinf(seconds):
        raise ValueError("interval must be a finite number of seconds, 0 or more")
    return float(seconds)


class LocalAskLimits:
    """``AskLimits`` in this process's memory: one ``RateLimiter`` per viewer and per
    address (across sessions) and a ``SlowMode`` per session."""

    def __init__(self, viewer_per_minute: int, address_per_minute: int, *,
                 clock: Clock) -> None:
        self.per_viewer = RateLimiter(viewer_per_minute, 60.0, clock=clock)
        self.per_address = RateLimiter(address_per_minute, 60.0, clock=clock)
        self._clock = clock
        self.slow_modes: dict[str, SlowMode] = {}

    async def admit(self, session_id: str, viewer_id: str, address: str,
                    slow_seconds: float) -> float:
        slow = self.slow_modes.get(session_id)
        if slow is None:
            slow = self.slow_modes[session_id] = SlowMode(slow_seconds, clock=self._clock)
        else:
            slow.set_interval(slow_seconds)
        limits = ((slow, viewer_id), (self.per_viewer, viewer_id), (self.per_address, address))
        # Ask every limiter first and record only when all allow: a refusal by one must
        # not count as a question against the others.
        wait = max(limiter.check(key, record=False) for limiter, key in limits)
        if wait:
            return wait
        for limiter, key in limits:
            limiter.check(key)
        return 0.0


class LocalWindow:
    """``WindowLimit`` over one in-memory ``RateLimiter``."""

    def __init__(self, count: int, per_seconds: float, *, clock: Clock) -> None:
        self.limiter = RateLimiter(count, per_seconds, clock=clock)

    async def wait(self, key: str) -> float:
        return self.limiter.check(key, record=False)

    async def record(self, key: str) -> None:
        self.limiter.check(key)
