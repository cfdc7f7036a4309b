"""A disk that fills up under a real ``run.py serve`` while viewers ask (a small tmpfs holds
the data directory; needs root: skipped without it locally, required under CI=true). Asks
on the full disk are answered with a clear ``unavailable`` error and stored nowhere; nothing
acknowledged before is lost; once there is room again the same asks (same client ids) are
stored, once, and the server carries on without a restart."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.faults.server import Server, Viewer, free_port, seed, write_settings
from tests.faults.test_kill import stored
from tests.live.test_disk_full import fill

LIVE = {"viewer_questions_per_minute": 1000, "address_questions_per_minute": 1_000_000}


async def ask_all(viewers: list[Viewer], round_: str) -> list[dict[str, object]]:
    async def one(i: int, v: Viewer) -> dict[str, object]:
        cid = f"{round_}-{i}"
        return await v.request("ask", cid, client_id=cid, text=f"第{i}位观众问：年审要带什么材料？")

    return list(await asyncio.gather(*(one(i, v) for i, v in enumerate(viewers))))


async def test_asks_on_a_full_disk_are_refused_clearly_and_recover(tmp_path: Path,
                                                                   disk: Path) -> None:
    port = free_port()
    settings = write_settings(tmp_path / "settings.toml", disk / "data", port, LIVE)
    session = await seed(settings)
    server = Server(tmp_path / "settings.toml", port, tmp_path / "server.log")
    await server.start()
    viewers = list(await asyncio.gather(*(Viewer.open(server, session.id) for _ in range(20))))
    path = f"/ws/live/{session.id}"
    try:
        await asyncio.gather(*(v.connect(server, path) for v in viewers))
        first = await ask_all(viewers, "before")
        assert all(a["type"] == "ack" for a in first), first
        acked = {str(a["client_id"]): str(a["question_id"]) for a in first}

        # Everything so far into the database file and an empty write-ahead log, so that the
        # next commit must grow the log on a disk with no room left.
        with sqlite3.connect(settings.sqlite_path) as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        filler = fill(disk)
        full = await ask_all(viewers, "full")
        assert {a["type"] for a in full} == {"error"}, full
        assert {a["code"] for a in full} == {"unavailable"}
        assert all("稍后重试" in str(a["message"]) for a in full)
        assert set(acked.items()) <= set(stored(settings.sqlite_path, session.id))

        filler.unlink()
        again = await ask_all(viewers, "full")  # the same requests, now with room
        assert all(a["type"] == "ack" and a["created"] for a in again), again
        rows = stored(settings.sqlite_path, session.id)
        assert len(rows) == 2 * len(viewers)
        assert set(acked.items()) | {(str(a["client_id"]), str(a["question_id"]))
                                     for a in again} == set(rows)
        assert server.proc is not None and server.proc.returncode is None
    finally:
        for v in viewers:
            await v.close()
        await server.stop()
