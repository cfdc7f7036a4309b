"""SQLite backend: the embedded default, one file under the data directory.

One writer thread owns the only write connection ("one writer per SQLite file"): coroutines
hand it small functions, and units of work (``transaction()``), through a queue, and it
commits them in groups — one fsync for a burst of writes and blocks, each acknowledged only
once durable (``store.sqlite_writer``). Reads run on a small pool of read-only connections,
so neither reads nor writes ever block the event loop.

A unit of work is one more item in the writer's queue: while its block is open the writer
serves only its operations (its reads too, so they see its own writes) in a savepoint of
the group's transaction; other writers wait in the main queue meanwhile, never interleaved
with it. A transaction left idle longer than ``transaction_idle_seconds`` (a caller awaiting
something else, or one that forgot the handle) is rolled back so that it cannot stop every
other writer; its next operation or its commit then fails with ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from store.base import (
    HOLDING,
    Store,
    StoreError,
    StoreUnavailable,
    TransactionAborted,
    TransactionHandle,
    hold,
    refuse_direct_write,
)
from store.sqlite_records import SQLiteRecords
from store.sqlite_writer import (
    COMMIT,
    GROUP_SECONDS,
    ROLLBACK,
    STOP,
    Channel,
    Writer,
    settle,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

def migrations() -> list[tuple[int, str]]:
    """The numbered schema migrations shipped in ``store/migrations``, in order."""
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_[a-z0-9_]+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteTransaction(TransactionHandle, SQLiteRecords):
    """The handle of one open transaction: reads and writes on the writer connection."""

    backend = "sqlite"
    in_transaction = True

    def __init__(self, store: SQLiteStore, channel: Channel) -> None:
        self._store = store
        self._channel = channel
        self.failure: StoreError | None = None  # the write that doomed this transaction

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        fut: asyncio.Future[T] = self._channel.loop.create_future()
        self._channel.send((fn, fut))
        return await fut

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._run(fn)
        except StoreError as exc:
            self.failure = self.failure or exc
            raise

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(fn)

    async def _end(self, commit: bool) -> None:
        fut: asyncio.Future[None] = self._channel.loop.create_future()
        try:
            self._channel.send((COMMIT if commit else ROLLBACK, fut))
        except StoreUnavailable:
            if commit:
                raise
            return  # the writer has left the block: nothing of it was applied
        await fut



class SQLiteStore(SQLiteRecords):
    backend = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000,
                 transaction_idle_seconds: float = 10.0,
                 group_seconds: float = GROUP_SECONDS) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.transaction_idle_seconds = transaction_idle_seconds
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._committer = Writer(self.path, self._queue, idle_seconds=transaction_idle_seconds,
                                 group_seconds=group_seconds)
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
            self._queue.put(STOP)
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

    # --- the writer thread ----------------------------------------------------------------

    def _write_loop(self, ready: asyncio.Future[None], loop: asyncio.AbstractEventLoop) -> None:
        try:
            conn = self._prepare()
        except StoreError as exc:
            loop.call_soon_threadsafe(settle, ready, False, exc)
            return
        loop.call_soon_threadsafe(settle, ready, True, None)
        try:
            self._committer.run(conn)
        finally:
            conn.close()

    # --- the primitives the record operations run on ----------------------------------------

    def _check_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            raise StoreUnavailable("the SQLite store is closed")

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_writer()
        refuse_direct_write(self)
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

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        self._check_writer()
        refuse_direct_write(self)
        channel = Channel(asyncio.get_running_loop())
        handle = SQLiteTransaction(self, channel)
        token = hold(self)
        try:
            # No waiting for the writer to reach the block: its operations queue on the
            # channel meanwhile (one round trip less per block, and the writer usually
            # finds the first one waiting).
            self._queue.put(channel)
            try:
                yield handle
            except BaseException:
                await handle._end(commit=False)
                raise
            if handle.failure is not None:
                await handle._end(commit=False)
                raise TransactionAborted(
                    f"rolled back, nothing applied: a write in it failed ({handle.failure})"
                ) from handle.failure
            await handle._end(commit=True)
        finally:
            HOLDING.reset(token)

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
            "commits": self._committer.commits,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if error:
            result["error"] = error
        return result
