"""A cluster node's board kept right from the store (``moderation.board_sync``), on a real
store of each backend: a reload sees what other nodes committed, never makes the board
older, keeps counters and hints that move without a version, and is skipped while fresh."""

from __future__ import annotations

import dataclasses

from moderation.board import Board
from moderation.board_sync import BoardSync, StoreBoardSync, apply_question
from store.base import Store
from store.records import LiveSession, Question, ViewerRestriction


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def question(n: int, **changes: object) -> Question:
    q = Question(id=f"q{n}", session_id="s1", viewer_id=f"v{n}", client_id=f"c{n}",
                 text=f"问题 {n}", created_at=float(n), updated_at=float(n))
    return dataclasses.replace(q, **changes)  # type: ignore[arg-type]


async def board_on(store: Store) -> Board:
    return Board(await store.insert(LiveSession(id="s1", title="场次", status="live")))


async def test_a_reload_sees_other_nodes_questions_and_session(store: Store) -> None:
    board = await board_on(store)
    await store.insert_question(question(1))
    await store.update(LiveSession, "s1", {"settings": {"slow_mode_seconds": 30}}, now=1.0)
    sync = StoreBoardSync(clock=Clock())
    await sync.refresh(store, board, 0.0)
    assert set(board.questions) == {"q1"}
    assert board.session.settings == {"slow_mode_seconds": 30}
    # Unknown to the board, or newer than it: the question is read again.
    await store.insert_question(question(2))
    found = await sync.question(store, board, "q2", 1)
    assert found is not None and found.id == "q2"


async def test_a_fresh_reload_is_not_repeated_within_its_max_age(store: Store) -> None:
    board = await board_on(store)
    clock = Clock()
    sync = StoreBoardSync(clock=clock)
    await sync.refresh(store, board, 1.0)
    await store.insert_question(question(1))
    await sync.refresh(store, board, 1.0)
    assert board.questions == {}  # read 0 s ago: fresh enough
    clock.now += 1.5
    await sync.refresh(store, board, 1.0)
    assert set(board.questions) == {"q1"}


def test_a_reload_never_makes_a_question_older() -> None:
    board = Board(LiveSession(id="s1", title="场次"))
    newer = question(1, version=3, state="queued", me_too=2)
    board.put(newer)
    apply_question(board, question(1, version=2, state="pending", me_too=5))
    assert board.questions["q1"] == newer
    # An equal version: counters and hints, which move without a version, are merged.
    apply_question(board, question(1, version=3, state="queued", me_too=4, merged_count=1,
                                   flags={"item_hints": ["license-reissue"]}))
    merged = board.questions["q1"]
    assert (merged.me_too, merged.merged_count) == (4, 1)
    assert merged.flags == {"item_hints": ["license-reissue"]}
    apply_question(board, question(1, version=4, state="on_air"))
    assert board.questions["q1"].state == "on_air"


async def test_restrictions_are_reread_once_stale(store: Store) -> None:
    clock = Clock()
    sync = StoreBoardSync(clock=clock)
    records: dict[str, ViewerRestriction] = {}
    await sync.restrictions(store, records, 0.5)
    await store.insert(ViewerRestriction(id="v1", kind="ban", reason="广告", by="mod",
                                         session_id="s1", created_at=1.0, updated_at=1.0))
    await sync.restrictions(store, records, 0.5)
    assert records == {}
    clock.now += 0.6
    await sync.restrictions(store, records, 0.5)
    assert set(records) == {"v1"}
    await store.delete(ViewerRestriction, "v1")
    clock.now += 0.6
    await sync.restrictions(store, records, 0.5)
    assert records == {}


async def test_one_process_reads_nothing(store: Store) -> None:
    board = await board_on(store)
    await store.insert_question(question(1))
    sync = BoardSync()
    await sync.refresh(store, board, 0.0)
    assert await sync.question(store, board, "q1", 1) is None
    assert await sync.current_session(store, board) is board.session
