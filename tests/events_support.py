"""Producers under test publish into a list: an ``EventLog`` on the real store whose broker
keeps what it is handed, as vocabulary events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from live.eventlog import EventLog, as_event
from live.events import Event
from live.frames import Numbered


class Collect:
    """A ``live.broker.Broker`` that hands what is published to ``sink``."""

    def __init__(self, sink: Callable[[str, Iterable[Event]], None]) -> None:
        self.sink = sink
        self.seqs: list[int] = []

    def publish(self, session_id: str, events: Sequence[Numbered]) -> None:
        self.seqs.extend(e.seq for e in events)
        self.sink(session_id, [as_event(e) for e in events])

    async def position(self, session_id: str) -> tuple[str, int]:
        return "test", 0

    async def history(self, session_id: str, after: int, upto: int) -> list[Numbered] | None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def collecting(store: Any, sink: Callable[[str, Iterable[Event]], None]) -> EventLog:
    """An event log on ``store`` whose published events go to ``sink(session_id, events)``."""
    return EventLog(store, Collect(sink))
