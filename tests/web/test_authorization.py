"""Every route in the URL map, walked as every kind of user.

Anonymous people and viewers are sent to the login page from staff pages (the staff API
answers 401); a staff member
whose role is not allowed gets 403; an allowed role gets through. New routes are covered
automatically because the walk reads ``web.routes.ROUTES``.
"""

from __future__ import annotations

import re

import pytest

from live.sessions import SessionForm
from store.records import ROLES
from tests.support import Site, staff_csrf
from tests.web.clip_seed import add_clip, reindex
from web import keys
from web.routes import ROUTES

ACTORS = ("anonymous", "viewer", *ROLES)


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], path)


# Public routes that answer a bare request with 400 or 404: a question is required
# (/api/answers), the citizen's page needs its signed token.
NEEDS_ARGUMENT = frozenset({"/api/answers", "/ask/q/{token}"})


@pytest.mark.parametrize("actor", ACTORS)
async def test_every_route_enforces_its_roles(site: Site, actor: str) -> None:
    other = await site.add_user("someone", "host")
    broadcast = await site.app[keys.SESSIONS].create(
        SessionForm("测试场", scheduled_start=1.8e9), actor="test")
    # A published clip without files: the library's pages answer 200; media names point at
    # nothing here, their access rules are tests/web/test_media.py's.
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    await reindex(site.app)
    ids = {"user_id": other.id, "session_id": broadcast.id, "clip_id": clip.id,
           "name": "index.m3u8", "kind": "questions", "format": "csv",
           "notice_id": "no-such-notice", "entry_id": "license-reissue-1", "token": "none.none"}
    if actor in ROLES:
        await site.add_user(f"u{actor}", actor)
        client = await site.login(f"u{actor}")
        token = await staff_csrf(client)
    else:
        client = await site.new_client()
        if actor == "viewer":
            client.session.cookie_jar.update_cookies({"tp_viewer": "some-viewer"})
        token = ""
    for route in ROUTES:
        if route.path == "/logout" or route.path.startswith("/ws/"):
            continue  # logout ends the login; sockets are walked in tests/live/test_ws.py
        response = await client.request(route.method, concrete(route.path, ids),
                                        data={"_csrf": token}, allow_redirects=False)
        where = f"{route.method} {route.path} as {actor}"
        if route.roles is None:
            if route.method == "GET":  # public forms' POSTs are the CSRF tests' business
                # (A replay exists only once its session has ended; this one has not.)
                files = route.path.startswith(("/media/", "/vendor/", "/replay/"))
                expected = (200, 404) if files else (200, 302)
                if route.path in NEEDS_ARGUMENT:
                    expected = (400, 404)  # what a bare request is; never a login
                assert response.status in expected, where
                assert not response.headers.get("Location", "").startswith("/login"), where
        elif actor not in route.roles:
            if actor in ROLES:
                assert response.status == 403, where
            elif route.path.startswith("/api/"):
                assert response.status == 401, where  # an API answers, never redirects
            else:
                assert response.status == 302, where
                assert response.headers["Location"].startswith("/login"), where
        else:
            assert response.status not in (302, 401, 403), where


def test_every_staff_route_is_under_a_staff_prefix() -> None:
    # Staff pages get Cache-Control: no-store by prefix; keep new routes under one. The
    # desk's JSON and exports set no-store themselves (tests/web/test_desk.py).
    for route in ROUTES:
        if route.roles is not None:
            assert route.path.startswith(("/staff", "/admin", "/account", "/logout",
                                          "/api/sessions/", "/api/stats/", "/api/review",
                                          "/api/export/")), route.path
