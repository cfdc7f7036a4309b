"""A desk in another time zone (``[server] time_zone = "America/New_York"``, which has
daylight saving): day boundaries of the figures, the review and exports, times on the pages
and in the sitemap, and the session form all read and write New York time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from settings import Settings
from store.records import ClipView, LiveSession, Question
from tests.support import Site, both_backends, staff_csrf
from tests.web.clip_seed import add_clip
from tests.web.test_desk import answer, exported, staff
from web import keys

ZONE = "America/New_York"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(server={"time_zone": ZONE})


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


# 2026-11-01 is 25 hours long in New York (01:00–02:00 comes twice).
MOMENTS = {
    "a": utc(2026, 11, 1, 3, 30),   # 23:30 EDT on Oct 31
    "b": utc(2026, 11, 1, 5, 30),   # 01:30 EDT on Nov 1
    "c": utc(2026, 11, 1, 6, 30),   # 01:30 EST on Nov 1, the second time
    "d": utc(2026, 11, 2, 4, 30),   # 23:30 EST on Nov 1 (a fixed -4 h would say Nov 2)
    "e": utc(2026, 11, 2, 5, 30),   # 00:30 EST on Nov 2
}


async def seed(site: Site) -> None:
    for name, at in MOMENTS.items():
        await site.app[keys.STORE].insert(Question(
            id=f"q{name}", session_id="s1", viewer_id=f"v{name}", client_id=name,
            text="驾照到期怎么换", category="驾驶证", item_id="license-renewal",
            state="pending", created_at=at, updated_at=at))


@both_backends
async def test_figures_review_and_export_use_the_configured_days(site: Site) -> None:
    await seed(site)
    client = await staff(site)
    days = await answer(client, "/api/stats/questions?from=2026-10-31&to=2026-11-02")
    assert [(g["key"], g["asked"]) for g in days["groups"]] == [
        ("2026-10-31", 1), ("2026-11-01", 3), ("2026-11-02", 1)]
    review: dict[str, Any] = await answer(client, "/api/review?period=day&date=2026-11-01")
    assert review["totals"]["asked"] == 3
    assert review["clusters"][0]["asked"] == 3
    rows = await exported(client, "/api/export/questions.csv?from=2026-11-01&to=2026-11-01")
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("qb", "2026-11-01 01:30:00"), ("qc", "2026-11-01 01:30:00"),
        ("qd", "2026-11-01 23:30:00")]


async def test_pages_show_and_read_times_in_the_configured_zone(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期了怎么换",
                          published_at=utc(2026, 7, 1, 16))
    sitemap = await (await site.first.get("/sitemap.xml")).text()
    assert "<lastmod>2026-07-01T12:00:00-04:00</lastmod>" in sitemap
    page = await (await site.first.get(f"/clips/{clip.id}")).text()
    assert f'data-time-zone="{ZONE}"' in page

    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/sessions")
    created = await admin.post("/admin/sessions", data={
        "_csrf": token, "title": "周三上午场", "scheduled_start": "2027-01-06T10:00"})
    assert created.status == 200
    [session] = await site.app[keys.STORE].find(LiveSession)
    assert session.scheduled_start == utc(2027, 1, 6, 15)  # 10:00 EST
    listing = await (await admin.get("/admin/sessions")).text()
    assert "2027-01-06 10:00" in listing
    form = await (await admin.get(f"/admin/sessions/{session.id}")).text()
    assert 'value="2027-01-06T10:00"' in form and f"计划开始（{ZONE} 时间）" in form


async def test_a_clip_view_counts_in_the_configured_day(site: Site) -> None:
    library = site.app[keys.LIBRARY]
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期了怎么换")
    library.clock = lambda: utc(2026, 7, 2, 2)  # 22:00 EDT on July 1 (10:00 on the 2nd in China)
    assert await library.record_view(clip.id, "viewer-1")
    [view] = await site.app[keys.STORE].find(ClipView)
    assert view.day == "20260701"
