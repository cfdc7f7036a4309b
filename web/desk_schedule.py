"""The desk's broadcast schedule on the web: the public page ``/schedule`` (the next two
weeks, in the desk's time zone), the iCalendar feed ``/schedule.ics`` citizens subscribe to
(``moderation.ical``), and ``/admin/schedule`` where admins edit the schedule's TOML text
(validated by ``moderation.schedule.parse_schedule`` through ``moderation.data_files``, so
the edit is stored and audited in one transaction, or refused with the reason).
``next_broadcast`` serves the pages that tell a citizen when the next broadcast is."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from aiohttp import web

from moderation import data_files
from moderation.data_files import MAX_TEXT_CHARS, SCHEDULE, DataFileError
from moderation.ical import calendar
from moderation.schedule import Occurrence
from moderation.schedule import next_broadcast as _next
from moderation.schedule import occurrences as _occurrences
from web import keys
from web.admin import actor
from web.render import format_time, render
from web.routing import ADMIN, Route
from web.security import own_origin

PAGE_DAYS = 14
FEED_PAST_DAYS = 7
FEED_DAYS = 60
PAST_REPLAYS = 10  # the newest published replays listed under the schedule
WEEKDAYS = "一二三四五六日"
NOTICES = {"saved": "已保存，公开时间表和日历订阅已更新。", "restored": "已恢复为系统内置时间表。"}


async def next_broadcast(request: web.Request) -> Occurrence | None:
    """The broadcast on air now or the next one by the schedule, if any."""
    schedule = await data_files.load_schedule(request.app[keys.STORE])
    return _next(schedule, time.time(), request.app[keys.SETTINGS].zone)


def broadcast_text(broadcast: Occurrence, zone: dt.tzinfo) -> str:
    """"5月4日（周一）10:00–12:00"."""
    return (f"{broadcast.day.month}月{broadcast.day.day}日（周{WEEKDAYS[broadcast.day.weekday()]}）"
            f"{format_time(broadcast.start, '%H:%M', zone)}–"
            f"{format_time(broadcast.end, '%H:%M', zone)}")


async def schedule_page(request: web.Request) -> web.Response:
    zone = request.app[keys.SETTINGS].zone
    schedule = await data_files.load_schedule(request.app[keys.STORE])
    now = time.time()
    today = dt.datetime.fromtimestamp(now, zone).date()
    upcoming = [b for b in _occurrences(schedule, today, PAGE_DAYS, zone) if b.end > now]
    days = [{"day": day, "label": f"{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）",
             "broadcasts": [{"uid": b.uid, "on_air": b.start <= now,
                             "start": format_time(b.start, "%H:%M", zone),
                             "end": format_time(b.end, "%H:%M", zone)} for b in group]}
            for day, group in itertools.groupby(upcoming, key=lambda b: b.day)]
    return render(request, "schedule.html", schedule=schedule, days=days,
                  feed_url=f"{own_origin(request)}/schedule.ics",
                  replays=await request.app[keys.REPLAYS].published(PAST_REPLAYS))


async def schedule_feed(request: web.Request) -> web.Response:
    zone = request.app[keys.SETTINGS].zone
    schedule = await data_files.load_schedule(request.app[keys.STORE])
    now = time.time()
    first = dt.datetime.fromtimestamp(now, zone).date() - dt.timedelta(days=FEED_PAST_DAYS)
    text = calendar(schedule, _occurrences(schedule, first, FEED_PAST_DAYS + FEED_DAYS, zone),
                    zone_name=request.app[keys.SETTINGS].server.time_zone,
                    url=f"{own_origin(request)}/schedule", now=now)
    return web.Response(body=text.encode(), headers={
        "Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "public, max-age=600",
        "Content-Disposition": 'inline; filename="schedule.ics"'})


async def _edit_page(request: web.Request, *, text: str, version: int, error: str = "",
                     status: int = 200) -> web.Response:
    current = await data_files.current(request.app[keys.STORE], SCHEDULE)
    return render(request, "admin/schedule.html", status=status, current=current, text=text,
                  version=version, error=error, max_chars=MAX_TEXT_CHARS,
                  notice=NOTICES.get(request.query.get("msg", ""), ""))


async def schedule_edit(request: web.Request) -> web.Response:
    current = await data_files.current(request.app[keys.STORE], SCHEDULE)
    return await _edit_page(request, text=current.text, version=current.version)


def _field(form: Any, name: str, cap: int) -> str:
    value = form.get(name, "")
    return value[:cap] if isinstance(value, str) else ""


async def schedule_submit(request: web.Request) -> web.Response:
    form = await request.post()
    store = request.app[keys.STORE]
    audit = request.app[keys.MODERATION].audit
    action = _field(form, "action", 20)
    if action == "restore":
        await data_files.restore(store, SCHEDULE, actor=actor(request), audit=audit)
        raise web.HTTPSeeOther("/admin/schedule?msg=restored")
    if action != "save":
        raise web.HTTPBadRequest(text="未知操作")
    text = _field(form, "text", MAX_TEXT_CHARS + 1).replace("\r\n", "\n")
    try:
        version = max(0, int(_field(form, "version", 12) or "0"))
    except ValueError:
        raise web.HTTPBadRequest(text="版本号无效") from None
    try:
        await data_files.save(store, SCHEDULE, text, expected_version=version,
                              actor=actor(request), audit=audit)
    except DataFileError as exc:
        return await _edit_page(request, text=text, version=version, error=str(exc),
                                status=400)
    raise web.HTTPSeeOther("/admin/schedule?msg=saved")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/schedule", schedule_page, None),
    Route("GET", "/schedule.ics", schedule_feed, None),
    Route("GET", "/admin/schedule", schedule_edit, ADMIN),
    Route("POST", "/admin/schedule", schedule_submit, ADMIN),
)
