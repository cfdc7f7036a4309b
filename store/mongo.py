"""MongoDB backend: the store for deployments that run a replica set (or any server that
speaks the MongoDB wire protocol), through PyMongo's native asyncio client.

What this module owns, and why:

* **Mapping.** Records become documents generically, from the declarations in
  ``store.records``: ``_id`` is the record's ``id``, every other field is stored as is
  (lists and dicts natively, no JSON encoding), and documents become records again on the
  way out. A field added to a record type with a default needs no migration here: documents
  written before it simply take the default.
* **Durability.** Every write uses the configured write concern (``w`` = ``"majority"``
  or 1, with ``j`` = journal), set on the database, so a write is acknowledged only once
  it would survive what the operator asked it to survive (``"majority"``: a primary
  failover). Unacknowledged writes (``w=0``) are refused: they could not report a
  duplicate key, nor back the promise that an acknowledged question is stored.
* **Atomicity without transactions.** Every state change that must not race is a single
  conditional ``findAndModify``: version-checked updates, counters, job claims under a
  lease (``lease_owner``/``lease_expires``: a worker that dies simply lets its lease run
  out and another worker takes the job over) and finishing a job only while still holding
  the lease. Question retries are made idempotent by the unique
  ``(viewer_id, client_id)`` index, not by a read-then-write.
* **Indexes.** ``open()`` creates the indexes the queries of the rest of the app rely on,
  including the unique ones the contract's ``Conflict`` depends on.
* **Errors.** No PyMongo (or BSON) exception leaves this module: duplicate keys become
  ``Conflict``, everything else from the driver ``StoreUnavailable`` with a message an
  operator can act on, in which the connection string's password is masked.
"""

from __future__ import annotations

import contextlib
import logging
import time
import typing
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote

from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from settings import mask_uri
from store.base import (
    Conflict,
    NotFound,
    Store,
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
Document = dict[str, Any]

DUPLICATE_KEY = 11000
_MONGO_OPS = {
    "eq": "$eq", "in": "$in", "ne": "$ne", "lt": "$lt", "lte": "$lte", "gt": "$gt",
    "gte": "$gte",
}

# Every index the app's queries rely on, per collection. The unique ones back ``Conflict``.
INDEXES: dict[str, list[IndexModel]] = {
    "staff_users": [IndexModel([("name", ASCENDING)], unique=True)],
    "questions": [
        IndexModel([("viewer_id", ASCENDING), ("client_id", ASCENDING)], unique=True),
        IndexModel([("session_id", ASCENDING), ("state", ASCENDING), ("created_at", ASCENDING)]),
    ],
    "login_sessions": [
        IndexModel([("user_id", ASCENDING)]),
        IndexModel([("expires_at", ASCENDING)]),
    ],
    "audit_log": [
        IndexModel([("at", ASCENDING)]),
        IndexModel([("actor", ASCENDING), ("at", ASCENDING)]),
        IndexModel([("action", ASCENDING), ("at", ASCENDING)]),
    ],
    "broadcasts": [IndexModel([("status", ASCENDING), ("scheduled_start", ASCENDING)])],
    "clips": [
        IndexModel([("session_id", ASCENDING)]),
        IndexModel([("question_id", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("published_at", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("views", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("item_id", ASCENDING), ("published_at", ASCENDING)]),
    ],
    "clip_views": [IndexModel([("day", ASCENDING)])],
    "search_misses": [IndexModel([("count", ASCENDING)])],
    "jobs": [IndexModel([("state", ASCENDING), ("run_after", ASCENDING)])],
}


# --- records <-> documents ------------------------------------------------------------------


_FIELD_TYPES: dict[type[Any], dict[str, Any]] = {}


def _field_types(cls: type[Any]) -> dict[str, Any]:
    """Each field's resolved annotation (records use postponed annotations)."""
    types = _FIELD_TYPES.get(cls)
    if types is None:
        hints = typing.get_type_hints(cls)
        types = _FIELD_TYPES[cls] = {name: hints[name] for name in field_names(cls)}
    return types


def _encode(cls: type[Any], name: str, value: Any) -> Any:
    """A field value as stored: ints in float fields become doubles (as SQLite's REAL
    affinity does), so every document holds one BSON type per field; ints compared with a
    bool field (``{"pinned": 1}``) become bools, which SQLite's 0/1 would have matched."""
    kind = _field_types(cls).get(name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is bool and isinstance(value, int):
        return bool(value)
    return value


def _to_doc(record: Any) -> Document:
    cls = type(record)
    doc: Document = {}
    for name, value in to_dict(record).items():
        doc["_id" if name == "id" else name] = _encode(cls, name, value)
    return doc


def _from_doc(cls: type[R], doc: Document) -> R:
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for name in types:
        key = "_id" if name == "id" else name
        if key in doc:
            values[name] = _encode(cls, name, doc[key])
    try:
        return cls(**values)
    except TypeError as exc:  # a document written by hand, or by a future schema
        raise StoreUnavailable(
            f"MongoDB document {doc.get('_id')!r} in {cls.collection} "  # type: ignore[attr-defined]
            f"is not a valid {cls.__name__}: {exc}"
        ) from exc


def _key(name: str) -> str:
    return "_id" if name == "id" else name


def _filter(cls: type[Any], where: dict[str, Any] | None) -> Document:
    """A MongoDB filter from a validated ``where``: only known fields, only scalar values,
    only the operators in ``_MONGO_OPS`` — nothing from outside reaches the query as an
    operator."""
    conditions: Document = {}
    for name, op, value in parse_where(cls, where):
        if op == "in":
            value = [_encode(cls, name, item) for item in value]
        else:
            value = _encode(cls, name, value)
        conditions.setdefault(_key(name), {})[_MONGO_OPS[op]] = value
    return conditions


def _sort(cls: type[Any], order_by: Sequence[str]) -> list[tuple[str, int]]:
    sort = [(_key(name), DESCENDING if desc else ASCENDING)
            for name, desc in parse_order(cls, order_by)]
    if "_id" not in {key for key, _ in sort}:
        sort.append(("_id", ASCENDING))  # a tie-breaker, so equal keys page deterministically
    return sort


def _record_id(record_id: Any) -> str:
    # SQLite binds ids as parameters; here a dict id ({"$ne": ""}) would be a query operator.
    if not isinstance(record_id, str):
        raise ValueError(f"record ids are strings, not {type(record_id).__name__}")
    return record_id


def parse_write_concern(write_concern: str, journal: bool) -> WriteConcern:
    """``"majority"`` or a member count (``"1"``) and the journal flag as a WriteConcern.

    ``w=0`` is not offered: an unacknowledged write could not report a duplicate key or
    promise that an acknowledged question is stored, which the store contract requires."""
    w: int | str = int(write_concern) if write_concern.isdigit() else write_concern
    if w == 0:
        raise ValueError("write concern w=0 cannot keep the store's durability promise")
    return WriteConcern(w=w, j=journal)


def _short(exc: BaseException) -> str:
    """The driver's message without the topology dump PyMongo appends to timeouts."""
    text = str(exc)
    if isinstance(exc, OperationFailure) and isinstance(exc.details, dict):
        text = str(exc.details.get("errmsg") or text)
    text = text.split(", Timeout:")[0].split("Topology Description:")[0]
    return text.strip().rstrip(",") or type(exc).__name__


class MongoStore(Store):
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
        self._db: AsyncDatabase[Document] | None = None

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
                self._scrub(f"MongoDB {action} failed: {_short(exc)} (code {exc.code})")
            ) from exc
        except ConnectionFailure as exc:
            raise StoreUnavailable(self._scrub(
                f"MongoDB at {self.masked_uri} could not be reached within "
                f"{self.timeout_ms} ms ({action}): {_short(exc)}"
            )) from exc
        except PyMongoError as exc:
            raise StoreUnavailable(
                self._scrub(f"MongoDB {action} failed: {_short(exc)}")
            ) from exc
        except (BSONError, OverflowError) as exc:
            # A value BSON cannot hold (a non-string dict key, an int beyond 64 bits): the
            # caller's data is wrong, as with SQLite's JSON encoding of such values.
            raise ValueError(f"cannot store that value in MongoDB ({action}): {exc}") from exc

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def database(self) -> AsyncDatabase[Document]:
        """The open database (its collections carry the configured write concern)."""
        if self._db is None:
            raise StoreUnavailable("the MongoDB store is closed")
        return self._db

    def _collection(self, cls: type[Any]) -> AsyncCollection[Document]:
        return self.database[cls.collection]

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
                self._scrub(f"MongoDB URI {self.masked_uri} is not usable: {_short(exc)}")
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
                    f"{self.timeout_ms} ms: {_short(cause)}. Check that the server is "
                    "running and that [store] mongodb_uri (or TIPPOCKET_MONGODB_URI) "
                    "points at it."
                )) from cause
            raise StoreUnavailable(
                f"MongoDB at {self.masked_uri} refused the connection: {exc}"
            ) from cause
        self._client = client
        self._db = client.get_database(self.database_name, write_concern=self.write_concern)
        try:
            for name, models in INDEXES.items():
                with self._errors(f"creating the indexes of {self.database_name}.{name}"):
                    await self._db[name].create_indexes(models)
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

    # --- generic records ------------------------------------------------------------------

    async def insert(self, record: R) -> R:
        cls = type(record)
        doc = _to_doc(record)
        with self._errors(f"insert into {cls.collection}", cls):  # type: ignore[attr-defined]
            await self._collection(cls).insert_one(doc)
        return record

    async def get(self, cls: type[R], record_id: str) -> R:
        with self._errors(f"read from {cls.collection}"):  # type: ignore[attr-defined]
            doc = await self._collection(cls).find_one({"_id": _record_id(record_id)})
        if doc is None:
            raise NotFound(f"no {cls.__name__} {record_id}")
        return _from_doc(cls, doc)

    async def find(
        self,
        cls: type[R],
        where: dict[str, Any] | None = None,
        *,
        order_by: Sequence[str] = ("created_at",),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        query = _filter(cls, where)
        sort = _sort(cls, order_by)
        # SQLite semantics: a negative limit means none, LIMIT 0 means no rows (MongoDB's
        # limit(0) would mean "no limit"), a negative offset means none.
        if limit is not None and limit < 0:
            limit = None
        if limit == 0:
            return []
        with self._errors(f"read from {cls.collection}"):  # type: ignore[attr-defined]
            cursor = self._collection(cls).find(
                query, sort=sort, skip=max(0, int(offset)), limit=int(limit or 0)
            )
            docs = await cursor.to_list()
        return [_from_doc(cls, doc) for doc in docs]

    async def count(self, cls: type[Any], where: dict[str, Any] | None = None) -> int:
        query = _filter(cls, where)
        with self._errors(f"count in {cls.collection}"):
            return int(await self._collection(cls).count_documents(query))

    async def _modify(
        self, cls: type[R], query: Document, update: Document, action: str,
        sort: list[tuple[str, int]] | None = None,
    ) -> R | None:
        """One atomic findAndModify; the record after the change, or None if nothing
        matched."""
        with self._errors(action, cls):
            doc = await self._collection(cls).find_one_and_update(
                query, update, sort=sort, return_document=ReturnDocument.AFTER
            )
        return None if doc is None else _from_doc(cls, doc)

    def _changes(
        self, cls: type[Any], changes: dict[str, Any], now: float,
        increments: dict[str, int] | None = None,
    ) -> Document:
        sets = {name: _encode(cls, name, value) for name, value in changes.items()}
        if "updated_at" in field_names(cls):
            sets["updated_at"] = float(now)
        # Counters alone leave the version be (see Store.increment).
        update: Document = {"$inc": {**(increments or {}), **({"version": 1} if changes else {})}}
        if sets:  # an empty $set is an error before MongoDB 5.0
            update["$set"] = sets
        return update

    async def update(
        self, cls: type[R], record_id: str, changes: dict[str, Any], *,
        expected_version: int | None = None, now: float,
    ) -> R:
        check_changes(cls, changes)
        query: Document = {"_id": _record_id(record_id)}
        if expected_version is not None:
            query["version"] = expected_version
        action = f"update of {cls.__name__} {record_id}"
        updated = await self._modify(cls, query, self._changes(cls, changes, now), action)
        if updated is not None:
            return updated
        current = await self.get(cls, record_id)  # NotFound when it is gone
        raise VersionConflict(f"{cls.__name__} {record_id} was changed meanwhile", current)

    async def delete(self, cls: type[Any], record_id: str) -> bool:
        with self._errors(f"deleting in {cls.collection}"):
            result = await self._collection(cls).delete_one({"_id": _record_id(record_id)})
        return result.deleted_count > 0

    async def delete_where(self, cls: type[Any], where: dict[str, Any]) -> int:
        query = _filter(cls, where)
        if not query:
            raise ValueError("delete_where needs a condition")
        with self._errors(f"deleting in {cls.collection}"):
            result = await self._collection(cls).delete_many(query)
        return int(result.deleted_count)

    # --- operations with their own atomicity ----------------------------------------------

    async def insert_question(self, question: Question) -> tuple[Question, bool]:
        key = {"viewer_id": question.viewer_id, "client_id": question.client_id}
        for _attempt in range(3):
            try:
                return await self.insert(question), True
            except Conflict:
                # The unique (viewer_id, client_id) index refused it: the first copy is
                # stored (the server wrote it before refusing ours), so read it back — with
                # read concern "local", since under "majority" (settable in the URI) the
                # first copy may not be visible yet while its own write concern waits.
                questions = self._collection(Question).with_options(
                    read_concern=ReadConcern("local")
                )
                with self._errors("read from questions"):
                    existing = await questions.find_one(key)
                if existing is not None:
                    return _from_doc(Question, existing), False
                # Deleted in between, or the clash was on the question id: try once more.
        raise Conflict(f"question {question.id} clashes with a stored question")

    async def increment(
        self, cls: type[R], record_id: str, field_name: str, by: int, *, now: float
    ) -> R:
        check_changes(cls, {field_name: by})
        update = self._changes(cls, {}, now, {field_name: by})
        action = f"increment of {cls.__name__}.{field_name}"
        updated = await self._modify(cls, {"_id": _record_id(record_id)}, update, action)
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
        self, job_id: str, worker: str, *, now: float, error: str = "",
        retry_at: float | None = None,
    ) -> Job:
        job = await self.get(Job, job_id)
        if job.state != "running" or job.lease_owner != worker:
            raise VersionConflict(f"job {job_id} is not held by {worker}", job)
        state, run_after = job_outcome(job, error, retry_at)
        # Conditional on the lease still being ours and on the version we decided from.
        query: Document = {
            "_id": job_id, "state": "running", "lease_owner": worker, "version": job.version,
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
