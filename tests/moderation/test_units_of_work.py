"""Outside the live desk, every audited change is one unit of work too: staff accounts, the
data files and broadcast sessions. A store failing at any write of such a change leaves
nothing of it (no half-changed account, no edit without its audit entry), and nobody is told
of a change that did not happen."""

from __future__ import annotations

from typing import Any, cast

import pytest

from live.sessions import SessionForm, Sessions
from moderation import data_files
from moderation.audit import Audit
from moderation.data_files import CATALOG
from moderation.staff import LoginThrottle, StaffAccounts
from store.base import Store, StoreUnavailable
from store.records import AuditEntry, DataFile, LiveSession, LoginSession, StaffUser
from tests.moderation.faults import FaultyStore

NOW = 1_760_000_000.0
PASSWORD = "correct-horse-battery"


async def everything(store: Store) -> dict[str, Any]:
    return {cls.__name__: await store.find(cls, order_by=["id"])
            for cls in (StaffUser, LoginSession, AuditEntry, LiveSession, DataFile)}


async def fail_each_write(store: Store, faulty: FaultyStore, writes: int, change: Any) -> None:
    """Run ``change`` once failing at each of its ``writes`` writes, then once for real."""
    before = await everything(store)
    for n in range(1, writes + 1):
        faulty.writes, faulty.fail_at = 0, n
        with pytest.raises(StoreUnavailable):
            await change()
        assert await everything(store) == before, f"write {n} failed, yet something changed"
    faulty.writes, faulty.fail_at = 0, None
    await change()
    assert faulty.writes == writes
    assert await everything(store) != before


async def test_a_role_change_its_logout_and_its_entry_commit_together(store: Store) -> None:
    faulty = FaultyStore(store)
    accounts = StaffAccounts(cast(Store, faulty), LoginThrottle(0, 0))
    revoked: list[str] = []
    accounts.on_revoke.append(revoked.append)
    await accounts.create("boss", "admin", PASSWORD, actor="test")
    alice = await accounts.create("alice", "moderator", PASSWORD, actor="boss")
    await store.insert(LoginSession(id="h", user_id=alice.id, csrf_token="t", created_at=NOW,
                                    last_seen=NOW, expires_at=NOW + 60))

    async def promote() -> None:
        await accounts.set_role(alice.id, "host", actor="boss")

    await fail_each_write(store, faulty, 3, promote)  # the account, its logins, the entry
    assert revoked == [alice.id]  # sockets are closed only for the change that happened
    assert await store.count(LoginSession) == 0


async def test_a_data_file_save_and_its_entry_commit_together(store: Store) -> None:
    faulty = FaultyStore(store)
    text = data_files.shipped_text(CATALOG).replace("驾驶证", "驾驶证件", 1)

    async def save() -> None:
        await data_files.save(cast(Store, faulty), CATALOG, text, expected_version=0,
                              actor="boss", now=NOW)

    await fail_each_write(store, faulty, 2, save)  # the file, the entry


async def test_starting_a_session_and_its_entry_commit_together(store: Store) -> None:
    faulty = FaultyStore(store)
    told: list[str] = []
    sessions = Sessions(cast(Store, faulty), lambda b: told.append(b.status), audit=Audit())
    b = await sessions.create(SessionForm("交警视频帮", scheduled_start=NOW), actor="boss")

    async def start() -> None:
        await sessions.start(b.id, actor="boss")

    await fail_each_write(store, faulty, 2, start)  # the session, the entry
    assert told == ["live"]  # listeners hear only of the start that was stored
