"""The store's own figures (``store.aggregates``): the same fixtures, the same answers, on
SQLite and MongoDB (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store.aggregates import Window, nearest_rank
from store.base import Store
from store.records import AuditEntry, Clip, ClipView, LiveSession, Question, SearchMiss
from store.sqlite import SQLiteStore

# 2026-05-04 00:00 Beijing time (UTC+8) = 2026-05-03 16:00 UTC.
DAY0 = 1_777_824_000.0
HOUR = 3600.0


def q(n: int, *, at: float, session: str = "s1", host: str = "h1", item: str = "driving",
      state: str = "pending", answered_after: float = 0.0, text: str = "驾照到期怎么换"
      ) -> Question:
    return Question(
        id=f"q{n:03d}", session_id=session, viewer_id=f"v{n}", client_id=f"c{n}", text=text,
        state=state, category="驾驶证", item_id=item, host_id=host, created_at=at,
        updated_at=at, answered_at=at + answered_after if answered_after else 0.0)


def decision(n: int, action: str, at: float) -> AuditEntry:
    return AuditEntry(id=f"a{n:03d}", at=at, actor="mod", action=action,
                      target=f"question:q{n:03d}", session_id="s1")


async def fixture(store: Store) -> None:
    """Day 0: ten questions in s1 (host h1) and s2 (host h2); day 1: two more."""
    rows = [
        # n, hours after DAY0, session, host, item, state, answered after (s), triage after (s)
        (1, 9, "s1", "h1", "driving", "answered", 600, 30),
        (2, 9, "s1", "h1", "driving", "answered", 1200, 60),
        (3, 9, "s1", "h1", "driving", "answered", 300, 90),
        (4, 10, "s1", "h1", "plates", "declined", 0, 120),
        (5, 10, "s1", "h1", "plates", "replied", 0, 150),
        (6, 10, "s1", "h1", "plates", "merged", 0, 180),
        (7, 14, "s2", "h2", "driving", "queued", 0, 210),
        (8, 14, "s2", "h2", "driving", "pending", 0, 0),
        (9, 15, "s2", "h2", "plates", "on_air", 0, 240),
        (10, 15, "s2", "h2", "plates", "answered", 900, 270),
        (11, 33, "s3", "h1", "driving", "answered", 60, 10),
        (12, 34, "s3", "h1", "driving", "pending", 0, 0),
    ]
    actions = {"answered": "question.approve", "queued": "question.approve",
               "on_air": "question.approve", "declined": "question.decline",
               "replied": "question.reply", "merged": "question.merge"}
    for n, hours, session, host, item, state, answered, triage in rows:
        at = DAY0 + hours * HOUR + n  # distinct times
        await store.insert(q(n, at=at, session=session, host=host, item=item, state=state,
                             answered_after=answered))
        if triage:
            await store.audit(decision(n, actions[state], at + triage))
            # Later decisions and other actions do not move the first triage time.
            await store.audit(AuditEntry(id=f"b{n:03d}", at=at + triage + 5000, actor="mod",
                                         action="question.edit", target=f"question:q{n:03d}"))
    # A question before the window and an audit entry on another target.
    await store.insert(q(99, at=DAY0 - 10, state="answered", answered_after=5))
    await store.audit(AuditEntry(id="x1", at=DAY0, actor="a", action="staff.create",
                                 target="staff:bob"))


async def test_figures_by_session_count_outcomes_and_times(store: Store) -> None:
    await fixture(store)
    figures = await store.question_figures("session", Window(DAY0, DAY0 + 2 * 86400))
    by_key = {f.key: f for f in figures}
    assert [f.key for f in figures] == ["s1", "s2", "s3"]
    s1 = by_key["s1"]
    assert (s1.asked, s1.approved, s1.answered, s1.replied, s1.declined, s1.merged,
            s1.open) == (6, 3, 3, 1, 1, 1, 0)
    # Answer times 300, 600, 1200: nearest-rank median 600, p90 1200.
    assert (s1.answer_median, s1.answer_p90) == (600, 1200)
    # Triage 30..180 in steps of 30: ranks 3 and 6 of six.
    assert (s1.triage_median, s1.triage_p90) == (90, 180)
    s2 = by_key["s2"]
    assert (s2.asked, s2.approved, s2.answered, s2.open) == (4, 3, 1, 3)
    assert (s2.triage_median, s2.triage_p90) == (240, 270)  # three decided: 210, 240, 270
    assert (s2.answer_median, s2.answer_p90) == (900, 900)


async def test_figures_by_day_use_the_desk_time_zone(store: Store) -> None:
    await fixture(store)
    figures = await store.question_figures("day", Window(DAY0 - 86400, DAY0 + 2 * 86400))
    assert [(f.key, f.asked) for f in figures] == [
        ("2026-05-03", 1), ("2026-05-04", 10), ("2026-05-05", 2)]
    utc = await store.question_figures("day", Window(DAY0, DAY0 + 2 * 86400, utc_offset=0))
    # In UTC, 9:00–15:00 Beijing is still the 4th, 33–34 h later the 5th.
    assert [(f.key, f.asked) for f in utc] == [("2026-05-04", 10), ("2026-05-05", 2)]


async def test_figures_by_host_and_item_and_without_timings(store: Store) -> None:
    await fixture(store)
    window = Window(DAY0, DAY0 + 2 * 86400)
    hosts = {f.key: (f.asked, f.answered) for f in await store.question_figures("host", window)}
    assert hosts == {"h1": (8, 4), "h2": (4, 1)}
    items = await store.question_figures("item", window, timings=False)
    assert {f.key: f.asked for f in items} == {"driving": 7, "plates": 5}
    assert all(f.triage_median is None and f.answer_p90 is None for f in items)


async def test_an_empty_window_has_no_groups_and_bad_dimensions_are_refused(store: Store
                                                                           ) -> None:
    await fixture(store)
    assert await store.question_figures("session", Window(0, 10)) == []
    with pytest.raises(ValueError):
        await store.question_figures("viewer_id; DROP TABLE questions", Window(0, 10))
    with pytest.raises(ValueError):
        Window(10, 0)


async def test_text_counts_rank_the_most_asked_texts(store: Store) -> None:
    await fixture(store)
    await store.insert(q(50, at=DAY0 + 100, text="车牌怎么选", item="plates", state="declined"))
    await store.insert(q(51, at=DAY0 + 101, text="车牌怎么选", item="plates", state="replied"))
    counts = await store.text_counts(Window(DAY0, DAY0 + 2 * 86400), limit=2)
    assert [(c.text, c.item_id, c.asked) for c in counts] == [
        ("驾照到期怎么换", "driving", 7), ("驾照到期怎么换", "plates", 4)]
    everything = await store.text_counts(Window(DAY0, DAY0 + 2 * 86400), limit=10)
    picked = next(c for c in everything if c.text == "车牌怎么选")
    assert (picked.asked, picked.declined, picked.replied, picked.open) == (2, 1, 1, 0)
    # A merged question is counted with the question it was merged into, not again.
    assert sum(c.asked for c in everything) == 13


async def test_clip_views_by_day_and_search_misses(store: Store) -> None:
    for n, day in enumerate(["20260504", "20260504", "20260505", "20260507"]):
        await store.insert(ClipView(id=f"v{n}", clip_id=f"c{n}", viewer_id="x", day=day))
    assert await store.clip_views_by_day("20260504", "20260505") == [
        ("20260504", 2), ("20260505", 1)]
    await store.insert(SearchMiss(id="m1", query="摩托车牌", count=3, last_at=DAY0 + 5))
    await store.insert(SearchMiss(id="m2", query="外地车", count=7, last_at=DAY0 + 6))
    await store.insert(SearchMiss(id="m3", query="旧的", count=9, last_at=DAY0 - 86400))
    assert await store.search_misses_in(Window(DAY0, DAY0 + 86400), 10) == [
        ("外地车", 7), ("摩托车牌", 3)]


@pytest.mark.parametrize("size", [1, 3, 50])
async def test_page_in_reads_a_window_in_time_order_in_pages(store: Store, size: int) -> None:
    await fixture(store)
    # Equal times are ordered by id, so a page boundary inside them loses nothing.
    for n in (70, 71, 72):
        await store.insert(q(n, at=DAY0 + 9 * HOUR + 1))
    window = Window(DAY0, DAY0 + 86400)
    seen: list[str] = []
    after = None
    while True:
        page = await store.page_in(Question, window, after, size)
        if not page:
            break
        seen += [p.id for p in page]
        after = (page[-1].created_at, page[-1].id)
    expected = sorted((x for x in await store.find(Question)
                       if DAY0 <= x.created_at < DAY0 + 86400),
                      key=lambda x: (x.created_at, x.id))
    assert seen == [x.id for x in expected] and len(seen) == 13
    audit = await store.page_in(AuditEntry, Window(DAY0, DAY0 + 3600), None, 100)
    assert [a.id for a in audit] == ["x1"]
    clip = Clip(id="c1", session_id="s1", created_at=DAY0 + 1)
    session = LiveSession(id="b1", title="上午场", created_at=DAY0 + 2)
    await store.insert(clip)
    await store.insert(session)
    assert await store.page_in(Clip, window, None, 10) == [clip]
    assert await store.page_in(LiveSession, window, None, 10) == [session]


def test_nearest_rank() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([1.0], 0.9) == 1.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert nearest_rank([float(x) for x in range(1, 11)], 0.9) == 9.0
    assert nearest_rank([float(x) for x in range(1, 12)], 0.9) == 10.0


async def test_the_cube_counts_by_day_category_and_item_in_one_pass(store: Store) -> None:
    await fixture(store)
    cube = await store.question_cube(Window(DAY0 - 86400, DAY0 + 2 * 86400))
    assert [(c.day, c.item_id, c.asked, c.answered, c.replied, c.declined, c.merged, c.open)
            for c in cube] == [
        ("2026-05-03", "driving", 1, 1, 0, 0, 0, 0),
        ("2026-05-04", "driving", 5, 3, 0, 0, 0, 2),
        ("2026-05-04", "plates", 5, 1, 1, 1, 1, 1),
        ("2026-05-05", "driving", 2, 1, 0, 0, 0, 1),
    ]
    assert {c.category for c in cube} == {"驾驶证"}


async def test_the_cube_of_whole_days_follows_every_write(store: Store) -> None:
    """SQLite answers whole Beijing days from a trigger-kept rollup: it must agree with
    counting the questions themselves after inserts, state changes, moves and deletes."""
    await fixture(store)
    await store.update(Question, "q008", {"state": "declined", "decline_reason": "重复"},
                       now=DAY0)
    await store.update(Question, "q007", {"item_id": "plates", "category": "号牌"}, now=DAY0)
    await store.update(Question, "q011", {"text": "改了措辞"}, now=DAY0)  # no count moves
    await store.delete(Question, "q012")
    whole = Window(DAY0 - 86400, DAY0 + 2 * 86400)
    counted = Window(DAY0 - 86400 - 1, DAY0 + 2 * 86400 + 1)  # not whole days: the raw count
    cube = await store.question_cube(whole)
    assert cube == await store.question_cube(counted)
    assert [(c.day, c.category, c.item_id, c.asked, c.declined, c.open) for c in cube] == [
        ("2026-05-03", "驾驶证", "driving", 1, 0, 0),
        ("2026-05-04", "号牌", "plates", 1, 0, 1),
        ("2026-05-04", "驾驶证", "driving", 4, 1, 0),
        ("2026-05-04", "驾驶证", "plates", 5, 1, 1),
        ("2026-05-05", "驾驶证", "driving", 1, 0, 0),
    ]


async def test_the_rollup_triggers_exist_after_every_migration(tmp_path: Path) -> None:
    """A later migration that rebuilds ``questions`` drops its triggers with it: this fails
    until that migration creates them again."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        triggers = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'questions'")}
    assert triggers >= {"question_rollup_insert", "question_rollup_update",
                        "question_rollup_delete"}
