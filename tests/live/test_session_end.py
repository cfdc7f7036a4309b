"""When a session ends, every open question gets an outcome its asker sees — on the real app,
real websockets, both store backends: carried to the next scheduled session (the asker is
told where, a pending copy waits there) or, with none scheduled, declined with the standard
reason. The outcomes commit with the end and are audited; a store failing inside the end
leaves everything as it was."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from live.sessions import SessionError, SessionForm
from moderation.questions import SESSION_ENDED_REASON
from store.base import StoreError
from store.records import AuditEntry, LiveSession, Question
from tests.live.conftest import Live, Socket, question_event
from tests.moderation.faults import FaultyStore
from tests.support import both_backends
from web import keys


def mine(qid: str, state: str) -> Any:
    return lambda f: (question_event(f) and f["question"]["id"] == qid
                      and f["question"]["state"] == state and f["question"].get("mine"))


async def ask(sock: Socket, text: str) -> str:
    ack = await sock.request("ask", client_id=uuid.uuid4().hex, text=text)
    assert ack["type"] == "ack", ack
    return str(ack["question_id"])


async def three_open_questions(live: Live, viewer: Socket) -> tuple[str, str, str]:
    """One pending, one queued, one on air."""
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    pending = await ask(viewer, "驾驶证到期了要去哪里换证？")
    queued = await ask(viewer, "电动自行车上牌需要带什么材料？")
    aired = await ask(viewer, "异地违章可以在本地处理吗？")
    for qid in (queued, aired):
        q = (await mod.until(lambda f, i=qid: question_event(f)
                             and f["question"]["id"] == i))["question"]
        ack = await mod.request("approve", question_id=qid, version=q["version"],
                                category="驾驶证")
        assert ack["type"] == "ack", ack
    on_air = await host.request("on_air", question_id=aired, version=2)
    assert on_air["state"] == "on_air", on_air
    return pending, queued, aired


@both_backends
async def test_open_questions_are_carried_to_the_next_scheduled_session(live: Live) -> None:
    sessions = live.app[keys.SESSIONS]
    store = live.app[keys.STORE]
    later = await sessions.create(SessionForm("交警视频帮 下午场", scheduled_start=4e9),
                                  actor="admin")
    client = await live.site.new_client()
    viewer = await live.viewer(client)
    pending, queued, aired = await three_open_questions(live, viewer)
    answered = await ask(viewer, "这个问题会被文字回复")
    mod = live.sockets[1]
    q = (await mod.until(lambda f: question_event(f) and f["question"]["id"] == answered))
    assert (await mod.request("reply", question_id=answered, text="请看官网。",
                              version=q["question"]["version"]))["type"] == "ack"

    await sessions.end(live.session.id, actor="admin")

    copies = {}
    for qid in (pending, queued, aired):
        told = (await viewer.until(mine(qid, "carried")))["question"]
        assert told["state_label"] == "已转到下一场直播"
        where = told["carried_to"]
        assert where["session_id"] == later.id and where["title"] == "交警视频帮 下午场"
        assert where["scheduled_start"] == later.scheduled_start
        stored = await store.get(Question, qid)
        assert stored.state == "carried" and not stored.pinned
        copy = await store.get(Question, where["question_id"])
        assert (copy.session_id, copy.state, copy.viewer_id) == (later.id, "pending",
                                                                 stored.viewer_id)
        assert copy.text == stored.text and copy.flags["carried_from"]["question_id"] == qid
        copies[qid] = copy.id
    # The replied question keeps its outcome; nothing of the ended session is left open.
    assert (await store.get(Question, answered)).state == "replied"
    left = await store.questions_of(live.session.id, ["pending", "queued", "on_air"])
    assert left == []
    assert (await store.get(LiveSession, live.session.id)).on_air_id == ""
    entries = await store.find(AuditEntry, {"action": "question.carry"}, order_by=["at"])
    assert sorted(e.target for e in entries) == sorted(
        f"question:{q}" for q in (pending, queued, aired))
    assert all(e.actor == "admin" and e.session_id == live.session.id for e in entries)

    # The asker finds the carried questions as their own in the next session.
    await sessions.start(later.id, actor="admin")
    there = await live.connect(client, f"/ws/live/{later.id}", None)
    snapshot = next(f for f in there.seen if f["type"] == "snapshot")
    assert sorted(q["id"] for q in snapshot["mine"]) == sorted(copies.values())


@both_backends
async def test_with_no_next_session_open_questions_are_declined_with_the_reason(
        live: Live) -> None:
    store = live.app[keys.STORE]
    viewer = await live.viewer()
    staff = await live.staff("mod2", "moderator")
    pending, queued, aired = await three_open_questions(live, viewer)

    await live.app[keys.SESSIONS].end(live.session.id, actor="admin")

    for qid in (pending, queued, aired):
        told = (await viewer.until(mine(qid, "declined")))["question"]
        assert told["decline_reason"] == SESSION_ENDED_REASON and told["carried_to"] is None
        seen = await staff.until(lambda f, i=qid: question_event(f) and f["question"]["id"] == i
                                 and f["question"]["state"] == "declined")
        assert seen["question"]["flags"]["closed"] == "session_ended"
    entries = await store.find(AuditEntry, {"action": "question.close"}, order_by=["at"])
    assert len(entries) == 3
    # Asked after the end: refused, so nothing new is left open.
    late = await viewer.request("ask", client_id="late", text="结束以后还能提问吗？")
    assert late["code"] == "session_ended"


async def test_a_store_failure_inside_the_end_changes_nothing(live: Live) -> None:
    store = live.app[keys.STORE]
    viewer = await live.viewer()
    pending = await ask(viewer, "驾驶证到期了要去哪里换证？")
    await ask(viewer, "电动自行车上牌需要带什么材料？")
    sessions = live.app[keys.SESSIONS]
    # Writes inside the end: the broadcast, its audit entry, then per question its update
    # and its entry; the second question's update fails.
    sessions.store = FaultyStore(store, fail_at=5)  # type: ignore[assignment]
    try:
        with pytest.raises(StoreError):
            await sessions.end(live.session.id, actor="admin")
    finally:
        sessions.store = store
    assert (await store.get(LiveSession, live.session.id)).status == "live"
    assert (await store.get(Question, pending)).state == "pending"
    assert await store.find(AuditEntry, {"action": "question.close"}, order_by=["at"]) == []
    with pytest.raises(SessionError):
        await sessions.start(live.session.id, actor="admin")
    await sessions.end(live.session.id, actor="admin")
    assert (await store.get(Question, pending)).state == "declined"
