"""The store contract: every backend must pass every test here.

The ``store`` fixture runs each test against SQLite (a real file) and MongoDB (MONGODB_URI,
or a SecantusDB wire-protocol server started for the run).
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from typing import Any, TypeVar

import pytest

from store import records
from store.base import Conflict, NotFound, Store, TransactionAborted, VersionConflict
from store.records import (
    AuditEntry,
    Clip,
    Job,
    LiveSession,
    LoginSession,
    Question,
    StaffUser,
    TermRule,
    new_id,
)

R = TypeVar("R")
NOW = 1_760_000_000.0


def user(name: str = "alice", role: str = "moderator") -> StaffUser:
    return StaffUser(
        id=new_id(), name=name, role=role, password_hash="x", created_at=NOW, updated_at=NOW
    )


def question(session_id: str = "s1", viewer: str = "v1", client_id: str = "c1",
             **extra: object) -> Question:
    return Question(
        id=new_id(), session_id=session_id, viewer_id=viewer, client_id=client_id,
        text="驾照快到期了在哪里换", created_at=extra.pop("created_at", NOW),  # type: ignore[arg-type]
        updated_at=NOW, **extra,  # type: ignore[arg-type]
    )


async def test_status_reports_ok_and_backend(store: Store) -> None:
    status = await store.status()
    assert status["ok"] is True
    assert status["backend"] == store.backend


async def test_insert_then_get_round_trips_every_field(store: Store) -> None:
    b = LiveSession(
        id=new_id(), title="交警视频帮 上午场", description="年检、驾照", scheduled_start=NOW,
        scheduled_end=NOW + 7200, host_ids=["h1", "h2"], presenter="小王",
        settings={"slow_mode_seconds": 30, "nested": {"a": [1, 2]}}, created_at=NOW,
        updated_at=NOW,
    )
    await store.insert(b)
    assert await store.get(LiveSession, b.id) == b


async def test_get_missing_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.get(StaffUser, "nope")


async def test_staff_name_is_unique(store: Store) -> None:
    await store.insert(user("alice"))
    with pytest.raises(Conflict):
        await store.insert(user("alice"))
    assert await store.count(StaffUser) == 1


async def test_user_by_name(store: Store) -> None:
    alice = await store.insert(user("alice"))
    assert await store.user_by_name("alice") == alice
    assert await store.user_by_name("bob") is None


async def test_bool_fields_round_trip(store: Store) -> None:
    u = await store.insert(user())
    updated = await store.update(StaffUser, u.id, {"disabled": True}, now=NOW + 1)
    assert updated.disabled is True
    assert (await store.get(StaffUser, u.id)).disabled is True


async def test_update_bumps_version_and_updated_at(store: Store) -> None:
    u = await store.insert(user())
    updated = await store.update(StaffUser, u.id, {"role": "host"}, now=NOW + 5)
    assert (updated.role, updated.version, updated.updated_at) == ("host", 2, NOW + 5)


async def test_an_update_that_is_no_decision_keeps_the_version(store: Store) -> None:
    q = await store.insert(question())
    hinted = await store.update(Question, q.id, {"flags": {"understood": True}},
                                expected_version=1, now=NOW + 5, bump_version=False)
    assert (hinted.flags, hinted.version, hinted.updated_at) == ({"understood": True}, 1, NOW + 5)
    # A decision quoting the version seen before still applies, and bumps it.
    decided = await store.update(Question, q.id, {"state": "queued"}, expected_version=1,
                                 now=NOW + 6)
    assert (decided.state, decided.version, decided.flags) == ("queued", 2, {"understood": True})


async def test_update_many_changes_each_record_in_order(store: Store) -> None:
    first = await store.insert(question(client_id="c1"))
    second = await store.insert(question(client_id="c2"))
    async with store.transaction() as tx:
        done = await tx.update_many(Question, [
            (first.id, {"flags": {"item": "a"}}, 1),
            (second.id, {"flags": {"item": "b"}}, None),
        ], now=NOW + 5, bump_version=False)
    assert [(q.id, q.flags, q.version) for q in done] == [
        (first.id, {"item": "a"}, 1), (second.id, {"item": "b"}, 1)]
    assert (await store.get(Question, second.id)).flags == {"item": "b"}


async def test_update_many_with_one_stale_version_applies_none_of_it(store: Store) -> None:
    first = await store.insert(question(client_id="c1"))
    second = await store.insert(question(client_id="c2"))
    await store.update(Question, second.id, {"state": "queued"}, expected_version=1, now=NOW)
    with pytest.raises(VersionConflict) as info:
        async with store.transaction() as tx:
            await tx.update_many(Question, [
                (first.id, {"flags": {"item": "a"}}, 1),
                (second.id, {"flags": {"item": "b"}}, 1),
            ], now=NOW + 5, bump_version=False)
    assert info.value.current.id == second.id
    assert (await store.get(Question, first.id)).flags == {}
    assert (await store.get(Question, second.id)).flags == {}
    with pytest.raises(ValueError):  # an immutable field refuses the batch before it is sent
        await store.update_many(Question, [(first.id, {"session_id": "s2"}, None)], now=NOW)


async def test_update_with_stale_version_is_refused(store: Store) -> None:
    q = await store.insert(question())
    await store.update(Question, q.id, {"state": "queued"}, expected_version=1, now=NOW)
    with pytest.raises(VersionConflict) as info:
        await store.update(Question, q.id, {"state": "declined"}, expected_version=1, now=NOW)
    assert info.value.current.state == "queued"
    assert (await store.get(Question, q.id)).state == "queued"


async def test_concurrent_updates_with_same_version_let_exactly_one_win(store: Store) -> None:
    q = await store.insert(question())
    results = await asyncio.gather(
        *(store.update(Question, q.id, {"reply": f"r{i}"}, expected_version=1, now=NOW)
          for i in range(5)),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, Question)]
    assert len(wins) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r not in wins)


async def test_update_rejects_immutable_fields(store: Store) -> None:
    q = await store.insert(question())
    with pytest.raises(ValueError):
        await store.update(Question, q.id, {"viewer_id": "someone-else"}, now=NOW)


async def test_update_missing_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.update(StaffUser, "missing", {"role": "host"}, now=NOW)


async def test_find_filters_orders_and_pages(store: Store) -> None:
    for i, state in enumerate(["pending", "queued", "queued", "answered", "queued"]):
        await store.insert(question(client_id=f"c{i}", state=state, created_at=NOW + i,
                                    position=float(10 - i)))
    queued = await store.find(Question, {"state": "queued"}, order_by=["position"])
    assert [q.client_id for q in queued] == ["c4", "c2", "c1"]
    some = await store.find(Question, {"state": ["pending", "answered"]}, order_by=["-created_at"])
    assert [q.client_id for q in some] == ["c3", "c0"]
    page = await store.find(Question, None, order_by=["created_at"], limit=2, offset=1)
    assert [q.client_id for q in page] == ["c1", "c2"]
    later = await store.find(Question, {"created_at__gte": NOW + 3})
    assert [q.client_id for q in later] == ["c3", "c4"]
    assert await store.count(Question, {"state__ne": "queued"}) == 2
    assert await store.find(Question, {"state": []}) == []


async def test_find_refuses_unknown_fields_and_operator_objects(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.find(Question, {"text; DROP TABLE questions": 1})
    with pytest.raises(ValueError):
        await store.find(Question, {"state": {"$ne": None}})
    with pytest.raises(ValueError):
        await store.find(Question, {"state__regex": ".*"})
    with pytest.raises(ValueError):
        await store.find(Question, None, order_by=["nope"])


async def test_unicode_text_survives(store: Store) -> None:
    q = await store.insert(question(flags={"pii": ["身份证"], "emoji": "🚗"}))
    got = await store.get(Question, q.id)
    assert got.text == "驾照快到期了在哪里换"
    assert got.flags == {"pii": ["身份证"], "emoji": "🚗"}


async def test_insert_question_is_idempotent_per_session_viewer_and_client_id(
    store: Store,
) -> None:
    first, created = await store.insert_question(question(client_id="same"))
    assert created
    again, created_again = await store.insert_question(question(client_id="same"))
    assert not created_again
    assert again.id == first.id
    other, created_other = await store.insert_question(question(viewer="v2", client_id="same"))
    assert created_other and other.id != first.id
    # The same viewer reusing a client id in another session asks a new question there; it
    # is not answered with the first session's question (issue 11).
    elsewhere, created_elsewhere = await store.insert_question(
        question(session_id="s2", client_id="same"))
    assert created_elsewhere and elsewhere.session_id == "s2" and elsewhere.id != first.id
    assert await store.count(Question) == 3


async def test_concurrent_retries_store_one_question(store: Store) -> None:
    results = await asyncio.gather(
        *(store.insert_question(question(client_id="burst")) for _ in range(8))
    )
    assert sum(created for _, created in results) == 1
    assert len({q.id for q, _ in results}) == 1


async def test_increment_is_atomic(store: Store) -> None:
    q = await store.insert(question())
    await asyncio.gather(*(store.increment(Question, q.id, "me_too", 1, now=NOW)
                           for _ in range(20)))
    got = await store.get(Question, q.id)
    assert got.me_too == 20
    assert got.version == 1  # counters do not make staff actions conflict


async def test_delete_and_delete_where(store: Store) -> None:
    alice = await store.insert(user("alice"))
    for _ in range(3):
        await store.insert(LoginSession(id=new_id(), user_id=alice.id, csrf_token="t",
                                        created_at=NOW, last_seen=NOW, expires_at=NOW + 60))
    other = await store.insert(LoginSession(id=new_id(), user_id="bob", csrf_token="t",
                                            created_at=NOW, last_seen=NOW, expires_at=NOW + 60))
    assert await store.revoke_logins(alice.id) == 3
    assert await store.count(LoginSession) == 1
    assert await store.delete(LoginSession, other.id) is True
    assert await store.delete(LoginSession, other.id) is False
    with pytest.raises(ValueError):
        await store.delete_where(LoginSession, {})


async def test_login_session_touch(store: Store) -> None:
    s = await store.insert(LoginSession(id="h", user_id="u", csrf_token="t", created_at=NOW,
                                        last_seen=NOW, expires_at=NOW + 60))
    touched = await store.update(LoginSession, s.id, {"last_seen": NOW + 30,
                                                      "expires_at": NOW + 90}, now=NOW + 30)
    assert (touched.last_seen, touched.expires_at) == (NOW + 30, NOW + 90)


async def test_audit_log_filters(store: Store) -> None:
    for i, (actor, action) in enumerate([("admin", "staff.create"), ("mod", "question.approve"),
                                         ("admin", "staff.disable")]):
        await store.audit(AuditEntry(id=new_id(), at=NOW + i, actor=actor, action=action,
                                     target=f"t{i}", before={"role": "host"} if i else None,
                                     after={"role": "admin"}))
    by_admin = await store.find(AuditEntry, {"actor": "admin"}, order_by=["-at"])
    assert [e.action for e in by_admin] == ["staff.disable", "staff.create"]
    assert by_admin[1].before is None
    assert by_admin[0].before == {"role": "host"}


async def test_clip_round_trip_and_listing(store: Store) -> None:
    clip = await store.insert(Clip(id=new_id(), session_id="s1", title="年检", tags=["年审"],
                                   created_at=NOW, updated_at=NOW))
    assert await store.find(Clip, {"session_id": "s1"}) == [clip]
    updated = await store.update(Clip, clip.id, {"state": "published", "tags": ["年审", "验车"]},
                                 now=NOW)
    assert updated.tags == ["年审", "验车"]


async def test_jobs_are_claimed_once_and_leases_expire(store: Store) -> None:
    job = await store.insert(Job(id=new_id(), kind="clip", payload={"q": "1"}, created_at=NOW,
                                 updated_at=NOW, run_after=NOW))
    claims = await asyncio.gather(*(store.claim_job(f"w{i}", NOW, 30, ["clip"])
                                    for i in range(4)))
    held = [c for c in claims if c is not None]
    assert len(held) == 1 and held[0].id == job.id and held[0].attempts == 1
    assert await store.claim_job("late", NOW + 10, 30, ["clip"]) is None
    # The holder died: once the lease runs out another worker takes the job over.
    taken = await store.claim_job("rescuer", NOW + 31, 30, ["clip"])
    assert taken is not None and taken.lease_owner == "rescuer" and taken.attempts == 2
    with pytest.raises(VersionConflict):
        await store.finish_job(job.id, held[0].lease_owner, attempt=1, now=NOW + 32)
    # The same worker name with a stale attempt (two loops of one node) is fenced out too.
    with pytest.raises(VersionConflict):
        await store.finish_job(job.id, "rescuer", attempt=1, now=NOW + 32)
    done = await store.finish_job(job.id, "rescuer", attempt=2, now=NOW + 33)
    assert done.state == "done"


async def test_jobs_retry_then_fail_for_good(store: Store) -> None:
    await store.insert(Job(id="j", kind="clip", max_attempts=2, created_at=NOW, updated_at=NOW))
    first = await store.claim_job("w", NOW, 30, ["clip"])
    assert first is not None
    retried = await store.finish_job("j", "w", attempt=1, now=NOW, error="ffmpeg exited 1",
                                     retry_at=NOW + 5)
    assert (retried.state, retried.run_after, retried.last_error) == (
        "queued", NOW + 5, "ffmpeg exited 1")
    assert await store.claim_job("w", NOW + 1, 30, ["clip"]) is None  # not due yet
    assert await store.claim_job("w", NOW + 5, 30, ["other"]) is None  # wrong kind
    second = await store.claim_job("w", NOW + 5, 30, ["clip"])
    assert second is not None and second.attempts == 2
    failed = await store.finish_job("j", "w", attempt=2, now=NOW + 6, error="again",
                                    retry_at=NOW + 10)
    assert failed.state == "failed"


async def test_blocked_terms_are_unique(store: Store) -> None:
    await store.insert(TermRule(id=new_id(), term="代办", action="hold", created_at=NOW))
    with pytest.raises(Conflict):
        await store.insert(TermRule(id=new_id(), term="代办", action="reject", created_at=NOW))
    assert await store.count(TermRule) == 1


# --- every record type ------------------------------------------------------------------


RECORD_TYPES = sorted(
    (cls for cls in vars(records).values()
     if dataclasses.is_dataclass(cls) and isinstance(cls, type) and hasattr(cls, "collection")),
    key=lambda cls: cls.__name__,
)


def sample_value(cls: type[Any], name: str, kind: Any, salt: int) -> Any:
    """A value for one field that differs from its default, of the field's type."""
    if name == "id":
        return f"{cls.__name__}-{salt}-{new_id()}"
    if kind is bool:
        return True
    if kind is int:
        return 7 + salt
    if kind is float:
        return NOW + 0.25 + salt
    if kind is str:
        return f"值 {name} {salt} 🚗"
    origin = typing.get_origin(kind)
    if origin is list or kind is list:
        return [f"甲{salt}", "乙"]
    # dict fields, including ``dict[str, Any] | None``
    return {"键": [salt, {"嵌套": "是", "n": 1.5}], "flag": True}


def sample(cls: type[R], salt: int = 0) -> R:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: sample_value(cls, f.name, hints[f.name], salt)
                  for f in dataclasses.fields(cls)})


def test_the_round_trip_covers_every_record_type() -> None:
    assert {cls.__name__ for cls in RECORD_TYPES} >= {
        "AuditEntry", "LiveSession", "Caption", "Clip", "ClipView", "DataFile", "Job",
        "LoginSession",
        "MeToo", "Question", "ReasonTemplate", "SearchMiss", "StaffUser", "TermRule",
        "ViewerRestriction"}


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda cls: cls.__name__)
async def test_every_record_type_round_trips_every_field(store: Store, cls: type[Any]) -> None:
    first, second = sample(cls, 1), sample(cls, 2)
    await store.insert(first)
    await store.insert(second)
    assert await store.get(cls, first.id) == first
    assert await store.find(cls, {"id": second.id}, order_by=["id"]) == [second]
    assert await store.count(cls) == 2
    hints = typing.get_type_hints(cls)
    changes = {name: sample_value(cls, name, hints[name], 3) for name in cls.mutable}
    if changes:  # every changeable field round-trips through update too
        updated = await store.update(cls, first.id, changes, expected_version=first.version,
                                     now=NOW + 9)
        expected = dataclasses.replace(first, **changes, version=first.version + 1)
        if "updated_at" in hints:
            expected = dataclasses.replace(expected, updated_at=NOW + 9)
        assert updated == expected
        assert await store.get(cls, first.id) == expected
    assert await store.delete(cls, first.id) is True
    assert await store.find(cls, order_by=["id"]) == [second]


# --- the unit of work ------------------------------------------------------------------


async def test_a_transaction_commits_all_its_writes_together(store: Store) -> None:
    q = await store.insert(question())
    async with store.transaction() as tx:
        alice = await tx.insert(user("alice"))
        moved = await tx.update(Question, q.id, {"state": "queued"}, expected_version=1,
                                now=NOW + 1)
        counted = await tx.increment(Question, q.id, "me_too", 2, now=NOW + 1)
        await tx.audit(AuditEntry(id="a1", at=NOW, actor="alice", action="question.approve",
                                  target=f"question:{q.id}"))
        # Its own reads see its writes; everyone else sees none of them until the commit.
        assert await tx.get(StaffUser, alice.id) == alice
        assert await tx.count(AuditEntry) == 1
        assert (moved.version, counted.me_too) == (2, 2)
        assert await store.count(AuditEntry) == 0
        assert (await store.get(Question, q.id)).state == "pending"
    assert await store.get(StaffUser, alice.id) == alice
    got = await store.get(Question, q.id)
    assert (got.state, got.me_too, got.version) == ("queued", 2, 2)
    assert [e.id for e in await store.find(AuditEntry, order_by=["at"])] == ["a1"]


class Boom(Exception):
    pass


async def test_an_exception_mid_way_rolls_the_whole_transaction_back(store: Store) -> None:
    q = await store.insert(question())
    gone = await store.insert(user("bob"))
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.insert(user("alice"))
            await tx.update(Question, q.id, {"state": "queued"}, expected_version=1, now=NOW)
            await tx.increment(Question, q.id, "me_too", 1, now=NOW)
            await tx.delete(StaffUser, gone.id)
            await tx.delete_where(Question, {"session_id": "s1"})
            await tx.insert_question(question(client_id="new"))
            raise Boom
    assert await store.get(Question, q.id) == q
    assert [u.name for u in await store.find(StaffUser)] == ["bob"]
    assert await store.count(Question) == 1
    # The store serves plain writes again once the transaction is gone.
    assert (await store.insert(user("carol"))).name == "carol"


async def test_a_version_conflict_inside_a_transaction_undoes_it_all(store: Store) -> None:
    q = await store.insert(question())
    await store.update(Question, q.id, {"state": "queued"}, now=NOW)  # version 2 now
    with pytest.raises(VersionConflict) as info:
        async with store.transaction() as tx:
            await tx.insert(user("alice"))
            await tx.update(Question, q.id, {"state": "declined"}, expected_version=1, now=NOW)
    assert info.value.current.state == "queued"
    assert await store.count(StaffUser) == 0
    assert (await store.get(Question, q.id)).state == "queued"


async def test_a_caught_write_failure_still_dooms_the_transaction(store: Store) -> None:
    await store.insert(user("alice"))
    with pytest.raises(TransactionAborted):
        async with store.transaction() as tx:
            await tx.insert(user("bob"))
            with pytest.raises(Conflict):
                await tx.insert(user("alice"))
    assert [u.name for u in await store.find(StaffUser)] == ["alice"]


async def test_concurrent_transactions_serialise(store: Store) -> None:
    q = await store.insert(question())

    async def bump(i: int) -> None:
        async with store.transaction() as tx:
            current = await tx.get(Question, q.id)
            await asyncio.sleep(0.01)  # let the others try to interleave
            await tx.update(Question, q.id, {"merged_count": current.merged_count + 1},
                            expected_version=current.version, now=NOW + i)
            await tx.audit(AuditEntry(id=f"a{i}", at=NOW + i, actor="t", action="bump",
                                      target=q.id))

    await asyncio.gather(*(bump(i) for i in range(6)))
    got = await store.get(Question, q.id)
    assert (got.merged_count, got.version) == (6, 7)
    assert await store.count(AuditEntry) == 6


async def test_a_direct_write_inside_a_transaction_is_refused(store: Store) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        async with store.transaction() as tx:
            await tx.insert(user("alice"))
            await store.insert(user("bob"))
    assert await store.count(StaffUser) == 0
    async with store.transaction() as tx, tx.transaction() as inner:
        assert inner is tx  # joining, not nesting
        await inner.insert(user("carol"))
    assert [u.name for u in await store.find(StaffUser)] == ["carol"]


async def test_jobs_can_be_claimed_inside_a_transaction(store: Store) -> None:
    await store.insert(Job(id="j", kind="clip", created_at=NOW, updated_at=NOW))
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            assert await tx.claim_job("w", NOW, 30, ["clip"]) is not None
            raise Boom
    assert (await store.get(Job, "j")).state == "queued"
