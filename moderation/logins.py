"""Server-side staff logins, and the throttle on failed sign-ins.

The browser holds a random token; the store keeps only its SHA-256 (a leaked database does
not let anyone log in), the account it belongs to, a CSRF token, and two expiries: an idle
one that each request pushes forward, and a hard one from the moment of login. Because every
request looks the login and the account up again, a logout, a disabled account or a role
change takes effect on the very next request.

``LoginThrottle`` counts failed sign-ins per (account name, client address), so wrong
passwords typed at one address never lock the same account out at another. Sign-in asks
through ``SignInThrottle``: ``LoginThrottle`` in one process's memory, or
``moderation.redis_logins.RedisLoginThrottle`` (a cluster: the same rules as Lua scripts in
Redis, so a lock set on one node holds on every node).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from store.base import NotFound, Store
from store.records import LoginSession, StaffUser

# Only write last_seen when it has moved this much, so reads do not each cost a write.
TOUCH_EVERY_SECONDS = 60.0


# Failures from one address across all account names before that address alone backs off
# (a spray of names); a multiple of the per-account allowance, so typos in an office
# sharing one address do not trip it.
ADDRESS_FACTOR = 4
MAX_THROTTLE_KEYS = 100_000


class SignInThrottle(Protocol):
    """What sign-in asks before and tells after checking a password."""

    async def wait(self, name: str, client: str) -> int:
        """Whole seconds until ``name`` may be tried again from ``client`` (0: now);
        raises ``moderation.ratelimit.LimitsUnavailable`` when it cannot tell."""
        ...

    async def record_failure(self, name: str, client: str) -> None: ...

    async def record_success(self, name: str, client: str) -> None: ...


@dataclass
class _Failures:
    count: int
    locked_until: float


class LoginThrottle:
    """Failed sign-ins per (account name, client address), with exponential back-off.

    The first ``max_failures - 1`` failures cost nothing; the next one locks that pair for
    ``first_wait`` seconds (a sixteenth of ``max_wait``, at least 1), and each further
    failure doubles the wait up to ``max_wait``. A success resets only its own pair, so a
    login at address B neither lifts nor resets a lock at address A, and wrong passwords at
    A never lock the account out at B. Failures from one address across all names are
    counted too (``ADDRESS_FACTOR`` times the allowance) and back off that address alone;
    a success never resets that count. A pair is forgotten once ``max_wait`` seconds have
    passed after its lock ended. Counts live in memory, per server process; beyond
    ``max_keys`` the least recently failed pairs are dropped.
    """

    def __init__(self, max_failures: int, max_wait: int, *,
                 clock: Callable[[], float] = time.time,
                 max_keys: int = MAX_THROTTLE_KEYS) -> None:
        self.max_failures = max_failures
        self.max_wait = float(max_wait)
        self.first_wait = max(1.0, self.max_wait / 16)
        self.clock = clock
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def _keys(self, name: str, client: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return (name.strip().lower()[:64], client), ("", client)

    def _current(self, key: tuple[str, str], now: float) -> _Failures | None:
        record = self._failures.get(key)
        if record is not None and now >= record.locked_until + self.max_wait:
            del self._failures[key]
            return None
        return record

    def retry_after(self, name: str, client: str) -> int:
        """Whole seconds until ``name`` may be tried again from ``client`` (0: now)."""
        if not self.max_failures:
            return 0
        now = self.clock()
        wait = 0.0
        for key in self._keys(name, client):
            record = self._current(key, now)
            if record is not None:
                wait = max(wait, record.locked_until - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, name: str, client: str) -> None:
        if not self.max_failures:
            return
        now = self.clock()
        pair, address = self._keys(name, client)
        for key, allowance in ((pair, self.max_failures),
                               (address, self.max_failures * ADDRESS_FACTOR)):
            record = self._current(key, now) or _Failures(0, now)
            record.count += 1
            beyond = record.count - allowance
            if beyond >= 0:
                wait = min(self.max_wait, self.first_wait * 2 ** min(beyond, 32))
                record.locked_until = max(record.locked_until, now + wait)
            else:
                record.locked_until = max(record.locked_until, now)
            self._failures[key] = record
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, name: str, client: str) -> None:
        """Forget the failures of this pair only (not the address's, not other pairs')."""
        self._failures.pop(self._keys(name, client)[0], None)

    # ``SignInThrottle``
    async def wait(self, name: str, client: str) -> int:
        return self.retry_after(name, client)

    async def record_failure(self, name: str, client: str) -> None:
        self.failed(name, client)

    async def record_success(self, name: str, client: str) -> None:
        self.succeeded(name, client)


def token_digest(token: str) -> str:
    # A cookie may carry any bytes (undecodable ones arrive as surrogates): hash them all.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ActiveLogin:
    session: LoginSession
    user: StaffUser


class Logins:
    def __init__(self, store: Store, *, idle_seconds: float, max_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock

    async def start(self, user: StaffUser, client: str) -> tuple[str, LoginSession]:
        """A new login for ``user``; returns the cookie token and the stored session."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = LoginSession(
            id=token_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
            created_at=now, last_seen=now, expires_at=self._expiry(now, now),
            client=client[:64],
        )
        await self.store.insert(session)
        return token, session

    def _expiry(self, created_at: float, now: float) -> float:
        return min(now + self.idle_seconds, created_at + self.max_seconds)

    async def resolve(self, token: str) -> ActiveLogin | None:
        """The live login behind a cookie token, or None (unknown, expired, account gone or
        disabled). Expired logins are deleted as they are found."""
        if not token or len(token) > 128:
            return None
        digest = token_digest(token)
        try:
            session = await self.store.get(LoginSession, digest)
        except NotFound:
            return None
        now = self.clock()
        if session.expires_at <= now:
            await self.store.delete(LoginSession, digest)
            return None
        try:
            user = await self.store.get(StaffUser, session.user_id)
        except NotFound:
            await self.store.delete(LoginSession, digest)
            return None
        if user.disabled:
            await self.store.revoke_logins(user.id)
            return None
        if now - session.last_seen >= TOUCH_EVERY_SECONDS:
            try:
                session = await self.store.update(
                    LoginSession, digest,
                    {"last_seen": now, "expires_at": self._expiry(session.created_at, now)},
                    now=now,
                )
            except NotFound:  # logged out in the meantime
                return None
        return ActiveLogin(session, user)

    async def end(self, token: str) -> None:
        await self.store.delete(LoginSession, token_digest(token))

    async def purge_expired(self) -> int:
        return await self.store.delete_where(LoginSession, {"expires_at__lte": self.clock()})
