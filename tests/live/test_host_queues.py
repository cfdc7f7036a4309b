"""A queue per host over real websockets, on both store backends (issue 15): one question on
air per host — two hosts may each have one, two consoles racing for one host's air cannot
both win —, what the session tells every viewer about the air, and the "me too" order
setting, each through the typed actions, the unit of work, the audit and the outbox."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from live.sessions import SessionForm
from store.records import AuditEntry, LiveSession, Question, StaffUser
from tests.live.conftest import Live, Socket, question_event
from tests.support import both_backends
from web import keys


def state_of(qid: str, state: str) -> Any:
    return lambda f: question_event(f) and f["question"]["id"] == qid and \
        f["question"]["state"] == state


async def two_hosts(live: Live) -> tuple[StaffUser, StaffUser]:
    officer = await live.site.add_user("officer", "host")
    presenter = await live.site.add_user("presenter", "host")
    await live.app[keys.SESSIONS].edit(
        live.session.id, SessionForm("交警视频帮 上午场", scheduled_start=1.8e9,
                                     host_ids=(officer.id, presenter.id)), actor="test")
    return officer, presenter


async def queued(live: Live, mod: Socket, text: str, host_id: str = "") -> dict[str, Any]:
    """A question asked by a new viewer and approved (to ``host_id``'s queue)."""
    asker = await live.viewer()
    ack = await asker.request("ask", client_id=uuid.uuid4().hex, text=text)
    qid = ack["question_id"]
    q = (await mod.until(state_of(qid, "pending")))["question"]
    fields = {"host_id": host_id} if host_id else {}
    approved = await mod.request("approve", question_id=qid, version=q["version"],
                                 category="机动车", **fields)
    assert approved["type"] == "ack", approved
    return approved


async def as_user(live: Live, name: str) -> Socket:
    """A staff console of an existing account, signed in on a client of its own."""
    return await live.staff(name, "", client=await live.site.login(name))


def session_with(predicate: Any) -> Any:
    return lambda f: f.get("kind") == "session" and predicate(f["session"])


@both_backends
async def test_two_hosts_each_put_one_question_on_air(live: Live) -> None:
    officer, presenter = await two_hosts(live)
    mod = await live.staff("mod", "moderator")
    viewer = await live.viewer()
    o = await as_user(live, "officer")
    p = await as_user(live, "presenter")
    mine = await queued(live, mod, "新车上牌需要什么材料", officer.id)
    theirs = await queued(live, mod, "驾驶证到期换证要体检吗", presenter.id)
    anyone = await queued(live, mod, "车辆年检可以异地办吗")
    second_mine = await queued(live, mod, "摩托车驾驶证怎么增驾", officer.id)

    first = await o.request("on_air", question_id=mine["question_id"], version=mine["version"])
    assert first["state"] == "on_air", first
    other = await p.request("on_air", question_id=theirs["question_id"],
                            version=theirs["version"])
    assert other["state"] == "on_air", other
    both = {officer.id: mine["question_id"], presenter.id: theirs["question_id"]}
    seen = await viewer.until(session_with(lambda s: s["on_air_ids"] == both))
    assert seen["session"]["on_air_id"] == theirs["question_id"]  # the latest
    # One each: the officer's second, and a question of the officer's taken by the presenter,
    # are refused.
    busy = await o.request("on_air", question_id=second_mine["question_id"],
                           version=second_mine["version"])
    assert busy["code"] == "air_busy", busy
    taken = await p.request("on_air", question_id=second_mine["question_id"],
                            version=second_mine["version"])
    assert taken["code"] == "other_host", taken
    # The officer answers; the question for any host goes on the officer's air.
    done = await o.request("answered", question_id=mine["question_id"], version=first["version"])
    assert done["state"] == "answered", done
    claimed = await o.request("on_air", question_id=anyone["question_id"],
                              version=anyone["version"])
    assert claimed["state"] == "on_air", claimed
    await viewer.until(session_with(lambda s: s["on_air_ids"] == {
        presenter.id: theirs["question_id"], officer.id: anyone["question_id"]}))

    store = live.app[keys.STORE]
    session = await store.get(LiveSession, live.session.id)
    assert session.on_air_ids == {presenter.id: theirs["question_id"],
                                  officer.id: anyone["question_id"]}
    assert (await store.get(Question, anyone["question_id"])).host_id == officer.id
    on_air = await store.find(Question, {"session_id": live.session.id, "state": "on_air"})
    assert {q.id for q in on_air} == {theirs["question_id"], anyone["question_id"]}
    entries = await store.find(AuditEntry, {"action": "question.on_air"}, order_by=["at"])
    assert [e.target for e in entries] == [f"question:{mine['question_id']}",
                                           f"question:{theirs['question_id']}",
                                           f"question:{anyone['question_id']}"]
    assert entries[-1].after is not None and entries[-1].after["host_id"] == officer.id
    # A fresh viewer's snapshot has both on air; ending the session clears the air.
    late = await live.viewer()
    snapshot = next(f for f in late.seen if f["type"] == "snapshot")
    assert len(snapshot["session"]["on_air_ids"]) == 2
    assert {q["id"] for q in snapshot["questions"] if q["state"] == "on_air"} == set(
        session.on_air_ids.values())
    await live.app[keys.SESSIONS].end(live.session.id, actor="test")
    ended = await store.get(LiveSession, live.session.id)
    assert ended.on_air_ids == {} and ended.on_air_id == ""


@both_backends
async def test_two_consoles_racing_for_one_hosts_air_cannot_both_win(live: Live) -> None:
    officer, presenter = await two_hosts(live)
    mod = await live.staff("mod", "moderator")
    o1 = await as_user(live, "officer")
    o2 = await as_user(live, "officer")
    admin = await live.staff("boss", "admin")
    p = await as_user(live, "presenter")
    a = await queued(live, mod, "新车上牌需要什么材料", officer.id)
    b = await queued(live, mod, "驾驶证到期换证要体检吗", officer.id)
    c = await queued(live, mod, "车辆年检可以异地办吗", officer.id)
    results = await asyncio.gather(
        o1.request("on_air", question_id=a["question_id"], version=a["version"]),
        o2.request("on_air", question_id=b["question_id"], version=b["version"]),
        admin.request("on_air", question_id=c["question_id"], version=c["version"]))
    assert sorted(r["type"] for r in results) == ["ack", "error", "error"], results
    assert {r["code"] for r in results if r["type"] == "error"} == {"air_busy"}
    winner = next(r for r in results if r["type"] == "ack")["question_id"]
    store = live.app[keys.STORE]
    on_air = await store.find(Question, {"session_id": live.session.id, "state": "on_air"})
    assert [q.id for q in on_air] == [winner]
    assert (await store.get(LiveSession, live.session.id)).on_air_ids == {officer.id: winner}
    # Two hosts racing for their own airs both win.
    x = await queued(live, mod, "扣分怎么查询", presenter.id)
    y = await queued(live, mod, "临时号牌怎么办理")
    done = await o1.request("answered", question_id=winner,
                            version=(await store.get(Question, winner)).version)
    assert done["type"] == "ack", done
    pair = await asyncio.gather(
        p.request("on_air", question_id=x["question_id"], version=x["version"]),
        o2.request("on_air", question_id=y["question_id"], version=y["version"]))
    assert [r["type"] for r in pair] == ["ack", "ack"], pair
    session = await store.get(LiveSession, live.session.id)
    assert session.on_air_ids == {presenter.id: x["question_id"], officer.id: y["question_id"]}
    entries = await store.find(AuditEntry, {"action": "question.on_air"}, order_by=["at"])
    assert len(entries) == 3  # the refused never reached the store


@both_backends
async def test_me_too_order_is_a_session_setting_that_raises_the_most_asked(live: Live) -> None:
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    viewer = await live.viewer()
    a = await queued(live, mod, "新车上牌需要什么材料")
    b = await queued(live, mod, "驾驶证到期换证要体检吗")
    c = await queued(live, mod, "车辆年检可以异地办吗")
    for _ in range(3):
        clicked = await (await live.viewer()).request("me_too", question_id=c["question_id"])
        assert clicked["type"] == "ack", clicked
    await mod.until(lambda f: question_event(f) and f["question"]["id"] == c["question_id"]
                    and f["question"]["me_too"] == 3)
    forbidden = await host.request("me_too_order", raises=True)
    assert forbidden["code"] == "forbidden"
    on = await mod.request("me_too_order", raises=True)
    assert on["type"] == "ack", on
    await viewer.until(session_with(lambda s: s["me_too_raises"] is True))
    board = await live.app[keys.MODERATION].board(live.session.id)
    # c: position 3 − 3 "me too" = rank 0, ahead of a (1) and b (2).
    assert [q.id for q in board.queue()] == [c["question_id"], a["question_id"],
                                             b["question_id"]]
    # A moderator's move lands where it was made: c just above b.
    moved = await mod.request("move", question_id=c["question_id"],
                              version=(await live.app[keys.STORE].get(
                                  Question, c["question_id"])).version,
                              before=b["question_id"])
    assert moved["type"] == "ack", moved
    assert [q.id for q in board.queue()] == [a["question_id"], c["question_id"],
                                             b["question_id"]]
    off = await mod.request("me_too_order", raises=False)
    assert off["type"] == "ack", off
    await viewer.until(session_with(lambda s: s["me_too_raises"] is False))
    entries = await live.app[keys.STORE].find(AuditEntry, {"action": "session.me_too_order"},
                                              order_by=["at"])
    assert [(e.before, e.after) for e in entries] == [
        ({"me_too_raises": False}, {"me_too_raises": True}),
        ({"me_too_raises": True}, {"me_too_raises": False})]
