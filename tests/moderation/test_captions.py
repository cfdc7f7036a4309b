"""The caption track as a unit of work: a line and its audit entry are stored together or not
at all, and only a stored line is published (a real store whose transaction fails part-way)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from live.events import Event
from moderation.audit import Audit
from moderation.captions import CaptionTrack
from moderation.questions import Refused
from store.base import Store
from store.records import AuditEntry, Caption
from tests.events_support import collecting
from tests.moderation.faults import FaultyStore


async def always_live(session_id: str) -> bool:
    return True


def track(store: Any, sent: list[Event]) -> CaptionTrack:
    def publish(session_id: str, events: Iterable[Event]) -> None:
        sent.extend(events)

    return CaptionTrack(store, collecting(store, publish), max_chars=50, is_live=always_live,
                        audit=Audit(), by="cap")


@pytest.mark.parametrize("fail_at", [1, 2, 3])  # the line, its audit entry, its events
async def test_a_failed_write_keeps_nothing_and_sends_nothing(store: Store,
                                                              fail_at: int) -> None:
    sent: list[Event] = []
    with pytest.raises(Refused) as refused:
        await track(FaultyStore(store, fail_at=fail_at), sent).submit("s1", "民警：您好", 1.0)
    assert refused.value.code == "unavailable"
    assert await store.count(Caption) == 0 and await store.count(AuditEntry) == 0
    assert sent == []
    line = await track(store, sent).submit("s1", "民警：您好", 2.0)
    assert await store.find(Caption, order_by=["at"]) == [line]
    assert await store.count(AuditEntry) == 1
    assert [(e.audience, e.kind) for e in sent] == [("public", "caption"), ("staff", "caption")]
