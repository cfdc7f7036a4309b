"""The on-air overlay: a transparent page for broadcast software (an OBS browser source).

It shows the question on air, its business item and the live captions, and follows the
session over the public viewer websocket like the live page does, so it sees exactly what
the public may see. Its look comes from ``[overlay]`` in the settings (validated colours and
sizes only); a scene may choose the position and turn captions off in the query string, and,
in a session with several hosts (one question on air per host), follow one host's air with
``host=<the host's account id>`` (without it: the question put on air last).
"""

from __future__ import annotations

from aiohttp import web

from web import keys
from web.live_pages import session_or_404
from web.render import render
from web.routing import Route
from web.viewers import ensure_viewer

POSITIONS = ("bottom", "top")


async def overlay_page(request: web.Request) -> web.StreamResponse:
    session = await session_or_404(request)
    look = request.app[keys.SETTINGS].overlay
    position = request.query.get("position", look.position)
    if position not in POSITIONS:
        raise web.HTTPBadRequest(text="position 只能是 bottom 或 top。")
    captions = request.query.get("captions", "1" if look.captions else "0")
    if captions not in ("0", "1"):
        raise web.HTTPBadRequest(text="captions 只能是 0 或 1。")
    host = request.query.get("host", "")
    if host and host not in session.host_ids:
        raise web.HTTPBadRequest(text="host 不是本场直播的主持人。")
    response = render(request, "overlay.html", session=session, look=look,
                      position=position, captions=captions == "1", host=host)
    ensure_viewer(request, response)
    return response


ROUTES: tuple[Route, ...] = (
    Route("GET", "/overlay/{session_id}", overlay_page, None),
)
