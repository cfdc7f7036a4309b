"""The desk's broadcast schedule: repeating broadcasts (twice each working day by default),
with holidays skipped and working weekends added, in the desk's time zone.

Pure: ``parse_schedule`` reads the TOML text (shipped as ``moderation/schedule.toml``, edited
through ``moderation.data_files``), refusing anything it cannot use with a message for the
admin; ``occurrences`` lists the broadcasts of a span of days as moments (epoch seconds), so
daylight saving in the configured zone moves nothing on the wall clock; ``next_broadcast``
is the first one not yet over.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from typing import Any

SCHEDULE_RESOURCE = "schedule.toml"
MAX_SLOTS = 12
MAX_DATES = 400
MAX_TEXT = {"title": 100, "description": 500}
LOOK_AHEAD_DAYS = 60  # how far ``next_broadcast`` looks
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_KEYS = {"title", "description", "weekdays", "skip", "extra", "slot"}


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message is for the admin."""


@dataclass(frozen=True)
class Slot:
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class Schedule:
    title: str
    description: str
    weekdays: frozenset[int]  # ISO: 1 = Monday
    skip: frozenset[dt.date]
    extra: frozenset[dt.date]
    slots: tuple[Slot, ...]

    def on_air(self, day: dt.date) -> bool:
        """Whether ``day`` has broadcasts."""
        if day in self.skip:
            return False
        return day in self.extra or day.isoweekday() in self.weekdays


@dataclass(frozen=True)
class Occurrence:
    """One broadcast: its day and slot number (together a stable identity) and moments."""

    day: dt.date
    slot: int
    start: float
    end: float
    title: str

    start_text: str = ""  # "HH:MM" on the desk's wall clock

    @property
    def uid(self) -> str:
        """Stable across feeds and edits elsewhere in the schedule: the day and the slot's
        wall-clock start (a slot moved to another time is another broadcast)."""
        return f"{self.day:%Y%m%d}T{self.start_text.replace(':', '')}@tippocket-schedule"


def _time(value: Any, where: str) -> dt.time:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ScheduleError(f"{where} 应为 24 小时制时间，如 \"10:00\"。")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _dates(value: Any, name: str) -> frozenset[dt.date]:
    if not isinstance(value, list) or len(value) > MAX_DATES:
        raise ScheduleError(f"{name} 应为最多 {MAX_DATES} 个日期的列表。")
    days = set()
    for text in value:
        try:
            days.add(dt.date.fromisoformat(text))
        except (TypeError, ValueError):
            raise ScheduleError(f"{name} 里的 {text!r} 不是日期（YYYY-MM-DD）。") from None
    return frozenset(days)


def parse_schedule(text: str) -> Schedule:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"不是有效的 TOML：{exc}") from None
    unknown = set(raw) - _KEYS
    if unknown:
        raise ScheduleError(f"不认识的设置：{'、'.join(sorted(unknown))}。")
    strings = {}
    for name, limit in MAX_TEXT.items():
        value = raw.get(name, "")
        if not isinstance(value, str) or len(value) > limit:
            raise ScheduleError(f"{name} 应为最多 {limit} 字的文字。")
        strings[name] = value.strip()
    if not strings["title"]:
        raise ScheduleError("title（日历里显示的标题）不能为空。")
    weekdays = raw.get("weekdays", [])
    if not isinstance(weekdays, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in weekdays):
        raise ScheduleError("weekdays 应为 1（周一）到 7（周日）的数字列表。")
    slots_raw = raw.get("slot", [])
    if not isinstance(slots_raw, list) or not 1 <= len(slots_raw) <= MAX_SLOTS:
        raise ScheduleError(f"至少要有一个、最多 {MAX_SLOTS} 个 [[slot]] 时段。")
    slots: list[Slot] = []
    for n, slot in enumerate(slots_raw, 1):
        if not isinstance(slot, dict) or set(slot) != {"start", "end"}:
            raise ScheduleError(f"第 {n} 个时段应当只有 start 和 end。")
        start, end = _time(slot["start"], f"第 {n} 个时段的 start"), \
            _time(slot["end"], f"第 {n} 个时段的 end")
        if end <= start:
            raise ScheduleError(f"第 {n} 个时段结束不晚于开始。")
        if slots and start < slots[-1].end:
            raise ScheduleError(f"第 {n} 个时段与前一个重叠或顺序颠倒。")
        slots.append(Slot(start, end))
    return Schedule(strings["title"], strings["description"], frozenset(weekdays),
                    _dates(raw.get("skip", []), "skip"), _dates(raw.get("extra", []), "extra"),
                    tuple(slots))


def _moment(day: dt.date, at: dt.time, zone: dt.tzinfo) -> float:
    return dt.datetime.combine(day, at, zone).timestamp()


def occurrences(schedule: Schedule, first: dt.date, days: int, zone: dt.tzinfo
                ) -> list[Occurrence]:
    """The broadcasts of ``days`` days from ``first`` in ``zone``, in time order."""
    found = []
    for n in range(days):
        day = first + dt.timedelta(days=n)
        if schedule.on_air(day):
            found += [Occurrence(day, i, _moment(day, slot.start, zone),
                                 _moment(day, slot.end, zone), schedule.title,
                                 f"{slot.start:%H:%M}")
                      for i, slot in enumerate(schedule.slots, 1)]
    return found


def next_broadcast(schedule: Schedule, now: float, zone: dt.tzinfo) -> Occurrence | None:
    """The broadcast on air at ``now`` or the next one (within ``LOOK_AHEAD_DAYS``)."""
    today = dt.datetime.fromtimestamp(now, zone).date()
    return next((o for o in occurrences(schedule, today, LOOK_AHEAD_DAYS, zone)
                 if o.end > now), None)
