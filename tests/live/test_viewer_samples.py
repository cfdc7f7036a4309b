"""Viewer counts sampled while a session is live (``live.viewer_samples``): real viewer
websockets on the real hub, stored samples, and the desk's figures, API and export made from
them."""

from __future__ import annotations

import asyncio
import csv
import io
import time

from store.desk_records import ViewerSample
from tests.live.conftest import Live
from web import keys


async def test_samples_count_the_open_viewer_sockets_of_live_sessions(live: Live) -> None:
    sampler = live.app[keys.VIEWER_SAMPLER]
    store = live.app[keys.STORE]
    minute = 1_800_000_000.0
    sampler.clock = lambda: minute
    first, second = await live.viewer(), await live.viewer()
    assert await sampler.sample() == 1
    assert await sampler.sample() == 0  # the same minute is stored once
    sampler.clock = lambda: minute + 60
    await first.close()
    for _ in range(100):  # the server notices the closed socket
        if live.app[keys.HUB].counts(live.session.id)["viewers"] == 1:
            break
        await asyncio.sleep(0.02)
    assert await sampler.sample() == 1
    samples = sorted((s.at, s.viewers) for s in await store.find(ViewerSample))
    assert samples == [(minute, 2), (minute + 60, 1)]
    await live.app[keys.SESSIONS].end(live.session.id, actor="test")
    sampler.clock = lambda: minute + 120
    assert await sampler.sample() == 0  # ended: nothing to sample
    await second.close()


async def test_peak_and_average_viewers_in_stats_and_export(live: Live) -> None:
    store = live.app[keys.STORE]
    now = time.time()
    for n, viewers in enumerate((3, 9, 6)):
        await store.insert(ViewerSample(id=f"{live.session.id}:{n}", session_id=live.session.id,
                                        at=now - 600 + 60 * n, viewers=viewers, created_at=now,
                                        updated_at=now))
    await store.insert(ViewerSample(id="other:1", session_id="other", at=now - 40 * 86400,
                                    viewers=50, created_at=now, updated_at=now))
    await live.site.add_user("mod", "moderator")
    client = await live.site.login("mod")
    body = await (await client.get("/api/stats/viewers")).json()
    assert body["sessions"] == [{"session_id": live.session.id, "title": "交警视频帮 上午场",
                                 "peak": 9, "average": 6.0, "samples": 3}]
    page = await (await client.get("/staff/stats")).text()
    assert "<td>交警视频帮 上午场</td><td>9</td><td>6.0</td><td>3</td>" in page
    # Sessions made today (the fixture's): peak and average in the last two columns.
    exported = await (await client.get("/api/export/sessions.csv")).read()
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["观众峰值", "平均观众"]
    assert [(r[0], r[-2], r[-1]) for r in rows[1:]] == [(live.session.id, "9", "6.0")]
    figures = await store.viewer_figures(session_ids=["other", live.session.id])
    assert [(f.session_id, f.peak) for f in figures] == sorted(
        [("other", 50), (live.session.id, 9)])
    assert await store.viewer_figures(session_ids=[]) == []
