"""Store benchmark (issue 13): durable writes per second through the SQLite store, as plain
writes and as transaction blocks, from many concurrent tasks in one process.

    .venv/bin/python bench/store.py               # 200 tasks, 4 s per phase
    .venv/bin/python bench/store.py --tasks 50 --seconds 2

Each phase opens a fresh store (a real file, WAL, ``synchronous=FULL``) in a temporary
directory and runs ``--tasks`` tasks, each writing one question after another for
``--seconds``:

* ``plain``: ``store.insert_question`` — one write, group-committed by the writer thread
  with whatever else is waiting (the floor: what the writer does without blocks);
* ``block``: the same question inside ``store.transaction()``, with its two events appended
  to the outbox (``tx.append_events``), as an action does: the block's exit returns once the
  group it joined is durable.

Reported per phase: writes per second, latency p50/p99 (call to durable return), commits
(fsyncs) and items per commit, and the ratio of block to plain throughput (the target:
blocks cost about what plain writes cost, since they share commits the same way). One JSON
line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.records import Question, new_id
from store.sqlite import SQLiteStore


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]


async def phase(kind: str, tasks: int, seconds: float, where: Path) -> dict[str, Any]:
    store = SQLiteStore(where / f"{kind}.sqlite3")
    await store.open()
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def writer(w: int) -> None:
        i = 0
        while time.monotonic() < end:
            q = Question(id=new_id(), session_id="s", viewer_id=f"v{w}", client_id=f"c{i}",
                         text="驾照快到期了在哪里换？", created_at=time.time(),
                         updated_at=time.time())
            started = time.perf_counter()
            if kind == "plain":
                await store.insert_question(q)
            else:
                async with store.transaction() as tx:
                    await tx.insert_question(q)
                    await tx.append_events("s", [("staff", "question", {"id": q.id}),
                                                 ("viewer:" + q.viewer_id, "question",
                                                  {"id": q.id})])
            latencies.append(time.perf_counter() - started)
            i += 1

    try:
        began = time.monotonic()
        await asyncio.gather(*(writer(w) for w in range(tasks)))
        wall = time.monotonic() - began
        commits = int((await store.status()).get("commits", 0))  # 0: a store without it
    finally:
        await store.close()
    return {
        "writes": len(latencies), "per_s": round(len(latencies) / wall, 1),
        "ms": {"p50": round(percentile(latencies, 50) * 1000, 2),
               "p99": round(percentile(latencies, 99) * 1000, 2)},
        "commits": commits,
        "per_commit": round(len(latencies) / commits, 1) if commits else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"bench": "store", "tasks": args.tasks, "seconds": args.seconds,
                              "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="tp-bench-store-") as tmp:
        for kind in ("plain", "block"):
            result[kind] = asyncio.run(phase(kind, args.tasks, args.seconds, Path(tmp)))
            print(f"{kind}: {result[kind]}", file=sys.stderr)
    result["block_vs_plain"] = round(result["block"]["per_s"] / result["plain"]["per_s"], 2)
    result["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
