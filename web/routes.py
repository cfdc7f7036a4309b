"""The URL map, in one place, with the roles that may use each route.

``roles=None`` marks a public route; every other route is checked by ``web.auth`` before its
handler runs, and ``tests/web/test_authorization.py`` walks this table as every kind of user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from store.records import ROLES
from web import admin, auth, keys, pages

STAFF = frozenset(ROLES)
ADMIN = frozenset({"admin"})
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None


ROUTES: tuple[Route, ...] = (
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
)


def setup_routes(app: web.Application) -> None:
    roles = app[keys.ROUTE_ROLES]
    for route in ROUTES:
        added = app.router.add_route(route.method, route.path, route.handler)
        roles[added] = route.roles
    app.router.add_static("/static", STATIC_DIR, name="static", append_version=True)
