"""The embeddable player's page: framed only by the origins in ``[embed] frame_ancestors``
(every other page keeps refusing frames), its public status, and the settings' check of the
origins. Chromium's side of it is tests/browser/test_console_video.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from live.sessions import SessionForm
from settings import Settings, SettingsError, load_settings
from tests.support import ClientFactory, Site
from web import keys
from web.app import create_app

ORIGINS = "https://www.example.gov.cn https://*.example.cn http://127.0.0.1:8123"


def ancestors(csp: str) -> str:
    [directive] = [d.strip() for d in csp.split(";") if "frame-ancestors" in d]
    return directive


async def test_only_the_embed_page_may_be_framed_by_the_listed_origins(
        settings: Settings, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(create_app(settings.replace(
        embed={"frame_ancestors": ORIGINS})))
    b = await client.app[keys.SESSIONS].create(SessionForm("嵌入场", scheduled_start=1.8e9),
                                               actor="t")
    page = await client.get(f"/embed/{b.id}")
    assert page.status == 200
    assert ancestors(page.headers["Content-Security-Policy"]) == f"frame-ancestors {ORIGINS}"
    assert "X-Frame-Options" not in page.headers
    # The rest of the policy is the site's: no inline script, nothing from elsewhere.
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = await page.text()
    assert 'data-muted="on"' in html and f"/media/live/{b.id}/index.m3u8" in html
    for path in ("/", f"/live/{b.id}", f"/overlay/{b.id}", f"/embed/{b.id}/status",
                 "/static/player.js", "/login"):
        response = await client.get(path)
        assert ancestors(response.headers["Content-Security-Policy"]) == \
            "frame-ancestors 'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path
    status = await client.get(f"/embed/{b.id}/status")
    assert await status.json() == {"status": "scheduled", "replay": ""}
    await client.app[keys.SESSIONS].start(b.id, actor="t")
    assert (await (await client.get(f"/embed/{b.id}/status")).json())["status"] == "live"
    assert (await client.get("/embed/nosuchsession")).status == 404


async def test_without_origins_nobody_may_frame_it(site: Site) -> None:
    b = await site.app[keys.SESSIONS].create(SessionForm("场", scheduled_start=1.8e9),
                                             actor="t")
    page = await site.first.get(f"/embed/{b.id}")
    assert ancestors(page.headers["Content-Security-Policy"]) == "frame-ancestors 'none'"


async def test_an_ended_session_links_to_its_replay_once_it_is_public(site: Site) -> None:
    sessions = site.app[keys.SESSIONS]
    b = await sessions.create(SessionForm("场", scheduled_start=1.8e9), actor="t")
    await sessions.start(b.id, actor="t")
    await sessions.end(b.id, actor="t")
    html = await (await site.first.get(f"/embed/{b.id}")).text()
    assert "直播已结束" in html
    assert f'href="/replay/{b.id}"' not in html  # not published yet ([replays] publish)
    status = await (await site.first.get(f"/embed/{b.id}/status")).json()
    assert status == {"status": "ended", "replay": ""}
    await site.app[keys.REPLAYS].set_published(b.id, True, actor="t")
    html = await (await site.first.get(f"/embed/{b.id}")).text()
    assert f'href="/replay/{b.id}"' in html and "观看回放" in html
    status = await (await site.first.get(f"/embed/{b.id}/status")).json()
    assert status == {"status": "ended", "replay": f"/replay/{b.id}"}


@pytest.mark.parametrize("value", ["*", "'self' https://a.cn", "https://a.cn/path",
                                   "javascript:alert(1)", "https://a.cn;script-src *",
                                   "example.cn"])
def test_frame_ancestors_takes_origins_only(tmp_path: Path, value: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f"[embed]\nframe_ancestors = {json.dumps(value)}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="frame_ancestors"):
        load_settings(path, env={})
