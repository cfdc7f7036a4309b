"""One process: the event log numbers events in the store's transaction and the LocalBroker
hands them to the hub; a failed transaction publishes nothing; events a producer committed
but never published are fetched from the store when the next one shows the gap."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from live.broker import LocalBroker
from live.eventlog import EventLog, as_event
from live.events import PUBLIC, SESSION, STAFF, Event
from live.frames import Connection, Frame
from live.hub import Hub
from store.base import Store, StoreError
from tests.support import until


class Outlet:
    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def send(self, frames: Sequence[Frame]) -> bool:
        self.frames.extend(frames)
        return True

    def seqs(self) -> list[int]:
        return [f.body()["seq"] for f in self.frames if f.body()["type"] == "event"]


def session_event(n: int, audience: str = PUBLIC) -> Event:
    return Event(audience, SESSION, {"session": {"n": n}})


async def test_events_are_numbered_in_the_transaction_and_published_after(
        store: Store) -> None:
    hub = Hub()
    broker = LocalBroker(hub, store)
    hub.history = broker
    log = EventLog(store, broker)
    await log.emit("s", [session_event(0)])  # before anyone watches: from the store later
    outlet = Outlet()
    await hub.attach(Connection("viewer", "s", outlet, viewer_id="v"), None, dict)
    assert outlet.frames[1].body() == {"type": "snapshot", "seq": 1}
    async with store.transaction() as tx:
        pending = await log.append(tx, "s", [session_event(1), session_event(2, STAFF)])
        assert outlet.seqs() == []  # nothing goes out before the commit
    log.publish(pending)
    assert [e.seq for e in pending.events] == [2, 3]
    assert outlet.seqs() == [2]
    assert as_event(pending.events[1]) == session_event(2, STAFF)
    with pytest.raises(StoreError):
        async with store.transaction() as tx:
            await log.append(tx, "s", [session_event(3)])
            raise StoreError("the action failed after its events were appended")
    assert await store.last_event_seq("s") == 3  # the failed one took no number
    # A producer that committed and never published (4): the next event (5) shows the gap,
    # and the channel fetches 4 from the store before delivering 5.
    async with store.transaction() as tx:
        await log.append(tx, "s", [session_event(4)])
    await log.emit("s", [session_event(5)])
    await until(lambda: outlet.seqs() == [2, 4, 5], "the gap filled from the store", 5)
    bodies = [f.body() for f in outlet.frames[-2:]]
    assert [b["session"]["n"] for b in bodies] == [4, 5]
    await hub.close()
