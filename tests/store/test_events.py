"""The event outbox (``store.events``): the same contract on SQLite and MongoDB (the ``store``
fixture runs each test on both). What only MongoDB has — following commits with a change
stream, two nodes numbering one session — is at the end, on ``mongo_store``."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from store.base import Store, StoreUnavailable, TransactionAborted
from store.events import ResumeToken, StoredEvent
from store.mongo import MongoStore
from store.records import StaffUser, new_id
from tests.store.test_contract import question

NOW = 1_760_000_000.0


class Boom(Exception):
    pass


def ev(n: int, audience: str = "public") -> tuple[str, str, dict[str, Any]]:
    return (audience, "question", {"n": n, "text": "驾照到期", "nested": {"a": [1, 2]}})


async def test_append_numbers_a_sessions_events_consecutively_from_one(store: Store) -> None:
    async with store.transaction() as tx:
        first = await tx.append_events("s1", [ev(1), ev(2, "staff")], now=NOW)
        second = await tx.append_events("s1", [ev(3, "viewer:v1")], now=NOW + 1)
        other = await tx.append_events("s2", [ev(9)], now=NOW)
        assert await tx.append_events("s1", [], now=NOW) == range(1, 1)
        # The transaction's own reads see its events.
        assert [e.seq for e in await tx.events_since("s1", 0)] == [1, 2, 3]
    assert (first, second, other) == (range(1, 3), range(3, 4), range(1, 2))
    got = await store.events_since("s1", 0)
    assert got == [
        StoredEvent("s1", 1, "public", "question", ev(1)[2], NOW),
        StoredEvent("s1", 2, "staff", "question", ev(2)[2], NOW),
        StoredEvent("s1", 3, "viewer:v1", "question", ev(3)[2], NOW + 1),
    ]
    assert await store.last_event_seq("s1") == 3
    assert await store.last_event_seq("s2") == 1
    assert await store.last_event_seq("never") == 0
    assert await store.events_since("never", 0) == []


async def test_a_new_question_and_its_events_are_one_step_and_a_retry_has_none(
        store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s1", [ev(1)], now=NOW)
    q = question("s1")
    stored, created, seqs = await store.insert_question_with_events(
        q, [ev(2, "staff"), ev(3)], now=NOW)
    assert (stored, created, seqs) == (q, True, range(2, 4))
    retry = dataclasses.replace(q, id=new_id())  # same session, viewer and client id
    again, created, seqs = await store.insert_question_with_events(retry, [ev(4)], now=NOW)
    assert (again.id, created, list(seqs)) == (q.id, False, [])
    assert [e.seq for e in await store.events_since("s1", 0)] == [1, 2, 3]
    assert await store.last_event_seq("s1") == 3


async def test_events_since_pages_after_a_seq(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s1", [ev(i) for i in range(1, 11)], now=NOW)
    assert [e.seq for e in await store.events_since("s1", 3, limit=4)] == [4, 5, 6, 7]
    assert [e.seq for e in await store.events_since("s1", 8)] == [9, 10]
    assert await store.events_since("s1", 10) == []
    assert await store.events_since("s1", 0, limit=0) == []


async def test_appending_outside_a_transaction_is_refused(store: Store) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        await store.append_events("s1", [ev(1)])
    with pytest.raises(ValueError):
        async with store.transaction() as tx:
            await tx.append_events("", [ev(1)])
    with pytest.raises(ValueError):
        async with store.transaction() as tx:
            await tx.append_events("s1", [("public", "question", ["not", "a", "dict"])])  # type: ignore[list-item]
    assert await store.last_event_seq("s1") == 0


async def test_a_rolled_back_transaction_takes_its_numbers_back(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s1", [ev(1)], now=NOW)
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            assert await tx.append_events("s1", [ev(2), ev(3)], now=NOW) == range(2, 4)
            await tx.insert(StaffUser(id=new_id(), name="a", role="host", password_hash="x"))
            raise Boom
    assert await store.last_event_seq("s1") == 1
    assert await store.count(StaffUser) == 0
    async with store.transaction() as tx:
        assert await tx.append_events("s1", [ev(4)], now=NOW) == range(2, 3)
    assert [e.data["n"] for e in await store.events_since("s1", 0)] == [1, 4]


async def test_a_failed_write_beside_the_events_aborts_them_too(store: Store) -> None:
    await store.insert(StaffUser(id="u", name="taken", role="host", password_hash="x"))
    with pytest.raises(TransactionAborted):
        async with store.transaction() as tx:
            await tx.append_events("s1", [ev(1)], now=NOW)
            with pytest.raises(Exception, match="exists"):
                await tx.insert(StaffUser(id=new_id(), name="taken", role="host",
                                          password_hash="x"))
    assert await store.last_event_seq("s1") == 0
    assert await store.events_since("s1", 0) == []


async def test_concurrent_transactions_on_one_session_leave_no_gap_and_no_repeat(
    store: Store,
) -> None:
    async def action(i: int) -> range:
        async with store.transaction() as tx:
            await asyncio.sleep(0.001 * (i % 3))  # let the others try to interleave
            seqs = await tx.append_events("s1", [ev(i)] * (1 + i % 3), now=NOW)
            if i % 5 == 4:
                raise Boom  # some abort: their numbers go back
            return seqs

    results = await asyncio.gather(*(action(i) for i in range(30)), return_exceptions=True)
    committed = [r for r in results if isinstance(r, range)]
    assert all(isinstance(r, range | Boom) for r in results)
    numbers = sorted(n for r in committed for n in r)
    assert numbers == list(range(1, len(numbers) + 1))
    stored = await store.events_since("s1", 0, limit=1000)
    assert [e.seq for e in stored] == numbers
    assert await store.last_event_seq("s1") == len(numbers)


async def test_trimming_removes_old_events_but_never_reuses_a_number(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s1", [ev(1), ev(2)], now=NOW)
        await tx.append_events("s2", [ev(3)], now=NOW + 5)
        await tx.append_events("s1", [ev(4)], now=NOW + 10)
    assert await store.trim_events(older_than=NOW + 5) == 2
    assert [(e.session_id, e.seq) for e in await store.events_since("s1", 0)] == [("s1", 3)]
    assert [e.seq for e in await store.events_since("s2", 0)] == [1]
    assert await store.last_event_seq("s1") == 3
    async with store.transaction() as tx:
        assert await tx.append_events("s1", [ev(5)], now=NOW + 20) == range(4, 5)


async def test_sqlite_has_no_change_stream(sqlite_store: Store) -> None:
    with pytest.raises(NotImplementedError):
        sqlite_store.watch_events(None)


# --- MongoDB only -----------------------------------------------------------------------------


@pytest.fixture
async def mongo_store(mongodb_uri: str) -> AsyncIterator[MongoStore]:
    store = MongoStore(mongodb_uri, database=f"tp_test_{secrets.token_hex(6)}", timeout_ms=5000)
    await store.open()
    try:
        yield store
    finally:
        await store.drop_database()
        await store.close()


async def collect(store: MongoStore, token: ResumeToken | None, count: int,
                  started: asyncio.Event | None = None
                  ) -> list[tuple[StoredEvent, ResumeToken]]:
    got: list[tuple[StoredEvent, ResumeToken]] = []
    stream = store.watch_events(token)
    try:
        async with asyncio.timeout(20):
            while len(got) < count:
                if started is not None and not started.is_set():
                    # The first __anext__ opens the stream; give it a moment before others write.
                    task = asyncio.ensure_future(anext(stream))
                    await asyncio.sleep(0.5)
                    started.set()
                    got.append(await task)
                    continue
                got.append(await anext(stream))
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return got


async def append(store: MongoStore, session_id: str, *ns: int) -> range:
    async with store.transaction() as tx:
        return await tx.append_events(session_id, [ev(n) for n in ns], now=NOW)


@pytest.mark.mongodb
async def test_watch_events_follows_commits_and_resumes_after_a_token(
    mongo_store: MongoStore,
) -> None:
    started = asyncio.Event()
    watcher = asyncio.create_task(collect(mongo_store, None, 3, started))
    await started.wait()
    await append(mongo_store, "s1", 1, 2)
    with pytest.raises(Boom):  # an aborted transaction's events are never seen
        async with mongo_store.transaction() as tx:
            await tx.append_events("s1", [ev(99)], now=NOW)
            raise Boom
    await append(mongo_store, "s2", 3)
    seen = await watcher
    assert [(e.session_id, e.seq, e.data["n"]) for e, _ in seen] == [
        ("s1", 1, 1), ("s1", 2, 2), ("s2", 1, 3)]
    # A follower that handled the first event and restarted resumes right after it.
    await append(mongo_store, "s1", 4)
    resumed = await collect(mongo_store, seen[0][1], 3)
    assert [(e.session_id, e.seq) for e, _ in resumed] == [("s1", 2), ("s2", 1), ("s1", 3)]


@pytest.fixture
async def other_node(mongo_store: MongoStore, mongodb_uri: str) -> AsyncIterator[MongoStore]:
    """A second node: its own client on the same database."""
    other = MongoStore(mongodb_uri, database=mongo_store.database_name, timeout_ms=5000)
    await other.open()
    yield other
    await other.close()


@pytest.mark.mongodb
async def test_two_nodes_numbering_one_session_take_turns_without_gaps(
    mongo_store: MongoStore, other_node: MongoStore,
) -> None:
    async def action(node: MongoStore, i: int) -> range:
        async with node.transaction() as tx:
            await tx.insert(StaffUser(id=f"u{i}-{id(node)}", name=f"n{i}-{id(node)}",
                                      role="host", password_hash="x"))
            seqs = await tx.append_events("s1", [ev(i), ev(i)], now=NOW)
            await asyncio.sleep(0.01)  # hold the counter while the other node tries
            return seqs

    results = await asyncio.gather(
        *(action(node, i) for i in range(10) for node in (mongo_store, other_node)))
    numbers = sorted(n for r in results for n in r)
    assert numbers == list(range(1, 41))  # every transaction committed, in turn
    assert [e.seq for e in await mongo_store.events_since("s1", 0)] == numbers
    assert await mongo_store.count(StaffUser) == 20


@pytest.mark.mongodb
async def test_a_conflict_after_reading_what_the_other_node_changed_applies_nothing(
    mongo_store: MongoStore, other_node: MongoStore,
) -> None:
    user = await mongo_store.insert(StaffUser(id="u", name="a", role="host", password_hash="x"))
    read, changed = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with mongo_store.transaction() as tx:
            assert (await tx.get(StaffUser, user.id)).role == "host"
            read.set()
            await changed.wait()
            await tx.insert(StaffUser(id="x", name="x", role="host", password_hash="x"))
            await tx.append_events("s1", [ev(1)], now=NOW)  # conflicts, replays, differs

    async def second() -> None:
        await read.wait()
        async with other_node.transaction() as tx:
            await tx.update(StaffUser, user.id, {"role": "admin"}, now=NOW)
            await tx.append_events("s1", [ev(2)], now=NOW)
        changed.set()

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    assert isinstance(results[0], StoreUnavailable) and results[1] is None, results
    assert "changed what it had read (get)" in str(results[0])
    assert [e.data["n"] for e in await mongo_store.events_since("s1", 0)] == [2]
    assert await mongo_store.count(StaffUser) == 1


@pytest.mark.mongodb
async def test_watching_outlasts_a_quiet_spell_longer_than_the_client_timeout(
    mongodb_uri: str,
) -> None:
    store = MongoStore(mongodb_uri, database=f"tp_test_{secrets.token_hex(6)}", timeout_ms=1000)
    await store.open()
    try:
        started = asyncio.Event()
        watcher = asyncio.create_task(collect(store, None, 1, started))
        await started.wait()
        await asyncio.sleep(2.5)  # nothing to report for longer than timeout_ms
        await append(store, "s1", 7)
        [(event, _token)] = await watcher
        assert (event.seq, event.data["n"]) == (1, 7)
    finally:
        await store.drop_database()
        await store.close()
