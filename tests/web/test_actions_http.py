"""The staff actions over HTTP (``POST /api/sessions/{id}/actions/{name}``), against the real
app on a loopback port with real staff logins: every declared action, the same answers as the
websocket's acks, role and CSRF refusals, conflicts as 409 with the current question, and
malformed requests as problem details. The full round and the conflict run on both store
backends."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from live.sessions import SessionForm
from moderation.actions import ACTIONS
from store.records import AuditEntry, LiveSession, Question, ViewerRestriction
from tests.live.conftest import Live, Socket
from tests.support import Site, both_backends, staff_csrf
from web import keys

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"


class Staff:
    """A logged-in staff member's browser, calling the actions API."""

    def __init__(self, client: Client, token: str, session_id: str) -> None:
        self.client = client
        self.token = token
        self.session_id = session_id

    async def post(self, name: str, body: Any, *, token: str | None = None,
                   session_id: str | None = None, raw: bytes | None = None,
                   content_type: str = "application/json",
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        url = f"/api/sessions/{session_id or self.session_id}/actions/{name}"
        sent = {"Content-Type": content_type, "X-CSRF-Token": self.token if token is None
                else token, **(headers or {})}
        data = raw if raw is not None else json.dumps(body).encode()
        response = await self.client.post(url, data=data, headers=sent)
        if response.status >= 400:
            assert response.content_type == PROBLEM, (response.status, await response.text())
            problem = await response.json(content_type=PROBLEM)
            assert problem["status"] == response.status and problem["title"]
            assert problem["type"] == "urn:tippocket:problem:" + problem["code"]
            assert problem["detail"]
            return response.status, problem
        assert response.content_type == "application/json"
        assert response.headers["Cache-Control"] == "no-store"
        return response.status, await response.json()

    async def ok(self, name: str, **fields: Any) -> dict[str, Any]:
        status, body = await self.post(name, fields)
        assert status == 200, body
        result: dict[str, Any] = body
        return result


@pytest.fixture
async def live(site: Site) -> AsyncIterator[Live]:
    sessions = site.app[keys.SESSIONS]
    broadcast = await sessions.create(SessionForm("交警视频帮 下午场", scheduled_start=1.8e9),
                                      actor="test")
    live = Live(site, await sessions.start(broadcast.id, actor="test"))
    yield live
    for sock in live.sockets:
        await sock.close()


async def staff(live: Live, name: str, role: str) -> Staff:
    await live.site.add_user(name, role)
    client = await live.site.login(name)
    return Staff(client, await staff_csrf(client), live.session.id)


async def ask(viewer: Socket, text: str) -> str:
    ack = await viewer.request("ask", client_id=uuid.uuid4().hex, text=text)
    assert ack["type"] == "ack", ack
    qid: str = ack["question_id"]
    return qid


async def version(live: Live, qid: str) -> int:
    return (await live.app[keys.STORE].get(Question, qid)).version


@both_backends
async def test_every_action_over_http(live: Live) -> None:
    viewer = await live.viewer()
    mod = await staff(live, "mod", "moderator")
    host = await staff(live, "host", "host")
    watching = await live.connect(mod.client, f"/ws/staff/{live.session.id}", None)
    first = await ask(viewer, "驾照到期了在哪里换？")
    second = await ask(viewer, "电动车上牌要带什么材料")
    third = await ask(viewer, "电动车上牌需要带哪些材料")
    fourth = await ask(viewer, "违章怎么在网上处理")
    fifth = await ask(viewer, "车辆年检可以提前多久")
    used = set()

    async def act(who: Staff, name: str, qid: str, **fields: Any) -> dict[str, Any]:
        used.add(name)
        answer = await who.ok(name, question_id=qid, version=await version(live, qid),
                              **fields)
        assert answer["question_id"] == qid and answer["version"] == await version(live, qid)
        return answer

    assert (await act(mod, "edit", first, text="驾照  到期了，在哪里换证？"))["state"] == "pending"
    stored = await live.app[keys.STORE].get(Question, first)
    assert stored.text == "驾照 到期了，在哪里换证？"
    for qid in (first, second, fifth):
        assert (await act(mod, "approve", qid, category="驾驶证"))["state"] == "queued"
    assert (await act(mod, "merge", third, into=second))["state"] == "merged"
    assert (await act(mod, "reply", fourth, text="请在交管12123处理。"))["state"] == "replied"
    assert (await act(mod, "pin", fifth, pinned=True))["state"] == "queued"
    assert (await act(mod, "move", second, before=first))["state"] == "queued"
    assert (await act(host, "skip", first))["state"] == "queued"
    assert (await act(host, "on_air", second))["state"] == "on_air"
    assert (await act(host, "requeue", second))["state"] == "queued"
    assert (await act(host, "on_air", second))["state"] == "on_air"
    assert (await act(host, "answered", second))["state"] == "answered"
    assert (await act(mod, "note", fifth, text="提醒：年检可提前 90 天"))["state"] == "queued"
    noted = await live.app[keys.STORE].get(Question, fifth)
    assert noted.flags["notes"][0]["text"] == "提醒：年检可提前 90 天"
    status, problem = await mod.post("move_to_host", {
        "question_id": fifth, "version": await version(live, fifth), "host_id": "someone"})
    assert (status, problem["code"]) == (422, "unknown_host"), problem
    another = await live.viewer()  # the first has used up its questions per minute
    sixth, seventh = await ask(another, "驾驶证丢了怎么补"), await ask(another, "今天天气好")
    approved = await mod.ok("bulk_approve", category="驾驶证",
                            questions=f"{sixth}:{await version(live, sixth)}")
    assert [d["state"] for d in approved["done"]] == ["queued"] and approved["refused"] == []
    declined = await mod.ok("bulk_decline", reason="与本场主题无关",
                            questions=f"{seventh}:{await version(live, seventh)}")
    assert [d["question_id"] for d in declined["done"]] == [seventh]
    used |= {"bulk_approve", "bulk_decline", "move_to_host"}
    assert (await act(mod, "decline", first, reason="与本场主题无关"))["state"] == "declined"
    # The websocket saw every change the HTTP API made.
    await watching.until(lambda f: f.get("kind") == "question"
                         and f["question"]["id"] == first
                         and f["question"]["state"] == "declined")

    viewer_id = (await live.app[keys.STORE].get(Question, first)).viewer_id
    assert await mod.ok("slow_mode", seconds=30) == {}
    assert (await live.app[keys.STORE].get(LiveSession, live.session.id)).settings[
        "slow_mode_seconds"] == 30
    assert await mod.ok("restrict", viewer_id=viewer_id, kind="timeout", minutes=5,
                        reason="刷屏") == {}
    assert (await live.app[keys.STORE].get(ViewerRestriction, viewer_id)).kind == "timeout"
    assert await mod.ok("unrestrict", viewer_id=viewer_id) == {}
    captioner = await staff(live, "cap", "captioner")
    line = "民警：请带上身份证。"
    assert (await captioner.ok("caption", text=line))["text"] == line
    assert await mod.ok("me_too_order", raises=True) == {}
    assert (await live.app[keys.STORE].get(LiveSession, live.session.id)).settings[
        "me_too_raises"] is True
    used |= {"slow_mode", "restrict", "unrestrict", "caption", "me_too_order"}
    assert used == set(ACTIONS), "a declared action is not exercised over HTTP"

    entries = await live.app[keys.STORE].find(AuditEntry, {"session_id": live.session.id},
                                                order_by=["at"])
    labels = {(e.action, e.target, e.actor) for e in entries}
    assert ("question.merge", f"question:{third}", "mod") in labels
    assert ("question.answered", f"question:{second}", "host") in labels
    assert ("session.slow_mode", f"session:{live.session.id}", "mod") in labels
    assert ("viewer.timeout", f"viewer:{viewer_id}", "mod") in labels
    assert ("viewer.unrestrict", f"viewer:{viewer_id}", "mod") in labels


async def test_answers_and_refusals_equal_the_websocket(live: Live) -> None:
    viewer = await live.viewer()
    mod = await staff(live, "mod", "moderator")
    sock = await live.connect(mod.client, f"/ws/staff/{live.session.id}", None)
    one, two = await ask(viewer, "驾照怎么补办"), await ask(viewer, "摩托车怎么上牌")
    three = await ask(viewer, "电动车怎么上牌")
    over_ws = await sock.request("approve", question_id=one, version=1, category="驾驶证")
    over_http = await mod.ok("approve", question_id=two, version=1, category="机动车")
    assert over_ws.pop("type") == "ack" and over_ws.pop("re")
    assert set(over_ws) == set(over_http) and over_http["state"] == over_ws["state"]
    statuses = {"invalid_state": 409, "not_found": 404, "unknown_category": 422}
    for fields, code in (
        ({"question_id": one, "version": 2, "category": "驾驶证"}, "invalid_state"),
        ({"question_id": "nope", "version": 1, "category": "驾驶证"}, "not_found"),
        ({"question_id": three, "version": 1, "category": "火星"}, "unknown_category"),
    ):
        ws_error = await sock.request("approve", **fields)
        status, problem = await mod.post("approve", fields)
        assert ws_error["code"] == problem["code"] == code
        assert ws_error["message"] == problem["detail"]
        assert status == statuses[code]
    status, problem = await mod.post("restrict", {"viewer_id": "v", "kind": "forever"})
    assert (status, problem["code"]) == (400, "bad_field")
    status, problem = await mod.post("restrict", {"viewer_id": "v", "kind": "timeout"})
    assert (status, problem["code"]) == (400, "bad_field")


async def test_roles_are_refused_per_action(live: Live) -> None:
    viewer = await live.viewer()
    mod = await staff(live, "mod", "moderator")
    host = await staff(live, "host", "host")
    qid = await ask(viewer, "驾照怎么补办")
    status, problem = await host.post("approve", {"question_id": qid, "version": 1,
                                                  "category": "驾驶证"})
    assert (status, problem["code"]) == (403, "forbidden")
    status, problem = await host.post("slow_mode", {"seconds": 30})
    assert (status, problem["code"]) == (403, "forbidden")
    await mod.ok("approve", question_id=qid, version=1, category="驾驶证")
    status, problem = await mod.post("on_air", {"question_id": qid, "version": 2})
    assert (status, problem["code"]) == (403, "forbidden")
    assert (await live.app[keys.STORE].get(Question, qid)).state == "queued"
    # No login at all: 401, as a problem, never a redirect to the login page.
    anonymous = Staff(await live.site.new_client(), "x" * 43, live.session.id)
    status, problem = await anonymous.post("on_air", {"question_id": qid, "version": 2})
    assert (status, problem["code"]) == (401, "unauthorized")


async def test_csrf_and_origin_are_required(live: Live) -> None:
    viewer = await live.viewer()
    mod = await staff(live, "mod", "moderator")
    qid = await ask(viewer, "驾照怎么补办")
    fields = {"question_id": qid, "version": 1, "category": "驾驶证"}
    for token in ("", "x" * 43, "令牌" * 10):
        status, problem = await mod.post("approve", fields, token=token)
        assert (status, problem["code"]) == (403, "csrf"), token
    status, problem = await mod.post("approve", fields,
                                     headers={"Origin": "https://evil.example"})
    assert (status, problem["code"]) == (403, "cross_origin")
    assert (await live.app[keys.STORE].get(Question, qid)).state == "pending"


@both_backends
async def test_a_stale_version_is_409_with_the_current_question(live: Live) -> None:
    viewer = await live.viewer()
    mod = await staff(live, "mod", "moderator")
    other = await staff(live, "other", "moderator")
    qid = await ask(viewer, "驾照怎么补办")
    await mod.ok("approve", question_id=qid, version=1, category="驾驶证")
    status, problem = await other.post("decline", {"question_id": qid, "version": 1,
                                                   "reason": "重复"})
    assert (status, problem["code"]) == (409, "conflict")
    assert problem["current"]["id"] == qid and problem["current"]["version"] == 2
    assert problem["current"]["state"] == "queued"
    assert (await live.app[keys.STORE].get(Question, qid)).state == "queued"


@pytest.mark.parametrize(("raw", "content_type", "status", "code", "parameter"), [
    (b"{not json", "application/json", 400, "bad_json", ""),
    (b"\xff\xfe{}", "application/json", 400, "bad_json", ""),
    (b"[1, 2]", "application/json", 400, "bad_message", ""),
    (b'{"seconds": 1, "admin": true}', "application/json", 400, "unexpected_field", "admin"),
    (b"{}", "application/json", 400, "missing_field", "seconds"),
    (b'{"seconds": "60"}', "application/json", 400, "bad_field", "seconds"),
    (b'{"seconds": 3601}', "application/json", 400, "bad_field", "seconds"),
    (b'{"seconds": true}', "application/json", 400, "bad_field", "seconds"),
    (b"[" * 100_000, "application/json", 413, "too_large", ""),
    (b"seconds=60", "text/plain", 415, "unsupported_media_type", ""),
])
async def test_malformed_bodies_are_problems(live: Live, raw: bytes, content_type: str,
                                             status: int, code: str, parameter: str) -> None:
    mod = await staff(live, "mod", "moderator")
    got, problem = await mod.post("slow_mode", None, raw=raw, content_type=content_type)
    assert (got, problem["code"], problem.get("parameter", "")) == (status, code, parameter)


async def test_unknown_session_action_and_method_are_problems(live: Live) -> None:
    mod = await staff(live, "mod", "moderator")
    status, problem = await mod.post("slow_mode", {"seconds": 1}, session_id="no-such")
    assert (status, problem["code"]) == (404, "not_found")
    status, problem = await mod.post("shout", {})
    assert (status, problem["code"]) == (404, "not_found")
    response = await mod.client.get(f"/api/sessions/{live.session.id}/actions/pin")
    assert response.status == 405 and response.content_type == PROBLEM
    assert (await response.json(content_type=PROBLEM))["code"] == "method_not_allowed"


async def test_every_action_is_documented_with_its_fields(live: Live) -> None:
    response = await live.site.first.get("/api/openapi.json")
    paths = (await response.json())["paths"]
    for action in ACTIONS.values():
        operation = paths[f"/api/sessions/{{session_id}}/actions/{action.name}"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert set(schema["properties"]) == set(action.fields)
        assert set(schema["required"]) == {n for n, f in action.fields.items() if f.required}
        assert schema["additionalProperties"] is False
        assert {"200", "400", "403", "409"} <= set(operation["responses"])
