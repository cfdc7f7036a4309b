"""MongoDB records: every record operation, and the translation of driver errors.

``MongoRecords`` implements the store interface for a database and an optional client
session: the store (``store.mongo.MongoStore``) runs without one, a transaction handle with
the session its transaction runs in, so every operation is written once.

* **Atomicity outside transactions.** Every state change that must not race is a single
  conditional ``findAndModify``: version-checked updates, counters, job claims under a lease
  (``lease_owner``/``lease_expires``: a worker that dies simply lets its lease run out and
  another worker takes the job over) and finishing a job only while still holding the
  lease. Question retries are made idempotent by the unique
  ``(session_id, viewer_id, client_id)`` index, not by a read-then-write.
* **Errors.** No PyMongo (or BSON) exception leaves this module: duplicate keys become
  ``Conflict``, everything else from the driver ``StoreUnavailable`` with a message an
  operator can act on, in which the connection string's password is masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote

from bson.errors import BSONError
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern

from store.aggregates_mongo import MongoAggregates
from store.base import (
    Conflict,
    NotFound,
    Store,
    StoreUnavailable,
    VersionConflict,
    check_changes,
    job_outcome,
    refuse_direct_write,
)
from store.mongo_docs import (
    DUPLICATE_KEY,
    Document,
    check_id,
    encode,
    filter_of,
    from_doc,
    short,
    sort_of,
    to_doc,
)
from store.mongo_events import MongoEvents
from store.records import Job, Question, field_names

R = TypeVar("R")


class MongoRecords(MongoAggregates, MongoEvents, Store):
    """The record operations over ``_db``, inside ``_session`` when there is one."""

    _uri: str
    masked_uri: str
    timeout_ms: int
    _db: AsyncDatabase[Document] | None
    _session: AsyncClientSession | None = None

    # --- errors ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Mask the URI's password wherever a driver message might have quoted it."""
        text = text.replace(self._uri, self.masked_uri)
        _scheme, sep, rest = self._uri.partition("://")
        creds = rest.rpartition("@")[0] if sep else ""
        if ":" in creds:
            password = creds.split(":", 1)[1]
            for secret in {password, unquote(password)}:
                if secret:
                    text = text.replace(secret, "***")
        return text

    @contextlib.contextmanager
    def _errors(self, action: str, cls: type[Any] | None = None) -> Iterator[None]:
        """Translate driver exceptions raised by the body into the store's errors."""
        try:
            yield
        except OperationFailure as exc:
            if exc.code == DUPLICATE_KEY:
                details = exc.details if isinstance(exc.details, dict) else {}
                keys = ", ".join(details.get("keyPattern") or {}) or "a unique key"
                what = cls.__name__ if cls else "record"
                raise Conflict(f"{what} already exists (duplicate {keys})") from exc
            raise StoreUnavailable(
                self._scrub(f"MongoDB {action} failed: {short(exc)} (code {exc.code})")
            ) from exc
        except ConnectionFailure as exc:
            raise StoreUnavailable(self._scrub(
                f"MongoDB at {self.masked_uri} could not be reached within "
                f"{self.timeout_ms} ms ({action}): {short(exc)}"
            )) from exc
        except PyMongoError as exc:
            raise StoreUnavailable(
                self._scrub(f"MongoDB {action} failed: {short(exc)}")
            ) from exc
        except (BSONError, OverflowError) as exc:
            # A value BSON cannot hold (a non-string dict key, an int beyond 64 bits): the
            # caller's data is wrong, as with SQLite's JSON encoding of such values.
            raise ValueError(f"cannot store that value in MongoDB ({action}): {exc}") from exc

    # --- access ---------------------------------------------------------------------------

    @property
    def database(self) -> AsyncDatabase[Document]:
        """The open database (its collections carry the configured write concern)."""
        if self._db is None:
            raise StoreUnavailable("the MongoDB store is closed")
        return self._db

    def _collection(self, cls: type[Any]) -> AsyncCollection[Document]:
        return self.database[cls.collection]

    def _writing(self, cls: type[Any]) -> AsyncCollection[Document]:
        """The collection to write to, refusing a direct write from inside a transaction
        the caller holds (see ``store.base``)."""
        if self._session is None:
            refuse_direct_write(self)
        return self._collection(cls)

    # --- generic records ------------------------------------------------------------------

    async def insert(self, record: R) -> R:
        cls = type(record)
        doc = to_doc(record)
        collection = self._writing(cls)
        with self._errors(f"insert into {cls.collection}", cls):  # type: ignore[attr-defined]
            await collection.insert_one(doc, session=self._session)
        return record

    async def get(self, cls: type[R], record_id: str) -> R:
        with self._errors(f"read from {cls.collection}"):  # type: ignore[attr-defined]
            doc = await self._collection(cls).find_one({"_id": check_id(record_id)},
                                                       session=self._session)
        if doc is None:
            raise NotFound(f"no {cls.__name__} {record_id}")
        return from_doc(cls, doc)

    async def find(
        self,
        cls: type[R],
        where: dict[str, Any] | None = None,
        *,
        order_by: Sequence[str] = ("created_at",),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        query = filter_of(cls, where)
        sort = sort_of(cls, order_by)
        # SQLite semantics: a negative limit means none, LIMIT 0 means no rows (MongoDB's
        # limit(0) would mean "no limit"), a negative offset means none.
        if limit is not None and limit < 0:
            limit = None
        if limit == 0:
            return []
        with self._errors(f"read from {cls.collection}"):  # type: ignore[attr-defined]
            cursor = self._collection(cls).find(
                query, sort=sort, skip=max(0, int(offset)), limit=int(limit or 0),
                session=self._session,
            )
            docs = await cursor.to_list()
        return [from_doc(cls, doc) for doc in docs]

    async def count(self, cls: type[Any], where: dict[str, Any] | None = None) -> int:
        query = filter_of(cls, where)
        with self._errors(f"count in {cls.collection}"):
            return int(await self._collection(cls).count_documents(query,
                                                                   session=self._session))

    async def _modify(
        self, cls: type[R], query: Document, update: Document, action: str,
        sort: list[tuple[str, int]] | None = None,
    ) -> R | None:
        """One atomic findAndModify; the record after the change, or None if nothing
        matched."""
        collection = self._writing(cls)
        with self._errors(action, cls):
            doc = await collection.find_one_and_update(
                query, update, sort=sort, return_document=ReturnDocument.AFTER,
                session=self._session,
            )
        return None if doc is None else from_doc(cls, doc)

    def _changes(
        self, cls: type[Any], changes: dict[str, Any], now: float,
        increments: dict[str, int] | None = None, *, bump_version: bool = True,
    ) -> Document:
        sets = {name: encode(cls, name, value) for name, value in changes.items()}
        if "updated_at" in field_names(cls):
            sets["updated_at"] = float(now)
        # Counters alone leave the version be (see Store.increment).
        bump = {"version": 1} if changes and bump_version else {}
        update: Document = {}
        if increments or bump:  # an empty $inc is refused like an empty $set
            update["$inc"] = {**(increments or {}), **bump}
        if sets:  # an empty $set is an error before MongoDB 5.0
            update["$set"] = sets
        return update

    async def update(
        self, cls: type[R], record_id: str, changes: dict[str, Any], *,
        expected_version: int | None = None, now: float, bump_version: bool = True,
    ) -> R:
        check_changes(cls, changes)
        query: Document = {"_id": check_id(record_id)}
        if expected_version is not None:
            query["version"] = expected_version
        action = f"update of {cls.__name__} {record_id}"
        changed = self._changes(cls, changes, now, bump_version=bump_version)
        updated = await self._modify(cls, query, changed, action)
        if updated is not None:
            return updated
        current = await self.get(cls, record_id)  # NotFound when it is gone
        raise VersionConflict(f"{cls.__name__} {record_id} was changed meanwhile", current)

    async def delete(self, cls: type[Any], record_id: str) -> bool:
        collection = self._writing(cls)
        with self._errors(f"deleting in {cls.collection}"):
            result = await collection.delete_one({"_id": check_id(record_id)},
                                                 session=self._session)
        return result.deleted_count > 0

    async def delete_where(self, cls: type[Any], where: dict[str, Any]) -> int:
        query = filter_of(cls, where)
        if not query:
            raise ValueError("delete_where needs a condition")
        collection = self._writing(cls)
        with self._errors(f"deleting in {cls.collection}"):
            result = await collection.delete_many(query, session=self._session)
        return int(result.deleted_count)

    # --- operations with their own atomicity ----------------------------------------------

    async def insert_question(self, question: Question) -> tuple[Question, bool]:
        key = {"session_id": question.session_id, "viewer_id": question.viewer_id,
               "client_id": question.client_id}
        if self._session is not None:
            # Inside a transaction a duplicate key would abort it: look first (the
            # transaction's snapshot), then insert; a racing retry makes this a Conflict.
            with self._errors("read from questions"):
                existing = await self._collection(Question).find_one(key,
                                                                     session=self._session)
            if existing is not None:
                return from_doc(Question, existing), False
            return await self.insert(question), True
        for _attempt in range(3):
            try:
                return await self.insert(question), True
            except Conflict:
                # The unique key refused it: the first copy is stored (the server wrote it
                # before refusing ours), so read it back — with read concern "local", since
                # under "majority" (settable in the URI) the first copy may not be visible
                # yet while its own write concern waits.
                questions = self._collection(Question).with_options(
                    read_concern=ReadConcern("local")
                )
                with self._errors("read from questions"):
                    existing = await questions.find_one(key)
                if existing is not None:
                    return from_doc(Question, existing), False
                # Deleted in between, or the clash was on the question id: try once more.
        raise Conflict(f"question {question.id} clashes with a stored question")

    async def increment(
        self, cls: type[R], record_id: str, field_name: str, by: int, *, now: float
    ) -> R:
        check_changes(cls, {field_name: by})
        update = self._changes(cls, {}, now, {field_name: by})
        action = f"increment of {cls.__name__}.{field_name}"
        updated = await self._modify(cls, {"_id": check_id(record_id)}, update, action)
        if updated is None:
            raise NotFound(f"no {cls.__name__} {record_id}")
        return updated

    async def claim_job(
        self, worker: str, now: float, lease_seconds: float, kinds: Iterable[str]
    ) -> Job | None:
        kinds = list(kinds)
        if not kinds:
            return None
        query: Document = {
            "kind": {"$in": kinds},
            "$or": [
                {"state": "queued", "run_after": {"$lte": now}},
                {"state": "running", "lease_expires": {"$lt": now}},
            ],
        }
        update: Document = {
            "$set": {
                "state": "running", "lease_owner": worker,
                "lease_expires": float(now + lease_seconds), "updated_at": float(now),
            },
            "$inc": {"attempts": 1, "version": 1},
        }
        sort = [("run_after", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]
        return await self._modify(Job, query, update, "claiming a job", sort)

    async def finish_job(
        self, job_id: str, worker: str, *, attempt: int, now: float, error: str = "",
        retry_at: float | None = None,
    ) -> Job:
        job = await self.get(Job, job_id)
        if job.state != "running" or job.lease_owner != worker or job.attempts != attempt:
            raise VersionConflict(f"job {job_id} attempt {attempt} is not held by {worker}",
                                  job)
        state, run_after = job_outcome(job, error, retry_at)
        # Conditional on the lease still being ours and on the version we decided from.
        query: Document = {
            "_id": job_id, "state": "running", "lease_owner": worker, "attempts": attempt,
            "version": job.version,
        }
        update: Document = {
            "$set": {
                "state": state, "run_after": float(run_after), "last_error": error,
                "lease_owner": "", "lease_expires": 0.0, "updated_at": float(now),
            },
            "$inc": {"version": 1},
        }
        finished = await self._modify(Job, query, update, f"finishing job {job_id}")
        if finished is None:
            current = await self.get(Job, job_id)
            raise VersionConflict(f"job {job_id} is not held by {worker}", current)
        return finished
