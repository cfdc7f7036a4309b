"""The broker: how a node's numbered events reach the hubs that serve the broadcast.

A producer commits its events in the store (``live.eventlog``: the store numbers them in
the action's transaction) and then hands them to the node's ``Broker``. Two kinds:

* ``LocalBroker`` — one process: the events go straight into this process's hub, in the
  same call. Its epoch is new in every process, so a client of a restarted server reloads
  a snapshot.
* ``live.redis_broker.RedisBroker`` — several nodes: each publish goes through Redis (a
  Stream per broadcast, with the sequence number as the entry ID, plus a PUBLISH), and every
  node's subscriber hands the events to its own hub.

Either way the broker is the hub's ``History``: where a broadcast's channel starts (its epoch
and the store's last sequence number, read before any state a snapshot is built from) and
where it fetches events it missed — the broker's own history first, then the store.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from live.hub import History, Hub, Numbered, numbered


class StoredEventLike(Protocol):
    """A committed event as the store returns it (``store`` ``StoredEvent``)."""

    @property
    def seq(self) -> int: ...

    @property
    def audience(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


class EventStore(Protocol):
    """The store's reads of its event outbox."""

    async def events_since(self, session_id: str, after_seq: int,
                           limit: int) -> Sequence[Any]: ...

    async def last_event_seq(self, session_id: str) -> int: ...


def from_store(event: StoredEventLike) -> Numbered:
    return numbered(event.seq, event.audience, event.kind, event.data)


async def store_history(store: EventStore, session_id: str, after: int,
                        upto: int) -> list[Numbered] | None:
    """Events ``after`` < seq <= ``upto`` from the store: the run that follows ``after``
    without a hole (shorter when the store has no more yet), or None when the store no longer
    has the first of them (trimmed: ``live.outbox_trim``). ``upto`` is a committed number, and
    numbers commit in order, so a store with none of them has trimmed them all."""
    if upto <= after:
        return []
    rows = await store.events_since(session_id, after, upto - after)
    if not rows:
        return None
    found: list[Numbered] = []
    for row in rows:
        if row.seq > upto:
            break
        if row.seq != after + len(found) + 1:
            return found if found else None
        found.append(from_store(row))
    return found


class Broker(History, Protocol):
    """What producers publish to after their commit, and what the hub reads history from."""

    def publish(self, session_id: str, events: Sequence[Numbered]) -> None:
        """Hand committed events on, without waiting (never raises for a delivery failure:
        the events are in the store, and the hubs fetch what they miss)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalBroker:
    """One process: delivery is a call into this process's hub."""

    def __init__(self, hub: Hub, store: EventStore) -> None:
        self.hub = hub
        self.store = store
        self.epoch = secrets.token_hex(4)

    def publish(self, session_id: str, events: Sequence[Numbered]) -> None:
        self.hub.deliver(session_id, self.epoch, events)

    async def position(self, session_id: str) -> tuple[str, int]:
        return self.epoch, await self.store.last_event_seq(session_id)

    async def history(self, session_id: str, after: int, upto: int) -> list[Numbered] | None:
        return await store_history(self.store, session_id, after, upto)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
