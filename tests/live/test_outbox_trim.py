"""live.outbox_trim: once an hour, events older than [live] event_history_days leave the outbox
(on both stores, through the ``store`` fixture); a client resuming from before them is sent a
snapshot; nothing is trimmed when the setting is 0."""

from __future__ import annotations

from typing import Any

from live.broker import store_history
from live.outbox_trim import DAY, TRIM_SECONDS, OutboxTrim
from store.base import Store

NOW = 1_760_000_000.0


def ev(n: int) -> tuple[str, str, dict[str, Any]]:
    return ("public", "question", {"n": n})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_old_events_go_once_an_hour_and_counters_stay(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s1", [ev(1), ev(2)], now=NOW - 8 * DAY)  # older than a week
        await tx.append_events("s1", [ev(3)], now=NOW - 6 * DAY)
    clock = Clock(NOW)
    trim = OutboxTrim(store, days=7, clock=clock)
    assert await trim.tick() == 2
    assert [e.seq for e in await store.events_since("s1", 0)] == [3]
    assert await store.last_event_seq("s1") == 3  # numbers are never handed out twice
    clock.now += TRIM_SECONDS / 2  # within the hour: no second pass
    assert await trim.tick() == 0
    clock.now += 2 * DAY  # the third event has grown old too
    assert await trim.tick() == 1
    assert await store.events_since("s1", 0) == []
    # A client resuming from before the trimmed events finds the range gone: a snapshot.
    assert await store_history(store, "s1", 0, 3) is None


async def test_zero_days_keeps_every_event(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.append_events("s1", [ev(1)], now=NOW - 400 * DAY)
    assert await OutboxTrim(store, days=0, clock=Clock(NOW)).tick() == 0
    assert [e.seq for e in await store.events_since("s1", 0)] == [1]
