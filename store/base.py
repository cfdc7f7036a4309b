"""The one storage interface every backend implements, and its errors.

Callers see records (``store.records``), never rows or documents. Writes return only after
the backend has made them durable (SQLite commit in WAL mode with ``synchronous=FULL``;
MongoDB with the configured write concern), so anything acknowledged to a user survives a
crash.

``Store.transaction()`` is the unit of work: a handle with the same interface whose reads
and writes happen in one transaction, committed when the ``async with`` block ends and
rolled back entirely when it raises. Its rules, the same on both backends:

* Inside the block, use the handle only. A direct write on the store from the task that
  holds the transaction raises ``RuntimeError`` (on SQLite it would wait for the
  transaction's own end, a deadlock).
* A write that fails inside the block (``Conflict``, ``VersionConflict``, ``NotFound``,
  ``StoreUnavailable``) dooms the transaction: even if the caller catches the error, the
  block ends in a rollback and raises ``TransactionAborted``. MongoDB aborts a transaction
  on a failed write anyway; SQLite follows the same rule so that code behaves alike on both.
* ``handle.transaction()`` joins the open transaction (no nesting, no savepoints).
* Transactions on one store run one at a time (SQLite: each in a savepoint on the single
  writer, other writers wait, and consecutive blocks share one commit, each block's exit
  returning only once it is durable; MongoDB: one at a time per process, and one that
  conflicts with another process's is replayed until they have taken turns, or fails with
  ``StoreUnavailable`` and nothing applied when what it read has changed meanwhile: see
  ``store.mongo_transaction``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from store.aggregates import StoreAggregates
from store.events import NewEvent, StoreEvents
from store.records import (
    AuditEntry,
    Job,
    LoginSession,
    Question,
    StaffUser,
    field_names,
)

R = TypeVar("R")


class StoreError(Exception):
    """Base of every storage failure; the message is safe to show an operator."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or opened (server down, file unreadable, disk full)."""


class NotFound(StoreError):
    """No record with that id."""


class Conflict(StoreError):
    """A unique key is taken (a staff name, a question's client id)."""


class VersionConflict(StoreError):
    """The record changed since the caller read it; re-read and decide again."""

    def __init__(self, message: str, current: Any = None) -> None:
        super().__init__(message)
        self.current = current


class TransactionAborted(StoreError):
    """A transaction was rolled back because an operation inside it failed; nothing of it
    was applied."""


# The store whose transaction the current task holds, and that task (see
# ``Store.transaction``). Tasks started inside the block inherit the variable but not the
# hold: their writes simply wait for the transaction to end.
HOLDING: contextvars.ContextVar[tuple[Store, object] | None] = contextvars.ContextVar(
    "store_transaction_holder", default=None)


def hold(store: Store) -> contextvars.Token[tuple[Store, object] | None]:
    """Mark the current task as holding a transaction on ``store``."""
    return HOLDING.set((store, asyncio.current_task()))


def refuse_direct_write(store: Store) -> None:
    """Refuse a write on ``store`` itself from inside a transaction the caller holds."""
    held = HOLDING.get()
    if held is not None and held[0] is store and held[1] is asyncio.current_task():
        raise RuntimeError(
            "this task holds a transaction on the store: write through its handle "
            "(a direct write would wait for the transaction to end)")


WRITES = ("insert", "update", "delete", "delete_where", "insert_question", "increment",
          "claim_job", "finish_job", "append_events", "trim_events")

OPERATORS = ("eq", "in", "ne", "lt", "lte", "gt", "gte")


def parse_where(cls: type[Any], where: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
    """Validate a filter into ``(field, op, value)`` triples.

    ``{"state": "queued"}`` is equality, a list or tuple value means "any of", and a key
    suffix picks a comparison: ``{"created_at__gte": t}``. Field names are checked against
    the record type and values must be plain scalars, so neither backend can be handed a
    column name or a MongoDB operator object from outside.
    """
    names = set(field_names(cls))
    triples: list[tuple[str, str, Any]] = []
    for key, value in (where or {}).items():
        name, _, op = key.partition("__")
        op = op or ("in" if isinstance(value, list | tuple) else "eq")
        if name not in names or op not in OPERATORS:
            raise ValueError(f"cannot filter {cls.__name__} by {key!r}")
        values = list(value) if op == "in" else [value]
        for item in values:
            if not isinstance(item, str | int | float | bool):
                raise ValueError(f"filter value for {key!r} must be a scalar")
        triples.append((name, op, values if op == "in" else value))
    return triples


def parse_order(cls: type[Any], order_by: Sequence[str]) -> list[tuple[str, bool]]:
    """``["-created_at"]`` → ``[("created_at", True)]`` (True = descending), validated."""
    names = set(field_names(cls))
    result = []
    for item in order_by:
        name = item.lstrip("-")
        if name not in names:
            raise ValueError(f"cannot order {cls.__name__} by {item!r}")
        result.append((name, item.startswith("-")))
    return result


def check_changes(cls: type[Any], changes: dict[str, Any]) -> None:
    bad = set(changes) - set(cls.mutable)
    if bad:
        raise ValueError(f"{cls.__name__} fields not changeable: {', '.join(sorted(bad))}")


def job_outcome(job: Job, error: str, retry_at: float | None) -> tuple[str, float]:
    """The state a job moves to when its worker lets go of it."""
    if not error:
        return "done", job.run_after
    if retry_at is not None and job.attempts < job.max_attempts:
        return "queued", retry_at
    return "failed", job.run_after


class Store(StoreAggregates, StoreEvents, abc.ABC):
    """What Tip Pocket keeps. Every method is a coroutine and never blocks the event loop."""

    backend: str = "abstract"

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, create the schema/indexes and apply migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def status(self) -> dict[str, Any]:
        """A quick health probe: ``{"ok": bool, "backend": ..., ...}``; never raises."""

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """One unit of work: ``async with store.transaction() as tx:`` — every read and
        write through ``tx`` commits together when the block ends, or none does if it
        raises (see the module docstring for the rules)."""

    # --- generic record access --------------------------------------------------------------

    @abc.abstractmethod
    async def insert(self, record: R) -> R:
        """Store a new record; raises Conflict on a duplicate id or unique key."""

    @abc.abstractmethod
    async def get(self, cls: type[R], record_id: str) -> R:
        """The record, or NotFound."""

    @abc.abstractmethod
    async def find(
        self,
        cls: type[R],
        where: dict[str, Any] | None = None,
        *,
        order_by: Sequence[str] = ("created_at",),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        """Records matching every condition of ``where`` (see ``parse_where``), ordered by
        ``order_by`` (field names, ``-name`` for descending)."""

    @abc.abstractmethod
    async def count(self, cls: type[Any], where: dict[str, Any] | None = None) -> int: ...

    @abc.abstractmethod
    async def update(
        self, cls: type[R], record_id: str, changes: dict[str, Any], *,
        expected_version: int | None = None, now: float, bump_version: bool = True,
    ) -> R:
        """Change mutable fields; bump ``version`` and ``updated_at``.

        With ``expected_version``, the change applies only if nobody changed the record since
        (else VersionConflict carrying the current record). ``bump_version=False`` is for a
        change nobody decides on (the engine's hints on a question, like a counter): a
        staff action quoting the version it saw still applies after it. Raises NotFound."""

    async def update_many(
        self, cls: type[R], changes: Sequence[tuple[str, dict[str, Any], int | None]], *,
        now: float, bump_version: bool = True,
    ) -> list[R]:
        """``update`` of several records, each ``(record_id, changes, expected_version)``,
        in order; the records as changed. It stops at the first refusal (VersionConflict,
        NotFound), which propagates: use it in a transaction so that all apply or none. A
        backend whose writes are cheap to send together runs them as one operation."""
        for _record_id, fields, _expected in changes:
            check_changes(cls, fields)
        return [await self.update(cls, record_id, fields, expected_version=expected,
                                  now=now, bump_version=bump_version)
                for record_id, fields, expected in changes]

    @abc.abstractmethod
    async def delete(self, cls: type[Any], record_id: str) -> bool: ...

    @abc.abstractmethod
    async def delete_where(self, cls: type[Any], where: dict[str, Any]) -> int: ...

    # --- operations with their own atomicity ------------------------------------------------

    @abc.abstractmethod
    async def insert_question(self, question: Question) -> tuple[Question, bool]:
        """Store a question once per (session_id, viewer_id, client_id): returns (stored,
        created).

        A retry with the same client id in the same session returns the first stored
        question and ``False``; the same client id in another session is a new question."""

    async def insert_question_with_events(
        self, question: Question, events: Sequence[NewEvent], *, now: float | None = None,
    ) -> tuple[Question, bool, range]:
        """``insert_question`` and, when the question is new, ``append_events`` for it, in
        one atomic step: (stored, created, the events' seqs — empty for a retry). The
        viewer's hot path; a backend may do it in one operation (SQLite) rather than a
        transaction block."""
        async with self.transaction() as tx:
            stored, created = await tx.insert_question(question)
            if not created or not events:
                return stored, created, range(1, 1)
            seqs = await tx.append_events(question.session_id, events, now=now)
        return stored, created, seqs

    @abc.abstractmethod
    async def increment(
        self, cls: type[R], record_id: str, field_name: str, by: int, *, now: float
    ) -> R:
        """Atomically add ``by`` to an integer field (me-too counts, view counts).

        The version is left alone: a counter moving is not a change anyone decides on, and
        bumping it would make every staff action on a popular question a conflict."""

    @abc.abstractmethod
    async def claim_job(
        self, worker: str, now: float, lease_seconds: float, kinds: Iterable[str]
    ) -> Job | None:
        """Take the oldest runnable job (queued and due, or running with an expired lease)."""

    @abc.abstractmethod
    async def finish_job(
        self, job_id: str, worker: str, *, attempt: int, now: float, error: str = "",
        retry_at: float | None = None,
    ) -> Job:
        """Close a job this worker holds: done (no error), queued again at ``retry_at``, or
        failed for good. ``attempt`` is the job's ``attempts`` as ``claim_job`` returned it:
        the lease is fenced by it as well as by the worker's name, since two loops of one
        node share a name and a later claim (after this lease expired) must win. Raises
        VersionConflict if the worker no longer holds that attempt."""

    # --- conveniences built on the generic calls ---------------------------------------------

    async def user_by_name(self, name: str) -> StaffUser | None:
        found = await self.find(StaffUser, {"name": name}, limit=1)
        return found[0] if found else None

    async def revoke_logins(self, user_id: str) -> int:
        return await self.delete_where(LoginSession, {"user_id": user_id})

    async def audit(self, entry: AuditEntry) -> AuditEntry:
        return await self.insert(entry)

    async def questions_of(self, session_id: str, states: Sequence[str] = ()) -> list[Question]:
        where: dict[str, Any] = {"session_id": session_id}
        if states:
            where["state"] = list(states)
        return await self.find(Question, where, order_by=("created_at",))


class TransactionHandle(Store):
    """What every backend's transaction handle (the ``tx`` of ``async with
    store.transaction() as tx``) answers alike: a nested block joins the open transaction,
    the handle is neither opened nor closed on its own, and its status is its store's."""

    _store: Store

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        yield self  # joins the open transaction

    async def open(self) -> None:
        raise RuntimeError("a transaction handle is not opened")

    async def close(self) -> None:
        raise RuntimeError("a transaction handle is not closed; leave its block")

    async def status(self) -> dict[str, Any]:
        return await self._store.status()
