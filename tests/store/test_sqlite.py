"""What only the SQLite backend has: the single writer's group commit of plain writes and
transaction blocks, the idle time-out of a transaction, and migrations of an existing file.
The behaviour both backends share is in test_contract.py."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from store.base import Conflict, StoreUnavailable, TransactionAborted
from store.records import Question, StaffUser, new_id
from store.sqlite import SQLiteStore, migrations

NOW = 1_760_000_000.0


def user(name: str) -> StaffUser:
    return StaffUser(id=new_id(), name=name, role="host", password_hash="x", created_at=NOW,
                     updated_at=NOW)


async def test_plain_writes_wait_for_an_open_transaction_and_are_not_part_of_it(
    sqlite_store: SQLiteStore,
) -> None:
    with pytest.raises(RuntimeError, match="rolled"):
        async with sqlite_store.transaction() as tx:
            await tx.insert(user("inside"))
            # Another task's write queues behind the transaction, not inside it.
            outside = asyncio.create_task(sqlite_store.insert(user("outside")))
            await asyncio.sleep(0.2)
            assert not outside.done()
            raise RuntimeError("rolled back on purpose")
    await outside
    assert [u.name for u in await sqlite_store.find(StaffUser)] == ["outside"]


async def test_writes_queued_before_a_transaction_are_applied_before_it_begins(
    sqlite_store: SQLiteStore,
) -> None:
    early = [asyncio.create_task(sqlite_store.insert(user(f"early{i}"))) for i in range(5)]
    await asyncio.sleep(0)  # queued, not yet written
    async with sqlite_store.transaction() as tx:
        assert await tx.count(StaffUser) == 5
    await asyncio.gather(*early)


async def test_an_idle_transaction_is_rolled_back_and_frees_the_writer(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", transaction_idle_seconds=0.2)
    await store.open()
    try:
        with pytest.raises(StoreUnavailable, match="idle"):
            async with store.transaction() as tx:
                await tx.insert(user("slow"))
                waiting = asyncio.create_task(store.insert(user("waiting")))
                await asyncio.sleep(0.6)
                assert waiting.done()  # the writer moved on without the idle transaction
        assert [u.name for u in await store.find(StaffUser)] == ["waiting"]
    finally:
        await store.close()


async def test_a_cancelled_transaction_rolls_back(sqlite_store: SQLiteStore) -> None:
    entered = asyncio.Event()

    async def stuck() -> None:
        async with sqlite_store.transaction() as tx:
            await tx.insert(user("cancelled"))
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(stuck())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sqlite_store.insert(user("after"))
    assert [u.name for u in await sqlite_store.find(StaffUser)] == ["after"]


# --- group commit of transaction blocks -------------------------------------------------------


class Boom(Exception):
    pass


def committed_names(path: Path) -> set[str]:
    """What a fresh connection sees: only what is committed to the file."""
    conn = sqlite3.connect(path)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM staff_users")}
    finally:
        conn.close()


async def commits(store: SQLiteStore) -> int:
    return int((await store.status())["commits"])


@pytest.fixture
async def grouping_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A store whose groups are bounded by size only, so concurrent blocks share one."""
    store = SQLiteStore(tmp_path / "g.sqlite3", group_seconds=60)
    await store.open()
    yield store
    await store.close()


async def test_concurrent_blocks_share_commits_and_each_exit_is_durable(
    grouping_store: SQLiteStore,
) -> None:
    store, before = grouping_store, await commits(grouping_store)

    async def block(i: int) -> set[str]:
        async with store.transaction() as tx:
            await tx.insert(user(f"u{i}"))
            await tx.count(StaffUser)
        return committed_names(store.path)  # right after the block's exit

    seen = await asyncio.gather(*(block(i) for i in range(40)))
    assert all(f"u{i}" in names for i, names in enumerate(seen))
    assert await store.count(StaffUser) == 40
    assert await commits(store) - before < 20  # forty blocks, far fewer fsyncs


async def test_a_failing_block_does_not_spoil_the_others_in_its_group(
    grouping_store: SQLiteStore,
) -> None:
    store, before = grouping_store, await commits(grouping_store)
    await store.insert(user("taken"))

    async def block(i: int) -> str:
        async with store.transaction() as tx:
            await tx.insert(user(f"u{i}"))
            if i == 3:
                raise Boom  # rolled back to its own savepoint
            if i == 5:
                with pytest.raises(Conflict):  # caught, it still dooms this block only
                    await tx.insert(user("taken"))
        return f"u{i}"

    results = await asyncio.gather(*(block(i) for i in range(8)), return_exceptions=True)
    assert isinstance(results[3], Boom) and isinstance(results[5], TransactionAborted)
    ok = {r for r in results if isinstance(r, str)}
    assert ok == {f"u{i}" for i in range(8) if i not in (3, 5)}
    assert committed_names(store.path) == ok | {"taken"}
    assert await commits(store) - before < 8


async def test_a_failed_commit_fails_every_block_of_its_group(tmp_path: Path) -> None:
    path = tmp_path / "poisoned.sqlite3"
    store = SQLiteStore(path, group_seconds=60)
    await store.open()
    await store.close()
    # A deferred foreign key is checked only at COMMIT: a staff user named "poison" leaves a
    # dangling reference that makes the whole group's COMMIT fail, whoever else is in it.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        CREATE TABLE anchor (id TEXT PRIMARY KEY);
        CREATE TABLE dangling (anchor_id TEXT REFERENCES anchor (id)
                               DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER poison AFTER INSERT ON staff_users WHEN NEW.name = 'poison'
        BEGIN INSERT INTO dangling VALUES ('missing'); END;
    """)
    conn.close()
    await store.open()
    try:
        async def block(name: str) -> None:
            async with store.transaction() as tx:
                await tx.insert(user(name))
                assert await tx.count(StaffUser) >= 1

        names = ["a", "b", "poison", "c"]
        results = await asyncio.gather(*(block(n) for n in names),
                                       store.insert(user("plain")), return_exceptions=True)
        assert all(isinstance(r, StoreUnavailable) and "nothing was applied" in str(r)
                   for r in results), results
        assert committed_names(path) == set()
        # The writer goes on: the next group commits.
        async with store.transaction() as tx:
            await tx.insert(user("after"))
        assert committed_names(path) == {"after"}
    finally:
        await store.close()


async def test_migration_4_keys_question_retries_per_session(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                 "applied_at REAL NOT NULL)")
    for version, sql in migrations():
        if version < 4:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    conn.execute("INSERT INTO questions (id, session_id, viewer_id, client_id, text, "
                 "created_at, updated_at) VALUES ('q1', 's1', 'v1', 'c1', '年检', 1, 1)")
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        assert store.schema_version >= 4
        kept = await store.get(Question, "q1")
        assert (kept.session_id, kept.text) == ("s1", "年检")
        again = Question(id="q2", session_id="s2", viewer_id="v1", client_id="c1", text="换证",
                         created_at=NOW, updated_at=NOW)
        assert await store.insert_question(again) == (again, True)
        retry = Question(id="q3", session_id="s1", viewer_id="v1", client_id="c1", text="x",
                         created_at=NOW, updated_at=NOW)
        assert await store.insert_question(retry) == (kept, False)
    finally:
        await store.close()


def test_migration_numbers_are_unique_and_contiguous() -> None:
    # Two branches that each add "the next" migration must not land with the same number:
    # the second file would silently never run on a database that has the first.
    versions = [version for version, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1)), versions


async def test_a_bug_in_one_operation_fails_that_operation_not_the_writer(
    sqlite_store: SQLiteStore,
) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO store_meta VALUES ('half', 'done')")
        raise KeyError("a bug")

    others = [asyncio.create_task(sqlite_store.insert(user(f"u{i}"))) for i in range(3)]
    with pytest.raises(KeyError):
        await sqlite_store._write(broken)
    await asyncio.gather(*others)
    assert await sqlite_store.count(StaffUser) == 3
    assert await sqlite_store._read(lambda c: c.execute(
        "SELECT COUNT(*) FROM store_meta WHERE key = 'half'").fetchone()[0]) == 0
