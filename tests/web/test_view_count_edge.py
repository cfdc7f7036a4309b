"""A clip view counts only for a viewer cookie the server issued, never for a script that
makes up its own CSRF cookie and header."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from store.records import Clip
from tests.support import Site
from tests.web.clip_seed import add_clip
from web import keys

TOKEN = "s" * 43


async def scripted_view(client: TestClient[web.Request, web.Application], clip_id: str,
                        cookie: str) -> dict[str, object]:
    response = await client.post(f"/api/clips/{clip_id}/view", headers={
        "X-CSRF-Token": TOKEN, "Cookie": cookie})
    assert response.status == 200, await response.text()
    assert "tp_viewer" not in response.cookies  # no identity handed out here
    body: dict[str, object] = await response.json()
    return body


async def test_a_script_with_its_own_csrf_pair_counts_nothing(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    for n in range(30):
        client = await site.new_client()  # a fresh cookie jar each time, as a script would
        body = await scripted_view(client, clip.id, f"tp_csrf={TOKEN}")
        assert body == {"counted": False, "views": 0}, n
        forged = await scripted_view(client, clip.id,
                                     f"tp_csrf={TOKEN}; tp_viewer=made-up{n}.bm90LXNpZ25lZA")
        assert forged == {"counted": False, "views": 0}
    assert (await site.app[keys.STORE].get(Clip, clip.id)).views == 0


async def test_a_viewer_cookie_from_the_clip_page_counts_once(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    client = await site.new_client()
    page = await client.get(f"/clips/{clip.id}")
    match = re.search(r'data-csrf="([^"]+)"', await page.text())
    assert match
    for expected in (True, False):
        response = await client.post(f"/api/clips/{clip.id}/view",
                                     headers={"X-CSRF-Token": match.group(1)})
        assert (await response.json()) == {"counted": expected, "views": 1}
