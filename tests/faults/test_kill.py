"""kill -9 of a real ``run.py serve`` during a burst of 2,000 questions from 200 websocket
clients: after the restart every acknowledged question is in the store exactly once, a retry
of every question (same client id, as a browser resends what it was never told about) is
answered with the stored one or stores the missing one, and a moderator's snapshot of the
restarted server pages through all 2,000 (the first snapshot holds 500)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp

from tests.faults.server import Server, Viewer, free_port, seed, staff_login, write_settings

CLIENTS, PER_CLIENT = 200, 10
TOTAL = CLIENTS * PER_CLIENT
# The per-viewer, per-address and per-session limits and the cap on sockets per address
# would stop a burst from one loopback address.
LIVE = {"viewer_questions_per_minute": 1000, "address_questions_per_minute": 1_000_000,
        "session_questions_per_minute": 1_000_000, "address_sockets_max": 1000}
LOST = (ConnectionError, aiohttp.ClientError, TimeoutError)


def text(i: int, n: int) -> str:
    return f"第{i}位观众的第{n}个问题：驾驶证到期了去哪里换？"


def stored(db: Path, session_id: str) -> list[tuple[str, str]]:
    """(client id, question id) of every question of the session, read from the file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT client_id, id FROM questions WHERE session_id = ?",
                            (session_id,)).fetchall()
    return [(str(c), str(q)) for c, q in rows]


async def burst(viewer: Viewer, i: int, acked: dict[str, str],
                refused: list[dict[str, object]], half: asyncio.Event) -> None:
    for n in range(PER_CLIENT):
        cid = f"c{i}-{n}"
        try:
            ack = await viewer.request("ask", cid, client_id=cid, text=text(i, n))
        except LOST:
            return  # the server died under us: whatever was not acknowledged is retried
        if ack["type"] == "ack":
            acked[cid] = ack["question_id"]
            if len(acked) >= TOTAL // 2:
                half.set()
        else:
            refused.append(ack)


async def test_kill_9_during_a_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    settings = write_settings(tmp_path / "settings.toml", tmp_path / "data", port, LIVE)
    session = await seed(settings, staff="mod")
    server = Server(tmp_path / "settings.toml", port, tmp_path / "server.log")
    await server.start()
    viewers = list(await asyncio.gather(*(Viewer.open(server, session.id)
                                          for _ in range(CLIENTS))))
    path = f"/ws/live/{session.id}"
    try:
        await asyncio.gather(*(v.connect(server, path) for v in viewers))
        acked: dict[str, str] = {}
        refused: list[dict[str, object]] = []
        half = asyncio.Event()
        tasks = [asyncio.create_task(burst(v, i, acked, refused, half))
                 for i, v in enumerate(viewers)]
        async with asyncio.timeout(60):
            await half.wait()
        await server.kill()  # mid-burst: some 200 questions are in flight
        await asyncio.gather(*tasks)
        assert refused == []
        before_kill = dict(acked)
        assert TOTAL // 2 <= len(before_kill) < TOTAL

        await server.start()
        rows = stored(settings.sqlite_path, session.id)
        assert len(rows) == len(set(rows)) and len({c for c, _ in rows}) == len(rows)
        assert set(before_kill.items()) <= set(rows)  # every acknowledged one, once

        # Every browser sends again what it asked; the stored ones come back as they were.
        again: dict[str, str] = {}
        created = 0
        await asyncio.gather(*(v.connect(server, path) for v in viewers))

        async def retry(v: Viewer, i: int) -> None:
            nonlocal created
            for n in range(PER_CLIENT):
                cid = f"c{i}-{n}"
                ack = await v.request("ask", cid, client_id=cid, text=text(i, n))
                assert ack["type"] == "ack", ack
                again[cid] = ack["question_id"]
                created += bool(ack["created"])

        await asyncio.gather(*(retry(v, i) for i, v in enumerate(viewers)))
        assert {cid: again[cid] for cid in before_kill} == before_kill
        assert created == TOTAL - len(before_kill) - (len(rows) - len(before_kill))
        rows = stored(settings.sqlite_path, session.id)
        assert sorted(rows) == sorted(again.items()) and len(rows) == TOTAL

        # The restarted server's moderator console gets all of them: a snapshot of 500,
        # then pages.
        mod = await staff_login(server, "mod")
        viewers.append(mod)
        _, snapshot = await mod.connect(server, f"/ws/staff/{session.id}")
        assert snapshot["type"] == "snapshot" and len(snapshot["questions"]) == 500
        seen = [q["id"] for q in snapshot["questions"]]
        after = snapshot["next"]
        pages = 0
        while after:
            pages += 1
            page = await mod.request("questions", f"p{pages}", after=after)
            assert page["type"] == "ack", page
            seen += [q["id"] for q in page["questions"]]
            after = page["next"]
        assert pages == 3 and len(seen) == TOTAL and set(seen) == set(again.values())
    finally:
        for v in viewers:
            await v.close()
        await server.stop()
