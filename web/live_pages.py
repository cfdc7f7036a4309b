"""The live pages: the viewer's page, the moderation, host and caption consoles.

The pages are server-rendered shells; their scripts (``web/static/``) connect to the
websockets in ``web.ws`` and keep the page current. Data a script needs at start comes in
``data-`` attributes or a non-executable JSON block, so the CSP can forbid inline scripts.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from live.sessions import STATUS_LABELS
from store.base import NotFound
from store.records import LiveSession, StaffUser
from web import keys
from web.render import render
from web.viewers import ensure_viewer


async def session_or_404(request: web.Request) -> LiveSession:
    """The session named in the URL, or a 404 page."""
    try:
        return await request.app[keys.STORE].get(LiveSession, request.match_info["session_id"])
    except NotFound:
        raise web.HTTPNotFound() from None


def catalog_json(request: web.Request) -> dict[str, Any]:
    catalog = request.app[keys.MODERATION].catalog
    return {
        "categories": list(catalog.categories),
        "items": [{"id": i.id, "category": i.category, "name": i.name, "link": i.link}
                  for i in catalog.items],
    }


async def live_page(request: web.Request) -> web.StreamResponse:
    session = await session_or_404(request)
    response = render(request, "live.html", session=session, status_labels=STATUS_LABELS,
                      video=request.app[keys.SETTINGS].media.record)
    ensure_viewer(request, response)
    return response


async def _hosts(request: web.Request, session: LiveSession) -> list[StaffUser]:
    store = request.app[keys.STORE]
    hosts = []
    for host_id in session.host_ids:
        try:
            hosts.append(await store.get(StaffUser, host_id))
        except NotFound:
            continue
    return hosts


async def moderate_page(request: web.Request) -> web.Response:
    session = await session_or_404(request)
    templates = await request.app[keys.MODERATION].reason_templates()
    return render(request, "moderate.html", session=session, status_labels=STATUS_LABELS,
                  hosts=await _hosts(request, session), catalog=catalog_json(request),
                  reasons=[t.text for t in templates if t.kind != "reply"],
                  replies=[t.text for t in templates if t.kind == "reply"],
                  video=request.app[keys.RECORDINGS].enabled)


async def host_page(request: web.Request) -> web.Response:
    session = await session_or_404(request)
    return render(request, "host.html", session=session, status_labels=STATUS_LABELS,
                  catalog=catalog_json(request), hosts=await _hosts(request, session),
                  video=request.app[keys.RECORDINGS].enabled)


async def captions_page(request: web.Request) -> web.Response:
    session = await session_or_404(request)
    return render(request, "captions.html", session=session, status_labels=STATUS_LABELS,
                  max_chars=request.app[keys.MODERATION].limits.caption_max_chars)
