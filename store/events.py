"""The event outbox (issue 13): each action's events, numbered per session inside the
action's own transaction.

An action appends its events with ``tx.append_events(session_id, [(audience, kind, data),
...])`` inside ``store.transaction()``, beside its other writes. They take consecutive
sequence numbers from a per-session counter that lives in the same transaction, so:

* the numbers of one session are 1, 2, 3, ... with no gap and no repeat, whichever node or
  task appended them (a counter row on SQLite's single writer; a counter document moved by
  ``$inc`` in the MongoDB transaction, where two nodes' transactions on one session conflict
  and one of them aborts with nothing applied);
* an event exists exactly when the action committed, and an aborted transaction takes its
  numbers back (the counter rolls back with it);
* after the commit the producer publishes the numbered events; anything that reads the
  outbox later (``events_since``, MongoDB's ``watch_events``) sees the same numbers.

One row (document) per event: ``events_since`` pages by seq, and a reader that resumes
after seq n needs no unpacking. ``trim_events`` removes old events but never the counter,
so a number is never reused. ``data`` is the event's fields as JSON (a dict of JSON values).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# One event to append: (audience, kind, data).
NewEvent = tuple[str, str, Mapping[str, Any]]
# A change stream's resume token (opaque: saved and handed back as it came).
ResumeToken = Mapping[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """One committed event of a session's outbox."""

    session_id: str
    seq: int
    audience: str
    kind: str
    data: dict[str, Any]
    created_at: float


def check_new_events(session_id: str, events: Sequence[NewEvent]
                     ) -> list[tuple[str, str, dict[str, Any]]]:
    """Validate the arguments of ``append_events`` before anything is written."""
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("events belong to a session: session_id must be a non-empty string")
    checked: list[tuple[str, str, dict[str, Any]]] = []
    for event in events:
        audience, kind, data = event
        if not isinstance(audience, str) or not isinstance(kind, str) or not kind:
            raise ValueError(f"an event needs a string audience and kind, not {event!r}")
        if not isinstance(data, Mapping):
            raise ValueError(f"an event's data is a mapping of its fields, not {data!r}")
        checked.append((audience, kind, dict(data)))
    return checked


def refuse_outside_transaction() -> None:
    raise RuntimeError(
        "append_events runs only inside store.transaction(): events are numbered in the "
        "transaction of the action that produced them")


class StoreEvents(abc.ABC):
    """The outbox half of the store interface (mixed into ``store.base.Store``)."""

    @abc.abstractmethod
    async def append_events(self, session_id: str, events: Sequence[NewEvent], *,
                            now: float | None = None) -> range:
        """Append ``events`` to the session's outbox, numbered from its counter: returns the
        seqs they took, ``range(first, last + 1)`` (empty for no events, and then nothing
        is written). Only on a transaction handle: on the store it raises RuntimeError.
        ``now`` (default: the clock) is each event's ``created_at``."""

    @abc.abstractmethod
    async def events_since(self, session_id: str, after_seq: int, limit: int = 1000
                           ) -> list[StoredEvent]:
        """The session's committed events with seq > ``after_seq``, in seq order, at most
        ``limit`` of them (fewer at the end, or where old ones were trimmed)."""

    @abc.abstractmethod
    async def last_event_seq(self, session_id: str) -> int:
        """The last seq the session's counter handed out (0 if none): trimming does not
        lower it."""

    @abc.abstractmethod
    async def trim_events(self, older_than: float) -> int:
        """Remove events created before ``older_than`` (epoch seconds); returns how many.
        Counters stay, so numbers are never reused."""

    def watch_events(self, resume_token: ResumeToken | None = None
                     ) -> AsyncIterator[tuple[StoredEvent, ResumeToken]]:
        """Newly committed events as they commit, each with the token to resume after it
        (a change stream; MongoDB only). ``resume_token=None`` starts from now.

        SQLite has none: one process owns the file, and its producer publishes every event
        it commits itself, so there is no other node's commit to follow."""
        raise NotImplementedError(f"the {type(self).__name__} backend has no change stream")
