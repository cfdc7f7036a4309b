"""SQLite backend: the embedded default, one file under the data directory.

One writer thread owns the only write connection ("one writer per SQLite file"). Coroutines
hand it small functions through a queue; it runs whatever has queued up in one transaction
(each operation inside its own savepoint, so one failing operation does not undo the others)
and commits once — group commit — before resolving any of their futures. A caller's write is
therefore acknowledged only after it is durable (WAL mode, ``synchronous=FULL``), and a burst
of writes costs one fsync, not one each. Reads run on a small pool of read-only connections,
so neither reads nor writes ever block the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import re
import sqlite3
import threading
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from store.base import (
    Conflict,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    VersionConflict,
    check_changes,
    job_outcome,
    parse_order,
    parse_where,
)
from store.records import Job, Question, field_names, to_dict

log = logging.getLogger(__name__)
R = TypeVar("R")
T = TypeVar("T")

MAX_BATCH = 512
_SQL_OPS = {"eq": "=", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


_BOOL_FIELDS: dict[type[Any], frozenset[str]] = {}


def _bool_fields(cls: type[Any]) -> frozenset[str]:
    """Fields stored as SQLite integers that read back as bool (cached per record type)."""
    found = _BOOL_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _BOOL_FIELDS[cls] = frozenset(n for n in field_names(cls) if hints[n] is bool)
    return found


def _to_row(record: Any) -> dict[str, Any]:
    row = to_dict(record)
    for name in type(record).json_fields:
        row[name] = json.dumps(row[name], ensure_ascii=False)
    return row


def _encode(cls: type[Any], name: str, value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if name in cls.json_fields else value


def _from_row(cls: type[R], row: sqlite3.Row) -> R:
    values = dict(zip(row.keys(), tuple(row), strict=True))
    for name in cls.json_fields:  # type: ignore[attr-defined]
        raw = values.get(name)
        values[name] = None if raw is None else json.loads(raw)
    for name in _bool_fields(cls):
        values[name] = bool(values[name])
    return cls(**values)


def migrations() -> list[tuple[int, str]]:
    """The numbered schema migrations shipped in ``store/migrations``, in order."""
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_[a-z0-9_]+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _where_sql(cls: type[Any], where: dict[str, Any] | None) -> tuple[str, list[Any]]:
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


class SQLiteStore(Store):
    backend = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_lock = threading.Lock()
        self.schema_version = 0

    # --- lifecycle ----------------------------------------------------------------------

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        return conn

    async def open(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer = threading.Thread(
            target=self._write_loop, args=(ready, asyncio.get_running_loop()),
            name="sqlite-writer", daemon=True,
        )
        self._writer.start()
        await ready
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-reader")

    async def close(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            await asyncio.to_thread(self._writer.join)
        self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        with self._read_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    def _prepare(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect(readonly=False)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreUnavailable(f"{self.path}: cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
            # Prove the file is writable now, not at the first viewer's question.
            conn.execute(
                "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            conn.execute(
                "INSERT OR REPLACE INTO store_meta VALUES ('opened_at', ?)", (str(time.time()),)
            )
            return conn
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite file {self.path}: {exc}") from exc
        except OSError as exc:
            raise StoreUnavailable(f"SQLite file {self.path}: {exc.strerror or exc}") from exc

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        known = migrations()
        newest = max((v for v, _ in known), default=0)
        if applied and max(applied) > newest:
            raise StoreUnavailable(
                f"{self.path} has schema version {max(applied)}, newer than this code "
                f"({newest}); upgrade Tip Pocket"
            )
        for version, sql in known:
            if version in applied:
                continue
            log.info("applying SQLite migration %04d", version)
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\n"
                f"INSERT INTO schema_migrations VALUES ({version}, {time.time()});\nCOMMIT;"
            )
        self.schema_version = newest

    def _write_loop(self, ready: asyncio.Future[None], loop: asyncio.AbstractEventLoop) -> None:
        try:
            conn = self._prepare()
        except StoreError as exc:
            loop.call_soon_threadsafe(_settle, ready, False, exc)
            return
        loop.call_soon_threadsafe(_settle, ready, True, None)
        try:
            stop = False
            while not stop:
                item = self._queue.get()
                if item is None:
                    break
                batch = [item]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._run_batch(conn, batch)
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, _fut, _loop in batch:
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, fn(conn)))
                    conn.execute("RELEASE op")
                except (StoreError, ValueError) as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((False, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed after %s", exc)
            error = StoreUnavailable(f"SQLite write to {self.path} failed: {exc}")
            outcomes = [(False, error)] * len(batch)
        for (_fn, fut, loop), (ok, value) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, fut, ok, value)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None or not self._writer.is_alive():
            raise StoreUnavailable("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, fut, loop))
        return await fut

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
            with self._read_lock:
                self._read_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise StoreUnavailable("the SQLite store is closed")

        def run() -> T:
            try:
                return fn(self._reader_conn())
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"SQLite read from {self.path} failed: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    async def status(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await self._read(lambda c: c.execute("SELECT 1").fetchone())
            ok = self._writer is not None and self._writer.is_alive()
            error = "" if ok else "writer stopped"
        except StoreError as exc:
            ok, error = False, str(exc)
        result: dict[str, Any] = {
            "ok": ok, "backend": self.backend, "schema_version": self.schema_version,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if error:
            result["error"] = error
        return result

    # --- generic records ----------------------------------------------------------------

    async def insert(self, record: R) -> R:
        cls = type(record)
        row = _to_row(record)
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
        return _from_row(cls, row)

    async def find(
        self,
        cls: type[R],
        where: dict[str, Any] | None = None,
        *,
        order_by: Sequence[str] = ("created_at",),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        clause, params = _where_sql(cls, where)
        order = ", ".join(f"{n} {'DESC' if d else 'ASC'}" for n, d in parse_order(cls, order_by))
        sql = f"SELECT * FROM {cls.collection}{clause}"  # type: ignore[attr-defined]
        if order:
            sql += f" ORDER BY {order}"
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if limit is None else int(limit), int(offset)]
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [_from_row(cls, row) for row in rows]

    async def count(self, cls: type[Any], where: dict[str, Any] | None = None) -> int:
        clause, params = _where_sql(cls, where)
        sql = f"SELECT COUNT(*) FROM {cls.collection}{clause}"
        row = await self._read(lambda c: c.execute(sql, params).fetchone())
        return int(row[0])

    def _get_for_write(self, conn: sqlite3.Connection, cls: type[R], record_id: str) -> R:
        table = cls.collection  # type: ignore[attr-defined]
        row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise NotFound(f"no {cls.__name__} {record_id}")
        return _from_row(cls, row)

    def _apply(
        self, conn: sqlite3.Connection, cls: type[R], record_id: str, changes: dict[str, Any],
        now: float, increments: dict[str, int] | None = None,
    ) -> R:
        sets = [f"{name} = ?" for name in changes]
        params = [_encode(cls, name, value) for name, value in changes.items()]
        for name, by in (increments or {}).items():
            sets.append(f"{name} = {name} + ?")
            params.append(by)
        if changes:  # counters alone are not an edit: they leave the version be
            sets.append("version = version + 1")
        if "updated_at" in field_names(cls):
            sets.append("updated_at = ?")
            params.append(now)
        table = cls.collection  # type: ignore[attr-defined]
        conn.execute(f"UPDATE {table} SET {', '.join(sets)} WHERE id = ?", [*params, record_id])
        return self._get_for_write(conn, cls, record_id)

    async def update(
        self, cls: type[R], record_id: str, changes: dict[str, Any], *,
        expected_version: int | None = None, now: float,
    ) -> R:
        check_changes(cls, changes)

        def op(conn: sqlite3.Connection) -> R:
            current = self._get_for_write(conn, cls, record_id)
            if expected_version is not None and current.version != expected_version:  # type: ignore[attr-defined]
                raise VersionConflict(f"{cls.__name__} {record_id} was changed meanwhile", current)
            try:
                return self._apply(conn, cls, record_id, changes, now)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"{cls.__name__} {record_id}: {exc}") from exc

        return await self._write(op)

    async def delete(self, cls: type[Any], record_id: str) -> bool:
        sql = f"DELETE FROM {cls.collection} WHERE id = ?"
        return await self._write(lambda c: c.execute(sql, (record_id,)).rowcount > 0)

    async def delete_where(self, cls: type[Any], where: dict[str, Any]) -> int:
        clause, params = _where_sql(cls, where)
        if not clause:
            raise ValueError("delete_where needs a condition")
        sql = f"DELETE FROM {cls.collection}{clause}"
        return await self._write(lambda c: int(c.execute(sql, params).rowcount))

    # --- operations with their own atomicity ------------------------------------------------

    async def insert_question(self, question: Question) -> tuple[Question, bool]:
        row = _to_row(question)
        sql = (
            f"INSERT INTO questions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
            "ON CONFLICT (viewer_id, client_id) DO NOTHING"
        )

        def op(conn: sqlite3.Connection) -> tuple[Question, bool]:
            if conn.execute(sql, list(row.values())).rowcount == 1:
                return question, True
            existing = conn.execute(
                "SELECT * FROM questions WHERE viewer_id = ? AND client_id = ?",
                (question.viewer_id, question.client_id),
            ).fetchone()
            return _from_row(Question, existing), False

        return await self._write(op)

    async def increment(
        self, cls: type[R], record_id: str, field_name: str, by: int, *, now: float
    ) -> R:
        check_changes(cls, {field_name: by})

        def op(conn: sqlite3.Connection) -> R:
            self._get_for_write(conn, cls, record_id)
            return self._apply(conn, cls, record_id, {}, now, {field_name: by})

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
            return self._get_for_write(conn, Job, row[0])

        return await self._write(op)

    async def finish_job(
        self, job_id: str, worker: str, *, now: float, error: str = "",
        retry_at: float | None = None,
    ) -> Job:
        def op(conn: sqlite3.Connection) -> Job:
            job = self._get_for_write(conn, Job, job_id)
            if job.state != "running" or job.lease_owner != worker:
                raise VersionConflict(f"job {job_id} is not held by {worker}", job)
            state, run_after = job_outcome(job, error, retry_at)
            conn.execute(
                "UPDATE jobs SET state = ?, run_after = ?, last_error = ?, lease_owner = '', "
                "lease_expires = 0, version = version + 1, updated_at = ? WHERE id = ?",
                (state, run_after, error, now, job_id),
            )
            return self._get_for_write(conn, Job, job_id)

        return await self._write(op)


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)
