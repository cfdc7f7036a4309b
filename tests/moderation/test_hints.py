"""The understanding engine's hints follow a question's ack (moderation/hints.py), on a real
store: the ack does not wait for them, they arrive as an update of the question with the
staff event that shows it, a question a moderator acted on first is left as it was, and a
flood beyond the backlog keeps the keyword guess instead of queueing without bound."""

from __future__ import annotations

import time
from typing import Any

from moderation import hints
from store.base import Store
from store.records import Question
from store.sqlite_writer import Channel
from tests.moderation.test_service import MOD, Desk, desk

__all__ = ["desk"]  # the fixture


def engine_hints(calls: list[str]) -> Any:
    """Stands in for ``Understander.item_hints`` (a hook that takes text and flags): the
    engine itself is tested in tests/moderation/test_understanding*.py and, through this
    very path, in tests/web/test_ask.py."""

    def item_hints(text: str, flags: dict[str, Any]) -> None:
        calls.append(text)
        flags["suggested_items"] = [{"id": "license-renewal", "confidence": 0.91}]
        flags["understood"] = True

    return item_hints


async def test_hints_follow_the_ack_as_an_update_with_its_event(desk: Desk) -> None:
    calls: list[str] = []
    desk.moderation.item_hints = engine_hints(calls)
    q = await desk.ask("驾照快到期了在哪里换？")
    assert "suggested_items" not in q.flags and calls == []  # acked before the reading
    await desk.moderation.hints_settled()
    assert calls == [q.text]
    stored = await desk.store.get(Question, q.id)  # type: ignore[union-attr]
    assert stored.flags["suggested_items"][0]["id"] == "license-renewal"
    assert stored.version == q.version  # not a decision: actions quoting it still apply
    assert (await desk.board()).questions[q.id] == stored
    staff = [e.data["question"] for _, e in desk.events
             if e.kind == "question" and e.audience == "staff"]
    assert staff[-1]["flags"]["understood"] is True and staff[-1]["version"] == stored.version


async def test_a_question_acted_on_first_keeps_the_moderators_decision(desk: Desk) -> None:
    desk.moderation.item_hints = engine_hints([])
    q = await desk.ask("驾照快到期了在哪里换？")
    approved = await desk.approve(MOD, q)  # before the hints task has run
    await desk.moderation.hints_settled()
    stored = await desk.store.get(Question, q.id)  # type: ignore[union-attr]
    assert stored == approved and "suggested_items" not in stored.flags


async def test_a_flood_beyond_the_backlog_is_not_queued(desk: Desk, monkeypatch: Any) -> None:
    calls: list[str] = []
    monkeypatch.setattr(hints, "BACKLOG", 3)
    asked = [await desk.ask(f"第{i}个问题：驾照换证", viewer=f"v{i}") for i in range(6)]
    # Six new questions arrive faster than the engine reads (queued without a pause).
    desk.moderation.item_hints = engine_hints(calls)
    for q in asked:
        desk.moderation.queue_hints(q)
    await desk.moderation.hints_settled()
    assert calls == [q.text for q in asked[:3]]
    store: Store = desk.store  # type: ignore[assignment]
    hinted = [("suggested_items" in (await store.get(Question, q.id)).flags) for q in asked]
    assert hinted == [True] * 3 + [False] * 3


async def test_until_the_engine_is_built_the_keyword_guess_follows_the_ack(desk: Desk) -> None:
    desk.moderation.item_hints = lambda text, flags: None  # configured, not built yet
    q = await desk.ask("驾照快到期了在哪里换？")
    assert "suggested_item" not in q.flags  # nothing read before the ack
    await desk.moderation.hints_settled()
    stored = await desk.store.get(Question, q.id)  # type: ignore[union-attr]
    assert stored.flags["suggested_item"] == "license-renewal"
    assert stored.version == q.version


async def test_with_the_engine_the_duplicate_hint_follows_the_ack_too(desk: Desk) -> None:
    desk.moderation.item_hints = engine_hints([])
    first = await desk.ask("驾照快到期了在哪里换？", viewer="v1")
    again = await desk.ask("驾照快到期了，在哪里换呢", viewer="v2")
    assert "duplicate_of" not in again.flags  # not compared before the ack
    await desk.moderation.hints_settled()
    store: Store = desk.store  # type: ignore[assignment]
    assert (await store.get(Question, again.id)).flags["duplicate_of"] == first.id
    assert "duplicate_of" not in (await store.get(Question, first.id)).flags  # not itself,
    # nor the later one


async def test_without_an_engine_nothing_is_queued(desk: Desk) -> None:
    q = await desk.ask()
    assert q.flags["suggested_item"] == "license-renewal"  # the keyword guess, at once
    await desk.moderation.hints_settled()
    assert (await desk.store.get(Question, q.id)).version == q.version  # type: ignore[union-attr]


async def test_a_slice_of_hints_is_stored_in_one_transaction(desk: Desk,
                                                             monkeypatch: Any) -> None:
    asked = [await desk.ask(f"第{i}个问题：驾照换证", viewer=f"v{i}") for i in range(5)]
    desk.moderation.item_hints = engine_hints([])
    store: Store = desk.store  # type: ignore[assignment]
    opened = 0
    real = store.transaction

    def counted() -> Any:
        nonlocal opened
        opened += 1
        return real()

    monkeypatch.setattr(store, "transaction", counted)
    sent = 0  # on SQLite, what the block hands the writer thread
    real_send = Channel.send

    def counted_send(channel: Channel, item: Any) -> None:
        nonlocal sent
        sent += 1
        real_send(channel, item)

    monkeypatch.setattr(Channel, "send", counted_send)
    for q in asked:
        desk.moderation.queue_hints(q)
    await desk.moderation.hints_settled()
    assert opened == 1
    if store.backend == "sqlite":
        # The updates, the events, the commit: while a block is open the writer serves it
        # alone, so its operations must not be one loop round trip per question.
        assert sent == 3
    for q in asked:
        assert (await store.get(Question, q.id)).flags["suggested_items"]
    staff = {e.data["question"]["id"] for _, e in desk.events
             if e.kind == "question" and e.audience == "staff"
             and "suggested_items" in e.data["question"]["flags"]}
    assert staff == {q.id for q in asked}


async def test_a_conflict_in_a_slice_costs_the_other_questions_nothing(desk: Desk) -> None:
    asked = [await desk.ask(f"第{i}个问题：驾照换证", viewer=f"v{i}") for i in range(3)]
    store: Store = desk.store  # type: ignore[assignment]
    # Another node acts on the middle question: the store moves on, this node's board not.
    async with store.transaction() as tx:
        await tx.update(Question, asked[1].id, {"nickname": "x"},
                        expected_version=asked[1].version, now=1.0)
    desk.moderation.item_hints = engine_hints([])
    for q in asked:
        desk.moderation.queue_hints(q)
    await desk.moderation.hints_settled()
    hinted = [("suggested_items" in (await store.get(Question, q.id)).flags) for q in asked]
    assert hinted == [True, False, True]


async def test_in_a_flood_the_lane_rests_so_that_acks_come_first(desk: Desk,
                                                                 monkeypatch: Any) -> None:
    asked = [await desk.ask(f"第{i}个问题：驾照换证", viewer=f"v{i}") for i in range(4)]
    rests: list[float] = []
    real_rest = hints.rest

    async def recorded(seconds: float) -> None:
        rests.append(seconds)
        await real_rest(0)

    monkeypatch.setattr(hints, "rest", recorded)
    slow = engine_hints([])

    def reading_longer_than_a_slice(text: str, flags: dict[str, Any]) -> None:
        time.sleep(hints.SLICE_SECONDS * 1.5)  # the loop busy reading, as the engine keeps it
        slow(text, flags)

    desk.moderation.item_hints = reading_longer_than_a_slice
    for q in asked:
        desk.moderation.queue_hints(q)
    await desk.moderation.hints_settled()
    # A slice per question, a rest after each but the last, each at least three times the
    # slice's reading (SHARE = 1/4 of the loop).
    assert len(rests) == len(asked) - 1
    assert min(rests) >= hints.SLICE_SECONDS * 1.5 * (1 - hints.SHARE) / hints.SHARE
    store: Store = desk.store  # type: ignore[assignment]
    for q in asked:
        assert "suggested_items" in (await store.get(Question, q.id)).flags
