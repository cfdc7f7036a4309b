"""``store.events`` on SQLite, mixed into ``SQLiteRecords``: the outbox is the ``events``
table and each session's counter a row of ``event_counters`` (migration 0012).

Appending runs on the writer connection inside the caller's transaction: one upsert moves
the counter and returns the new last seq, then the events are inserted under the numbers
just taken. The single writer runs one transaction at a time, so no two can take the same
numbers, and a rollback puts the counter back with everything else.
"""

from __future__ import annotations

import abc
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import ClassVar, TypeVar

from store.events import (
    NewEvent,
    StoredEvent,
    StoreEvents,
    check_new_events,
    refuse_outside_transaction,
)
from store.jsontext import dumps_text

T = TypeVar("T")

_TAKE = (
    "INSERT INTO event_counters (session_id, last_seq) VALUES (?, ?) "
    "ON CONFLICT (session_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq "
    "RETURNING last_seq"
)
_INSERT = ("INSERT INTO events (session_id, seq, audience, kind, data, created_at) "
           "VALUES (?, ?, ?, ?, ?, ?)")


Row = tuple[str, str, str]  # audience, kind, data as JSON


def event_rows(session_id: str, events: Sequence[NewEvent]) -> list[Row]:
    """Events checked and encoded, ready for ``append_rows`` on the writer."""
    return [(a, k, dumps_text(d))
            for a, k, d in check_new_events(session_id, events)]


def append_rows(conn: sqlite3.Connection, session_id: str, rows: list[Row], at: float
                ) -> range:
    """On the writer, inside its transaction: take the next numbers and insert the events."""
    last = int(conn.execute(_TAKE, (session_id, len(rows))).fetchone()[0])
    first = last - len(rows) + 1
    conn.executemany(_INSERT, [(session_id, first + i, a, k, d, at)
                               for i, (a, k, d) in enumerate(rows)])
    return range(first, last + 1)


def _event(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(session_id=row["session_id"], seq=row["seq"], audience=row["audience"],
                       kind=row["kind"], data=json.loads(row["data"]),
                       created_at=row["created_at"])


class SQLiteEvents(StoreEvents):
    """The outbox operations, over the same ``_write``/``_read`` as the records."""

    # True on a transaction handle: only there may events be appended.
    in_transaction: ClassVar[bool] = False

    @abc.abstractmethod
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    @abc.abstractmethod
    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def append_events(self, session_id: str, events: Sequence[NewEvent], *,
                            now: float | None = None) -> range:
        if not self.in_transaction:
            refuse_outside_transaction()
        rows = event_rows(session_id, events)
        if not rows:
            return range(1, 1)
        at = time.time() if now is None else float(now)
        return await self._write(lambda conn: append_rows(conn, session_id, rows, at))

    async def events_since(self, session_id: str, after_seq: int, limit: int = 1000
                           ) -> list[StoredEvent]:
        rows = await self._read(lambda c: c.execute(
            "SELECT * FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (session_id, int(after_seq), max(0, int(limit)))).fetchall())
        return [_event(row) for row in rows]

    async def last_event_seq(self, session_id: str) -> int:
        row = await self._read(lambda c: c.execute(
            "SELECT last_seq FROM event_counters WHERE session_id = ?", (session_id,)
        ).fetchone())
        return int(row[0]) if row else 0

    async def trim_events(self, older_than: float) -> int:
        return await self._write(lambda c: c.execute(
            "DELETE FROM events WHERE created_at < ?", (float(older_than),)).rowcount)
