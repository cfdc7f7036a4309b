"""Server-side staff logins.

The browser holds a random token; the store keeps only its SHA-256 (a leaked database does
not let anyone log in), the account it belongs to, a CSRF token, and two expiries: an idle
one that each request pushes forward, and a hard one from the moment of login. Because every
request looks the login and the account up again, a logout, a disabled account or a role
change takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from store.base import NotFound, Store
from store.records import LoginSession, StaffUser

# Only write last_seen when it has moved this much, so reads do not each cost a write.
TOUCH_EVERY_SECONDS = 60.0


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
