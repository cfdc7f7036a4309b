"""A route and the roles that may use it: the unit every page module's ``ROUTES`` lists.

``roles=None`` marks a public route; every other route is checked by ``web.auth`` before its
handler runs. ``web.routes`` gathers the modules' tables into the one URL map.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.typedefs import Handler

from store.records import ADMIN, CAPTIONERS, HOSTS, MODERATORS, NOTERS, STAFF

__all__ = ["ADMIN", "CAPTIONERS", "HOSTS", "MODERATORS", "NOTERS", "STAFF", "Route"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None
