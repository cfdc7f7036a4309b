"""A clip's in and out points as staff type them: seconds from the recording's start
("83.4", "1:23.4", "0:01:23.4"), or the wall-clock time of the broadcast in the desk's time
zone ("10:32:15", "10:32:15.5"), as people read it off the test picture's clock or a
programme log.

A value with three parts is a wall-clock time when, read on the day the recording starts or
ends, it falls inside the recording; otherwise it is hours, minutes and seconds from the
start. The two readings could only meet in a recording that starts near midnight (an offset
of 0:05:00 is also 00:05:00 on the clock), where the wall clock wins. Pure.
"""

from __future__ import annotations

import datetime as dt
import math

MAX_OFFSET = 24 * 3600.0  # an offset beyond a day is a typo


class PointError(ValueError):
    """A point that cannot be read; the message names the field (``what``) for staff."""


def _parts(text: str, what: str) -> list[float]:
    try:
        parts = [float(p) for p in text.split(":")] if text else []
    except ValueError:
        parts = []
    if not parts or len(parts) > 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        raise PointError(f"{what}格式不正确：请填写从录像开始算起的秒数（如 83.4 或 1:23.4），"
                         "或直播画面上的时间（如 10:32:15）。")
    return parts


def _wall_clock(parts: list[float], start: float, end: float, zone: dt.tzinfo
                ) -> float | None:
    hours, minutes, seconds = parts
    if hours >= 24 or minutes >= 60 or seconds >= 60 or hours != int(hours) \
            or minutes != int(minutes):
        return None
    days = {dt.datetime.fromtimestamp(moment, zone).date() for moment in (start, end)}
    for day in sorted(days):
        moment = dt.datetime.combine(day, dt.time(int(hours), int(minutes)), zone).timestamp()
        moment += seconds
        if start <= moment <= end:
            return moment
    return None


def parse_point(value: object, what: str, start: float, end: float, zone: dt.tzinfo
                ) -> float:
    """The moment (epoch seconds) ``value`` names in the recording ``[start, end]``."""
    parts = _parts(str(value or "").strip()[:20], what)
    if len(parts) == 3:
        moment = _wall_clock(parts, start, end, zone)
        if moment is not None:
            return moment
    offset = 0.0
    for part in parts:
        offset = offset * 60 + part
    if offset > MAX_OFFSET:
        raise PointError(f"{what}超出录像范围。")
    return start + offset
