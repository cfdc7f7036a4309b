"""``store.events`` on MongoDB, mixed into ``MongoRecords``: the outbox is the ``events``
collection (one document per event, unique on ``(session_id, seq)``) and each session's
counter a document of ``event_counters`` moved by ``$inc``.

Appending runs inside the caller's transaction (its client session): ``$inc`` on the counter
document, then the events inserted under the numbers it returned. The counter document is
the point two nodes' transactions on one session meet: the second to write it gets a write
conflict, its transaction aborts with nothing applied (``StoreUnavailable``), and the
numbers it would have taken stay free, so committed numbers have no gap and no repeat.

``watch_events`` follows a change stream on ``events`` (inserts only). A change stream
reports only majority-committed writes, in commit order, and each change carries a resume
token: a follower that saves the token of the last event it handled resumes exactly after
it, across restarts of either side.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from store.base import StoreUnavailable
from store.events import (
    NewEvent,
    ResumeToken,
    StoredEvent,
    StoreEvents,
    check_new_events,
    refuse_outside_transaction,
)

Document = dict[str, Any]
EVENTS = "events"
COUNTERS = "event_counters"

EVENT_INDEXES: dict[str, list[IndexModel]] = {
    EVENTS: [
        IndexModel([("session_id", ASCENDING), ("seq", ASCENDING)], unique=True),
        IndexModel([("created_at", ASCENDING)]),
    ],
}
# The server's codes for a resume token it can no longer resume from.
_RESUME_LOST = {260, 280, 286}


def _event(doc: Document) -> StoredEvent:
    return StoredEvent(session_id=str(doc["session_id"]), seq=int(doc["seq"]),
                       audience=str(doc["audience"]), kind=str(doc["kind"]),
                       data=dict(doc["data"]), created_at=float(doc["created_at"]))


class MongoEvents(StoreEvents):
    """The outbox operations over ``database``, inside ``_session`` when there is one."""

    _session: AsyncClientSession | None = None

    @property
    def database(self) -> AsyncDatabase[Document]:
        raise NotImplementedError  # MongoStore's

    def _errors(self, action: str, cls: type[Any] | None = None
                ) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError  # MongoStore's

    async def append_events(self, session_id: str, events: Sequence[NewEvent], *,
                            now: float | None = None) -> range:
        session = self._session
        if session is None:
            refuse_outside_transaction()
        checked = check_new_events(session_id, events)
        if not checked:
            return range(1, 1)
        at = time.time() if now is None else float(now)
        with self._errors(f"numbering events of session {session_id}"):
            counter = await self.database[COUNTERS].find_one_and_update(
                {"_id": session_id}, {"$inc": {"last_seq": len(checked)}}, upsert=True,
                return_document=ReturnDocument.AFTER, session=session)
        last = int(counter["last_seq"]) if counter else 0
        first = last - len(checked) + 1
        docs = [{"session_id": session_id, "seq": first + i, "audience": audience,
                 "kind": kind, "data": data, "created_at": at}
                for i, (audience, kind, data) in enumerate(checked)]
        with self._errors(f"appending events of session {session_id}"):
            await self.database[EVENTS].insert_many(docs, ordered=True, session=session)
        return range(first, last + 1)

    async def events_since(self, session_id: str, after_seq: int, limit: int = 1000
                           ) -> list[StoredEvent]:
        if limit <= 0:
            return []
        with self._errors(f"reading events of session {session_id}"):
            cursor = self.database[EVENTS].find(
                {"session_id": session_id, "seq": {"$gt": int(after_seq)}},
                sort=[("seq", ASCENDING)], limit=int(limit), session=self._session)
            return [_event(doc) async for doc in cursor]

    async def last_event_seq(self, session_id: str) -> int:
        with self._errors(f"reading the event counter of session {session_id}"):
            doc = await self.database[COUNTERS].find_one({"_id": session_id},
                                                         session=self._session)
        return int(doc["last_seq"]) if doc else 0

    async def trim_events(self, older_than: float) -> int:
        with self._errors("trimming events"):
            result = await self.database[EVENTS].delete_many(
                {"created_at": {"$lt": float(older_than)}}, session=self._session)
        return int(result.deleted_count)

    async def watch_events(self, resume_token: ResumeToken | None = None
                           ) -> AsyncIterator[tuple[StoredEvent, ResumeToken]]:
        if self._session is not None:
            raise RuntimeError("watch_events follows committed events: call it on the store")
        pipeline: list[Document] = [{"$match": {"operationType": "insert"}}]
        token = dict(resume_token) if resume_token is not None else None
        try:
            with self._errors("watching events"):
                async with await self.database[EVENTS].watch(
                        pipeline, resume_after=token) as stream:
                    async for change in stream:
                        yield _event(change["fullDocument"]), dict(change["_id"])
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, OperationFailure) and cause.code in _RESUME_LOST:
                raise StoreUnavailable(
                    f"cannot resume watching events from that token ({exc}); "
                    "start from now and catch up with events_since") from cause
            raise
