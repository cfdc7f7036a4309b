"""The desk's schedule (``moderation.schedule``) and its iCalendar text
(``moderation.ical``): pure, no store."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from moderation.data_files import SCHEDULE, shipped_text
from moderation.ical import escape_text, fold
from moderation.schedule import (
    ScheduleError,
    next_broadcast,
    occurrences,
    parse_schedule,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
TEXT = """
title = "车管业务直播答疑"
weekdays = [1, 2, 3, 4, 5]
skip = ["2026-10-01", "2026-10-02"]
extra = ["2026-10-10"]

[[slot]]
start = "10:00"
end = "12:00"

[[slot]]
start = "14:30"
end = "16:30"
"""


def local(moment: float, zone: dt.tzinfo = SHANGHAI) -> str:
    return dt.datetime.fromtimestamp(moment, zone).strftime("%m-%d %H:%M")


def test_the_shipped_schedule_is_twice_each_working_day() -> None:
    schedule = parse_schedule(shipped_text(SCHEDULE))
    week = occurrences(schedule, dt.date(2026, 5, 4), 7, SHANGHAI)  # Monday to Sunday
    assert [local(b.start) for b in week[:2]] == ["05-04 10:00", "05-04 14:30"]
    assert len(week) == 10 and {b.day.isoweekday() for b in week} == {1, 2, 3, 4, 5}


def test_holidays_are_skipped_and_working_weekends_added() -> None:
    schedule = parse_schedule(TEXT)
    # 2026-09-30 is a Wednesday, 10-01/02 holidays, 10-03/04 a weekend, 10-10 a Saturday.
    days = sorted({b.day.isoformat() for b in occurrences(
        schedule, dt.date(2026, 9, 30), 11, SHANGHAI)})
    assert days == ["2026-09-30", "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08",
                    "2026-10-09", "2026-10-10"]


def test_broadcasts_keep_their_wall_clock_time_across_daylight_saving() -> None:
    schedule = parse_schedule(TEXT)
    # New York leaves daylight saving on Sunday 2026-11-01.
    friday, monday = (occurrences(schedule, dt.date(2026, 10, 30), 4, NEW_YORK)[i]
                      for i in (0, 2))
    assert local(friday.start, NEW_YORK) == "10-30 10:00"
    assert local(monday.start, NEW_YORK) == "11-02 10:00"
    assert monday.start - friday.start == 3 * 86400 + 3600  # one hour more in between
    assert dt.datetime.fromtimestamp(monday.start, dt.UTC).hour == 15


def test_the_next_broadcast_is_the_one_on_air_or_the_next_not_over() -> None:
    schedule = parse_schedule(TEXT)
    at = dt.datetime(2026, 5, 4, 11, 0, tzinfo=SHANGHAI).timestamp()
    on_air = next_broadcast(schedule, at, SHANGHAI)
    assert on_air is not None and local(on_air.start) == "05-04 10:00"
    friday_evening = dt.datetime(2026, 5, 8, 17, 0, tzinfo=SHANGHAI).timestamp()
    following = next_broadcast(schedule, friday_evening, SHANGHAI)
    assert following is not None and local(following.start) == "05-11 10:00"
    assert following.uid == "20260511T1000@tippocket-schedule"
    nothing = parse_schedule(TEXT.replace("[1, 2, 3, 4, 5]", "[]").replace(
        '"2026-10-10"', ""))
    assert next_broadcast(nothing, friday_evening, SHANGHAI) is None


@pytest.mark.parametrize("change, message", [
    (('title = "车管业务直播答疑"', 'title = ""'), "title"),
    (("weekdays = [1, 2, 3, 4, 5]", "weekdays = [0, 8]"), "weekdays"),
    (('"2026-10-02"', '"2026-13-02"'), "不是日期"),
    (('end = "12:00"', 'end = "09:00"'), "结束不晚于开始"),
    (('start = "14:30"', 'start = "11:00"'), "重叠"),
    (('start = "10:00"', 'start = "25:00"'), "24 小时制"),
    (("weekdays", "days"), "不认识的设置"),
    (("[[slot]]", "[[slot"), "不是有效的 TOML"),
])
def test_a_schedule_that_cannot_be_used_says_why(change: tuple[str, str], message: str
                                                 ) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(TEXT.replace(*change, 1))


def test_ical_text_is_escaped_and_folded_at_75_octets() -> None:
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    folded = fold("DESCRIPTION:" + "交警视频帮直播答疑" * 10)
    lines = folded.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert "".join(line[1:] if n else line for n, line in enumerate(lines)) == (
        "DESCRIPTION:" + "交警视频帮直播答疑" * 10)
