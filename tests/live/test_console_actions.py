"""The console's new staff actions over real websockets: notes for the host (the
backchannel, never sent to viewers), moving a question between hosts' queues, and bulk
approve and decline (each question its own unit of work)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from live.sessions import SessionForm
from store.records import AuditEntry, Question
from tests.live.conftest import Live, Socket, question_event
from web import keys


def state_of(qid: str, state: str) -> Any:
    return lambda f: question_event(f) and f["question"]["id"] == qid and \
        f["question"]["state"] == state


async def ask(sock: Socket, text: str) -> str:
    ack = await sock.request("ask", client_id=uuid.uuid4().hex, text=text)
    assert ack["type"] == "ack", ack
    return str(ack["question_id"])


async def test_notes_reach_staff_only_never_the_public_or_the_asker(live: Live) -> None:
    asker = await live.viewer()
    other = await live.viewer()
    mod = await live.staff("mod", "moderator")
    expert = await live.staff("prof", "expert")
    host = await live.staff("host", "host")
    qid = await ask(asker, "驾驶证满分学习可以网上学吗")
    q = (await mod.until(state_of(qid, "pending")))["question"]
    approved = await mod.request("approve", question_id=qid, version=q["version"],
                                 category="驾驶证")
    noted = await expert.request("note", question_id=qid, version=approved["version"],
                                 text="依据《道路交通安全违法行为记分管理办法》第二十条，可网上学习")
    assert noted["type"] == "ack" and noted["state"] == "queued"
    seen = await host.until(lambda f: question_event(f) and f["question"]["id"] == qid
                            and f["question"]["flags"].get("notes"))
    note = seen["question"]["flags"]["notes"][0]
    assert note["by"] == "prof" and "第二十条" in note["text"]
    await mod.request("note", question_id=qid, version=noted["version"], text="注意：只说线上")
    await host.until(lambda f: question_event(f) and f["question"]["id"] == qid
                     and len(f["question"]["flags"].get("notes", [])) == 2)
    # The viewers got the question's public events; none of their frames mentions a note.
    await other.until(state_of(qid, "queued"))
    await asker.request("ping")
    await other.request("ping")
    for sock in (asker, other):
        text = json.dumps(sock.seen, ensure_ascii=False)
        assert "第二十条" not in text and "只说线上" not in text and "notes" not in text
    # A fresh viewer's snapshot carries none either.
    late = await live.viewer()
    assert "第二十条" not in json.dumps(late.seen, ensure_ascii=False)
    entries = await live.app[keys.STORE].find(AuditEntry, {"action": "question.note"},
                                              order_by=["at"])
    assert {e.actor for e in entries} == {"prof", "mod"}


async def test_experts_may_only_note_and_hosts_may_not_note(live: Live) -> None:
    asker = await live.viewer()
    expert = await live.staff("prof", "expert")
    host = await live.staff("host", "host")
    qid = await ask(asker, "摩托车驾驶证怎么增驾")
    q = (await expert.until(state_of(qid, "pending")))["question"]
    refused = await expert.request("approve", question_id=qid, version=q["version"],
                                   category="驾驶证")
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    refused = await host.request("note", question_id=qid, version=q["version"], text="hi")
    assert refused["code"] == "forbidden"
    empty = await expert.request("note", question_id=qid, version=q["version"], text="   ")
    assert empty["code"] == "empty"


async def test_move_to_host_routes_between_the_hosts_queues(live: Live) -> None:
    store = live.app[keys.STORE]
    accounts = live.app[keys.ACCOUNTS]
    officer = await accounts.create("officer", "host", "pw-123456789", actor="test")
    presenter = await accounts.create("presenter", "host", "pw-123456789", actor="test")
    await live.app[keys.SESSIONS].edit(
        live.session.id, SessionForm("交警视频帮 上午场", scheduled_start=1.8e9,
                                     host_ids=(officer.id, presenter.id)), actor="test")
    asker = await live.viewer()
    mod = await live.staff("mod", "moderator")
    qid = await ask(asker, "新车上牌需要什么材料")
    q = (await mod.until(state_of(qid, "pending")))["question"]
    approved = await mod.request("approve", question_id=qid, version=q["version"],
                                 category="机动车", host_id=officer.id)
    moved = await mod.request("move_to_host", question_id=qid, version=approved["version"],
                              host_id=presenter.id)
    assert moved["type"] == "ack" and moved["state"] == "queued"
    seen = await mod.until(lambda f: question_event(f) and f["question"]["id"] == qid
                           and f["question"]["host_id"] == presenter.id)
    assert seen["question"]["state"] == "queued"
    assert (await store.get(Question, qid)).host_id == presenter.id
    again = await mod.request("move_to_host", question_id=qid, version=moved["version"],
                              host_id=presenter.id)
    assert again["code"] == "same_host"
    stranger = await mod.request("move_to_host", question_id=qid, version=moved["version"],
                                 host_id="nobody")
    assert stranger["code"] == "unknown_host"
    entries = await store.find(AuditEntry, {"action": "question.move_to_host"},
                              order_by=["at"])
    assert [e.after for e in entries] == [{"host_id": presenter.id, "position": 1.0,
                                           "pinned": False}]


async def test_bulk_approve_and_decline_each_question_its_own_unit(live: Live) -> None:
    asker = await live.viewer()
    mod = await live.staff("mod", "moderator")
    ids = [await ask(asker, text) for text in
           ("驾驶证到期换证要体检吗", "车辆年检可以异地办吗", "扣分怎么查询呢", "今天中午吃什么")]
    versions = {}
    for qid in ids:
        versions[qid] = (await mod.until(state_of(qid, "pending")))["question"]["version"]
    pairs = ",".join(f"{qid}:{versions[qid]}" for qid in ids[:2])
    stale = f"{ids[2]}:{versions[ids[2]] + 5}"
    ack = await mod.request("bulk_approve", questions=f"{pairs},{stale}", category="机动车")
    assert ack["type"] == "ack"
    assert [d["question_id"] for d in ack["done"]] == ids[:2]
    assert {d["state"] for d in ack["done"]} == {"queued"}
    assert [(r["question_id"], r["code"]) for r in ack["refused"]] == [(ids[2], "conflict")]
    for qid in ids[:2]:
        await mod.until(state_of(qid, "queued"))
    declined = await mod.request("bulk_decline", reason="与本场主题无关", off_topic=True,
                                 questions=f"{ids[2]}:{versions[ids[2]]},{ids[3]}:"
                                           f"{versions[ids[3]]},{ids[0]}:{versions[ids[0]]}")
    assert [d["question_id"] for d in declined["done"]] == ids[2:]
    for qid in ids[2:]:  # each one flagged as not the desk's business, for the engine to learn
        assert (await live.app[keys.STORE].get(Question, qid)).flags.get("off_topic") is True
    assert [r["code"] for r in declined["refused"]] == ["conflict"]  # ids[0] moved on
    got = await asker.until(lambda f: state_of(ids[3], "declined")(f)
                            and f["question"].get("mine"))
    assert got["question"]["decline_reason"] == "与本场主题无关"
    entries = await live.app[keys.STORE].find(AuditEntry, {"action": "question.decline"},
                                              order_by=["at"])
    assert sorted(e.target for e in entries) == sorted(f"question:{q}" for q in ids[2:])
    bad = await mod.request("bulk_decline", questions="abc", reason="x")
    assert bad["type"] == "error" and bad["code"] == "bad_field"
    host = await live.staff("host", "host")
    forbidden = await host.request("bulk_decline", questions=f"{ids[0]}:9", reason="x")
    assert forbidden["code"] == "forbidden"
