"""Figures the store computes itself (issue 14): SQL on SQLite (``store.aggregates_sqlite``),
aggregation pipelines on MongoDB (``store.aggregates_mongo``); both backends mix these
methods in, and ``tests/store/test_aggregates.py`` holds them to the same answers.

Conventions shared by both backends:

* A ``Window`` is a half-open span of epoch seconds ``[start, end)``; a question belongs to
  it by ``created_at``. Days are calendar days of the desk's time zone (``[server]
  time_zone``), keyed ``YYYY-MM-DD``: the window carries the zone's UTC offset at its start
  and every change of offset inside it (daylight saving), so a moment's day is
  ``(t + offset at t) // 86400`` — ``days_window`` builds one from a zone.
* Outcomes come from a question's state: *approved* reached the host's queue (queued, on
  air or answered), *open* is not decided yet (pending, queued, on air).
* *Time to triage* is from asking to the first moderator decision on the question (the
  first audit entry ``question.approve|reply|decline|merge`` on ``question:<id>``); *time to
  answer* from asking to being marked answered on air. Percentiles are nearest-rank: the
  smallest value with at least p of the values at or below it.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

R = TypeVar("R")

DIMENSIONS = ("session", "host", "item", "category", "day")
# The record field each dimension groups by (``day`` is computed from ``created_at``).
DIMENSION_FIELDS = {"session": "session_id", "host": "host_id", "item": "item_id",
                     "category": "category"}
APPROVED_STATES = ("queued", "on_air", "answered")
OPEN_STATES = ("pending", "queued", "on_air")
TRIAGE_ACTIONS = ("question.approve", "question.reply", "question.decline", "question.merge")
# Each exportable record type's time field: what a date range filters and pages by.
TIME_FIELDS = {"questions": "created_at", "broadcasts": "created_at", "clips": "created_at",
               "audit_log": "at"}
DAY = 86400


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    utc_offset: int = 8 * 3600
    # (from this moment, the offset in seconds east of UTC), ascending: changes of offset
    # inside the window (daylight saving), each in force until the next.
    shifts: tuple[tuple[float, int], ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a window ends before it starts")

    def offset_at(self, moment: float) -> int:
        offset = self.utc_offset
        for since, shifted in self.shifts:
            if moment >= since:
                offset = shifted
        return offset


def _offset(zone: dt.tzinfo, moment: float) -> int:
    shift = dt.datetime.fromtimestamp(moment, zone).utcoffset()
    return int(shift.total_seconds()) if shift is not None else 0


def _change_within(zone: dt.tzinfo, low: float, high: float) -> float:
    """The first moment in ``(low, high]`` whose offset differs from ``low``'s (to the
    minute: every zone changes on a whole minute)."""
    before = _offset(zone, low)
    low_min, high_min = int(low // 60), int(-(-high // 60))
    while high_min - low_min > 1:
        mid = (low_min + high_min) // 2
        if _offset(zone, mid * 60.0) == before:
            low_min = mid
        else:
            high_min = mid
    return high_min * 60.0


def rollup_offset(zone: dt.tzinfo, now: float) -> int:
    """The fixed offset a store's day rollups count in for ``zone``: its offset on 1
    January of the current year (stable all year; windows at another offset, in daylight
    saving time, are counted from the records instead)."""
    year = dt.datetime.fromtimestamp(now, dt.UTC).year
    return _offset(zone, dt.datetime(year, 1, 1, 12, tzinfo=dt.UTC).timestamp())


def local_midnight(zone: dt.tzinfo, day: dt.date) -> float:
    """The first moment of ``day`` in ``zone`` (epoch seconds)."""
    return dt.datetime.combine(day, dt.time(), zone).timestamp()


def days_window(zone: dt.tzinfo, first: dt.date, days: int) -> Window:
    """The ``days`` whole calendar days from ``first`` in ``zone``, with every change of
    the zone's offset inside them."""
    start = local_midnight(zone, first)
    end = local_midnight(zone, first + dt.timedelta(days=days))
    shifts: list[tuple[float, int]] = []
    current = _offset(zone, start)
    at = start
    for n in range(1, days + 1):
        following = end if n == days else local_midnight(zone, first + dt.timedelta(days=n))
        if _offset(zone, at) != current:  # changed right at midnight
            current = _offset(zone, at)
            shifts.append((at, current))
        while _offset(zone, following - 1) != current:  # a change inside this day
            at = _change_within(zone, at, following - 1)
            current = _offset(zone, at)
            shifts.append((at, current))
        at = following
    return Window(start, end, _offset(zone, start), tuple(shifts))


@dataclass(frozen=True)
class QuestionFigures:
    """One group's question figures; times in seconds, None when no question had one."""

    key: str
    asked: int
    approved: int
    answered: int
    replied: int
    declined: int
    merged: int
    open: int
    triage_median: float | None = None
    triage_p90: float | None = None
    answer_median: float | None = None
    answer_p90: float | None = None


@dataclass(frozen=True)
class TextCount:
    """How often one (masked) question text was asked under one category and item."""

    text: str
    category: str
    item_id: str
    asked: int
    answered: int
    replied: int
    declined: int
    open: int


@dataclass(frozen=True)
class CubeCount:
    """Questions of one day, category and item, by outcome (what the review adds up)."""

    day: str
    category: str
    item_id: str
    asked: int
    answered: int
    replied: int
    declined: int
    merged: int
    open: int


@dataclass(frozen=True)
class ViewerFigures:
    """One live session's sampled viewer counts: peak and average concurrent viewers."""

    session_id: str
    peak: int
    average: float
    samples: int
    first_at: float
    last_at: float


def day_key(day_number: int) -> str:
    """``YYYY-MM-DD`` of a day counted from the epoch (in the window's time zone)."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day_number))).isoformat()


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile of sorted ``values`` (the backends compute the same)."""
    if not values:
        return None
    rank = -(-int(p * 10) * len(values) // 10)  # ceil(p*n) for p in tenths
    return values[max(rank, 1) - 1]


def figures_from(key: str, counts: dict[str, Any]) -> QuestionFigures:
    """A ``QuestionFigures`` from a row or document of the same names (None → 0)."""
    def number(name: str) -> int:
        return int(counts.get(name) or 0)

    def seconds(name: str) -> float | None:
        value = counts.get(name)
        return None if value is None else float(value)

    return QuestionFigures(
        key, number("asked"), number("approved"), number("answered"), number("replied"),
        number("declined"), number("merged"), number("open"), seconds("triage_median"),
        seconds("triage_p90"), seconds("answer_median"), seconds("answer_p90"))


class StoreAggregates(abc.ABC):
    """The aggregate queries every backend answers."""

    @abc.abstractmethod
    async def question_figures(self, by: str, window: Window, *, timings: bool = True
                               ) -> list[QuestionFigures]:
        """Questions asked in ``window``, grouped by one of ``DIMENSIONS``, ordered by key.
        ``timings=False`` leaves out the times (cheaper: no audit log join)."""

    @abc.abstractmethod
    async def question_cube(self, window: Window) -> list[CubeCount]:
        """Questions asked in ``window`` counted by (day, category, item) in one pass,
        ordered by day, category and item."""

    @abc.abstractmethod
    async def text_counts(self, window: Window, limit: int) -> list[TextCount]:
        """The ``limit`` most asked (text, category, item) groups, most asked first."""

    @abc.abstractmethod
    async def clip_views_by_day(self, first_day: str, last_day: str) -> list[tuple[str, int]]:
        """Counted clip views per day of the desk's zone (``YYYYMMDD``, both ends
        included), by day."""

    @abc.abstractmethod
    async def search_misses_in(self, window: Window, limit: int) -> list[tuple[str, int]]:
        """Searches that found nothing, last seen in ``window``: (query, count), most first."""

    @abc.abstractmethod
    async def viewer_figures(self, window: Window | None = None,
                             session_ids: Sequence[str] | None = None) -> list[ViewerFigures]:
        """Per session, the viewer samples taken in ``window`` (all when None) of
        ``session_ids`` (all when None): peak, average, how many; ordered by session id."""

    async def use_rollup_offset(self, utc_offset: int) -> bool:
        """Keep any day rollups in days of ``utc_offset`` seconds east of UTC (the desk's
        zone; recounted when it changes). True if something was recounted. Backends that
        count every query from the records themselves (MongoDB) have nothing to do."""
        return False

    @abc.abstractmethod
    async def page_in(self, cls: type[R], window: Window, after: tuple[float, str] | None,
                      limit: int) -> list[R]:
        """Records of an exportable type (``TIME_FIELDS``) in ``window`` by their time field,
        in (time, id) order, after the (time, id) key ``after``: keyset paging, so reading a
        year page by page costs the same per page."""


def check_dimension(by: str) -> str:
    if by not in DIMENSIONS:
        raise ValueError(f"cannot group questions by {by!r}")
    return by
