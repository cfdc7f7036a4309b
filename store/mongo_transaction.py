"""The handle of one MongoDB transaction, and how it survives a write conflict by replay.

Two nodes whose transactions write the same document at once — above all one session's
event counter (``store.mongo_events``) — conflict: MongoDB fails the second writer at once
with a ``TransientTransactionError`` and aborts its transaction. A driver's answer is to
run the whole transaction again; here the transaction is the caller's ``async with`` block,
which cannot be run again. So the handle keeps a log of every operation the block did
through it and what each returned. On a conflict it aborts, waits a moment (the other
transaction is usually about to commit), starts a new transaction and replays the log: each
operation again, with the same arguments. If every one returns what it returned before, the
block's code saw nothing that differs from the new transaction, so its decisions hold and
the operation that conflicted is simply tried again. If any result differs, the block is
failed with ``StoreUnavailable`` and nothing applied, as before. This repeats until the
store's timeout; the effect is that transactions on one session from any number of nodes
take turns, and numbers are never skipped or reused.

A failure that is not a conflict dooms the transaction as ``store.base`` describes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from store.base import WRITES, StoreError, StoreUnavailable, TransactionHandle
from store.mongo_records import MongoRecords

if TYPE_CHECKING:
    from store.mongo import MongoStore

WRITE_CONFLICT = 112
TRANSIENT = "TransientTransactionError"
# Every operation a block may call on its handle: these are logged and replayed. (The
# conveniences of store.base are built on them and are not logged twice.)
OPERATIONS = (*WRITES, "get", "find", "count", "events_since", "last_event_seq",
              "question_figures", "question_cube", "text_counts", "clip_views_by_day",
              "search_misses_in", "page_in")

Outcome = tuple[bool, Any]  # (ok, result) or (False, (exception type, message))


def is_conflict(exc: BaseException) -> bool:
    """A failure that running the transaction again may cure (a write conflict)."""
    cause = exc.__cause__ if isinstance(exc, StoreError) else exc
    if not isinstance(cause, PyMongoError):
        return False
    return cause.has_error_label(TRANSIENT) or getattr(cause, "code", None) == WRITE_CONFLICT


class MongoTransaction(TransactionHandle, MongoRecords):
    """The handle of one open transaction: the store's operations inside its session."""

    backend = "mongodb"
    _store: MongoStore

    def __init__(self, store: MongoStore, session: AsyncClientSession) -> None:
        self._store = store
        self._uri = store._uri
        self.masked_uri = store.masked_uri
        self.timeout_ms = store.timeout_ms
        self._db = store._db
        self._session = session
        self.failure: StoreError | None = None  # the write that doomed this transaction
        self.replays = 0  # how many times a conflict made it start over
        self._log: list[tuple[str, tuple[Any, ...], dict[str, Any], Outcome]] = []
        self._depth = 0  # > 0 while an operation runs (its inner calls are not logged)
        self._deadline = time.monotonic() + store.timeout_ms / 1000


    # --- logging, and replaying after a conflict -------------------------------------------

    async def _attempt(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
                       ) -> Outcome:
        """Run one operation; its outcome, or raise if it conflicted."""
        self._depth += 1
        try:
            result = await getattr(MongoRecords, name)(self, *args, **kwargs)
        except (StoreError, ValueError) as exc:
            if is_conflict(exc):
                raise
            return False, (type(exc), str(exc), exc)
        finally:
            self._depth -= 1
        return True, result

    async def _operate(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._depth:
            return await getattr(MongoRecords, name)(self, *args, **kwargs)
        while True:
            try:
                outcome = await self._attempt(name, args, kwargs)
                break
            except StoreError as exc:
                try:
                    await self.start_over(exc)
                except StoreError as failed:  # aborted: the block can only roll back
                    self.failure = self.failure or failed
                    raise
        self._log.append((name, args, kwargs, outcome))
        ok, value = outcome
        if ok:
            return value
        error = value[2]
        if name in WRITES and isinstance(error, StoreError):
            self.failure = self.failure or error
        raise error

    async def start_over(self, conflict: StoreError) -> None:
        """Abort, start a new transaction and replay the log into it; raise if that cannot
        be done before the deadline or a replayed operation returns something else."""
        session = self._session
        assert session is not None
        delay = 0.002
        while True:
            await self._store._abort(session)
            if time.monotonic() + delay > self._deadline:
                raise StoreUnavailable(
                    f"MongoDB transaction kept conflicting with another one for "
                    f"{self.timeout_ms} ms, nothing was applied ({conflict})") from conflict
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
            delay = min(delay * 2, 0.05)
            self.replays += 1
            with self._errors("restarting a transaction"):
                await session.start_transaction(write_concern=self._store.write_concern)
            try:
                for name, args, kwargs, before in self._log:
                    again = await self._attempt(name, args, kwargs)
                    if not _same(again, before):
                        raise StoreUnavailable(
                            "MongoDB transaction conflicted with another one that changed "
                            f"what it had read ({name}), nothing was applied") from conflict
                return
            except StoreError as exc:
                if not is_conflict(exc):
                    await self._store._abort(session)
                    raise
                conflict = exc


def _same(a: Outcome, b: Outcome) -> bool:
    if a[0] != b[0]:
        return False
    if a[0]:
        return bool(a[1] == b[1])
    return bool(a[1][:2] == b[1][:2])


def _logged(name: str) -> Callable[..., Awaitable[Any]]:
    operation = getattr(MongoRecords, name)

    async def method(self: MongoTransaction, *args: Any, **kwargs: Any) -> Any:
        return await self._operate(name, args, kwargs)

    method.__name__ = name
    method.__doc__ = operation.__doc__
    return method


for _name in OPERATIONS:
    setattr(MongoTransaction, _name, _logged(_name))
