"""Date ranges as the desk reads them: whole days in the desk's time zone (``[server]
time_zone``, China time by default; daylight saving handled by ``store.aggregates.
days_window``), parsed from request parameters with a reason for every refusal, so a bad
range is a clear 400 and never a 500."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from store.aggregates import Window, days_window

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 3 * 366  # the longest range anything may ask for (about three years)
KINDS = ("day", "week", "range")


class PeriodError(ValueError):
    """A range that cannot be used: ``parameter`` names the field at fault."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


@dataclass(frozen=True)
class Period:
    """The days ``first`` to ``last``, both included, of ``zone``."""

    first: dt.date
    last: dt.date
    zone: dt.tzinfo = field(default=DEFAULT_ZONE, compare=False)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def window(self) -> Window:
        return days_window(self.zone, self.first, self.days)

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.first - dt.timedelta(days=self.days),
                      self.first - dt.timedelta(days=1), self.zone)

    def day_keys(self) -> list[str]:
        return [(self.first + dt.timedelta(days=n)).isoformat() for n in range(self.days)]


def today(now: float, zone: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(now, zone).date()


def parse_day(text: str, parameter: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(parameter, f"{parameter} 应为日期，如 2026-05-04。") from None


def check_range(first: dt.date, last: dt.date, zone: dt.tzinfo, *,
                last_parameter: str = "to") -> Period:
    if last < first:
        raise PeriodError(last_parameter, "结束日期早于开始日期。")
    period = Period(first, last, zone)
    if period.days > MAX_DAYS:
        raise PeriodError(last_parameter, f"日期范围最长 {MAX_DAYS} 天。")
    return period


def parse_range(start: str | None, end: str | None, now: float, zone: dt.tzinfo, *,
                default_days: int = 7) -> Period:
    """``from``/``to`` (both optional, ``YYYY-MM-DD``): the last ``default_days`` days up
    to today by default."""
    last = parse_day(end, "to") if end else today(now, zone)
    first = parse_day(start, "from") if start else last - dt.timedelta(days=default_days - 1)
    return check_range(first, last, zone)


def parse_period(kind: str | None, day: str | None, end: str | None, now: float,
                 zone: dt.tzinfo) -> Period:
    """The review's period: ``day`` (one day), ``week`` (the Monday-to-Sunday week of
    ``date``) or ``range`` (``date`` to ``to``); ``date`` defaults to today."""
    kind = kind or "day"
    if kind not in KINDS:
        raise PeriodError("period", "period 只能是 day、week 或 range。")
    first = parse_day(day, "date") if day else today(now, zone)
    if kind == "day":
        return Period(first, first, zone)
    if kind == "week":
        monday = first - dt.timedelta(days=first.weekday())
        return Period(monday, monday + dt.timedelta(days=6), zone)
    if not end:
        raise PeriodError("to", "日期范围需要结束日期 to。")
    return check_range(first, parse_day(end, "to"), zone)
