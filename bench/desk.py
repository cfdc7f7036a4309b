"""The desk under a month of traffic: how fast the daily review's data comes back, and how
much memory a full-year question export takes.

Builds a SQLite store (the real schema, through ``SQLiteStore``) holding a month of
synthetic questions (default 210,000: two sessions a day, items and wordings drawn from the
service catalog, a realistic mix of outcomes) and a few hundred published clips, then:

* ``review_p95_ms``: p95 of ``moderation.review.review`` — everything the review page shows
  — for one day and for one week (the page's week: Monday to Sunday), ``--runs`` times
  each, through the store's read pool; ``range_p95_ms`` the same for a seven-day range
  starting on a Wednesday (the page's "range" kind, which no weekly rollup answers), and
  ``month_p95_ms`` for the whole month as a range (1–30 April, Wednesday to Thursday: ragged
  days at both ends and three whole weeks between).
* ``floor_p95_ms``: p95, same runs, of the cheapest query any review needs: one
  ``SELECT state, COUNT(*) … GROUP BY state`` over the same week through the same pool.
* ``export_peak_rss_mib``: the peak RSS of a fresh process that streams the whole year's
  questions to CSV with the export's own code (``web.desk_export``: keyset pages, one CSV
  chunk per page), and ``export_rows``, the rows it wrote; ``export_floor_rss_mib`` is the
  peak RSS of the same kind of process that imports the same modules and opens the store but
  exports nothing.

Prints one JSON line, with the 1-minute load average at the start and the end (other work
on the machine slows every figure). Targets: review ≤ 300 ms p95 (the issue's page; the
ranges are held to the same), export ≤ 200 MiB.

    python bench/desk.py [--questions 210000] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.catalog import load_catalog
from moderation.periods import DEFAULT_ZONE as DESK_TZ
from moderation.periods import Period, parse_period
from moderation.review import review
from store.sqlite import SQLiteStore

FIRST_DAY = dt.date(2026, 4, 1)
DAYS = 30
STATES = (["answered"] * 18 + ["replied"] * 22 + ["declined"] * 12 + ["merged"] * 8
          + ["queued"] * 4 + ["pending"] * 6)
ASKS = ("怎么办理{}", "{}需要带什么材料", "{}在哪里办", "请问{}多久能好", "{}可以网上办吗",
        "{}要多少钱", "我想问一下{}的流程", "{}过期了怎么办", "{}能不能异地办理", "{}要预约吗")
TAILS = ("", "？", "，谢谢", "，急", "呢", "啊", "，在线等")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-int(p * 100) * len(ordered) // 100) - 1)]


def build(path: Path, questions: int, seed: int = 14) -> None:
    asyncio.run(_open_close(path))  # the real schema and migrations
    rng = random.Random(seed)
    catalog = load_catalog()
    items = list(catalog.items)
    weights = [1 / (n + 1) for n in range(len(items))]  # a few items are asked most
    start = dt.datetime.combine(FIRST_DAY, dt.time(), DESK_TZ).timestamp()
    conn = sqlite3.connect(path)
    rows = []
    for n in range(questions):
        day = n * DAYS // questions
        session = f"s{day}-{rng.randrange(2)}"
        at = start + day * 86400 + (10 if session.endswith("0") else 14.5) * 3600 \
            + rng.random() * 7200
        item = rng.choices(items, weights)[0]
        text = rng.choice(ASKS).format(item.name) + rng.choice(TAILS)
        state = rng.choice(STATES)
        answered = at + rng.uniform(120, 3600) if state == "answered" else 0.0
        rows.append((f"q{n:07d}", session, f"v{rng.randrange(40000)}", f"c{n}", text, state,
                     item.category, item.id, f"h{rng.randrange(4)}", answered, at, at))
    conn.executemany(
        "INSERT INTO questions (id, session_id, viewer_id, client_id, text, state, category, "
        "item_id, host_id, answered_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    clips = [(f"c{n}", f"s{n % DAYS}-0", f"q{n * 300:07d}", "published", f"片段 {n}",
              items[n % len(items)].id, rng.randrange(500), start + (n % DAYS) * 86400 + 40000)
             for n in range(600)]
    conn.executemany(
        "INSERT INTO clips (id, session_id, question_id, state, title, item_id, views, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*c, c[-1]) for c in clips])
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def _open_close(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


async def timings(path: Path, runs: int) -> dict[str, float]:
    store = SQLiteStore(path)
    await store.open()
    catalog = load_catalog()
    day = Period(FIRST_DAY + dt.timedelta(days=14), FIRST_DAY + dt.timedelta(days=14))
    week = parse_period("week", day.first.isoformat(), None, 0.0, DESK_TZ)
    span = Period(FIRST_DAY + dt.timedelta(days=14), FIRST_DAY + dt.timedelta(days=20))
    month = Period(FIRST_DAY, FIRST_DAY + dt.timedelta(days=DAYS - 1))
    sql = ("SELECT state, COUNT(*) FROM questions WHERE created_at >= ? AND created_at < ? "
           "GROUP BY state")
    bounds = (week.window.start, week.window.end)
    review_ms: list[float] = []
    range_ms: list[float] = []
    month_ms: list[float] = []
    floor_ms: list[float] = []
    try:
        await review(store, catalog, week)  # warm the page cache once
        for _ in range(runs):
            for period, times in ((day, review_ms), (week, review_ms), (span, range_ms),
                                  (month, month_ms)):
                started = time.perf_counter()
                data = await review(store, catalog, period)
                times.append((time.perf_counter() - started) * 1000)
                assert data["totals"]["asked"] > 0
            started = time.perf_counter()
            await store._read(lambda c: c.execute(sql, bounds).fetchall())
            floor_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
    return {"review_p95_ms": round(percentile(review_ms, 0.95), 1),
            "review_median_ms": round(percentile(review_ms, 0.5), 1),
            "range_p95_ms": round(percentile(range_ms, 0.95), 1),
            "month_p95_ms": round(percentile(month_ms, 0.95), 1),
            "floor_p95_ms": round(percentile(floor_ms, 0.95), 1),
            "floor_median_ms": round(percentile(floor_ms, 0.5), 1)}


def _export(path: str, sink: str, export: bool, answer: multiprocessing.SimpleQueue[int]
            ) -> None:
    from store.records import Question
    from web.desk_export import _csv_bytes, _question, rows_of  # the export's own code

    async def run() -> int:
        store = SQLiteStore(Path(path))
        await store.open()
        written = 0
        try:
            if export:
                year = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
                to_row = _question(load_catalog(), DESK_TZ)
                with Path(sink).open("wb") as out:  # noqa: ASYNC230 - the sink stands in for the socket
                    async for records in rows_of(store, Question, year.window):
                        out.write(_csv_bytes([to_row(r) for r in records]))
                        written += len(records)
        finally:
            await store.close()
        return written

    answer.put(asyncio.run(run()))
    # VmHWM, not ru_maxrss: the latter carries the parent's peak across fork and exec.
    status = Path("/proc/self/status").read_text()
    answer.put(int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("VmHWM:"))))


def export_rss(path: Path, export: bool) -> tuple[int, float]:
    context = multiprocessing.get_context("spawn")
    answer: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        child = context.Process(target=_export, args=(str(path), f"{tmp}/out.csv", export,
                                                       answer))
        child.start()
        child.join()
        rows, peak_kib = answer.get(), answer.get()
    return rows, round(peak_kib / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=210_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tp-bench-desk-") as tmp:
        path = Path(tmp) / "store.sqlite3"
        started = time.perf_counter()
        build(path, args.questions)
        built = time.perf_counter() - started
        figures = asyncio.run(timings(path, args.runs))
        rows, peak = export_rss(path, True)
        _, floor = export_rss(path, False)
    print(json.dumps({
        "bench": "desk", "questions": args.questions, "days": DAYS, "runs": args.runs,
        **figures, "export_rows": rows, "export_peak_rss_mib": peak,
        "export_floor_rss_mib": floor, "build_seconds": round(built, 1),
        "load_avg_1m": {"start": round(load_at_start, 2),
                        "end": round(os.getloadavg()[0], 2)},
        "targets": {"review_p95_ms": 300, "range_p95_ms": 300, "month_p95_ms": 300,
                    "export_peak_rss_mib": 200},
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
