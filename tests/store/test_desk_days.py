"""Days in the desk's configured time zone (``[server] time_zone``), daylight saving
included, and the rollups that answer whole days (migration 0013): on both backends."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from store.aggregates import Window, days_window, rollup_offset
from store.base import Store
from store.records import Question

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
# 2026-11-01 is 25 hours long in New York: 01:00–02:00 EDT comes again as EST.
FALL_BACK = dt.date(2026, 11, 1)


def q(n: int, at: float, *, state: str = "pending", text: str = "驾照到期怎么换",
      item: str = "driving") -> Question:
    return Question(id=f"q{n:03d}", session_id="s1", viewer_id=f"v{n}", client_id=f"c{n}",
                    text=text, state=state, category="驾驶证", item_id=item, created_at=at,
                    updated_at=at)


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_a_days_window_carries_the_change_of_offset_inside_it() -> None:
    window = days_window(NEW_YORK, FALL_BACK, 1)
    assert window.end - window.start == 25 * 3600
    assert window.utc_offset == -4 * 3600
    assert window.shifts == ((utc(2026, 11, 1, 6), -5 * 3600),)  # 01:00 EST = 06:00 UTC
    assert window.offset_at(utc(2026, 11, 1, 5, 59)) == -4 * 3600
    plain = days_window(ZoneInfo("Asia/Shanghai"), dt.date(2026, 1, 1), 1098)
    assert plain.shifts == () and plain.utc_offset == 8 * 3600
    assert plain.start == utc(2025, 12, 31, 16)
    tokyo = days_window(TOKYO, dt.date(2026, 5, 4), 2)
    assert (tokyo.start, tokyo.end, tokyo.utc_offset) == (utc(2026, 5, 3, 15),
                                                          utc(2026, 5, 5, 15), 9 * 3600)


async def test_days_follow_daylight_saving_in_every_figure(store: Store) -> None:
    moments = [
        utc(2026, 11, 1, 4, 30),   # 00:30 EDT, Nov 1
        utc(2026, 11, 1, 5, 30),   # 01:30 EDT, Nov 1
        utc(2026, 11, 1, 6, 30),   # 01:30 EST (the second time), Nov 1
        utc(2026, 11, 2, 4, 30),   # 23:30 EST, Nov 1 (a fixed -4 h would say Nov 2, 00:30)
        utc(2026, 11, 2, 5, 30),   # 00:30 EST, Nov 2
        utc(2026, 11, 1, 3, 30),   # 23:30 EDT, Oct 31
    ]
    for n, at in enumerate(moments):
        await store.insert(q(n, at))
    window = days_window(NEW_YORK, dt.date(2026, 10, 31), 3)
    days = await store.question_figures("day", window, timings=False)
    assert [(f.key, f.asked) for f in days] == [
        ("2026-10-31", 1), ("2026-11-01", 4), ("2026-11-02", 1)]
    cube = await store.question_cube(window)
    assert [(c.day, c.asked) for c in cube] == [
        ("2026-10-31", 1), ("2026-11-01", 4), ("2026-11-02", 1)]
    one_day = days_window(NEW_YORK, FALL_BACK, 1)
    assert [c.asked for c in await store.text_counts(one_day, 10)] == [4]


async def test_the_text_rollup_follows_every_write(store: Store) -> None:
    """SQLite answers whole days' most asked wordings from the trigger-kept text rollup:
    it must agree with counting the questions after every kind of write."""
    day0 = utc(2026, 5, 3, 16)  # 2026-05-04 00:00 in Beijing
    texts = ["驾照到期怎么换", "驾照到期怎么换", "车牌怎么选", "车牌怎么选", "车牌怎么选", "罚单"]
    for n, text in enumerate(texts):
        await store.insert(q(n, day0 + 3600 * (n + 1), text=text, state="queued"))
    await store.insert(q(9, day0 + 86400 + 60, text="罚单"))  # the next day
    await store.update(Question, "q000", {"state": "answered", "answered_at": day0 + 9000},
                       now=day0)
    await store.update(Question, "q002", {"state": "merged", "merged_into": "q003"}, now=day0)
    await store.update(Question, "q004", {"text": "罚单"}, now=day0)
    await store.update(Question, "q005", {"item_id": "plates"}, now=day0)
    await store.delete(Question, "q001")
    whole = Window(day0, day0 + 2 * 86400)
    counted = Window(day0 - 1, day0 + 2 * 86400 + 1)  # not whole days: the questions
    rolled = await store.text_counts(whole, 10)
    assert rolled == await store.text_counts(counted, 10)
    assert [(c.text, c.item_id, c.asked, c.answered, c.open) for c in rolled] == [
        ("罚单", "driving", 2, 0, 2), ("罚单", "plates", 1, 0, 1),
        ("车牌怎么选", "driving", 1, 0, 1), ("驾照到期怎么换", "driving", 1, 1, 0)]
    # One day and one Monday-to-Sunday week (2026-05-04 is a Monday) have their own rollup
    # rows, read in count order from an index: the same answers again.
    for days in (1, 7):
        aligned = Window(day0, day0 + days * 86400)
        assert await store.text_counts(aligned, 10) == await store.text_counts(
            Window(day0 - 1, day0 + days * 86400), 10)
    assert [(c.text, c.asked) for c in await store.text_counts(
        Window(day0, day0 + 86400), 2)] == [("罚单", 1), ("罚单", 1)]
    assert sum(c.asked for c in await store.text_counts(
        Window(day0, day0 + 7 * 86400), 10)) == 5


async def test_another_fixed_offset_recounts_the_rollups(store: Store) -> None:
    """Tokyo (UTC+9): once the store counts its rollups in Tokyo days, whole Tokyo days come
    from them and agree with the questions; setting the same offset again is a no-op."""
    moments = [utc(2026, 5, 3, 14, 30), utc(2026, 5, 3, 15, 30), utc(2026, 5, 4, 14, 59)]
    for n, at in enumerate(moments):
        await store.insert(q(n, at))
    changed = await store.use_rollup_offset(9 * 3600)
    assert changed is (store.backend == "sqlite")  # MongoDB keeps no rollups
    assert await store.use_rollup_offset(9 * 3600) is False
    await store.insert(q(7, utc(2026, 5, 4, 16)))  # after the change: the triggers count it
    whole = days_window(TOKYO, dt.date(2026, 5, 3), 3)
    counted = Window(whole.start - 1, whole.end, 9 * 3600)
    cube = await store.question_cube(whole)
    assert cube == await store.question_cube(counted)
    assert [(c.day, c.asked) for c in cube] == [
        ("2026-05-03", 1), ("2026-05-04", 2), ("2026-05-05", 1)]
    assert await store.text_counts(whole, 5) == await store.text_counts(counted, 5)


def test_the_rollups_count_in_the_offset_of_new_year() -> None:
    """Stable all year: New York's rollups count EST days even in July (summer windows are
    then counted from the questions), Tokyo's JST days."""
    july = utc(2026, 7, 1)
    assert rollup_offset(NEW_YORK, july) == -5 * 3600
    assert rollup_offset(TOKYO, july) == 9 * 3600
