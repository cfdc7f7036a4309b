"""Shared live state across two nodes (tests/live/two_nodes.py: two apps, one MongoDB, one
Redis): every asking limit, the sign-in throttle, a ban, "me too", the one-on-air rule, the
staff snapshot and viewer counts hold across nodes, and a dead Redis refuses questions and
sign-ins with a clear ``unavailable``, never a crash and never a bypassed ban."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from live.viewer_counts import RedisViewerCounts
from moderation.board_sync import RESTRICTIONS_MAX_AGE, SESSION_MAX_AGE
from settings import Settings
from store.records import LiveSession, Question
from tests.live.conftest import Client, Live, Socket
from tests.live.two_nodes import TwoNodes, two_nodes_fixture  # noqa: F401
from tests.support import csrf_of, until
from web import keys
from web.auth import LOGIN_COOKIE

pytestmark = pytest.mark.mongodb

PER_VIEWER, PER_ADDRESS, PER_SESSION, SIGN_IN_FAILURES = 2, 3, 5, 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(
        live={"viewer_questions_per_minute": PER_VIEWER,
              "address_questions_per_minute": PER_ADDRESS,
              "session_questions_per_minute": PER_SESSION},
        security={"login_max_failures": SIGN_IN_FAILURES})


async def one_viewer_on_both(nodes: TwoNodes) -> tuple[Socket, Socket]:
    """The same viewer (one signed cookie) connected to node A and to node B."""
    first = await nodes.a.site.new_client()
    assert (await first.get(f"/live/{nodes.a.session.id}")).status == 200
    cookie = first.session.cookie_jar.filter_cookies(first.make_url("/"))["tp_viewer"]
    second = await nodes.b.site.new_client()
    second.session.cookie_jar.update_cookies({"tp_viewer": cookie.value},
                                             response_url=second.make_url("/"))
    return await nodes.a.viewer(first), await nodes.b.viewer(second)


async def ask(sock: Socket, text: str) -> dict[str, Any]:
    return await sock.request("ask", client_id=uuid.uuid4().hex, text=text)


QUESTIONS = ["驾驶证到期了怎么换证", "车辆年检需要带什么材料", "电动车上牌在哪里办理",
             "违章罚款可以网上交吗", "驾照丢了怎么补办", "外地车牌限行怎么规定",
             "新车上牌需要多久", "实习期可以上高速吗"]


async def test_a_viewers_limit_counts_questions_asked_on_both_nodes(two_nodes: TwoNodes) -> None:
    on_a, on_b = await one_viewer_on_both(two_nodes)
    for n in range(PER_VIEWER):
        assert (await ask((on_a, on_b)[n % 2], QUESTIONS[n]))["type"] == "ack"
    refused = await ask(on_b, QUESTIONS[PER_VIEWER])
    assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
    refused = await ask(on_a, QUESTIONS[PER_VIEWER + 1])
    assert refused["code"] == "rate_limited"


async def test_an_address_limit_counts_every_viewer_on_both_nodes(two_nodes: TwoNodes) -> None:
    codes = []
    for n in range(PER_ADDRESS + 1):
        live = two_nodes.nodes[n % 2]  # a new viewer each time, all at 127.0.0.1
        codes.append((await ask(await live.viewer(), QUESTIONS[n]))["type"])
    assert codes == ["ack"] * PER_ADDRESS + ["error"]


async def test_slow_mode_set_on_one_node_holds_on_the_other(two_nodes: TwoNodes) -> None:
    on_a, on_b = await one_viewer_on_both(two_nodes)  # node B has loaded the board
    mod_a, _ = await two_nodes.staff_clients("mod", "moderator")
    mod = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    assert (await mod.request("slow_mode", seconds=600))["type"] == "ack"
    await asyncio.sleep(SESSION_MAX_AGE)  # node B rereads the session at least this often
    assert (await ask(on_a, QUESTIONS[1]))["type"] == "ack"
    refused = await ask(on_b, QUESTIONS[2])
    assert refused["code"] == "rate_limited" and 590 < refused["retry_after"] <= 600


async def viewer_at(live: Live, address: str) -> Socket:
    """A new viewer connecting from another loopback address."""
    client = await live.site.make_client(
        live.site.first.server, connector=aiohttp.TCPConnector(local_addr=(address, 0)))
    return await live.viewer(client)


async def test_the_session_question_rate_counts_both_nodes(two_nodes: TwoNodes) -> None:
    answers = []
    for n in range(PER_SESSION + 1):  # one question per viewer and per address
        sock = await viewer_at(two_nodes.nodes[n % 2], f"127.0.0.{10 + n}")
        answers.append((await ask(sock, QUESTIONS[n])).get("code", "ack"))
    assert answers == ["ack"] * PER_SESSION + ["busy"]


async def test_a_ban_on_one_node_holds_on_the_other_within_a_second(
        two_nodes: TwoNodes) -> None:
    _, on_b = await one_viewer_on_both(two_nodes)
    assert (await ask(on_b, QUESTIONS[0]))["type"] == "ack"  # node B has read restrictions
    mod_a, _ = await two_nodes.staff_clients("mod", "moderator")
    mod = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    viewer_id = (await two_nodes.a.app[keys.STORE].find(Question))[0].viewer_id
    banned = await mod.request("restrict", viewer_id=viewer_id, kind="ban", reason="广告")
    assert banned["type"] == "ack", banned
    await asyncio.sleep(RESTRICTIONS_MAX_AGE)
    refused = await ask(on_b, QUESTIONS[1])
    assert refused["code"] == "banned"
    assert (await mod.request("unrestrict", viewer_id=viewer_id))["type"] == "ack"
    await asyncio.sleep(RESTRICTIONS_MAX_AGE)
    assert (await ask(on_b, QUESTIONS[2]))["type"] == "ack"


async def approved_question(nodes: TwoNodes, mod: Socket, text: str) -> dict[str, Any]:
    """A question asked on node A and approved by ``mod`` (on either node)."""
    asked = await ask(await nodes.a.viewer(), text)
    qid = asked["question_id"]
    approved = await mod.request("approve", question_id=qid, version=1, category="驾驶证")
    assert approved["type"] == "ack", approved
    return approved


async def test_staff_on_node_b_see_and_act_on_questions_asked_on_node_a(
        two_nodes: TwoNodes) -> None:
    asked = await ask(await two_nodes.a.viewer(), QUESTIONS[0])
    mod_a, mod_b = await two_nodes.staff_clients("mod", "moderator")
    staff_b = await two_nodes.b.staff("mod", "moderator", client=mod_b)
    snapshot = next(f for f in staff_b.seen if f["type"] == "snapshot")
    assert asked["question_id"] in {q["id"] for q in snapshot["questions"]}
    # Asked on A after B's snapshot: B has never seen it, and acts on it all the same.
    later = await ask(await two_nodes.a.viewer(), QUESTIONS[1])
    approved = await staff_b.request("approve", question_id=later["question_id"], version=1,
                                     category="驾驶证")
    assert approved["type"] == "ack" and approved["state"] == "queued", approved
    # Node A's board still holds version 1: the newer version is read from the store.
    staff_a = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    pinned = await staff_a.request("pin", question_id=later["question_id"],
                                   version=approved["version"], pinned=True)
    assert pinned["type"] == "ack", pinned
    # A stale version is still a conflict, with the question as it is now.
    stale = await staff_b.request("pin", question_id=later["question_id"],
                                  version=approved["version"], pinned=False)
    assert stale["code"] == "conflict" and stale["current"]["version"] == pinned["version"]


async def test_only_one_question_is_ever_on_air_across_nodes(two_nodes: TwoNodes) -> None:
    host_a, host_b = await two_nodes.staff_clients("host", "host")
    mod_a, _ = await two_nodes.staff_clients("mod", "moderator")
    mod = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    first = await approved_question(two_nodes, mod, QUESTIONS[0])
    second = await approved_question(two_nodes, mod, QUESTIONS[1])
    third = await approved_question(two_nodes, mod, QUESTIONS[2])
    on_a = await two_nodes.a.staff("host", "host", client=host_a)
    # Node B loads its board now (nothing on air), and does not hear of what A does next.
    on_b = await two_nodes.b.staff("host", "host", client=host_b)
    aired = await on_a.request("on_air", question_id=first["question_id"],
                               version=first["version"])
    assert aired["type"] == "ack", aired
    busy = await on_b.request("on_air", question_id=second["question_id"],
                              version=second["version"])
    assert busy["code"] == "air_busy", busy
    # Answered on B, then two hosts on two nodes put two questions on air at once.
    done = await on_b.request("answered", question_id=first["question_id"],
                              version=aired["version"])
    assert done["type"] == "ack", done
    store = two_nodes.a.app[keys.STORE]
    session_id = two_nodes.a.session.id
    assert (await store.get(LiveSession, session_id)).on_air_id == ""
    third_now = await store.get(Question, third["question_id"])
    results = await asyncio.gather(
        on_a.request("on_air", question_id=second["question_id"], version=second["version"]),
        on_b.request("on_air", question_id=third["question_id"], version=third_now.version))
    assert sorted(r["type"] for r in results) == ["ack", "error"], results
    refused = next(r for r in results if r["type"] == "error")
    assert refused["code"] in ("air_busy", "unavailable"), refused
    on_air = await store.find(Question, {"session_id": session_id, "state": "on_air"})
    winner = next(r for r in results if r["type"] == "ack")
    assert [q.id for q in on_air] == [winner["question_id"]]
    assert (await store.get(LiveSession, session_id)).on_air_id == winner["question_id"]


async def test_me_too_is_counted_once_per_viewer_across_nodes(two_nodes: TwoNodes) -> None:
    mod_a, _ = await two_nodes.staff_clients("mod", "moderator")
    mod = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    qid = (await approved_question(two_nodes, mod, QUESTIONS[0]))["question_id"]
    same_a, same_b = await one_viewer_on_both(two_nodes)
    twice = await asyncio.gather(same_a.request("me_too", question_id=qid),
                                 same_b.request("me_too", question_id=qid))
    assert sorted(r["type"] for r in twice) == ["ack", "error"], twice
    assert next(r for r in twice if r["type"] == "error")["code"] == "already"
    others = [await two_nodes.nodes[n % 2].viewer() for n in range(8)]
    acks = await asyncio.gather(*(s.request("me_too", question_id=qid) for s in others))
    assert all(a["type"] == "ack" for a in acks), acks
    stored = await two_nodes.a.app[keys.STORE].get(Question, qid)
    assert stored.me_too == 9
    # Each node announces the store's count, not only its own share of it.
    for live in two_nodes.nodes:
        board = live.app[keys.MODERATION].boards[live.session.id]
        await until(lambda b=board: b.questions[qid].me_too == 9, "the count on each node")


async def test_me_too_on_a_question_closed_on_the_other_node_is_refused(
        two_nodes: TwoNodes) -> None:
    mod_a, _ = await two_nodes.staff_clients("mod", "moderator")
    mod = await two_nodes.a.staff("mod", "moderator", client=mod_a)
    approved = await approved_question(two_nodes, mod, QUESTIONS[0])
    qid = approved["question_id"]
    fan = await two_nodes.b.viewer()  # node B's board now holds the question as queued
    declined = await mod.request("decline", question_id=qid, version=approved["version"],
                                 reason="本场已经解答过相同的问题")
    assert declined["type"] == "ack", declined
    refused = await fan.request("me_too", question_id=qid)
    assert refused["code"] == "invalid_state", refused
    stored = await two_nodes.a.app[keys.STORE].get(Question, qid)
    assert stored.me_too == 0 and stored.state == "declined"


async def test_viewer_counts_are_summed_and_a_dead_nodes_drop_out(two_nodes: TwoNodes) -> None:
    for live, n in ((two_nodes.a, 2), (two_nodes.b, 3)):
        for _ in range(n):
            await live.viewer()
    session_id = two_nodes.a.session.id
    counts = two_nodes.a.app[keys.VIEWER_COUNTS]
    seen: list[int] = []

    async def viewers() -> int:
        seen.append((await counts.counts(session_id))["viewers"])
        return seen[-1]

    while await viewers() != 5:
        assert len(seen) < 100, seen
        await asyncio.sleep(0.1)
    # Node B dies: it stops beating without a word; its viewers drop out of A's count.
    b_counts = two_nodes.b.app[keys.VIEWER_COUNTS]
    assert isinstance(b_counts, RedisViewerCounts)
    await b_counts.stop(forget=False)
    while await viewers() != 2:
        assert len(seen) < 200, seen
        await asyncio.sleep(0.1)


async def sign_in(client: Client, name: str, password: str) -> tuple[int, str]:
    token = csrf_of(await (await client.get("/login")).text())
    response = await client.post("/login", allow_redirects=False,
                                 data={"name": name, "password": password, "_csrf": token})
    return response.status, await response.text()


async def test_sign_in_failures_on_one_node_lock_the_other(two_nodes: TwoNodes) -> None:
    await two_nodes.add_user("mod", "moderator")
    on_a, on_b = await two_nodes.a.site.new_client(), await two_nodes.b.site.new_client()
    assert (await sign_in(on_a, "mod", "wrong-password-1"))[0] == 401
    assert (await sign_in(on_b, "mod", "wrong-password-2"))[0] == 401
    status, text = await sign_in(on_a, "mod", "correct-horse-battery")
    assert status == 429 and "次数过多" in text


async def test_a_dead_redis_refuses_questions_and_sign_ins_but_bans_hold(
        two_nodes: TwoNodes) -> None:
    on_a, on_b = await one_viewer_on_both(two_nodes)
    assert (await ask(on_b, QUESTIONS[0]))["type"] == "ack"
    await two_nodes.add_user("mod", "moderator")
    two_nodes.redis.kill()
    for sock in (on_a, on_b):
        refused = await ask(sock, QUESTIONS[1])
        assert refused["code"] == "unavailable" and refused["retry_after"] > 0, refused
    status, text = await sign_in(await two_nodes.b.site.new_client(), "mod",
                                 "correct-horse-battery")
    assert status == 429 and "暂时不可用" in text
    # A ban needs only the store: it is applied, and holds, while Redis is down.
    mod = await two_nodes.a.staff("mod", "moderator",
                                  client=await logged_in_without_redis(two_nodes))
    viewer_id = (await two_nodes.a.app[keys.STORE].find(Question))[0].viewer_id
    assert (await mod.request("restrict", viewer_id=viewer_id, kind="ban",
                              reason="广告"))["type"] == "ack"
    await asyncio.sleep(RESTRICTIONS_MAX_AGE)
    assert (await ask(on_b, QUESTIONS[2]))["type"] == "error"  # unavailable or banned
    # Redis back (without its data): the ban still holds on node B, another viewer's
    # questions are taken again, no restart needed.
    two_nodes.redis.restart(keep_data=False)
    other = await two_nodes.b.viewer()
    for _ in range(5):  # the client reconnects on its next use
        answer = await ask(other, QUESTIONS[3])
        if answer["type"] == "ack":
            break
        assert answer["code"] == "unavailable", answer
        await asyncio.sleep(0.2)
    else:
        pytest.fail("questions were not taken again after Redis came back")
    assert (await ask(on_b, QUESTIONS[4]))["code"] == "banned"


async def logged_in_without_redis(nodes: TwoNodes) -> Client:
    """A moderator's browser on node A, logged in through the store while Redis is down
    (sign-in itself is refused then, so the login is made directly)."""
    user = await nodes.a.app[keys.STORE].user_by_name("mod")
    assert user is not None
    token, _ = await nodes.a.app[keys.LOGINS].start(user, "127.0.0.1")
    client = await nodes.a.site.new_client()
    client.session.cookie_jar.update_cookies({LOGIN_COOKIE: token},
                                             response_url=client.make_url("/"))
    return client
