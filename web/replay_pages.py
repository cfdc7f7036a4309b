"""The replay of an ended session: ``/replay/{id}``, its captions and chapters as WebVTT.

The page plays the whole recording (``/media/replay/{id}/index.m3u8``, ``web.media``) with
hls.js or native HLS (``web/static/replay.js``), lists a chapter per question answered on air
(its masked text, its business item, its wall-clock time in ``[server] time_zone``; a button
that seeks the video there) and links each chapter's published clip. Who may see it is
``clips.replays``' rule: the public once it is published, staff until the recording is
deleted; anyone else gets the same 404 as for a session that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from clips.replays import PUBLISHED, STATE_LABELS, Replay
from store.base import NotFound
from store.records import LiveSession
from web import keys
from web.library_view import clip_path, duration_text
from web.media_stream import bytes_response
from web.render import render
from web.routing import Route
from web.viewers import ensure_viewer

VTT_TYPE = "text/vtt; charset=utf-8"


def replay_path(session_id: str) -> str:
    return f"/replay/{session_id}"


def _is_staff(request: web.Request) -> bool:
    return keys.LOGIN in request


async def _watchable(request: web.Request) -> LiveSession:
    """The session in the URL, if this request may watch its replay; else 404."""
    try:
        session = await request.app[keys.STORE].get(LiveSession,
                                                    request.match_info["session_id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    if not request.app[keys.REPLAYS].may_watch(session, staff=_is_staff(request)):
        raise web.HTTPNotFound()
    return session


def _chapters(request: web.Request, replay: Replay | None) -> list[dict[str, Any]]:
    if replay is None:
        return []
    catalog = request.app[keys.MODERATION].catalog
    chapters = []
    for chapter in replay.chapters:
        item = catalog.get(chapter.item_id) if chapter.item_id else None
        chapters.append({
            "id": chapter.question_id, "text": chapter.text,
            "item": item.name if item else "", "at": chapter.at,
            "offset": None if chapter.offset is None else round(chapter.offset, 2),
            "position": "" if chapter.offset is None else duration_text(chapter.offset),
            "clip_url": clip_path(chapter.clip_id) if chapter.clip_id else "",
        })
    return chapters


async def replay_page(request: web.Request) -> web.StreamResponse:
    session = await _watchable(request)
    replays = request.app[keys.REPLAYS]
    replay = await replays.load(session)
    state = replays.state(session)
    response = render(
        request, "replay.html", session=session, replay=replay,
        chapters=_chapters(request, replay), public=state == PUBLISHED,
        state_label=STATE_LABELS[state],
        duration=duration_text(replay.duration) if replay else "",
        src=f"/media/replay/{session.id}/index.m3u8",
        captions=f"{replay_path(session.id)}/captions.vtt",
        chapters_src=f"{replay_path(session.id)}/chapters.vtt")
    if state != PUBLISHED:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
    ensure_viewer(request, response)
    return response


async def _vtt(request: web.Request, chapters: bool) -> web.Response:
    session = await _watchable(request)
    replay = await request.app[keys.REPLAYS].load(session)
    if replay is None:
        raise web.HTTPNotFound()
    text = replay.chapters_vtt() if chapters else replay.captions_vtt()
    return bytes_response(request, text.encode(), {"Content-Type": VTT_TYPE,
                                                   "Cache-Control": "no-cache"})


async def captions_vtt(request: web.Request) -> web.Response:
    return await _vtt(request, chapters=False)


async def chapters_vtt(request: web.Request) -> web.Response:
    return await _vtt(request, chapters=True)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/replay/{session_id}", replay_page, None),
    Route("GET", "/replay/{session_id}/captions.vtt", captions_vtt, None),
    Route("GET", "/replay/{session_id}/chapters.vtt", chapters_vtt, None),
)
