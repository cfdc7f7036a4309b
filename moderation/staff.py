"""Staff accounts: creation, roles, passwords (argon2id) and login throttling.

Plain Python over the store: no HTTP here. Every change commits in one transaction with its
audit entry, and a role change, a disabled account or a new password revokes the account's
logins in that same transaction; open websockets are told (``on_revoke``) after the commit.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from moderation.audit import Audit, target
from moderation.logins import LoginThrottle as LoginThrottle  # re-exported
from moderation.logins import SignInThrottle
from moderation.ratelimit import LimitsUnavailable
from store.base import Conflict, Store
from store.records import ROLES, StaffUser, new_id, to_dict

Clock = Callable[[], float]

NAME_RE = re.compile(r"[a-z][a-z0-9_.-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
ROLE_LABELS = {"admin": "管理员", "moderator": "审核员", "host": "主持人", "expert": "智囊团专家",
               "captioner": "字幕员"}


class StaffError(Exception):
    """A staff-account request that cannot be done; the message is for the user (Chinese)."""


class LoginFailed(StaffError):
    pass


class LoginThrottled(StaffError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"登录失败次数过多，请 {retry_after} 秒后再试。")
        self.retry_after = retry_after


class SignInUnavailable(LoginThrottled):
    """The shared sign-in throttle (Redis) did not answer: sign-in is refused for now."""

    def __init__(self, retry_after: int = 5) -> None:
        StaffError.__init__(self, "登录服务暂时不可用，请稍后再试。")
        self.retry_after = retry_after


def check_name(name: str) -> str:
    name = name.strip().lower()
    if not NAME_RE.fullmatch(name):
        raise StaffError("账号名须为 2–32 位小写字母、数字或 _ . -，并以字母开头。")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"未知角色：{role}")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise StaffError(f"密码长度须为 {MIN_PASSWORD}–{MAX_PASSWORD} 个字符。")
    if password.strip() != password or not password.strip():
        raise StaffError("密码首尾不能是空格。")
    return password


def generate_password() -> str:
    """A random password a person can type: 4 groups of 4 unambiguous characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


class StaffAccounts:
    def __init__(self, store: Store, throttle: SignInThrottle, clock: Clock = time.time,
                 audit: Audit | None = None) -> None:
        self.store = store
        self.throttle = throttle
        self.clock = clock
        self.audit = audit or Audit(clock)
        # argon2id with the library's defaults (64 MiB, 3 passes): memory-hard by design.
        self._hasher = PasswordHasher()
        self._dummy_hash = ""
        # Called with a user id whenever that account's logins are revoked, so that open
        # websockets close too (the app connects this to the hub).
        self.on_revoke: list[Callable[[str], object]] = []

    def _revoked(self, user_id: str) -> None:
        """After the commit that deleted the account's logins: close its sockets too."""
        for callback in self.on_revoke:
            callback(user_id)

    async def hash_password(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify)

    async def _audit(self, tx: Store, actor: str, action: str, account: StaffUser,
                     before: dict[str, object] | None, after: dict[str, object] | None) -> None:
        await self.audit(tx, actor, action, target("staff", account.name), before=before,
                         after=after)

    async def create(self, name: str, role: str, password: str, *, actor: str,
                     display_name: str = "", must_change_password: bool = False) -> StaffUser:
        name, role = check_name(name), check_role(role)
        check_password(password)
        now = self.clock()
        account = StaffUser(
            id=new_id(), name=name, role=role, password_hash=await self.hash_password(password),
            display_name=display_name.strip()[:40], created_at=now, updated_at=now,
            must_change_password=must_change_password,
        )
        try:
            async with self.store.transaction() as tx:
                await tx.insert(account)
                await self._audit(tx, actor, "staff.create", account, None, {"role": role})
        except Conflict:
            raise StaffError(f"账号 {name} 已存在。") from None
        return account

    async def ensure_initial_admin(self) -> str | None:
        """On an empty store, create ``admin`` with a random password and return it once."""
        if await self.store.count(StaffUser) > 0:
            return None
        password = generate_password()
        await self.create("admin", "admin", password, actor="system", display_name="管理员")
        return password

    async def authenticate(self, name: str, password: str, client: str) -> StaffUser:
        try:
            return await self._authenticate(name, password, client)
        except LimitsUnavailable:
            raise SignInUnavailable() from None

    async def _authenticate(self, name: str, password: str, client: str) -> StaffUser:
        wait = await self.throttle.wait(name, client)
        if wait:
            raise LoginThrottled(wait)
        account = await self.store.user_by_name(name.strip().lower()[:64])
        if account is None:
            # Spend the same effort as a real check so timing does not reveal valid names.
            if not self._dummy_hash:
                self._dummy_hash = await self.hash_password(secrets.token_hex(8))
            await self._verify(self._dummy_hash, password)
            ok = False
        else:
            ok = await self._verify(account.password_hash, password[:MAX_PASSWORD])
        if not ok or account is None:
            await self.throttle.record_failure(name, client)
            raise LoginFailed("账号或密码不正确。")
        if account.disabled:
            raise LoginFailed("此账号已停用，请联系管理员。")
        await self.throttle.record_success(name, client)
        return account

    async def set_role(self, user_id: str, role: str, *, actor: str) -> StaffUser:
        check_role(role)
        async with self.store.transaction() as tx:
            current = await tx.get(StaffUser, user_id)
            if current.role == role:
                return current
            await self._guard_last_admin(tx, current, losing_admin=role != "admin")
            updated = await tx.update(StaffUser, user_id, {"role": role}, now=self.clock())
            await tx.revoke_logins(user_id)
            await self._audit(tx, actor, "staff.role", updated, {"role": current.role},
                              {"role": role})
        self._revoked(user_id)
        return updated

    async def set_disabled(self, user_id: str, disabled: bool, *, actor: str) -> StaffUser:
        async with self.store.transaction() as tx:
            current = await tx.get(StaffUser, user_id)
            if disabled:
                await self._guard_last_admin(tx, current, losing_admin=True)
            updated = await tx.update(StaffUser, user_id, {"disabled": disabled},
                                      now=self.clock())
            if disabled:
                await tx.revoke_logins(user_id)
            await self._audit(tx, actor, "staff.disable" if disabled else "staff.enable",
                              updated, {"disabled": current.disabled}, {"disabled": disabled})
        if disabled:
            self._revoked(user_id)
        return updated

    async def set_password(self, user_id: str, password: str, *, actor: str,
                           must_change_password: bool = False) -> StaffUser:
        """A new password; ``must_change_password`` when an admin chose it for someone
        else (their next sign-in must replace it), false when the user chose it."""
        check_password(password)
        digest = await self.hash_password(password)  # slow: before the transaction opens
        async with self.store.transaction() as tx:
            updated = await tx.update(
                StaffUser, user_id,
                {"password_hash": digest, "must_change_password": must_change_password},
                now=self.clock(),
            )
            await tx.revoke_logins(user_id)
            await self._audit(tx, actor, "staff.password", updated, None, None)
        self._revoked(user_id)
        return updated

    @staticmethod
    async def _guard_last_admin(tx: Store, account: StaffUser, *, losing_admin: bool) -> None:
        # Read inside the change's transaction: two admins demoting each other at once
        # cannot both pass.
        if not losing_admin or account.role != "admin" or account.disabled:
            return
        admins = await tx.find(StaffUser, {"role": "admin", "disabled": False})
        if len(admins) <= 1:
            raise StaffError("不能停用或降级最后一个管理员账号。")

    async def list(self) -> list[StaffUser]:
        return await self.store.find(StaffUser, order_by=("role", "name"))


def public_view(account: StaffUser) -> dict[str, object]:
    """An account without its password hash, for logs and templates."""
    view = to_dict(account)
    view.pop("password_hash")
    return view
