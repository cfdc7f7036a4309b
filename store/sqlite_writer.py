"""The SQLite writer thread: the only write connection, and group commit.

Coroutines hand the writer work through one queue: a plain write (a function of the
connection and the future to settle with its result) or a unit of work (a ``Channel``, the
line of one ``store.transaction()`` block). The writer keeps one SQLite transaction open
across consecutive items — a *group* — and commits it once, when nothing more is waiting in
the queue or the group reached its bound (``MAX_GROUP`` items, or ``group_seconds`` old).
Only then are the group's futures settled, so every write, and every block's ``async with``
exit, is acknowledged only after it is durable (WAL, ``synchronous=FULL``), and a burst of
writes and blocks costs one fsync, not one each.

* Each plain write runs in its own savepoint: a refused one (``StoreError``, ``ValueError``)
  leaves no trace and the others go on.
* Each block runs in its own savepoint (``SAVEPOINT block``); its operations nest their own.
  A block does not wait for the writer to reach it: its operations queue on its channel, and
  if the writer can never run them (the group failed first) it fails them (``abandon``).
  While a block is open the writer serves only its operations (its reads too, so it sees its
  own writes; and the earlier members of its group, which share its fate). A block that ends
  in a rollback, or sits idle longer than ``idle_seconds``, is rolled back to its savepoint:
  the rest of the group is unaffected. A block that ends in a commit releases its savepoint
  and waits for the group's commit.
* A SQLite error (disk full, I/O) anywhere in the group, or a failed COMMIT, rolls the whole
  group back and fails every member with ``StoreUnavailable``: none of them is applied.

A block that runs long holds back the acknowledgements of the group members before it (as
before, it held back every writer after it); ``idle_seconds`` bounds both.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store.base import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

MAX_GROUP = 512  # items in one group commit
GROUP_SECONDS = 0.05  # a group older than this commits before taking another item
STOP = object()
COMMIT = object()
ROLLBACK = object()


def settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class Channel:
    """One open transaction block's line to the writer thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ops: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.closed = False  # the writer has left the block (ended or timed out)
        self.why_closed = ""

    def send(self, item: Any) -> None:
        with self.lock:
            if self.closed:
                raise StoreUnavailable(f"the transaction is over: {self.why_closed}")
            self.ops.put(item)

    def close(self, why: str) -> None:
        with self.lock:
            self.closed, self.why_closed = True, why

    def abandon(self, why: str, error: StoreError) -> None:
        """Close the line and fail what the block sent that the writer will never run (its
        operations are sent before the writer reaches the block: no round trip to begin)."""
        with self.lock:
            self.closed, self.why_closed = True, why
            while not self.ops.empty():
                fn, fut = self.ops.get_nowait()
                if fn is ROLLBACK:
                    self.settle(fut, True, None)
                else:
                    self.settle(fut, False, error)

    def settle(self, fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self.loop.call_soon_threadsafe(settle, fut, ok, value)


# A group member waiting for the commit: (loop, future, ok, value to settle it with).
Member = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", bool, Any]


def settle_members(members: list[Member], error: BaseException | None = None) -> None:
    """Settle a group's members (all with ``error`` when one is given), with one thread-safe
    call per event loop: each such call wakes the loop through its self-pipe (a system call
    on both sides), and a group commit of a flood has a hundred members."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Member]] = {}
    for member in members:
        by_loop.setdefault(member[0], []).append(member)
    for loop, waiting in by_loop.items():
        loop.call_soon_threadsafe(_settle_each, waiting, error)


def _settle_each(members: list[Member], error: BaseException | None) -> None:
    for _loop, fut, ok, value in members:
        if error is None:
            settle(fut, ok, value)
        else:
            settle(fut, False, error)


class GroupFailed(Exception):
    """A SQLite error ended the group: everything in it was rolled back."""


def run_op(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any]
           ) -> tuple[bool, Any]:
    """One operation in its own savepoint: a refused operation (or a bug in one) leaves no
    trace and goes back to its caller. SQLite errors (disk full, I/O) propagate: they end the
    whole group."""
    conn.execute("SAVEPOINT op")
    try:
        result = fn(conn)
    except sqlite3.Error:
        raise
    except Exception as exc:  # StoreError, ValueError, or a bug: the caller's to see
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return False, exc
    conn.execute("RELEASE op")
    return True, result


class Writer:
    """Runs the write queue of one SQLite file on the calling thread (see the module)."""

    def __init__(self, path: Path, work: queue.SimpleQueue[Any], *, idle_seconds: float,
                 group_seconds: float = GROUP_SECONDS) -> None:
        self.path = path
        self.work = work
        self.idle_seconds = idle_seconds
        self.group_seconds = group_seconds
        self.commits = 0  # group commits done (each one fsync)
        self.members: list[Member] = []
        self.open_since = 0.0
        self.items = 0
        self.in_group = False

    def run(self, conn: sqlite3.Connection) -> None:
        held: Any = None
        while True:
            if held is not None:
                item, held = held, None
            elif self.in_group:
                try:
                    item = self.work.get_nowait()
                except queue.Empty:
                    self.commit(conn)
                    continue
            else:
                item = self.work.get()
            if item is STOP:
                if self.in_group:
                    self.commit(conn)
                return
            if self.in_group and (self.items >= MAX_GROUP
                                  or time.monotonic() - self.open_since > self.group_seconds):
                self.commit(conn)
                held = item
                continue
            try:
                if not self.in_group:
                    self.begin(conn)
                self.items += 1
                if isinstance(item, Channel):
                    self.serve_block(conn, item)
                else:
                    self.run_plain(conn, item)
            except (sqlite3.Error, GroupFailed) as exc:
                self.fail_group(conn, exc, item)

    # --- the group -------------------------------------------------------------------------

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        self.in_group, self.open_since, self.items = True, time.monotonic(), 0

    def commit(self, conn: sqlite3.Connection) -> None:
        members, self.members, self.in_group = self.members, [], False
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback(conn, exc)
            error = StoreUnavailable(
                f"SQLite commit to {self.path} failed, nothing was applied: {exc}")
            settle_members(members, error)
            return
        self.commits += 1
        settle_members(members)

    def fail_group(self, conn: sqlite3.Connection, exc: BaseException, item: Any) -> None:
        """A SQLite error inside the group: roll all of it back and fail every member (and
        the item that hit it, unless it already got its answer)."""
        self.rollback(conn, exc)
        members, self.members, self.in_group = self.members, [], False
        cause = exc.__cause__ if isinstance(exc, GroupFailed) else exc
        error = StoreUnavailable(f"SQLite write to {self.path} failed, nothing was applied "
                                 f"({cause})")
        settle_members(members, error)
        if isinstance(item, Channel):
            item.abandon(f"a write failed and it was rolled back ({cause})", error)
        elif not isinstance(exc, GroupFailed):
            _fn, fut, loop = item
            loop.call_soon_threadsafe(settle, fut, False, error)

    def rollback(self, conn: sqlite3.Connection, why: object) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed after %s", why)

    # --- its members -------------------------------------------------------------------------

    def run_plain(self, conn: sqlite3.Connection, item: Any) -> None:
        fn, fut, loop = item
        ok, value = run_op(conn, fn)
        self.members.append((loop, fut, ok, value))

    def serve_block(self, conn: sqlite3.Connection, channel: Channel) -> None:
        try:
            conn.execute("SAVEPOINT block")
        except sqlite3.Error as exc:
            channel.abandon(f"it could not begin: {exc}", StoreUnavailable(
                f"SQLite transaction on {self.path} could not begin: {exc}"))
            raise GroupFailed from exc
        while True:
            try:
                item = channel.ops.get(timeout=self.idle_seconds)
            except queue.Empty:
                with channel.lock:
                    if channel.ops.empty():
                        channel.closed = True
                        channel.why_closed = f"idle for {self.idle_seconds} s, rolled back"
                if channel.closed:
                    log.warning("a SQLite transaction was idle for %s s: rolled back",
                                self.idle_seconds)
                    self.end_block(conn, "ROLLBACK TO block")
                    return
                continue
            fn, fut = item
            if fn is COMMIT or fn is ROLLBACK:
                channel.close("it has ended")
                try:
                    self.end_block(conn, "RELEASE block" if fn is COMMIT else "ROLLBACK TO block")
                except GroupFailed as exc:  # rolled back with the whole group
                    if fn is ROLLBACK:
                        channel.settle(fut, True, None)
                    else:
                        channel.settle(fut, False, StoreUnavailable(
                            f"SQLite commit to {self.path} failed, nothing was applied: "
                            f"{exc.__cause__}"))
                    raise
                if fn is COMMIT:
                    self.members.append((channel.loop, fut, True, None))
                else:
                    channel.settle(fut, True, None)
                return
            try:
                ok, value = run_op(conn, fn)
            except sqlite3.Error as exc:
                channel.close(f"a write failed and it was rolled back ({exc})")
                channel.settle(fut, False, StoreUnavailable(
                    f"SQLite write to {self.path} failed, nothing was applied: {exc}"))
                raise GroupFailed from exc
            channel.settle(fut, ok, value)

    @staticmethod
    def end_block(conn: sqlite3.Connection, how: str) -> None:
        """Leave the block's savepoint: keep its writes (``RELEASE``) or undo them."""
        try:
            if how != "RELEASE block":
                conn.execute(how)
            conn.execute("RELEASE block")
        except sqlite3.Error as exc:
            raise GroupFailed from exc
