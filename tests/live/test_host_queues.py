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
from tests.live.two_nodes import TwoNodes, two_nodes_fixture  # noqa: F401
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


async def test_one_question_on_air_per_host_across_two_nodes(two_nodes: TwoNodes) -> None:
    """Two nodes on one MongoDB: the hosts' air is the session's, read and written with its
    version in each action's transaction, so a node whose board is stale cannot put a second
    question on a host's air, and two hosts racing on two nodes both get theirs."""
    officer_a, officer_b = await two_nodes.staff_clients("officer", "host")
    _, presenter_b = await two_nodes.staff_clients("presenter", "host")
    mod_a, _ = await two_nodes.staff_clients("mod", "moderator")
    store = two_nodes.a.app[keys.STORE]
    officer = await store.user_by_name("officer")
    presenter = await store.user_by_name("presenter")
    assert officer is not None and presenter is not None
    session = two_nodes.a.session
    await two_nodes.a.app[keys.SESSIONS].edit(
        session.id, SessionForm(session.title, scheduled_start=session.scheduled_start,
                                host_ids=(officer.id, presenter.id)), actor="test")
    mod = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    routed = []
    for n, host in enumerate((officer.id, officer.id, presenter.id, officer.id)):
        asked = await (await two_nodes.a.viewer()).request(
            "ask", client_id=uuid.uuid4().hex, text=f"驾驶证业务问题第{n + 1}个怎么办理")
        approved = await mod.request("approve", question_id=asked["question_id"], version=1,
                                     category="驾驶证", host_id=host)
        assert approved["type"] == "ack", approved
        routed.append(approved)
    on_a = await two_nodes.a.staff("officer", "host", client=officer_a)
    on_b = await two_nodes.b.staff("officer", "host", client=officer_b)
    results = await asyncio.gather(*(
        sock.request("on_air", question_id=q["question_id"], version=q["version"])
        for sock, q in ((on_a, routed[0]), (on_b, routed[1]))))
    assert sorted(r["type"] for r in results) == ["ack", "error"], results
    assert next(r for r in results if r["type"] == "error")["code"] in ("air_busy",
                                                                        "unavailable")
    winner = next(r for r in results if r["type"] == "ack")
    assert (await store.get(LiveSession, session.id)).on_air_ids == {
        officer.id: winner["question_id"]}
    # The officer answers on node B; the presenter (node B) and the officer (node A) race.
    done = await on_b.request("answered", question_id=winner["question_id"],
                              version=winner["version"])
    assert done["type"] == "ack", done
    presenter_on_b = await two_nodes.b.staff("presenter", "host", client=presenter_b)
    pair = await asyncio.gather(
        presenter_on_b.request("on_air", question_id=routed[2]["question_id"],
                               version=routed[2]["version"]),
        on_a.request("on_air", question_id=routed[3]["question_id"],
                     version=routed[3]["version"]))
    assert [r["type"] for r in pair] == ["ack", "ack"], pair
    assert (await store.get(LiveSession, session.id)).on_air_ids == {
        presenter.id: routed[2]["question_id"], officer.id: routed[3]["question_id"]}
    on_air = await store.find(Question, {"session_id": session.id, "state": "on_air"})
    assert {q.id for q in on_air} == {routed[2]["question_id"], routed[3]["question_id"]}


async def test_the_session_page_links_an_overlay_for_each_host(live: Live) -> None:
    officer, presenter = await two_hosts(live)
    await live.site.add_user("boss", "admin")
    admin = await live.site.login("boss")
    page = await (await admin.get(f"/admin/sessions/{live.session.id}")).text()
    for host in (officer, presenter):
        link = f"/overlay/{live.session.id}?host={host.id}"
        assert f'href="{link}"' in page
        assert (await admin.get(link)).status == 200
    assert (await admin.get(f"/overlay/{live.session.id}?host=boss")).status == 400
