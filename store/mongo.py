"""MongoDB backend: the store for deployments that run a replica set (or any server that
speaks the MongoDB wire protocol), through PyMongo's native asyncio client.

This module owns the connection's lifetime and the unit of work; the record operations are
in ``store.mongo_records`` and the mapping of records to documents in ``store.mongo_docs``.

* **Durability.** Every write uses the configured write concern (``w`` = ``"majority"``
  or 1, with ``j`` = journal), set on the database and on every transaction, so a write is
  acknowledged only once it would survive what the operator asked it to survive
  (``"majority"``: a primary failover). Unacknowledged writes (``w=0``) are refused: they
  could not report a duplicate key, nor back the promise that an acknowledged question is
  stored.
* **Transactions.** ``transaction()`` runs a client session with ``start_transaction()``;
  the handle passes the session to every operation, so its reads see its own writes and its
  writes commit together. Transactions of one process run one at a time (as SQLite's single
  writer does), so two actions never fail each other with a write conflict; a conflict with
  another process aborts the transaction and surfaces as ``StoreUnavailable``.
* **Indexes.** ``open()`` creates the indexes the queries of the rest of the app rely on,
  including the unique ones the contract's ``Conflict`` depends on, and drops the ones an
  earlier version created that no longer hold (``mongo_docs.RETIRED_INDEXES``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    CollectionInvalid,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
)

from settings import mask_uri
from store.aggregates_mongo import DESK_INDEXES
from store.base import (
    HOLDING,
    WRITES,
    Conflict,
    Store,
    StoreError,
    StoreUnavailable,
    TransactionAborted,
    hold,
    refuse_direct_write,
)
from store.mongo_docs import (
    INDEXES,
    RETIRED_INDEXES,
    Document,
    parse_write_concern,
    short,
)
from store.mongo_events import COUNTERS, EVENT_INDEXES
from store.mongo_records import MongoRecords

log = logging.getLogger(__name__)
INDEX_NOT_FOUND = 27

__all__ = ["MongoStore", "MongoTransaction", "parse_write_concern"]


class MongoStore(MongoRecords):
    backend = "mongodb"

    def __init__(
        self,
        uri: str,
        *,
        database: str = "tippocket",
        write_concern: str = "majority",
        journal: bool = True,
        timeout_ms: int = 5000,
    ) -> None:
        self._uri = uri
        self.masked_uri = mask_uri(uri)
        self.database_name = database
        self.timeout_ms = int(timeout_ms)
        self.write_concern = parse_write_concern(str(write_concern), journal)
        self._client: AsyncMongoClient[Document] | None = None
        self._db = None
        self._session = None
        self._transactions = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        if self._client is not None:
            return
        try:
            client: AsyncMongoClient[Document] = AsyncMongoClient(
                self._uri,
                serverSelectionTimeoutMS=self.timeout_ms,
                connectTimeoutMS=self.timeout_ms,
                # Every operation, not just connecting: a server that accepts connections
                # and then hangs must not hang a viewer's question with it.
                timeoutMS=self.timeout_ms,
                appname="tippocket",
            )
        except (PyMongoError, ValueError, TypeError) as exc:  # the URI parser raises all three
            raise StoreUnavailable(
                self._scrub(f"MongoDB URI {self.masked_uri} is not usable: {short(exc)}")
            ) from exc
        try:
            with self._errors("ping"):
                await client.admin.command("ping")
        except StoreUnavailable as exc:
            await client.close()
            cause = exc.__cause__
            if isinstance(cause, ConnectionFailure):
                raise StoreUnavailable(self._scrub(
                    f"MongoDB at {self.masked_uri} could not be reached within "
                    f"{self.timeout_ms} ms: {short(cause)}. Check that the server is "
                    "running and that [store] mongodb_uri (or TIPPOCKET_MONGODB_URI) "
                    "points at it."
                )) from cause
            raise StoreUnavailable(
                f"MongoDB at {self.masked_uri} refused the connection: {exc}"
            ) from cause
        self._client = client
        self._db = client.get_database(self.database_name, write_concern=self.write_concern)
        try:
            await self._create_indexes()
        except StoreUnavailable:
            await self.close()
            raise
        except Conflict as exc:  # existing duplicates block a unique index
            await self.close()
            raise StoreUnavailable(
                f"cannot create a unique index in MongoDB database {self.database_name}: "
                f"{exc}; remove the duplicates first"
            ) from exc
        log.info("MongoDB store open: %s, database %s, write concern %s",
                 self.masked_uri, self.database_name, self.write_concern.document)

    async def _create_indexes(self) -> None:
        db = self.database
        for name, retired in RETIRED_INDEXES.items():
            for index in retired:
                try:
                    with self._errors(f"dropping index {index} of {name}"):
                        await db[name].drop_index(index)
                except StoreUnavailable as exc:
                    cause = exc.__cause__
                    missing = (isinstance(cause, OperationFailure)
                               and (cause.code == INDEX_NOT_FOUND
                                    or "not found" in short(cause).lower()
                                    or "ns does not exist" in short(cause).lower()))
                    if not missing:
                        raise
        await self._drop_duplicate_terms()
        for name, models in [*INDEXES.items(), *DESK_INDEXES.items(), *EVENT_INDEXES.items()]:
            with self._errors(f"creating the indexes of {self.database_name}.{name}"):
                await db[name].create_indexes(models)
        # The event counters are written only inside transactions: their collection must
        # exist before the first one (another node may be creating it at the same time).
        with self._errors(f"creating {self.database_name}.{COUNTERS}"):
            if COUNTERS not in await db.list_collection_names():
                with contextlib.suppress(CollectionInvalid):
                    await db.create_collection(COUNTERS)

    async def _drop_duplicate_terms(self) -> None:
        """Blocked terms were not unique on MongoDB before (they always were on SQLite):
        keep the oldest rule of each term, so that the unique index can be built."""
        rules = self.database["term_rules"]
        seen: set[str] = set()
        extra: list[object] = []
        with self._errors("reading term_rules"):
            cursor = rules.find({}, projection={"term": 1},
                                sort=[("term", 1), ("created_at", 1), ("_id", 1)])
            async for doc in cursor:
                term = str(doc.get("term"))
                if term in seen:
                    extra.append(doc["_id"])
                seen.add(term)
        if extra:
            with self._errors("removing duplicate term_rules"):
                await rules.delete_many({"_id": {"$in": extra}})
            log.warning("removed %d duplicate blocked terms (kept the oldest of each)",
                        len(extra))

    async def close(self) -> None:
        client, self._client, self._db = self._client, None, None
        if client is not None:
            with contextlib.suppress(PyMongoError):
                await client.close()

    async def drop_database(self) -> None:
        """Remove the whole database (tests clean up with this)."""
        with self._errors(f"dropping database {self.database_name}"):
            await self.database.client.drop_database(self.database_name)

    async def status(self) -> dict[str, Any]:
        started = time.perf_counter()
        error = ""
        try:
            with self._errors("ping"):
                await self.database.command("ping")
        except Exception as exc:  # a health probe reports every failure, never raises it
            error = str(exc) or type(exc).__name__
        result: dict[str, Any] = {
            "ok": not error, "backend": self.backend,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if error:
            result["error"] = error
        return result

    # --- the unit of work -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        refuse_direct_write(self)
        async with self._transactions:
            if self._client is None:
                raise StoreUnavailable("the MongoDB store is closed")
            client = self._client
            token = hold(self)
            try:
                with self._errors("starting a transaction"):
                    session = client.start_session()
                try:
                    with self._errors("starting a transaction"):
                        await session.start_transaction(write_concern=self.write_concern)
                    handle = MongoTransaction(self, session)
                    try:
                        yield handle
                    except BaseException:
                        await self._abort(session)
                        raise
                    if handle.failure is not None:
                        await self._abort(session)
                        raise TransactionAborted(
                            "rolled back, nothing applied: a write in it failed "
                            f"({handle.failure})") from handle.failure
                    with self._errors("committing a transaction"):
                        await session.commit_transaction()
                finally:
                    with contextlib.suppress(PyMongoError):
                        await session.end_session()
            finally:
                HOLDING.reset(token)

    async def _abort(self, session: AsyncClientSession) -> None:
        if not session.in_transaction:
            return
        try:
            with self._errors("aborting a transaction"):
                await session.abort_transaction()
        except StoreError as exc:  # the server drops an unfinished transaction by itself
            log.warning("%s", exc)


class MongoTransaction(MongoRecords):
    """The handle of one open transaction: the store's operations inside its session."""

    backend = "mongodb"

    def __init__(self, store: MongoStore, session: AsyncClientSession) -> None:
        self._store = store
        self._uri = store._uri
        self.masked_uri = store.masked_uri
        self.timeout_ms = store.timeout_ms
        self._db = store._db
        self._session = session
        self.failure: StoreError | None = None  # the write that doomed this transaction

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        yield self  # joins the open transaction

    async def open(self) -> None:
        raise RuntimeError("a transaction handle is not opened")

    async def close(self) -> None:
        raise RuntimeError("a transaction handle is not closed; leave its block")

    async def status(self) -> dict[str, Any]:
        return await self._store.status()


def _dooming(name: str) -> Callable[..., Awaitable[Any]]:
    """A write of the handle that, when it fails, dooms the transaction (see store.base)."""
    write = getattr(MongoRecords, name)

    async def method(self: MongoTransaction, *args: Any, **kwargs: Any) -> Any:
        try:
            return await write(self, *args, **kwargs)
        except StoreError as exc:
            self.failure = self.failure or exc
            raise

    method.__name__ = name
    method.__doc__ = write.__doc__
    return method


for _name in WRITES:
    setattr(MongoTransaction, _name, _dooming(_name))
