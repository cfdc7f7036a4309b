"""SQLite backend: the embedded default, one file under the data directory.

One writer thread owns the only write connection ("one writer per SQLite file"). Coroutines
hand it small functions through a queue; it runs whatever has queued up in one transaction
(each operation inside its own savepoint, so one failing operation does not undo the others)
and commits once — group commit — before resolving any of their futures. A caller's write is
therefore acknowledged only after it is durable (WAL mode, ``synchronous=FULL``), and a burst
of writes costs one fsync, not one each. Reads run on a small pool of read-only connections,
so neither reads nor writes ever block the event loop.

A unit of work (``transaction()``) is one more item in the writer's queue. The writer
commits the group it has gathered so far, opens ``BEGIN IMMEDIATE`` and from then on serves
only that transaction's operations (its reads too, so they see its own writes) from a queue
of its own, until the block commits or rolls back. Other writers wait in the main queue
meanwhile — never interleaved with it — and run as the next group. A transaction left idle
longer than ``transaction_idle_seconds`` (a caller awaiting something else, or one that
forgot the handle) is rolled back so that it cannot stop every other writer; its next
operation or its commit then fails with ``StoreUnavailable``.
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
    hold,
    refuse_direct_write,
)
from store.sqlite_records import SQLiteRecords

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BATCH = 512
_STOP = object()
_COMMIT = object()
_ROLLBACK = object()


def migrations() -> list[tuple[int, str]]:
    """The numbered schema migrations shipped in ``store/migrations``, in order."""
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_[a-z0-9_]+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _Channel:
    """One open transaction's line to the writer thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.started: asyncio.Future[None] = loop.create_future()
        self.ops: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.closed = False  # the writer has left the transaction (ended or timed out)
        self.why_closed = ""

    def send(self, item: Any) -> None:
        with self.lock:
            if self.closed:
                raise StoreUnavailable(f"the transaction is over: {self.why_closed}")
            self.ops.put(item)

    def settle(self, fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self.loop.call_soon_threadsafe(_settle, fut, ok, value)


class SQLiteTransaction(SQLiteRecords):
    """The handle of one open transaction: reads and writes on the writer connection."""

    backend = "sqlite"
    in_transaction = True

    def __init__(self, store: SQLiteStore, channel: _Channel) -> None:
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
        self._channel.send((_COMMIT if commit else _ROLLBACK, fut))
        await fut

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        yield self  # joins the open transaction

    async def open(self) -> None:
        raise RuntimeError("a transaction handle is not opened")

    async def close(self) -> None:
        raise RuntimeError("a transaction handle is not closed; leave its block")

    async def status(self) -> dict[str, Any]:
        return await self._store.status()


class SQLiteStore(SQLiteRecords):
    backend = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000,
                 transaction_idle_seconds: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.transaction_idle_seconds = transaction_idle_seconds
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
            self._queue.put(_STOP)
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
            loop.call_soon_threadsafe(_settle, ready, False, exc)
            return
        loop.call_soon_threadsafe(_settle, ready, True, None)
        try:
            pending: Any = None
            while True:
                item = pending if pending is not None else self._queue.get()
                pending = None
                if item is _STOP:
                    break
                if isinstance(item, _Channel):
                    self._run_transaction(conn, item)
                    continue
                batch = [item]
                # Gather the group up to the next transaction (or stop): a transaction
                # starts only after the writes queued before it have committed.
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP or isinstance(more, _Channel):
                        pending = more
                        break
                    batch.append(more)
                self._run_batch(conn, batch)
        finally:
            conn.close()

    def _rollback(self, conn: sqlite3.Connection, why: object) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed after %s", why)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, _fut, _loop in batch:
                outcomes.append(self._run_op(conn, fn))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn, exc)
            error = StoreUnavailable(f"SQLite write to {self.path} failed: {exc}")
            outcomes = [(False, error)] * len(batch)
        for (_fn, fut, loop), (ok, value) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, fut, ok, value)

    @staticmethod
    def _run_op(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any]
                ) -> tuple[bool, Any]:
        """One operation in its own savepoint: a refused operation leaves no trace. SQLite
        errors (disk full, I/O) propagate: they end the whole transaction."""
        conn.execute("SAVEPOINT op")
        try:
            result = fn(conn)
        except (StoreError, ValueError) as exc:
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return False, exc
        conn.execute("RELEASE op")
        return True, result

    def _run_transaction(self, conn: sqlite3.Connection, channel: _Channel) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            with channel.lock:
                channel.closed, channel.why_closed = True, f"it could not begin: {exc}"
            channel.settle(channel.started, False, StoreUnavailable(
                f"SQLite transaction on {self.path} could not begin: {exc}"))
            return
        channel.settle(channel.started, True, None)
        while True:
            try:
                item = channel.ops.get(timeout=self.transaction_idle_seconds)
            except queue.Empty:
                with channel.lock:
                    if channel.ops.empty():
                        channel.closed = True
                        channel.why_closed = (
                            f"idle for {self.transaction_idle_seconds} s, rolled back")
                if channel.closed:
                    log.warning("a SQLite transaction was idle for %s s: rolled back",
                                self.transaction_idle_seconds)
                    self._rollback(conn, "an idle transaction")
                    return
                continue
            fn, fut = item
            if fn is _COMMIT or fn is _ROLLBACK:
                with channel.lock:
                    channel.closed, channel.why_closed = True, "it has ended"
                self._end_transaction(conn, channel, fut, commit=fn is _COMMIT)
                return
            try:
                ok, value = self._run_op(conn, fn)
            except sqlite3.Error as exc:
                self._rollback(conn, exc)
                with channel.lock:
                    channel.closed = True
                    channel.why_closed = f"a write failed and it was rolled back ({exc})"
                channel.settle(fut, False, StoreUnavailable(
                    f"SQLite write to {self.path} failed: {exc}"))
                return
            channel.settle(fut, ok, value)

    def _end_transaction(self, conn: sqlite3.Connection, channel: _Channel,
                         fut: asyncio.Future[None], *, commit: bool) -> None:
        if not commit:
            self._rollback(conn, "a rolled-back transaction")
            channel.settle(fut, True, None)
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn, exc)
            channel.settle(fut, False, StoreUnavailable(
                f"SQLite commit to {self.path} failed, nothing was applied: {exc}"))
            return
        channel.settle(fut, True, None)

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
        channel = _Channel(asyncio.get_running_loop())
        handle = SQLiteTransaction(self, channel)
        token = hold(self)
        ended = False
        try:
            self._queue.put(channel)
            await channel.started
            try:
                yield handle
            except BaseException:
                ended = True
                with contextlib.suppress(StoreError):
                    await handle._end(commit=False)
                raise
            ended = True
            if handle.failure is not None:
                await handle._end(commit=False)
                raise TransactionAborted(
                    f"rolled back, nothing applied: a write in it failed ({handle.failure})"
                ) from handle.failure
            await handle._end(commit=True)
        finally:
            HOLDING.reset(token)
            if not ended:  # cancelled while waiting to begin: let the writer move on
                with contextlib.suppress(StoreError):
                    channel.send((_ROLLBACK, channel.loop.create_future()))

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
