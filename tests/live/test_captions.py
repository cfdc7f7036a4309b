"""Live captions typed by a captioner (issue 16): the ``caption`` staff action over the staff
websocket and the HTTP API, against the real app with real sockets — who may send it, the
masking of personal data, the line reaching every viewer, resume, storage and audit."""

from __future__ import annotations

from typing import Any

from live.sessions import SessionForm
from store.records import AuditEntry, Caption
from tests.live.conftest import Live, Socket
from tests.support import both_backends, staff_csrf
from web import keys

PHONE = "13812345678"


def caption_event(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "event" and frame.get("kind") == "caption"


async def captions_of(live: Live) -> list[Caption]:
    return await live.app[keys.STORE].find(Caption, {"session_id": live.session.id},
                                           order_by=["at"])


@both_backends
async def test_a_captioners_line_reaches_every_viewer_masked_stored_and_audited(
        live: Live) -> None:
    viewers = [await live.viewer(), await live.viewer()]
    host = await live.staff("host", "host")
    captioner = await live.staff("cap", "captioner")
    ack = await captioner.request("caption", text=f"  民警：有问题请拨打 {PHONE}\n咨询  ")
    assert ack["type"] == "ack", ack
    assert PHONE not in ack["text"] and ack["text"].startswith("民警：有问题请拨打 ")
    assert "\n" not in ack["text"] and ack["text"].endswith(" 咨询")
    for viewer in viewers:
        event = await viewer.until(caption_event)
        assert event["caption"] == {"id": ack["caption_id"], "text": ack["text"],
                                    "at": ack["at"]}
    assert (await host.until(caption_event))["caption"]["id"] == ack["caption_id"]
    [stored] = await captions_of(live)
    assert (stored.id, stored.text, stored.at, stored.by) == (
        ack["caption_id"], ack["text"], ack["at"], "cap")
    assert live.session.started_at <= stored.at
    [entry] = await live.app[keys.STORE].find(AuditEntry, {"action": "caption.add"},
                                                        order_by=["at"])
    assert (entry.actor, entry.target, entry.session_id) == (
        "cap", f"session:{live.session.id}", live.session.id)
    assert PHONE not in str(entry.after)


async def test_only_captioners_and_admins_may_caption(live: Live) -> None:
    viewer = await live.viewer()
    for role in ("moderator", "host"):
        staff = await live.staff(role, role)
        refused = await staff.request("caption", text="您好")
        assert (refused["type"], refused["code"]) == ("error", "forbidden"), role
    await viewer.ws.send_json({"type": "caption", "id": "r1", "text": "您好"})
    assert (await viewer.until(lambda f: f.get("re") == "r1"))["type"] == "error"
    admin = await live.staff("boss", "admin")
    assert (await admin.request("caption", text="管理员也可以"))["type"] == "ack"
    assert [c.text for c in await captions_of(live)] == ["管理员也可以"]
    # The refused lines never reached a viewer: the first caption seen is the admin's.
    assert (await viewer.until(caption_event))["caption"]["text"] == "管理员也可以"


async def test_empty_too_long_and_off_air_lines_are_refused(live: Live) -> None:
    captioner = await live.staff("cap", "captioner")
    assert (await captioner.request("caption", text=" \u200b ")).get("code") == "empty"
    limit = live.app[keys.MODERATION].limits.caption_max_chars
    assert (await captioner.request("caption", text="长" * (limit + 1))).get("code") == \
        "too_long"
    assert (await captioner.request("caption", text="长" * limit))["type"] == "ack"
    await live.app[keys.SESSIONS].end(live.session.id, actor="test")
    assert (await captioner.request("caption", text="结束了")).get("code") == "not_live"
    assert len(await captions_of(live)) == 1


async def test_a_viewer_who_reconnects_gets_the_lines_they_missed(live: Live) -> None:
    client = await live.site.new_client()
    viewer = await live.viewer(client)
    captioner = await live.staff("cap", "captioner")
    first = await captioner.request("caption", text="第一句")
    await viewer.until(caption_event)
    cursor = viewer.cursor
    await viewer.close()
    second = await captioner.request("caption", text="第二句")
    third = await captioner.request("caption", text="第三句")
    resumed: Socket = await live.connect(client, f"/ws/live/{live.session.id}", since=cursor)
    assert resumed.seen[0]["resume"] == "replay"
    missed = [await resumed.recv(), await resumed.recv()]
    assert [f["caption"]["id"] for f in missed] == [second["caption_id"], third["caption_id"]]
    assert first["caption_id"] not in {f["caption"]["id"] for f in missed}


async def test_the_caption_action_over_http(live: Live) -> None:
    viewer = await live.viewer()
    await live.site.add_user("cap", "captioner")
    client = await live.site.login("cap")
    token = await staff_csrf(client)
    url = f"/api/sessions/{live.session.id}/actions/caption"
    response = await client.post(url, json={"text": f"电话 {PHONE}"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert PHONE not in answer["text"] and set(answer) == {"caption_id", "text", "at"}
    assert (await viewer.until(caption_event))["caption"]["text"] == answer["text"]
    await live.site.add_user("host", "host")
    host = await live.site.login("host")
    refused = await host.post(url, json={"text": "你好"},
                              headers={"X-CSRF-Token": await staff_csrf(host)})
    assert refused.status == 403
    anonymous = await live.site.new_client()
    assert (await anonymous.post(url, json={"text": "你好"})).status == 401
    await live.app[keys.SESSIONS].end(live.session.id, actor="test")
    ended = await client.post(url, json={"text": "你好"}, headers={"X-CSRF-Token": token})
    assert ended.status == 422 and (await ended.json(
        content_type="application/problem+json"))["code"] == "not_live"


async def test_a_scheduled_broadcast_takes_no_captions(live: Live) -> None:
    later = await live.app[keys.SESSIONS].create(SessionForm("晚场", scheduled_start=1.9e9),
                                                 actor="test")
    captioner = await live.staff("cap", "captioner")
    sock = await live.connect(captioner_client := await live.site.login("cap"),
                              f"/ws/staff/{later.id}", None)
    del captioner_client
    assert (await sock.request("caption", text="还没开始")).get("code") == "not_live"
    assert (await captioner.request("caption", text="开始了"))["type"] == "ack"


async def test_a_viewer_who_comes_later_gets_the_newest_lines_in_the_snapshot(
        live: Live) -> None:
    captioner = await live.staff("cap", "captioner")
    sent = [await captioner.request("caption", text=f"第{n}句") for n in "一二三四"]
    late = await live.viewer()
    snapshot = next(f for f in late.seen if f["type"] == "snapshot")
    assert [c["id"] for c in snapshot["captions"]] == [a["caption_id"] for a in sent[1:]]
    assert [c["text"] for c in snapshot["captions"]] == ["第二句", "第三句", "第四句"]
    # A board loaded afresh (as after a restart) reads them from the store.
    moderation = live.app[keys.MODERATION]
    moderation.boards.clear()
    again = await live.viewer()
    snapshot = next(f for f in again.seen if f["type"] == "snapshot")
    assert [c["text"] for c in snapshot["captions"]] == ["第二句", "第三句", "第四句"]
