"""Search sync benchmark (issue 13): what keeping a node's own search index current from the
store costs (clips/search_sync.py) with 10,000 published clips.

    .venv/bin/python bench/search_sync.py                       # SQLite, 10,000 clips
    .venv/bin/python bench/search_sync.py --mongodb-uri URI     # MongoDB instead
    .venv/bin/python bench/search_sync.py --clips 2000          # smaller, for development

In a temporary directory removed at the end: the store is filled with ``--clips`` published
clips (batched transactions; not timed), the node's index is built from it through
``ClipLibrary.open`` (``build_s``: segmentation of every clip), then ``SearchSync`` runs:

* ``idle_tick_ms``: a sync that finds nothing changed (what every node pays every 2 s):
  one ``updated_at`` query on the store; ``idle_compare_tick_ms``: the same with the count
  check (one count on each side) that runs every 15th tick;
* ``tick_100_changed_ms``: a sync after 100 clips were edited elsewhere (re-read, segmented
  and upserted);
* ``vanished_tick_ms``: a sync after one published clip disappeared from the store without
  a trace (the counts differ: every published id is read and compared);
* ``floor_count_ms``: the floor, one bare ``count`` of published clips on the same store,
  measured in the same run.

Output: progress on stderr; one JSON line on stdout (median of ``--repeat`` runs each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clips.library import ClipLibrary  # noqa: E402
from clips.search_sync import SearchSync  # noqa: E402
from moderation.catalog import load_catalog  # noqa: E402
from moderation.segment import load_word_list  # noqa: E402
from store.base import Store  # noqa: E402
from store.records import Clip  # noqa: E402
from store.sqlite import SQLiteStore  # noqa: E402

TEXTS = ["电动自行车上牌需要带身份证和购车发票", "驾驶证到期换证可以在网上办理吗",
         "违章停车罚款怎么在手机上缴纳", "新车上牌前要先买交强险", "异地驾驶证可以在本地体检吗"]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def timed(step: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await step()  # type: ignore[operator]
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs) * 1000, 2)


async def fill(store: Store, count: int) -> None:
    now = time.time() - 7200  # updated over the hour before last
    for first in range(0, count, 1000):
        async with store.transaction() as tx:
            for i in range(first, min(count, first + 1000)):
                text = TEXTS[i % len(TEXTS)]
                await tx.insert(Clip(
                    id=f"c{i:06d}", session_id="s-bench", question_id=f"q{i}",
                    state="published", title=f"{text}（{i}）", question=text,
                    summary=text, published_at=now, created_at=now,
                    updated_at=now + i * 3600 / count,
                    generation=1))


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        store: Store
        if args.mongodb_uri:
            from store.mongo import MongoStore

            store = MongoStore(args.mongodb_uri, database=f"bench_{secrets.token_hex(4)}")
        else:
            store = SQLiteStore(Path(tmp) / "store.sqlite3")
        await store.open()
        try:
            progress(f"filling {args.clips} clips")
            await fill(store, args.clips)
            library = ClipLibrary(store, load_catalog(), load_word_list(),
                                  index_path=Path(tmp) / "search.sqlite3")
            started = time.perf_counter()
            await library.open()
            build_s = round(time.perf_counter() - started, 2)
            progress(f"index built in {build_s} s")
            sync = SearchSync(library, store)
            await sync.start()
            await sync.stop()  # driven by hand below
            idle = await timed(lambda: sync.sync(compare=False), args.repeat)
            idle_compare = await timed(sync.sync, args.repeat)
            floor = await timed(lambda: store.count(Clip, {"state": "published"}), args.repeat)

            async def hundred_changed() -> None:
                now = time.time()
                async with store.transaction() as tx:
                    for i in range(100):
                        clip = await tx.get(Clip, f"c{i:06d}")
                        await tx.update(Clip, clip.id, {"title": f"{clip.title}·"},
                                        expected_version=clip.version, now=now)
                report = await sync.sync()
                assert report.upserted == 100, report

            changed = await timed(hundred_changed, args.repeat)
            gone = iter(range(args.clips - 1, 0, -1))

            async def vanished() -> None:
                await store.delete(Clip, f"c{next(gone):06d}")
                report = await sync.sync()
                assert report.compared and report.removed == 1, report

            vanished_ms = await timed(vanished, args.repeat)
            await library.close()
        finally:
            if args.mongodb_uri:
                await store.drop_database()  # type: ignore[attr-defined]
            await store.close()
    return {"bench": "search_sync", "store": "mongodb" if args.mongodb_uri else "sqlite",
            "clips": args.clips, "build_s": build_s, "idle_tick_ms": idle,
            "idle_compare_tick_ms": idle_compare,
            "tick_100_changed_ms": changed, "vanished_tick_ms": vanished_ms,
            "floor_count_ms": floor, "idle_tick_vs_floor": round(idle / max(floor, 1e-3), 1),
            "sync_interval_s": sync.interval}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mongodb-uri", default="")
    print(json.dumps(asyncio.run(main(parser.parse_args())), ensure_ascii=False))
