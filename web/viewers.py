"""Anonymous viewer identity: a random id in a cookie signed with the server's key.

Viewers do not log in. The id lets a viewer follow their own questions across reloads and
reconnects, say "me too" once, and be timed out or banned; the signature stops anyone from
claiming another viewer's id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from aiohttp import web

from web import keys
from web.security import cookie_secure

VIEWER_COOKIE = "tp_viewer"
ONE_YEAR = 365 * 24 * 3600


def _sign(key: bytes, viewer_id: str) -> str:
    digest = hmac.new(key, f"viewer:{viewer_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def read_viewer(request: web.Request) -> str | None:
    """The viewer id from a validly signed cookie, or None."""
    raw = request.cookies.get(VIEWER_COOKIE, "")
    viewer_id, _, signature = raw.partition(".")
    if not viewer_id or len(viewer_id) > 32 or not signature or not raw.isascii():
        return None  # we only ever issue ASCII
    expected = _sign(request.app[keys.SECRET_KEY], viewer_id)
    return viewer_id if hmac.compare_digest(signature, expected) else None


def ensure_viewer(request: web.Request, response: web.StreamResponse) -> str:
    """The viewer's id, issuing a new signed cookie to a first-time visitor."""
    viewer_id = read_viewer(request)
    if viewer_id is None:
        viewer_id = secrets.token_urlsafe(12)
        value = f"{viewer_id}.{_sign(request.app[keys.SECRET_KEY], viewer_id)}"
        response.set_cookie(VIEWER_COOKIE, value, max_age=ONE_YEAR, httponly=True,
                            samesite="Lax", path="/", secure=cookie_secure(request))
    return viewer_id
