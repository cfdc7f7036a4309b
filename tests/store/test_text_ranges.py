"""The most asked wordings of any range of days (the review's "range" kind), on both backends:
SQLite sums the whole Monday-to-Sunday weeks inside a range from its week rollup and only the
ragged days at either end from its day rollup (migration 0014); MongoDB groups the questions.
Either way the answer equals counting the questions one by one, for ranges that start mid-week,
cross a month, hold no whole week or several, and cut ties at the limit by text."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from store.aggregates import TextCount, Window, days_window
from store.base import Store
from store.records import Question
from store.sqlite import SQLiteStore, migrations

BEIJING = ZoneInfo("Asia/Shanghai")
FIRST = dt.date(2026, 4, 20)  # a Monday
DAYS = 44  # to 2026-06-02: April, May and June
TEXTS = ("驾照到期怎么换", "车牌怎么选", "罚单", "年检要带什么", "异地换证")
STATES = ("pending", "answered", "replied", "declined", "merged", "queued")


def stored() -> list[Question]:
    """Two to four questions a day, texts and outcomes in a fixed pattern."""
    questions = []
    for day in range(DAYS):
        start = dt.datetime.combine(FIRST + dt.timedelta(days=day), dt.time(9), BEIJING)
        for n in range(2 + day % 3):
            number = len(questions)
            at = start.timestamp() + 600 * n
            questions.append(Question(
                id=f"q{number:04d}", session_id="s1", viewer_id=f"v{number}",
                client_id=f"c{number}", text=TEXTS[(day * 3 + n * 2) % len(TEXTS)],
                state=STATES[(day + n) % len(STATES)], category="驾驶证",
                item_id=("driving", "plates")[(day + n) % 4 == 0], created_at=at,
                updated_at=at))
    return questions


def expected(questions: list[Question], window: Window, limit: int) -> list[TextCount]:
    """Counted one question at a time: the answer every backend must give."""
    inside = [q for q in questions
              if window.start <= q.created_at < window.end and q.state != "merged"]
    keys = Counter((q.text, q.category, q.item_id) for q in inside)
    counts = []
    for (text, category, item_id), asked in keys.items():
        same = [q.state for q in inside if (q.text, q.category, q.item_id) == (
            text, category, item_id)]
        counts.append(TextCount(text, category, item_id, asked, same.count("answered"),
                                same.count("replied"), same.count("declined"),
                                sum(s in ("pending", "queued", "on_air") for s in same)))
    counts.sort(key=lambda c: (-c.asked, c.text, c.category, c.item_id))
    return counts[:limit]


@pytest.mark.parametrize(("first", "days"), [
    (dt.date(2026, 4, 22), 7),   # Wednesday to Tuesday: no whole week, two weeks touched
    (dt.date(2026, 4, 24), 38),  # Friday 24 April to Sunday 31 May: ragged, 4 weeks, ragged
    (dt.date(2026, 4, 27), 14),  # two whole weeks, nothing ragged
    (dt.date(2026, 4, 25), 9),   # Saturday to Sunday: two ragged days and one week
    (dt.date(2026, 5, 28), 6),   # across the end of May, inside one week
    (dt.date(2026, 4, 20), 44),  # everything
    (dt.date(2026, 5, 6), 1),    # one day
    (dt.date(2026, 5, 4), 7),    # one Monday week
])
async def test_any_range_of_days_counts_like_the_questions(store: Store, first: dt.date,
                                                           days: int) -> None:
    questions = stored()
    for question in questions:
        await store.insert(question)
    window = days_window(BEIJING, first, days)
    counted = Window(window.start - 1, window.end)  # not whole days: the questions grouped
    for limit in (400, 3, 1):  # small limits cut between equal counts
        answer = await store.text_counts(window, limit)
        assert answer == expected(questions, window, limit)
        assert answer == await store.text_counts(counted, limit)
    assert sum(c.asked for c in await store.text_counts(window, 400)) == sum(
        1 for q in questions if window.start <= q.created_at < window.end
        and q.state != "merged")


async def test_a_range_follows_writes_in_its_weeks_and_days(store: Store) -> None:
    """After answers, merges, text edits, moves to another item and deletes on days both in
    whole weeks and at the ragged ends, the range still counts like its questions."""
    questions = stored()
    for question in questions:
        await store.insert(question)
    window = days_window(BEIJING, dt.date(2026, 4, 23), 20)  # Thursday to Tuesday
    inside = [q for q in questions if window.start <= q.created_at < window.end]
    now = window.start
    changes = [(inside[0], {"state": "answered", "answered_at": now}),   # ragged head
               (inside[15], {"state": "merged", "merged_into": inside[14].id}),  # a whole week
               (inside[20], {"text": "改了措辞"}),
               (inside[-1], {"item_id": "plates"})]                     # ragged tail
    for question, fields in changes:
        await store.update(Question, question.id, fields, now=now)
    await store.delete(Question, inside[10].id)
    current = [q for q in await store.find(Question, {}, order_by=("created_at",), limit=1000)]
    assert await store.text_counts(window, 400) == expected(current, window, 400)
    assert await store.text_counts(window, 400) == await store.text_counts(
        Window(window.start - 1, window.end), 400)


async def test_migration_14_carries_the_rollups_over(tmp_path: Path) -> None:
    """A file whose rollups were kept by the 0013 triggers: after 0014 re-keys them, every
    range still counts like its questions, and new writes are counted by the new triggers."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                 "applied_at REAL NOT NULL)")
    for version, sql in migrations():
        if version < 14:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    questions = stored()
    columns = ("id", "session_id", "viewer_id", "client_id", "text", "state", "category",
               "item_id", "created_at", "updated_at")
    conn.executemany(
        f"INSERT INTO questions ({', '.join(columns)}) VALUES ({', '.join('?' * 10)})",
        [tuple(getattr(q, c) for c in columns) for q in questions])
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        assert store.schema_version >= 14
        late = questions[-1]
        await store.insert(Question(
            id="late", session_id="s1", viewer_id="v", client_id="late", text=late.text,
            state="answered", category=late.category, item_id=late.item_id,
            created_at=late.created_at + 60, updated_at=late.created_at + 60))
        current = await store.find(Question, {}, order_by=("created_at",), limit=1000)
        for first, days in ((dt.date(2026, 4, 22), 7), (dt.date(2026, 4, 20), DAYS),
                            (dt.date(2026, 5, 4), 7), (dt.date(2026, 6, 2), 1)):
            window = days_window(BEIJING, first, days)
            counted = Window(window.start - 1, window.end)
            assert await store.text_counts(window, 400) == expected(current, window, 400)
            assert await store.question_cube(window) == await store.question_cube(counted)
    finally:
        await store.close()
