"""The schedule on the web: the public page, the iCalendar feed (parsed with the
``icalendar`` package: RFC 5545, times right in the configured zone, stable UIDs), the admin
edit (role, CSRF, validation, audit) and the next broadcast on a waiting question's page."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import icalendar
import pytest

from live.sessions import SessionForm
from moderation.data_files import SCHEDULE, load_schedule, shipped_text
from moderation.schedule import next_broadcast
from settings import Settings
from store.records import AuditEntry, Question
from tests.support import Site, both_backends, staff_csrf
from web import keys
from web.ask_pages import follow_path
from web.desk_schedule import broadcast_text

ZONE = "America/New_York"
EVERY_DAY = """
title = "夜间加场"
description = "测试：每天两场，逗号, 分号; 都要转义"
weekdays = [1, 2, 3, 4, 5, 6, 7]
[[slot]]
start = "09:00"
end = "09:30"
[[slot]]
start = "20:00"
end = "21:00"
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(server={"time_zone": ZONE})


async def feed(site: Site) -> icalendar.Calendar:
    response = await site.first.get("/schedule.ics")
    assert response.status == 200
    assert response.content_type == "text/calendar"
    body = await response.read()
    assert b"\r\n" in body and b"\n" not in body.replace(b"\r\n", b"")
    return icalendar.Calendar.from_ical(body)


async def test_the_feed_is_rfc_5545_in_the_configured_zone(site: Site) -> None:
    calendar = await feed(site)
    assert calendar["VERSION"] == "2.0" and calendar["X-WR-TIMEZONE"] == ZONE
    events = list(calendar.walk("VEVENT"))
    assert len(events) > 20  # a week back and sixty days ahead of weekdays
    zone = ZoneInfo(ZONE)
    for event in events:
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start.utcoffset() == dt.timedelta(0)  # written in UTC, never floating
        local = start.astimezone(zone)
        assert (local.strftime("%H:%M"), end.astimezone(zone).strftime("%H:%M")) in {
            ("10:00", "12:00"), ("14:30", "16:30")}
        assert local.isoweekday() <= 5
        assert event["UID"] == f"{local:%Y%m%dT%H%M}@tippocket-schedule"
        assert str(event["SUMMARY"]) == "车管业务直播答疑"
    assert len({str(e["UID"]) for e in events}) == len(events)
    again = list((await feed(site)).walk("VEVENT"))
    assert [str(e["UID"]) for e in again] == [str(e["UID"]) for e in events]


async def test_the_public_page_lists_the_coming_broadcasts(site: Site) -> None:
    page = await (await site.first.get("/schedule")).text()
    assert "直播时间表" in page and "America/New_York 时间" in page
    assert "10:00–12:00" in page and "14:30–16:30" in page
    assert "/schedule.ics" in page
    assert 'href="/schedule"' in await (await site.first.get("/")).text()


@both_backends
async def test_admins_edit_the_schedule_and_the_feed_follows(site: Site) -> None:
    assert (await site.first.get("/admin/schedule", allow_redirects=False)).status in (302, 303)
    await site.add_user("mod", "moderator")
    moderator = await site.login("mod")
    assert (await moderator.get("/admin/schedule")).status == 403
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/schedule")
    no_csrf = await admin.post("/admin/schedule", data={"action": "save", "text": EVERY_DAY,
                                                        "version": "0"})
    assert no_csrf.status == 403
    bad = await admin.post("/admin/schedule", data={
        "_csrf": token, "action": "save", "version": "0",
        "text": EVERY_DAY.replace('end = "09:30"', 'end = "08:00"')})
    assert bad.status == 400 and "结束不晚于开始" in await bad.text()
    saved = await admin.post("/admin/schedule", data={
        "_csrf": token, "action": "save", "version": "0", "text": EVERY_DAY})
    assert saved.status == 200 and "已保存" in await saved.text()
    store = site.app[keys.STORE]
    assert (await load_schedule(store)).title == "夜间加场"
    [entry] = await store.find(AuditEntry, {"action": "data.schedule.save"}, order_by=["at"])
    assert entry.actor == "boss"

    events = list((await feed(site)).walk("VEVENT"))
    zone = ZoneInfo(ZONE)
    starts = {e.decoded("DTSTART").astimezone(zone).strftime("%H:%M") for e in events}
    assert starts == {"09:00", "20:00"}
    assert {e.decoded("DTSTART").astimezone(zone).isoweekday() for e in events} == set(
        range(1, 8))
    assert str(events[0]["DESCRIPTION"]) == "测试：每天两场，逗号, 分号; 都要转义"

    restored = await admin.post("/admin/schedule", data={"_csrf": token, "action": "restore"})
    assert restored.status == 200
    assert (await load_schedule(store)).title == "车管业务直播答疑"


async def test_a_waiting_question_shows_the_next_broadcast(site: Site) -> None:
    session = await site.app[keys.SESSIONS].create(
        SessionForm("周五场", scheduled_start=time.time() + 86400), actor="test")
    now = time.time()
    await site.app[keys.STORE].insert(Question(
        id="q1", session_id=session.id, viewer_id="v", client_id="c", text="驾照到期怎么换",
        state="pending", created_at=now, updated_at=now))
    page = await (await site.first.get(follow_path(site.app[keys.SECRET_KEY], "q1"))).text()
    coming = next_broadcast(await load_schedule(site.app[keys.STORE]), time.time(),
                            ZoneInfo(ZONE))
    assert coming is not None
    expected = broadcast_text(coming, ZoneInfo(ZONE))
    assert f'<p id="follow-next">下一场直播：{expected}' in page
    assert shipped_text(SCHEDULE).startswith("# The desk's broadcast schedule")
