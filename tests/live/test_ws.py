"""The live loop over real websockets: viewers ask, moderators triage, hosts answer.

The flows marked ``@both_backends`` run on SQLite and on MongoDB: each takes a different path
through the store (inserts and audit, state changes, idempotent asks, optimistic concurrency,
atomic counters, restrictions and session settings, blocked terms, the resume buffer over
stored questions, recovery from the stored state)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

from store.records import AuditEntry, LiveSession, Question
from tests.live.conftest import Live, Socket, question_event
from tests.support import both_backends
from web import keys


def state_of(qid: str, state: str) -> Any:
    return lambda f: question_event(f) and f["question"]["id"] == qid and \
        f["question"]["state"] == state


async def ask(sock: Socket, text: str, client_id: str | None = None) -> dict[str, Any]:
    return await sock.request("ask", client_id=client_id or uuid.uuid4().hex, text=text)


@both_backends
async def test_one_question_from_asked_to_answered(live: Live) -> None:
    viewer = await live.viewer()
    other = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")

    ack = await ask(viewer, "我的驾照快到期了在哪里换？我电话是 +86 138-1234-5678")
    assert ack["type"] == "ack" and ack["created"] and ack["state"] == "pending"
    qid = ack["question_id"]
    stored = await live.app[keys.STORE].get(Question, qid)  # acked ⇒ already stored
    assert "138****5678" in stored.text and "1234" not in stored.text

    seen = await mod.until(state_of(qid, "pending"))
    q = seen["question"]
    assert q["flags"]["pii"] == ["mobile"] and q["flags"]["suggested_category"] == "驾驶证"
    assert "1234" not in json.dumps(q)
    # Other viewers never see a question before it is approved.
    ack2 = await other.request("ping")
    assert ack2["type"] == "ack"
    assert not any(question_event(f) for f in other.seen)

    approved = await mod.request("approve", question_id=qid, version=q["version"],
                                 category="驾驶证", item_id=q["flags"]["suggested_item"])
    assert approved["type"] == "ack" and approved["state"] == "queued"
    mine = await viewer.until(lambda f: state_of(qid, "queued")(f) and f["question"].get("mine"))
    assert mine["question"]["service_link"]
    public = await other.until(state_of(qid, "queued"))
    assert "mine" not in public["question"] and "viewer_id" not in public["question"]

    queued = await host.until(state_of(qid, "queued"))
    on_air = await host.request("on_air", question_id=qid,
                                version=queued["question"]["version"])
    assert on_air["state"] == "on_air"
    await other.until(state_of(qid, "on_air"))
    session_event = await other.until(lambda f: f.get("kind") == "session")
    assert session_event["session"]["on_air_id"] == qid
    answered = await host.request("answered", question_id=qid, version=on_air["version"])
    assert answered["state"] == "answered"
    final = await viewer.until(lambda f: state_of(qid, "answered")(f) and f["question"].get("mine"))
    assert final["question"]["state_label"] == "已在直播中解答"

    stored = await live.app[keys.STORE].get(Question, qid)
    assert stored.on_air_at and stored.answered_at >= stored.on_air_at
    session = await live.app[keys.STORE].get(LiveSession, live.session.id)
    assert session.on_air_id == ""
    entries = await live.app[keys.STORE].find(AuditEntry, {"session_id": live.session.id},
                                              order_by=["at"])
    actions = [e.action for e in entries]
    assert {"question.approve", "question.on_air", "question.answered"} <= set(actions)


@both_backends
async def test_other_outcomes_reach_the_asker(live: Live) -> None:
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    first = (await ask(viewer, "电瓶车怎么上牌照？"))["question_id"]
    dup = (await ask(viewer, "请问电瓶车怎么上牌照呢"))["question_id"]
    third = (await ask(viewer, "今天天气怎么样"))["question_id"]
    fourth = (await ask(viewer, "驾驶证扣分怎么查"))["question_id"]
    frames = {}
    for qid in (first, dup, third, fourth):
        frames[qid] = (await mod.until(state_of(qid, "pending")))["question"]
    assert frames[dup]["flags"]["duplicate_of"] == first

    merged = await mod.request("merge", question_id=dup, version=frames[dup]["version"],
                               into=first)
    declined = await mod.request("decline", question_id=third,
                                 version=frames[third]["version"], reason="与本场主题无关")
    replied = await mod.request("reply", question_id=fourth,
                                version=frames[fourth]["version"],
                                text="在交管12123 App 的“驾驶证”页面可以查询记分。")
    assert (merged["state"], declined["state"], replied["state"]) == (
        "merged", "declined", "replied")
    got = await viewer.until(state_of(dup, "merged"))
    assert got["question"]["merged_into"] == first
    got = await viewer.until(state_of(third, "declined"))
    assert got["question"]["decline_reason"] == "与本场主题无关"
    got = await viewer.until(state_of(fourth, "replied"))
    assert "12123" in got["question"]["reply"]
    target = await live.app[keys.STORE].get(Question, first)
    assert target.merged_count == 1


@both_backends
async def test_two_moderators_conflict_and_the_second_is_refused(live: Live) -> None:
    viewer = await live.viewer()
    a = await live.staff("mod-a", "moderator")
    b = await live.staff("mod-b", "moderator")
    qid = (await ask(viewer, "年审需要带什么材料"))["question_id"]
    version = (await a.until(state_of(qid, "pending")))["question"]["version"]
    await b.until(state_of(qid, "pending"))
    first = await a.request("approve", question_id=qid, version=version, category="机动车")
    second = await b.request("decline", question_id=qid, version=version, reason="重复")
    assert first["type"] == "ack"
    assert second["type"] == "error" and second["code"] == "conflict"
    assert second["current"]["state"] == "queued"
    assert "其他人" in second["message"]
    # b sees a's action live, too.
    await b.until(state_of(qid, "queued"))
    assert (await live.app[keys.STORE].get(Question, qid)).state == "queued"


@both_backends
async def test_a_retry_with_the_same_client_id_is_stored_once(live: Live) -> None:
    client = await live.site.new_client()
    viewer = await live.viewer(client)
    first = await ask(viewer, "违章怎么在网上处理", client_id="same-id")
    again = await ask(viewer, "违章怎么在网上处理", client_id="same-id")
    await viewer.close()
    reconnected = await live.viewer(client)  # the same cookie: the same viewer
    third = await ask(reconnected, "违章怎么在网上处理", client_id="same-id")
    assert first["created"] and not again["created"] and not third["created"]
    assert first["question_id"] == again["question_id"] == third["question_id"]
    assert await live.app[keys.STORE].count(Question, {"session_id": live.session.id}) == 1


@both_backends
async def test_reconnect_resumes_with_exactly_the_missed_events(live: Live) -> None:
    client = await live.site.new_client()
    viewer = await live.viewer(client)
    mod = await live.staff("mod", "moderator")
    qid = (await ask(viewer, "车牌丢了怎么补办"))["question_id"]
    pending = await mod.until(state_of(qid, "pending"))
    await viewer.until(state_of(qid, "pending"))
    cursor = viewer.cursor
    await viewer.close()
    await mod.request("approve", question_id=qid, version=pending["question"]["version"],
                      category="机动车")
    resumed = await live.connect(client, f"/ws/live/{live.session.id}", since=cursor)
    assert resumed.seen[0]["resume"] == "replay"
    missed = [await resumed.recv(), await resumed.recv()]
    assert [f["question"]["state"] for f in missed] == ["queued", "queued"]
    assert missed[0]["seq"] < missed[1]["seq"]
    assert missed[1]["question"]["mine"]  # the asker's own view came too
    stale = await live.connect(client, f"/ws/live/{live.session.id}", since="deadbeef:3")
    assert stale.seen[0]["resume"] == "snapshot"
    snapshot = stale.seen[1]
    assert [q["id"] for q in snapshot["mine"]] == [qid]


@both_backends
async def test_restart_recovers_sessions_queues_and_the_air(live: Live,
                                                            aiohttp_client: Any) -> None:
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    ids = [(await ask(viewer, text))["question_id"]
           for text in ("驾照到期怎么换", "电动车上牌要什么", "年检预约在哪里")]
    for qid in ids[:2]:
        v = (await mod.until(state_of(qid, "pending")))["question"]["version"]
        await mod.request("approve", question_id=qid, version=v, category="驾驶证")
    v = (await host.until(state_of(ids[0], "queued")))["question"]["version"]
    await host.request("on_air", question_id=ids[0], version=v)

    from web.app import create_app

    settings = live.app[keys.SETTINGS]
    for sock in live.sockets:
        await sock.close()
    await live.site.first.close()  # stops the server and its store
    restarted = await aiohttp_client(create_app(settings))
    from tests.live.conftest import Live as LiveType
    from tests.support import Site

    site = Site(restarted.server.app, restarted, aiohttp_client)
    again = LiveType(site, await restarted.server.app[keys.STORE].get(LiveSession,
                                                                      live.session.id))
    fresh = await again.viewer()
    snapshot = fresh.seen[1]
    states = {q["id"]: q["state"] for q in snapshot["questions"]}
    assert states == {ids[0]: "on_air", ids[1]: "queued"}
    assert snapshot["session"]["on_air_id"] == ids[0]
    staff = await again.staff("mod2", "moderator")
    staff_states = {q["id"]: q["state"] for q in staff.seen[1]["questions"]}
    assert staff_states[ids[2]] == "pending"
    for sock in again.sockets:
        await sock.close()


@both_backends
async def test_me_too_once_per_viewer(live: Live) -> None:
    asker = await live.viewer()
    fan = await live.viewer()
    mod = await live.staff("mod", "moderator")
    qid = (await ask(asker, "驾驶证怎么延期"))["question_id"]
    early = await fan.request("me_too", question_id=qid)
    assert early["code"] == "not_found"  # not public yet: fans cannot even see it
    v = (await mod.until(state_of(qid, "pending")))["question"]["version"]
    await mod.request("approve", question_id=qid, version=v, category="驾驶证")
    first = await fan.request("me_too", question_id=qid)
    second = await fan.request("me_too", question_id=qid)
    own = await asker.request("me_too", question_id=qid)
    assert first["type"] == "ack" and first["me_too"] == 1
    assert second["code"] == "already" and own["code"] == "own_question"
    counted = await asker.until(lambda f: question_event(f) and f["question"]["me_too"] == 1)
    assert counted["question"]["id"] == qid


async def test_rate_limit_tells_when_to_ask_again(live: Live) -> None:
    viewer = await live.viewer()
    limit = live.app[keys.SETTINGS].live.viewer_questions_per_minute
    for i in range(limit):
        assert (await ask(viewer, f"第{i}个问题：驾照换证"))["type"] == "ack"
    refused = await ask(viewer, "再问一个")
    assert refused["code"] == "rate_limited" and refused["retry_after"] >= 1
    assert "秒后再试" in refused["message"]


@both_backends
async def test_slow_mode_timeout_and_ban(live: Live) -> None:
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    assert (await mod.request("slow_mode", seconds=60))["type"] == "ack"
    await viewer.until(lambda f: f.get("kind") == "session"
                       and f["session"]["slow_mode_seconds"] == 60)
    assert (await ask(viewer, "第一个问题"))["type"] == "ack"
    slowed = await ask(viewer, "第二个问题")
    assert slowed["code"] == "rate_limited" and 50 <= slowed["retry_after"] <= 60
    qid = viewer.seen[-3]["question_id"] if viewer.seen[-3].get("type") == "ack" else None
    pending = await mod.until(lambda f: question_event(f))
    viewer_id = pending["question"]["viewer_id"]
    assert (await mod.request("slow_mode", seconds=0))["type"] == "ack"
    assert (await mod.request("restrict", viewer_id=viewer_id, kind="ban",
                              reason="辱骂"))["type"] == "ack"
    banned = await ask(viewer, "第三个问题")
    assert banned["code"] == "banned"
    assert (await mod.request("unrestrict", viewer_id=viewer_id))["type"] == "ack"
    await mod.request("restrict", viewer_id=viewer_id, kind="timeout", minutes=10)
    timed = await ask(viewer, "第四个问题")
    assert timed["code"] == "timed_out" and timed["retry_after"] > 500
    assert qid is None or isinstance(qid, str)


async def test_hosts_cannot_triage_and_moderators_cannot_run_the_air(live: Live) -> None:
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    qid = (await ask(viewer, "驾照怎么补办"))["question_id"]
    v = (await host.until(state_of(qid, "pending")))["question"]["version"]
    refused = await host.request("approve", question_id=qid, version=v, category="驾驶证")
    assert refused["code"] == "forbidden"
    assert (await host.request("slow_mode", seconds=30))["code"] == "forbidden"
    await mod.request("approve", question_id=qid, version=v, category="驾驶证")
    refused = await mod.request("on_air", question_id=qid, version=v + 1)
    assert refused["code"] == "forbidden"


async def test_bad_frames_get_typed_errors_and_harm_nobody(live: Live) -> None:
    viewer = await live.viewer()
    bystander = await live.viewer()
    cases = [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        (json.dumps({"type": "shout"}), "unknown_type"),
        (json.dumps({"type": "ask", "text": "x"}), "missing_field"),
        (json.dumps({"type": "ask", "client_id": "c", "text": "x", "admin": True}),
         "unexpected_field"),
        (json.dumps({"type": "ask", "client_id": 5, "text": "x"}), "bad_field"),
        (json.dumps({"type": "ask", "client_id": "c", "text": " \u200b\t\x00 "}), "empty"),
        (json.dumps({"type": "ask", "client_id": "c2", "text": "长" * 301}), "too_long"),
        (json.dumps({"type": "approve", "question_id": "q", "version": 1,
                     "category": "机动车"}), "forbidden"),
        ("x" * 9000, "too_large"),
    ]
    for frame, code in cases:
        await viewer.ws.send_str(frame)
        error = await viewer.until(lambda f: f["type"] == "error")
        assert error["code"] == code, (frame[:40], error)
        assert error["message"]
    assert (await bystander.request("ping"))["type"] == "ack"
    assert (await viewer.request("ping"))["type"] == "ack"  # still open after all that
    await viewer.ws.send_bytes(b"\x00\x01")
    error = await viewer.until(lambda f: f["type"] == "error")
    assert error["code"] == "binary_frame"
    closing = await viewer.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert viewer.ws.close_code == 1003
    assert (await bystander.request("ping"))["type"] == "ack"


async def test_too_many_errors_close_the_socket(live: Live) -> None:
    viewer = await live.viewer()
    for _ in range(25):
        if viewer.ws.closed:
            break
        await viewer.ws.send_str("nope")
    while not viewer.ws.closed:
        msg = await viewer.ws.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert viewer.ws.close_code == 4400


async def test_handshakes_check_origin_login_and_cookie(live: Live) -> None:
    client = await live.site.new_client()
    await client.get(f"/live/{live.session.id}")
    try:
        await client.ws_connect(f"/ws/live/{live.session.id}", origin="https://evil.example")
        raise AssertionError("cross-origin handshake accepted")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    staff = await client.ws_connect(f"/ws/staff/{live.session.id}")
    assert json.loads((await staff.receive(timeout=5)).data)["code"] == "unauthorized"
    await staff.receive(timeout=5)
    assert staff.close_code == 4401
    try:
        await client.ws_connect("/ws/live/no-such-session")
        raise AssertionError("unknown session")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 404
    bare = await live.site.new_client()  # never opened the live page: no viewer cookie
    ws = await bare.ws_connect(f"/ws/live/{live.session.id}")
    frame = json.loads((await ws.receive(timeout=5)).data)
    assert frame["code"] == "no_viewer"
    await ws.receive(timeout=5)
    assert ws.close_code == 4401


async def test_logout_and_role_change_close_staff_sockets(live: Live) -> None:
    await live.site.add_user("boss", "admin")
    mod_client = await live.site.login("boss")
    sock = await live.staff("", "", client=mod_client)
    from tests.support import staff_csrf

    token = await staff_csrf(mod_client)
    await mod_client.post("/logout", data={"_csrf": token})
    msg = await sock.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert sock.ws.close_code == 4401

    mod = await live.site.add_user("mod", "moderator")
    mod_sock = await live.staff("", "", client=await live.site.login("mod"))
    await live.app[keys.ACCOUNTS].set_role(mod.id, "host", actor="boss")
    await mod_sock.ws.receive(timeout=5)
    assert mod_sock.ws.close_code == 4401


async def test_asking_before_the_start_and_after_the_end(live: Live) -> None:
    from live.sessions import SessionForm

    sessions = live.app[keys.SESSIONS]
    later = await sessions.create(SessionForm("下午场", scheduled_start=1.9e9), actor="t")
    early_live = type(live)(live.site, later)
    viewer = await early_live.viewer()
    assert (await ask(viewer, "提前问：驾照换证"))["type"] == "ack"
    await sessions.start(later.id, actor="t")
    await sessions.end(later.id, actor="t")
    ended = await viewer.until(lambda f: f.get("kind") == "session"
                               and f["session"]["status"] == "ended")
    assert ended["session"]["ended_at"]
    refused = await ask(viewer, "结束后再问")
    assert refused["code"] == "session_ended"


@both_backends
async def test_blocked_terms_reject_or_hold(live: Live) -> None:
    from store.records import TermRule

    store = live.app[keys.STORE]
    await store.insert(TermRule(id="t1", term="骗子", action="reject"))
    await store.insert(TermRule(id="t2", term="投诉", action="hold"))
    await live.app[keys.MODERATION].reload_terms()
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    refused = await ask(viewer, "你们都是骗 子")
    assert refused["code"] == "blocked" and "不允许" in refused["message"]
    held = await ask(viewer, "我要投诉检测站乱收费")
    assert held["type"] == "ack"
    seen = await mod.until(state_of(held["question_id"], "pending"))
    assert seen["question"]["flags"]["held_terms"] == ["投诉"]
    assert await store.count(Question) == 1
