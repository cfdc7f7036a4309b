"""The URL map, in one place, with the roles that may use each route.

``roles=None`` marks a public route; every other route is checked by ``web.auth`` before its
handler runs, and ``tests/web/test_authorization.py`` walks this table as every kind of user.
The core pages are listed here; the video, clip and library modules keep their own tables
(``ROUTES`` in each), joined below.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web import (
    admin,
    admin_catalog,
    admin_knowledge,
    admin_sessions,
    answers,
    api,
    api_actions,
    ask_pages,
    auth,
    clip_review,
    desk_api,
    desk_export,
    desk_pages,
    desk_schedule,
    embed,
    keys,
    library_pages,
    live_pages,
    media,
    overlay,
    pages,
    phone_pages,
    replay_pages,
    ws,
)
from web.routing import ADMIN, CAPTIONERS, HOSTS, NOTERS, STAFF, Route

STATIC_DIR = Path(__file__).parent / "static"

CORE_ROUTES: tuple[Route, ...] = (
    Route("GET", "/", pages.home, None),
    Route("GET", "/healthz", pages.healthz, None),
    Route("GET", "/login", auth.login_form, None),
    Route("POST", "/login", auth.login_submit, None),
    Route("POST", "/logout", auth.logout, STAFF),
    Route("GET", "/staff", pages.staff_home, STAFF),
    Route("GET", "/account/password", pages.password_form, STAFF),
    Route("POST", "/account/password", pages.password_submit, STAFF),
    Route("GET", "/admin/staff", admin.staff_list, ADMIN),
    Route("POST", "/admin/staff", admin.staff_create, ADMIN),
    Route("POST", "/admin/staff/{user_id}", admin.staff_update, ADMIN),
    Route("GET", "/admin/audit", admin.audit_log, ADMIN),
    Route("GET", "/admin/sessions", admin_sessions.sessions_list, ADMIN),
    Route("POST", "/admin/sessions", admin_sessions.session_create, ADMIN),
    Route("GET", "/admin/sessions/{session_id}", admin_sessions.session_detail, ADMIN),
    Route("POST", "/admin/sessions/{session_id}", admin_sessions.session_update, ADMIN),
    Route("GET", "/admin/lists", admin_sessions.lists_page, ADMIN),
    Route("POST", "/admin/lists", admin_sessions.lists_update, ADMIN),
    Route("GET", "/live/{session_id}", live_pages.live_page, None),
    Route("GET", "/staff/sessions/{session_id}/moderate", live_pages.moderate_page, NOTERS),
    Route("GET", "/staff/sessions/{session_id}/host", live_pages.host_page, HOSTS),
    Route("GET", "/staff/sessions/{session_id}/captions", live_pages.captions_page, CAPTIONERS),
    # The websockets authenticate themselves (a viewer cookie; a staff login per frame).
    Route("GET", "/ws/live/{session_id}", ws.viewer_socket, None),
    Route("GET", "/ws/staff/{session_id}", ws.staff_socket, None),
)

ROUTES: tuple[Route, ...] = (CORE_ROUTES + media.ROUTES + admin_catalog.ROUTES
                              + clip_review.ROUTES + library_pages.ROUTES + api.ROUTES
                              + api_actions.ROUTES + desk_api.ROUTES + desk_export.ROUTES
                              + desk_pages.ROUTES + answers.ROUTES + ask_pages.ROUTES
                              + overlay.ROUTES + phone_pages.ROUTES + embed.ROUTES
                              + admin_knowledge.ROUTES + desk_schedule.ROUTES
                              + replay_pages.ROUTES)


def setup_routes(app: web.Application) -> None:
    roles = app[keys.ROUTE_ROLES]
    for route in ROUTES:
        added = app.router.add_route(route.method, route.path, route.handler)
        roles[added] = route.roles
    app.router.add_static("/static", STATIC_DIR, name="static", append_version=True)
