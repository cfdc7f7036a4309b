"""The embeddable player: ``/embed/<session>`` for other sites' ``<iframe>``.

A bare page with the session's live picture (``web/static/player.js``, the live page's
player, muted until the viewer turns the sound on, as browsers require in a frame); once
the session has ended, a link to its replay once it is public, else a notice. No
websocket: a frame on another site gets no first-party cookies, so the page learns the
session's status from ``/embed/<session>/status`` (public JSON, polled while it waits).

Framing: every page of the site refuses to be framed (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``, ``web.security``). This page alone sends its own policy naming
the origins listed in ``[embed] frame_ancestors`` (``'none'`` when the list is empty), and
no ``X-Frame-Options`` (which cannot name an origin list).
"""

from __future__ import annotations

from aiohttp import web

from settings import Settings
from store.records import LiveSession
from web import keys
from web.live_pages import session_or_404
from web.render import render
from web.routing import Route
from web.security import CSP

REPLAY_ROUTE = "/replay/{session_id}"


def embed_csp(settings: Settings) -> str:
    """The site's policy with ``frame-ancestors`` naming the allowed origins."""
    ancestors = " ".join(settings.embed.origins) or "'none'"
    return CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def _replay(request: web.Request, session: LiveSession) -> str:
    """The session's public replay page, or "" (not ended, not published, or no replays)."""
    if not any(r.canonical == REPLAY_ROUTE for r in request.app.router.resources()):
        return ""
    public = request.app[keys.REPLAYS].may_watch(session, staff=False)
    return f"/replay/{session.id}" if session.status == "ended" and public else ""


async def embed_page(request: web.Request) -> web.StreamResponse:
    session = await session_or_404(request)
    recordings = request.app[keys.RECORDINGS]
    response = render(request, "embed.html", session=session, video=recordings.enabled,
                      replay=_replay(request, session))
    response.headers["Content-Security-Policy"] = embed_csp(request.app[keys.SETTINGS])
    return response


async def embed_status(request: web.Request) -> web.StreamResponse:
    session = await session_or_404(request)
    return web.json_response({"status": session.status,
                              "replay": _replay(request, session)},
                             headers={"Cache-Control": "no-cache"})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/embed/{session_id}", embed_page, None),
    Route("GET", "/embed/{session_id}/status", embed_status, None),
)
