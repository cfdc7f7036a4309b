"""What producers call to send events: appended in the action's transaction, published after.

An event exists once its transaction commits: the store gives it the broadcast's next
sequence number in the same transaction as the change it describes (the outbox,
``Store.append_events``), so no event is ever sent for a change that did not happen, and
none is lost for a change that did (a node that commits and dies before publishing is
covered by ``live.relay``). A producer with a transaction of its own::

    async with store.transaction() as tx:
        ...  # its writes
        pending = await log.append(tx, session_id, events)
    log.publish(pending)  # after the commit: never waits, never raises

and one without (a broadcast's change reported by another part, a recorder's health)::

    await log.emit(session_id, events)  # its own transaction, then publish

If the transaction fails nothing is published and the store's error reaches the producer,
which tells the sender ``unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from live.broker import Broker
from live.events import Event
from live.frames import Numbered, numbered

log = logging.getLogger(__name__)


class EventTransaction(Protocol):
    """The store's transaction handle, as far as appending events goes."""

    async def append_events(self, session_id: str,
                            events: list[tuple[str, str, dict[str, Any]]]) -> Any: ...


class EventStoreTx(Protocol):
    def transaction(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Pending:
    """Events committed (or about to be) with their numbers, waiting to be published."""

    session_id: str
    events: tuple[Numbered, ...] = ()


def as_event(event: Numbered) -> Event:
    """The vocabulary event a numbered one carries (for listeners and tests)."""
    body = event.frame.body()
    kind = body.pop("kind")
    body.pop("type", None)
    body.pop("seq", None)
    return Event(event.audience, kind, body)


def rows(events: Iterable[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    """Events as the store's outbox takes them: (audience, kind, data)."""
    return [(e.audience, e.kind, e.data) for e in events]


class EventLog:
    def __init__(self, store: EventStoreTx, broker: Broker) -> None:
        self.store = store
        self.broker = broker
        # ``emit`` calls commit one at a time, in the order they were made.
        self._emitting = asyncio.Lock()
        self._later: set[asyncio.Task[None]] = set()

    async def append(self, tx: EventTransaction, session_id: str,
                     events: Iterable[Event]) -> Pending:
        """Append ``events`` in the open transaction ``tx``; publish the result after the
        commit with ``publish``."""
        found = list(events)
        if not found:
            return Pending(session_id)
        seqs: Sequence[int] = await tx.append_events(session_id, rows(found))
        return self.numbered(session_id, found, seqs)

    @staticmethod
    def numbered(session_id: str, events: Sequence[Event], seqs: Sequence[int]) -> Pending:
        """The events the store has just numbered ``seqs`` (for a producer that appended
        them in a store operation of its own, e.g. ``Store.insert_question_with_events``)."""
        if not events or not seqs:
            return Pending(session_id)
        first = int(seqs[0])
        return Pending(session_id, tuple(numbered(first + i, e.audience, e.kind, e.data)
                                         for i, e in enumerate(events)))

    def publish(self, *pending: Pending) -> None:
        """Hand committed events to the broker (never waits; delivery failures are the
        broker's to recover from)."""
        for p in pending:
            if p.events:
                self.broker.publish(p.session_id, p.events)

    async def emit(self, session_id: str, events: Iterable[Event]) -> Pending:
        """Append ``events`` in a transaction of their own, then publish them. Raises the
        store's error (nothing published) when the transaction fails."""
        found = list(events)
        if not found:
            return Pending(session_id)
        async with self._emitting, self.store.transaction() as tx:
            pending = await self.append(tx, session_id, found)
        self.publish(pending)
        return pending

    def emit_later(self, session_id: str, events: Iterable[Event]) -> None:
        """``emit`` from code that cannot wait (a callback after someone else's commit, a
        recorder's health): a store failure is logged, the events are not sent (the change
        itself stands, and a snapshot shows it). A ``live.events.Publish``."""
        found = list(events)
        if not found:
            return
        task = asyncio.get_running_loop().create_task(self._emit_logged(session_id, found))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _emit_logged(self, session_id: str, events: list[Event]) -> None:
        try:
            await self.emit(session_id, events)
        except Exception as exc:
            log.warning("%d events of %s not sent: %s", len(events), session_id, exc)

    async def drain(self) -> None:
        """Wait for the ``emit_later`` calls under way (at shutdown)."""
        if self._later:
            await asyncio.wait(tuple(self._later), timeout=2.0)
