"""The moderation service on a real store (SQLite, and MongoDB through the ``store``
fixture): viewers' questions and their retries, every staff action with its audit entry,
conflicts, and failures half-way through an action that must leave the store, the board and
the published events exactly as they were."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, cast

import pytest

from live.events import Event
from moderation.actions import ACTIONS, perform
from moderation.catalog import load_catalog
from moderation.questions import Refused
from moderation.service import Board, Limits, Moderation, NotApplied, RefusedConflict
from store.base import Store
from store.records import (
    AuditEntry,
    LiveSession,
    Question,
    StaffUser,
    TermRule,
    ViewerRestriction,
    new_id,
)
from tests.events_support import collecting
from tests.moderation.faults import FaultyStore

NOW = 1_760_000_000.0
SESSION = "s1"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        self.now += 0.001  # every reading later than the last: ordering by time is total
        return self.now


class Desk:
    """A moderation service over ``store``, with what it published."""

    def __init__(self, store: Store | FaultyStore) -> None:
        self.store = store
        self.events: list[tuple[str, Event]] = []
        self.clock = Clock()
        self.moderation = Moderation(cast(Store, store), collecting(store, self.publish),
                                     load_catalog(),
                                     Limits(viewer_per_minute=1000, address_per_minute=1000),
                                     clock=self.clock)
        self.answered: list[Question] = []

    def publish(self, session_id: str, events: Iterable[Event]) -> None:
        self.events.extend((session_id, e) for e in events)

    async def board(self) -> Board:
        return await self.moderation.board(SESSION)

    async def ask(self, text: str = "驾照快到期了在哪里换？", viewer: str = "v1",
                  client_id: str | None = None, session_id: str = SESSION) -> Question:
        q, created = await self.moderation.ask(session_id, viewer, "127.0.0.1",
                                               client_id or new_id(), text)
        assert created
        return q

    async def send(self, user: StaffUser, name: str, /, **fields: Any) -> dict[str, Any]:
        """A staff action as the websocket and the API send it (``moderation.actions``)."""
        return await perform(ACTIONS[name], self.moderation, SESSION, user, fields)

    async def act(self, user: StaffUser, name: str, q: Question, /, **fields: Any) -> Question:
        await self.send(user, name, question_id=q.id, version=q.version, **fields)
        return (await self.board()).questions[q.id]

    async def approve(self, user: StaffUser, q: Question) -> Question:
        return await self.act(user, "approve", q, category="驾驶证")


MOD = StaffUser(id="u-mod", name="mod", role="moderator", password_hash="x")
HOST = StaffUser(id="u-host", name="host", role="host", password_hash="x")


async def live_session(store: Store, session_id: str = SESSION) -> LiveSession:
    return await store.insert(LiveSession(id=session_id, title="交警视频帮", status="live",
                                        created_at=NOW, updated_at=NOW))


@pytest.fixture
async def desk(store: Store) -> Desk:
    await live_session(store)
    desk = Desk(store)
    await desk.moderation.start()
    return desk


async def audit_actions(store: Store | FaultyStore) -> list[tuple[str, str, str]]:
    entries = await cast(Store, store).find(AuditEntry, order_by=["at"])
    return [(e.actor, e.action, e.target) for e in entries]


# --- viewers ---------------------------------------------------------------------------


async def test_a_question_is_stored_then_announced_and_a_retry_returns_it(desk: Desk) -> None:
    q = await desk.ask(client_id="c1")
    assert await desk.store.get(Question, q.id) == q  # type: ignore[union-attr]
    assert [(e.kind, e.data["question"]["id"]) for _, e in desk.events
            if e.kind == "question"] == [("question", q.id)] * len(desk.events)
    published = len(desk.events)
    again, created = await desk.moderation.ask(SESSION, "v1", "127.0.0.1", "c1", "别的文字")
    assert (again, created) == (q, False)
    assert len(desk.events) == published  # a retry announces nothing


async def test_a_client_id_reused_in_another_session_is_a_new_question(store: Store) -> None:
    await live_session(store, "s1")
    await live_session(store, "s2")
    first = await Desk(store).ask(client_id="same", session_id="s1")
    # A fresh service (a restart: no boards in memory) sees only the store's key.
    q, created = await Desk(store).moderation.ask("s2", "v1", "127.0.0.1", "same", "年检")
    assert created and q.session_id == "s2" and q.id != first.id
    assert await store.count(Question) == 2


async def test_blocked_terms_and_ended_sessions_refuse_questions(store: Store) -> None:
    await live_session(store)
    await store.insert(TermRule(id="t", term="代办", action="reject"))
    desk = Desk(store)
    await desk.moderation.start()
    with pytest.raises(Refused) as info:
        await desk.ask("可以找人代办驾照吗")
    assert info.value.code == "blocked"
    await store.update(LiveSession, SESSION, {"status": "ended"}, now=NOW)
    with pytest.raises(Refused) as ended:
        await Desk(store).ask()
    assert ended.value.code == "session_ended"
    assert await store.count(Question) == 0


async def test_me_too_counts_once_per_viewer(desk: Desk) -> None:
    q = await desk.approve(MOD, await desk.ask())
    counted = await desk.moderation.me_too(SESSION, "v2", q.id)
    assert counted.me_too == 1
    with pytest.raises(Refused) as again:
        await desk.moderation.me_too(SESSION, "v2", q.id)
    assert again.value.code == "already"
    assert (await desk.store.get(Question, q.id)).me_too == 1  # type: ignore[union-attr]


# --- staff actions ---------------------------------------------------------------------


async def test_each_staff_action_is_stored_audited_and_announced(desk: Desk) -> None:
    answered: list[Question] = []

    async def on_answered(q: Question) -> None:
        answered.append(q)

    desk.moderation.on_answered.append(on_answered)
    first, second, third = await desk.ask("驾照到期换证"), await desk.ask("年检要带什么"), \
        await desk.ask("年检需要什么材料")
    first = await desk.approve(MOD, first)
    assert first.state == "queued"
    second = await desk.approve(MOD, second)
    second = await desk.act(MOD, "pin", second, pinned=True)
    assert second.pinned
    second = await desk.act(MOD, "move", second, before=first.id)
    second = await desk.act(MOD, "edit", second, text="年检要带哪些材料？")
    third = await desk.act(MOD, "merge", third, into=second.id)
    assert third.state == "merged"
    board = await desk.board()
    assert board.questions[second.id].merged_count == 1
    second = board.questions[second.id]
    on_air = await desk.act(HOST, "on_air", second)
    assert (await desk.store.get(LiveSession, SESSION)).on_air_id == second.id  # type: ignore[union-attr]
    assert board.session.on_air_id == second.id
    done = await desk.act(HOST, "answered", on_air)
    assert done.state == "answered" and answered == [done]
    assert (await desk.store.get(LiveSession, SESSION)).on_air_id == ""  # type: ignore[union-attr]
    replied = await desk.act(MOD, "reply", first, text="请到车管所窗口办理。")
    assert replied.state == "replied"
    declined = await desk.act(MOD, "decline", await desk.ask("无关的问题"), reason="无关")
    assert declined.state == "declined"
    # Every stored question is what the board holds, and every action has its entry.
    for q in await desk.store.find(Question):  # type: ignore[union-attr]
        assert board.questions[q.id] == q
    actions = [a for _, a, _ in await audit_actions(desk.store)]
    assert actions == ["question.approve", "question.approve", "question.pin", "question.move",
                       "question.edit", "question.merge", "question.on_air",
                       "question.answered", "question.reply", "question.decline"]
    kinds = {e.kind for _, e in desk.events}
    assert {"question", "session"} <= kinds


async def test_a_stale_version_is_a_conflict_and_changes_nothing(desk: Desk) -> None:
    q = await desk.ask()
    approved = await desk.approve(MOD, q)
    with pytest.raises(RefusedConflict) as info:
        await desk.act(MOD, "decline", q, reason="重复")  # the version before the approval
    assert info.value.current == approved
    assert (await desk.store.get(Question, q.id)).state == "queued"  # type: ignore[union-attr]


async def test_a_change_made_elsewhere_is_a_conflict_with_the_stored_question(
    desk: Desk,
) -> None:
    q = await desk.ask()
    await desk.board()
    # Another node changed the question in the store; this board has not heard of it.
    elsewhere = await desk.store.update(Question, q.id, {"state": "declined",  # type: ignore[union-attr]
                                                         "decline_reason": "别处"}, now=NOW)
    with pytest.raises(RefusedConflict) as info:
        await desk.approve(MOD, q)
    assert info.value.current == elsewhere
    assert (await desk.board()).questions[q.id] == elsewhere  # the board caught up
    assert await audit_actions(desk.store) == []


async def test_roles_are_enforced(desk: Desk) -> None:
    q = await desk.ask()
    with pytest.raises(Refused) as info:
        await desk.approve(HOST, q)
    assert info.value.code == "forbidden"
    with pytest.raises(Refused):
        await desk.send(HOST, "slow_mode", seconds=30)
    assert await audit_actions(desk.store) == []


async def test_slow_mode_and_restrictions_are_stored_audited_and_announced(desk: Desk) -> None:
    await desk.send(MOD, "slow_mode", seconds=30)
    assert (await desk.store.get(LiveSession, SESSION)).settings == {  # type: ignore[union-attr]
        "slow_mode_seconds": 30}
    await desk.send(MOD, "restrict", viewer_id="v9", kind="timeout", minutes=5,
                    reason="刷屏")
    with pytest.raises(Refused) as info:
        await desk.ask(viewer="v9")
    assert info.value.code == "timed_out"
    await desk.send(MOD, "unrestrict", viewer_id="v9")
    assert await desk.store.count(ViewerRestriction) == 0  # type: ignore[union-attr]
    with pytest.raises(Refused):
        await desk.send(MOD, "unrestrict", viewer_id="v9")
    assert [a for _, a, _ in await audit_actions(desk.store)] == [
        "session.slow_mode", "viewer.timeout", "viewer.unrestrict"]
    kinds = [e.kind for _, e in desk.events]
    assert kinds[0] == "session" and kinds[-2:] == ["restriction", "restriction"]
    assert set(kinds) == {"session", "restriction"}


# --- failures half-way: nothing changes -----------------------------------------------


async def state_of(desk: Desk) -> dict[str, Any]:
    """Everything an action could change: the store, the board, the service, the events."""
    store = cast(Store, desk.store)
    board = await desk.board()
    return {
        "questions": await store.find(Question, order_by=["id"]),
        "session": await store.get(LiveSession, SESSION),
        "audit": await store.find(AuditEntry, order_by=["id"]),
        "restrictions": await store.find(ViewerRestriction, order_by=["id"]),
        "board": dict(board.questions), "board_session": board.session,
        "slow_mode": board.session.settings.get("slow_mode_seconds", 0),
        "service_restrictions": dict(desk.moderation.restrictions),
        "events": list(desk.events),
    }


async def setup_for(desk: Desk, action: str) -> tuple[Question, Question]:
    """Two questions in the state ``action`` applies to."""
    a = await desk.approve(MOD, await desk.ask("驾照到期换证"))
    b = await desk.approve(MOD, await desk.ask("驾照到期怎么换证"))
    if action == "answered":
        a = await desk.act(HOST, "on_air", a)
    return a, b


async def run(desk: Desk, action: str, a: Question, b: Question) -> None:
    if action == "on_air":
        await desk.act(HOST, "on_air", a)
    elif action == "answered":
        await desk.act(HOST, "answered", a)
    elif action == "merge":
        await desk.act(MOD, "merge", b, into=a.id)
    elif action == "pin":
        await desk.act(MOD, "pin", a, pinned=True)
    elif action == "slow_mode":
        await desk.send(MOD, "slow_mode", seconds=60)
    elif action == "restrict":
        await desk.send(MOD, "restrict", viewer_id="v1", kind="ban", reason="广告")
    else:
        raise AssertionError(action)


# Each action's writes in its one transaction: the question (and the merge target's counter,
# or the broadcast's on-air pointer), and the audit entry last.
# Each action's writes, the last one its events (the outbox, live.eventlog).
WRITES = {"on_air": 4, "answered": 4, "merge": 4, "pin": 3, "slow_mode": 3, "restrict": 4}
CASES = [(action, n) for action, total in WRITES.items() for n in range(1, total + 1)]


@pytest.mark.parametrize(("action", "fail_at"), CASES, ids=[f"{a}-write{n}" for a, n in CASES])
async def test_a_store_failure_half_way_changes_nothing(
    store: Store, action: str, fail_at: int,
) -> None:
    await live_session(store)
    faulty = FaultyStore(store)
    desk = Desk(faulty)
    await desk.moderation.start()
    a, b = await setup_for(desk, action)
    before = await state_of(desk)
    faulty.writes, faulty.fail_at = 0, fail_at
    with pytest.raises(NotApplied) as info:
        await run(desk, action, a, b)
    assert info.value.code == "unavailable" and "没有" in info.value.message
    assert faulty.writes == fail_at  # it failed where we said, not before
    assert await state_of(desk) == before
    # The same action then goes through, with exactly the writes counted above.
    faulty.writes, faulty.fail_at = 0, None
    await run(desk, action, a, b)
    assert faulty.writes == WRITES[action]
    assert await state_of(desk) != before


async def test_a_failing_after_answer_listener_is_logged_and_the_answer_stands(
    desk: Desk, caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(q: Question) -> None:
        raise RuntimeError("clip queue down")

    desk.moderation.on_answered.append(broken)
    q = await desk.act(HOST, "on_air", await desk.approve(MOD, await desk.ask()))
    done = await desk.act(HOST, "answered", q)
    assert (await desk.store.get(Question, q.id)) == done  # type: ignore[union-attr]
    assert any("reconcile" in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_board_is_a_plain_dataclass() -> None:
    # The failure tests compare boards by value: a field added to Board must compare too.
    assert dataclasses.is_dataclass(Board)
