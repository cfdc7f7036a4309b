"""The desk's schedule as an iCalendar feed (RFC 5545), written by hand: a handful of
properties do not need a library at run time (``tests/web/test_schedule.py`` parses the
result with the ``icalendar`` package).

Times are written in UTC (``DTSTART:20260504T020000Z``), which RFC 5545 allows without a
``VTIMEZONE`` and no client misreads; ``X-WR-TIMEZONE`` names the desk's zone for clients
that show it. Text values are escaped (``\\``, ``;``, ``,``, newlines) and lines longer than
75 octets are folded without splitting a UTF-8 character. Every event's ``UID`` is the
occurrence's (day and wall-clock start), so a subscribed calendar updates rather than
duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from moderation.schedule import Occurrence, Schedule

PRODID = "-//Tip Pocket//Desk schedule//ZH"


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """``line`` folded into CRLF-joined pieces of at most 75 octets."""
    pieces: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size, limit = " ", 1, 75  # a continuation starts with one space
        current += char
        size += width
    pieces.append(current)
    return "\r\n".join(pieces)


def utc_stamp(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(schedule: Schedule, broadcasts: Iterable[Occurrence], *, zone_name: str,
             url: str, now: float) -> str:
    """The feed: one ``VEVENT`` per broadcast."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape_text(schedule.title)}",
             f"X-WR-TIMEZONE:{zone_name}", "REFRESH-INTERVAL;VALUE=DURATION:PT12H"]
    for broadcast in broadcasts:
        lines += ["BEGIN:VEVENT", f"UID:{broadcast.uid}", f"DTSTAMP:{utc_stamp(now)}",
                  f"DTSTART:{utc_stamp(broadcast.start)}", f"DTEND:{utc_stamp(broadcast.end)}",
                  f"SUMMARY:{escape_text(broadcast.title)}"]
        if schedule.description:
            lines.append(f"DESCRIPTION:{escape_text(schedule.description)}")
        lines += [f"URL:{url}", "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
