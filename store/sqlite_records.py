"""SQLite records: how records map to rows, and every record operation as a function of
one connection.

``SQLiteRecords`` implements the store interface on top of two abstract primitives,
``_write(fn)`` and ``_read(fn)``, each running ``fn(connection)`` somewhere: the store itself
(``store.sqlite.SQLiteStore``) runs writes on its single writer thread with group commit and
reads on read-only connections; a transaction handle runs both on the writer connection
inside its open transaction. So every operation is written once, whatever runs it.
"""

from __future__ import annotations

import abc
import json
import sqlite3
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from store.aggregates_sqlite import SQLiteAggregates
from store.base import (
    Conflict,
    NotFound,
    Store,
    VersionConflict,
    check_changes,
    job_outcome,
    parse_order,
    parse_where,
)
from store.events import NewEvent
from store.jsontext import dumps_text
from store.records import Job, Question, field_names, to_dict
from store.sqlite_events import SQLiteEvents, append_rows, event_rows

R = TypeVar("R")
T = TypeVar("T")

_SQL_OPS = {"eq": "=", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_BOOL_FIELDS: dict[type[Any], frozenset[str]] = {}


def _bool_fields(cls: type[Any]) -> frozenset[str]:
    """Fields stored as SQLite integers that read back as bool (cached per record type)."""
    found = _BOOL_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _BOOL_FIELDS[cls] = frozenset(n for n in field_names(cls) if hints[n] is bool)
    return found


def to_row(record: Any) -> dict[str, Any]:
    row = to_dict(record)
    for name in type(record).json_fields:
        row[name] = dumps_text(row[name])
    return row


def _encode(cls: type[Any], name: str, value: Any) -> Any:
    return dumps_text(value) if name in cls.json_fields else value


def from_row(cls: type[R], row: sqlite3.Row) -> R:
    values = dict(zip(row.keys(), tuple(row), strict=True))
    for name in cls.json_fields:  # type: ignore[attr-defined]
        raw = values.get(name)
        values[name] = None if raw is None else json.loads(raw)
    for name in _bool_fields(cls):
        values[name] = bool(values[name])
    return cls(**values)


def where_sql(cls: type[Any], where: dict[str, Any] | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for name, op, value in parse_where(cls, where):
        if op == "in":
            if not value:
                clauses.append("0")
                continue
            clauses.append(f"{name} IN ({', '.join('?' * len(value))})")
            params.extend(value)
        else:
            clauses.append(f"{name} {_SQL_OPS[op]} ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def get_row(conn: sqlite3.Connection, cls: type[R], record_id: str) -> R:
    table = cls.collection  # type: ignore[attr-defined]
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        raise NotFound(f"no {cls.__name__} {record_id}")
    return from_row(cls, row)


def apply_changes(
    conn: sqlite3.Connection, cls: type[R], record_id: str, changes: dict[str, Any],
    now: float, increments: dict[str, int] | None = None, *, bump_version: bool = True,
) -> R:
    sets = [f"{name} = ?" for name in changes]
    params = [_encode(cls, name, value) for name, value in changes.items()]
    for name, by in (increments or {}).items():
        sets.append(f"{name} = {name} + ?")
        params.append(by)
    if changes and bump_version:  # counters alone are not an edit: they leave the version be
        sets.append("version = version + 1")
    if "updated_at" in field_names(cls):
        sets.append("updated_at = ?")
        params.append(now)
    table = cls.collection  # type: ignore[attr-defined]
    conn.execute(f"UPDATE {table} SET {', '.join(sets)} WHERE id = ?", [*params, record_id])
    return get_row(conn, cls, record_id)


def _update_checked(
    conn: sqlite3.Connection, cls: type[R], record_id: str, changes: dict[str, Any],
    expected_version: int | None, now: float, bump_version: bool,
) -> R:
    current = get_row(conn, cls, record_id)
    if expected_version is not None and current.version != expected_version:  # type: ignore[attr-defined]
        raise VersionConflict(f"{cls.__name__} {record_id} was changed meanwhile", current)
    try:
        return apply_changes(conn, cls, record_id, changes, now, bump_version=bump_version)
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"{cls.__name__} {record_id}: {exc}") from exc


def _insert_question(conn: sqlite3.Connection, question: Question) -> tuple[Question, bool]:
    row = to_row(question)
    sql = (f"INSERT INTO questions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
           "ON CONFLICT (session_id, viewer_id, client_id) DO NOTHING")
    if conn.execute(sql, list(row.values())).rowcount == 1:
        return question, True
    existing = conn.execute(
        "SELECT * FROM questions WHERE session_id = ? AND viewer_id = ? AND client_id = ?",
        (question.session_id, question.viewer_id, question.client_id),
    ).fetchone()
    if existing is None:  # the clash was on the question id itself
        raise Conflict(f"question {question.id} already exists")
    return from_row(Question, existing), False


class SQLiteRecords(SQLiteAggregates, SQLiteEvents, Store):
    """The record operations, over ``_write`` and ``_read``."""

    @abc.abstractmethod
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    @abc.abstractmethod
    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def insert(self, record: R) -> R:
        cls = type(record)
        row = to_row(record)
        sql = (
            f"INSERT INTO {cls.collection} ({', '.join(row)}) "  # type: ignore[attr-defined]
            f"VALUES ({', '.join('?' * len(row))})"
        )

        def op(conn: sqlite3.Connection) -> R:
            try:
                conn.execute(sql, list(row.values()))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"{cls.__name__} already exists: {exc}") from exc
            return record

        return await self._write(op)

    async def get(self, cls: type[R], record_id: str) -> R:
        table = cls.collection  # type: ignore[attr-defined]
        row = await self._read(
            lambda c: c.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no {cls.__name__} {record_id}")
        return from_row(cls, row)

    async def find(
        self,
        cls: type[R],
        where: dict[str, Any] | None = None,
        *,
        order_by: Sequence[str] = ("created_at",),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        clause, params = where_sql(cls, where)
        order = ", ".join(f"{n} {'DESC' if d else 'ASC'}" for n, d in parse_order(cls, order_by))
        sql = f"SELECT * FROM {cls.collection}{clause}"  # type: ignore[attr-defined]
        if order:
            sql += f" ORDER BY {order}"
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if limit is None else int(limit), int(offset)]
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [from_row(cls, row) for row in rows]

    async def count(self, cls: type[Any], where: dict[str, Any] | None = None) -> int:
        clause, params = where_sql(cls, where)
        sql = f"SELECT COUNT(*) FROM {cls.collection}{clause}"
        row = await self._read(lambda c: c.execute(sql, params).fetchone())
        return int(row[0])

    async def update(
        self, cls: type[R], record_id: str, changes: dict[str, Any], *,
        expected_version: int | None = None, now: float, bump_version: bool = True,
    ) -> R:
        check_changes(cls, changes)
        return await self._write(lambda conn: _update_checked(
            conn, cls, record_id, changes, expected_version, now, bump_version))

    async def update_many(
        self, cls: type[R], changes: Sequence[tuple[str, dict[str, Any], int | None]], *,
        now: float, bump_version: bool = True,
    ) -> list[R]:
        # One operation for the writer thread: inside a transaction block, each operation
        # is a round trip through the event loop while the writer serves that block alone.
        for _record_id, fields, _expected in changes:
            check_changes(cls, fields)
        return await self._write(lambda conn: [
            _update_checked(conn, cls, record_id, fields, expected, now, bump_version)
            for record_id, fields, expected in changes])

    async def delete(self, cls: type[Any], record_id: str) -> bool:
        sql = f"DELETE FROM {cls.collection} WHERE id = ?"
        return await self._write(lambda c: c.execute(sql, (record_id,)).rowcount > 0)

    async def delete_where(self, cls: type[Any], where: dict[str, Any]) -> int:
        clause, params = where_sql(cls, where)
        if not clause:
            raise ValueError("delete_where needs a condition")
        sql = f"DELETE FROM {cls.collection}{clause}"
        return await self._write(lambda c: int(c.execute(sql, params).rowcount))

    # --- operations with their own atomicity ----------------------------------------------

    async def insert_question(self, question: Question) -> tuple[Question, bool]:
        return await self._write(lambda conn: _insert_question(conn, question))

    async def insert_question_with_events(
        self, question: Question, events: Sequence[NewEvent], *, now: float | None = None,
    ) -> tuple[Question, bool, range]:
        # One operation on the writer, so it joins a group commit like any plain write and
        # never holds the writer across trips to the event loop (as a block would).
        rows = event_rows(question.session_id, events)
        at = time.time() if now is None else float(now)

        def op(conn: sqlite3.Connection) -> tuple[Question, bool, range]:
            stored, created = _insert_question(conn, question)
            if not created or not rows:
                return stored, created, range(1, 1)
            return stored, created, append_rows(conn, question.session_id, rows, at)

        return await self._write(op)

    async def increment(
        self, cls: type[R], record_id: str, field_name: str, by: int, *, now: float
    ) -> R:
        check_changes(cls, {field_name: by})

        def op(conn: sqlite3.Connection) -> R:
            get_row(conn, cls, record_id)
            return apply_changes(conn, cls, record_id, {}, now, {field_name: by})

        return await self._write(op)

    async def claim_job(
        self, worker: str, now: float, lease_seconds: float, kinds: Iterable[str]
    ) -> Job | None:
        kinds = list(kinds)
        if not kinds:
            return None
        marks = ", ".join("?" * len(kinds))
        select = (
            f"SELECT id FROM jobs WHERE kind IN ({marks}) AND ("
            "(state = 'queued' AND run_after <= ?) OR (state = 'running' AND lease_expires < ?)"
            ") ORDER BY run_after, created_at LIMIT 1"
        )

        def op(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(select, [*kinds, now, now]).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', lease_owner = ?, lease_expires = ?, "
                "attempts = attempts + 1, version = version + 1, updated_at = ? WHERE id = ?",
                (worker, now + lease_seconds, now, row[0]),
            )
            return get_row(conn, Job, row[0])

        return await self._write(op)

    async def finish_job(
        self, job_id: str, worker: str, *, attempt: int, now: float, error: str = "",
        retry_at: float | None = None,
    ) -> Job:
        def op(conn: sqlite3.Connection) -> Job:
            job = get_row(conn, Job, job_id)
            if job.state != "running" or job.lease_owner != worker or job.attempts != attempt:
                raise VersionConflict(
                    f"job {job_id} attempt {attempt} is not held by {worker}", job)
            state, run_after = job_outcome(job, error, retry_at)
            conn.execute(
                "UPDATE jobs SET state = ?, run_after = ?, last_error = ?, lease_owner = '', "
                "lease_expires = 0, version = version + 1, updated_at = ? WHERE id = ?",
                (state, run_after, error, now, job_id),
            )
            return get_row(conn, Job, job_id)

        return await self._write(op)
