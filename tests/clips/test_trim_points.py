"""In and out points typed as offsets or as wall-clock times of the broadcast
(``clips.trim_points``): pure."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clips.trim_points import PointError, parse_point

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
# A recording from 10:00:00.4 to 12:00:10 on 2026-05-04, China time.
START = dt.datetime(2026, 5, 4, 10, 0, 0, 400_000, tzinfo=SHANGHAI).timestamp()
END = START + 2 * 3600 + 9.6


def at(text: str, zone: dt.tzinfo = SHANGHAI, start: float = START, end: float = END
       ) -> float:
    return parse_point(text, "入点", start, end, zone) - start


def test_offsets_from_the_start_of_the_recording() -> None:
    assert at("83.4") == pytest.approx(83.4)
    assert at("1:23.4") == pytest.approx(83.4)
    assert at("0:01:23.4") == pytest.approx(83.4)
    assert at("1:05:00") == pytest.approx(3900)  # no 01:05 inside the recording


def test_wall_clock_times_of_the_broadcast_in_the_desk_zone() -> None:
    assert at("10:32:15") == pytest.approx(32 * 60 + 15 - 0.4)
    assert at("10:32:15.5") == pytest.approx(32 * 60 + 15.1)
    assert at("12:00:10") == pytest.approx(2 * 3600 + 9.6)
    # The same moment typed in New York time, where the desk's clock said 22:32:15.
    assert at("22:32:15", NEW_YORK) == pytest.approx(32 * 60 + 15 - 0.4)
    # Outside the recording a three-part value is an offset again.
    assert at("09:59:00") == pytest.approx(9 * 3600 + 59 * 60)


def test_a_recording_across_midnight_reads_either_day() -> None:
    start = dt.datetime(2026, 5, 4, 23, 50, tzinfo=SHANGHAI).timestamp()
    assert at("00:05:00", start=start, end=start + 1800) == pytest.approx(15 * 60)
    assert at("23:55:00", start=start, end=start + 1800) == pytest.approx(5 * 60)


@pytest.mark.parametrize("text", ["", "abc", "1:2:3:4", "-5", "nan", "inf", "10:32:xx"])
def test_what_is_neither_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(PointError, match="入点格式不正确"):
        at(text)


def test_an_offset_beyond_a_day_is_refused() -> None:
    with pytest.raises(PointError, match="超出录像范围"):
        at("90000")
