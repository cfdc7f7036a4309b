"""What only the MongoDB backend has: connection errors, indexes, write concern, and the
mapping of records to documents. The behaviour both backends share is in test_contract.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pymongo.write_concern import WriteConcern

from store.base import Conflict, StoreUnavailable
from store.mongo import MongoStore
from store.records import LoginSession, Question, StaffUser, TermRule, new_id
from tests.conftest import require

NOW = 1_760_000_000.0


# PyMongo 4.20 leaks a socket when closing a client cancels a monitor that is still
# connecting (PYTHON-5867: the CancelledError skips the socket's close). That happens when
# the server is unreachable. The tests that do this finalize the leak inside themselves
# (``collect_leaked_sockets``) and ignore just that warning, so it cannot fail a later test.
ignore_leaked_sockets = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


async def collect_leaked_sockets() -> None:
    await asyncio.sleep(0.05)  # let the cancelled monitor tasks unwind
    gc.collect()


def unique_db() -> str:
    return f"tp_test_{secrets.token_hex(6)}"


@pytest.fixture
async def mongo_store(mongodb_uri: str) -> AsyncIterator[MongoStore]:
    store = MongoStore(mongodb_uri, database=unique_db(), timeout_ms=5000)
    await store.open()
    try:
        yield store
    finally:
        await store.drop_database()
        await store.close()


def user(name: str = "alice") -> StaffUser:
    return StaffUser(id=new_id(), name=name, role="host", password_hash="x", created_at=NOW)


def question(client_id: str = "c1") -> Question:
    return Question(id=new_id(), session_id="s1", viewer_id="v1", client_id=client_id,
                    text="年检", created_at=NOW, updated_at=NOW)


# --- no server needed -------------------------------------------------------------------------


async def open_failure(store: MongoStore) -> str:
    """Open ``store`` expecting StoreUnavailable; its message. The exception (whose chain
    references the closed client) dies here, so ``collect_leaked_sockets`` can reach it."""
    with pytest.raises(StoreUnavailable) as info:
        await store.open()
    return str(info.value)


@ignore_leaked_sockets
async def test_unreachable_server_names_the_masked_uri_and_the_timeout() -> None:
    uri = "mongodb://tippocket:s3cr%40t-pw@127.0.0.1:1/?serverSelectionTimeoutMS=300"
    store = MongoStore(uri, timeout_ms=300)
    message = await open_failure(store)
    await collect_leaked_sockets()
    assert "mongodb://tippocket:***@127.0.0.1:1/" in message
    assert "could not be reached within 300 ms" in message
    assert "s3cr" not in message and "pw" not in message
    # Nothing half-open is left behind, and the probe says so instead of raising.
    status = await store.status()
    assert status["ok"] is False and status["backend"] == "mongodb" and status["error"]


async def test_status_of_a_store_never_opened_is_not_ok() -> None:
    store = MongoStore("mongodb://127.0.0.1:1/")
    status = await store.status()
    assert status["ok"] is False
    assert "closed" in status["error"]
    assert isinstance(status["latency_ms"], float)


async def test_a_malformed_uri_is_store_unavailable() -> None:
    message = await open_failure(MongoStore("mongodb://user:hunter2@127.0.0.1:notaport/"))
    assert "hunter2" not in message and "not usable" in message


# --- against a server -------------------------------------------------------------------------


@pytest.mark.mongodb
async def test_open_creates_the_indexes(mongo_store: MongoStore) -> None:
    db = mongo_store.database
    staff = await db["staff_users"].index_information()
    by_key = {tuple(spec["key"]): spec for spec in staff.values()}
    assert by_key[(("name", 1),)].get("unique") is True
    questions = await db["questions"].index_information()
    keys = {tuple(spec["key"]): spec.get("unique", False) for spec in questions.values()}
    assert keys[(("session_id", 1), ("viewer_id", 1), ("client_id", 1))] is True
    assert (("viewer_id", 1), ("client_id", 1)) not in keys  # retired: per session now
    assert (("session_id", 1), ("state", 1), ("created_at", 1)) in keys
    terms = await db["term_rules"].index_information()
    assert {tuple(s["key"]): s.get("unique") for s in terms.values()}[(("term", 1),)] is True
    jobs = await db["jobs"].index_information()
    assert (("state", 1), ("run_after", 1)) in {tuple(s["key"]) for s in jobs.values()}


@pytest.mark.mongodb
async def test_open_retires_the_per_viewer_retry_index(mongodb_uri: str) -> None:
    store = MongoStore(mongodb_uri, database=unique_db(), timeout_ms=5000)
    await store.open()
    try:
        questions = store.database["questions"]
        await questions.drop_indexes()
        await questions.create_index([("viewer_id", 1), ("client_id", 1)], unique=True)
        await store.close()
        await store.open()  # an older deployment's database, opened by this version
        questions = store.database["questions"]
        keys = {tuple(s["key"]) for s in (await questions.index_information()).values()}
        assert (("viewer_id", 1), ("client_id", 1)) not in keys
        await store.insert_question(question("c"))
        q2 = replace(question("c"), session_id="another")
        assert (await store.insert_question(q2))[1] is True
    finally:
        await store.drop_database()
        await store.close()


@pytest.mark.mongodb
async def test_open_keeps_the_oldest_of_duplicate_blocked_terms(mongodb_uri: str) -> None:
    store = MongoStore(mongodb_uri, database=unique_db(), timeout_ms=5000)
    await store.open()
    try:
        rules = store.database["term_rules"]
        await rules.drop_indexes()  # as an older version left it: terms not unique
        for i, action in enumerate(["hold", "reject", "hold"]):
            await rules.insert_one({"_id": f"r{i}", "term": "代办", "action": action,
                                    "created_at": NOW + i})
        await rules.insert_one({"_id": "other", "term": "黄牛", "action": "hold"})
        await store.close()
        await store.open()
        kept = await store.find(TermRule, order_by=["term"])
        assert sorted((r.id, r.term) for r in kept) == [("other", "黄牛"), ("r0", "代办")]
        with pytest.raises(Conflict):
            await store.insert(TermRule(id="again", term="黄牛", action="hold"))
    finally:
        await store.drop_database()
        await store.close()


@pytest.mark.mongodb
async def test_opening_twice_is_harmless(mongo_store: MongoStore) -> None:
    again = MongoStore(mongo_store._uri, database=mongo_store.database_name)
    await again.open()  # the indexes exist already
    await again.close()
    assert (await mongo_store.status())["ok"] is True


@pytest.mark.mongodb
@pytest.mark.parametrize(("w", "journal", "expected"), [
    ("majority", True, WriteConcern(w="majority", j=True)),
    ("1", False, WriteConcern(w=1, j=False)),
])
async def test_write_concern_is_applied(
    mongodb_uri: str, w: str, journal: bool, expected: WriteConcern
) -> None:
    store = MongoStore(mongodb_uri, database=unique_db(), write_concern=w, journal=journal)
    await store.open()
    try:
        assert store.database.write_concern == expected
        assert store.database["questions"].write_concern == expected
        await store.insert(user("alice"))
        with pytest.raises(Conflict):
            await store.insert(user("alice"))
        first, created = await store.insert_question(question())
        again, created_again = await store.insert_question(question())
        assert created and not created_again and again.id == first.id
        await store.insert(LoginSession(id="s", user_id="u", csrf_token="t", created_at=NOW,
                                        last_seen=NOW, expires_at=NOW))
        assert await store.revoke_logins("u") == 1
    finally:
        await store.drop_database()
        await store.close()


def test_unacknowledged_writes_are_refused() -> None:
    with pytest.raises(ValueError, match="w=0"):
        MongoStore("mongodb://127.0.0.1:1/", write_concern="0")


@pytest.mark.mongodb
async def test_a_closed_store_reports_and_raises_store_errors(mongodb_uri: str) -> None:
    store = MongoStore(mongodb_uri, database=unique_db())
    await store.open()
    assert (await store.status())["ok"] is True
    await store.close()
    status = await store.status()
    assert status["ok"] is False and status["error"]
    with pytest.raises(StoreUnavailable):
        await store.get(StaffUser, "x")
    await store.close()  # closing twice is fine


async def lose_the_server(server: Any) -> tuple[dict[str, Any], str]:
    """Open a store on ``server``, stop the server; the store's status and the error of a
    read afterwards."""
    store = MongoStore(str(server.uri), database="tp_gone", timeout_ms=400)
    try:
        await store.open()
        await store.insert(user())
        # SecantusDB 0.7's stop() waits 2 s for its accept() to return; shutting the
        # listening socket down first wakes it at once. Only speed depends on this.
        with contextlib.suppress(AttributeError, OSError):
            server._socket.shutdown(socket.SHUT_RDWR)
        server.stop()
        status = await store.status()
        with pytest.raises(StoreUnavailable) as info:
            await store.count(StaffUser)
        return status, str(info.value)
    finally:
        await store.close()


@pytest.mark.mongodb
@ignore_leaked_sockets
async def test_a_server_that_goes_away_surfaces_as_store_unavailable(tmp_path: Path) -> None:
    try:
        from secantus import SecantusDBServer
    except ImportError:
        require(False, "SecantusDB is not installed (pip install -e '.[test]')")
        return
    server: Any = SecantusDBServer(storage_path=str(tmp_path / "gone"))
    server.start()
    try:
        status, error = await lose_the_server(server)
    finally:
        server.stop()
        await collect_leaked_sockets()
    assert status["ok"] is False and status["error"]
    assert "MongoDB" in error


@pytest.mark.mongodb
async def test_id_is_the_document_id(mongo_store: MongoStore) -> None:
    q = await mongo_store.insert(question())
    raw = await mongo_store.database["questions"].find_one({"_id": q.id})
    assert raw is not None and "id" not in raw
    assert [x.id for x in await mongo_store.find(Question, {"id": q.id})] == [q.id]
    assert [x.id for x in await mongo_store.find(Question, None, order_by=["-id"])] == [q.id]


@pytest.mark.mongodb
async def test_lists_and_dicts_are_stored_natively(mongo_store: MongoStore) -> None:
    q = await mongo_store.insert(Question(
        id=new_id(), session_id="s", viewer_id="v", client_id="c", text="t",
        flags={"pii": ["身份证"], "n": 1},
    ))
    raw = await mongo_store.database["questions"].find_one({"_id": q.id})
    assert raw is not None and raw["flags"] == {"pii": ["身份证"], "n": 1}


@pytest.mark.mongodb
async def test_documents_missing_newer_fields_take_their_defaults(
    mongo_store: MongoStore,
) -> None:
    # As written by an older Tip Pocket: no display_name, disabled or version yet, and an
    # integer where the record says float; plus a field this version does not know.
    await mongo_store.database["staff_users"].insert_one({
        "_id": "u1", "name": "old", "role": "admin", "password_hash": "x", "created_at": 5,
        "legacy": True,
    })
    got = await mongo_store.get(StaffUser, "u1")
    assert (got.display_name, got.disabled, got.version) == ("", False, 1)
    assert isinstance(got.created_at, float)


@pytest.mark.mongodb
async def test_queries_cannot_be_handed_operators(mongo_store: MongoStore) -> None:
    await mongo_store.insert(user())
    with pytest.raises(ValueError):
        await mongo_store.get(StaffUser, {"$ne": ""})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await mongo_store.delete(StaffUser, {"$exists": True})  # type: ignore[arg-type]
    assert await mongo_store.count(StaffUser) == 1


@pytest.mark.mongodb
async def test_limit_zero_means_no_rows_like_sqlite(mongo_store: MongoStore) -> None:
    await mongo_store.insert(user())
    assert await mongo_store.find(StaffUser, limit=0) == []
    assert len(await mongo_store.find(StaffUser, limit=None)) == 1


@pytest.mark.mongodb
async def test_values_bson_cannot_hold_are_a_value_error(mongo_store: MongoStore) -> None:
    with pytest.raises(ValueError):
        await mongo_store.insert(Question(id=new_id(), session_id="s", viewer_id="v",
                                          client_id="c", text="t",
                                          flags={1: "x"}))  # type: ignore[dict-item]
