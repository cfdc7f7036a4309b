"""The audit log as an admin reads it: names instead of ids, actions in words, filters by
actor, action, session and date, and an action column that does not wrap."""

from __future__ import annotations

import datetime as dt
import uuid

from live.sessions import SessionForm
from moderation.actions import ACTIONS, perform
from tests.support import Site
from web import keys
from web.audit_view import ACTIONS as ACTION_WORDS
from web.render import CHINA_TZ


def test_every_declared_staff_action_reads_in_words() -> None:
    labels = {action.audit for action in ACTIONS.values() if "{" not in action.audit}
    labels |= {"viewer.timeout", "viewer.ban"}
    assert labels - set(ACTION_WORDS) == set()


async def test_names_instead_of_ids_and_every_filter(site: Site) -> None:
    await site.add_user("boss", "admin")
    accounts = site.app[keys.ACCOUNTS]
    mod = await accounts.create("mod.li", "moderator", "pw-123456789", actor="test",
                                display_name="李审核")
    host = await accounts.create("host.wang", "host", "pw-123456789", actor="test",
                                 display_name="王警官")
    sessions = site.app[keys.SESSIONS]
    broadcast = await sessions.create(SessionForm("交警视频帮 周五场", scheduled_start=1.8e9,
                                                  host_ids=(host.id,)), actor="test")
    moderation = site.app[keys.MODERATION]
    q, _ = await moderation.ask(broadcast.id, "v1", "10.0.0.1", uuid.uuid4().hex,
                                "驾驶证到期了在哪里换证？需要体检吗？需要带照片吗？要本人去吗？")
    await perform(ACTIONS["approve"], moderation, broadcast.id, mod,
                  {"question_id": q.id, "version": q.version, "category": "驾驶证",
                   "item_id": "license-renewal", "host_id": host.id})
    client = await site.login("boss")

    html = await (await client.get("/admin/audit", params={"action": "question.approve"})).text()
    row = html[html.index('data-action="question.approve"'):]
    row = row[:row.index("</tr>")]
    assert "李审核（mod.li）" in row and "通过问题" in row
    assert "问题 “驾驶证到期了在哪里换证？需要体检吗？需要带照片吗？要本人去吗" in row
    assert "交警视频帮 周五场" in row and "王警官" in row and "驾驶证" in row
    assert q.id not in row and host.id not in row and broadcast.id not in row
    assert 'class="nowrap audit-action"' in row

    by_actor = await (await client.get("/admin/audit", params={"actor": "mod.li"})).text()
    assert by_actor.count("<tr data-action=") == 1
    by_session = await (await client.get("/admin/audit",
                                         params={"session": broadcast.id})).text()
    assert 'data-action="question.approve"' in by_session
    assert 'data-action="staff.create"' not in by_session
    today = dt.datetime.now(CHINA_TZ).date()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    upcoming = await (await client.get("/admin/audit", params={"from": tomorrow})).text()
    assert "没有记录。" in upcoming
    until_today = await (await client.get("/admin/audit", params={
        "from": today.isoformat(), "to": today.isoformat()})).text()
    assert 'data-action="question.approve"' in until_today
    assert f'value="{today.isoformat()}"' in until_today
    ignored = await client.get("/admin/audit", params={"from": "yesterday"})
    assert ignored.status == 200
