"""Serving video: a live session's HLS recording, a clip's files, and the hls.js player.

* ``/media/live/{session_id}/{name}`` — the session's playlist (``index.m3u8``, never cached)
  and its segments (``seg_NNNNNN.ts``, cacheable: a segment appears under its name only when
  complete and never changes). Public while the session is live and for
  ``ENDED_GRACE_SECONDS`` after it ends (players finish what they buffered); staff, any
  role, always.
* ``/media/clips/{clip_id}/{name}`` — the MP4, poster and captions of a clip: only the file
  names the clip's record points to, so an earlier cut's files are not served. Public once
  the clip is published; drafts and the rest are for staff. Cacheable: the cut's generation is
  in the name.
* ``/media/replay/{session_id}/{name}`` — an ended session's recording as its replay: the
  playlist rewritten as video on demand (``clips.replays.vod_playlist``) and the same
  segments. Public once the replay is published (``[replays] publish``); staff until the
  retention job has deleted the recording; 404 otherwise. The staff's publish choice is read
  from the store, not the in-memory board, so a withdrawn replay stops at once.
* ``/vendor/hls.js`` — hls.js, from ``node_modules`` (installed by ``make`` from the npm
  registry, never copied into the repository), for browsers without native HLS.

Files are read from the media store (``app[keys.MEDIA]``, ``[media] storage``): with a local
store through ``web.FileResponse`` (sendfile, conditional requests and HTTP ranges), with S3
streamed by this server with the same ranges and validators (``web.media_stream``) — the
player and the clip pages are the same either way, and browsers never see the bucket.

Names are checked against strict patterns before any key is built, a key never leaves the
store's root (``live.media_store.check_key``) and a resolved local path must stay inside the
media directory, so nothing outside it can be reached. Whatever is not served is a plain
404 — whether it does not exist or is not public.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from aiohttp import web

from clips.replays import PUBLISHED, vod_playlist
from live.media_store import check_key, hls_key
from live.recorder_commands import PLAYLIST_NAME
from store.base import NotFound
from store.records import Clip, LiveSession
from web import keys
from web.media_stream import bytes_response, stream_object
from web.routing import Route

log = logging.getLogger(__name__)

ENDED_GRACE_SECONDS = 600
HLS_JS = Path(__file__).resolve().parent.parent / "node_modules/hls.js/dist/hls.min.js"

_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_LIVE_NAME = re.compile(r"^(?:index\.m3u8|seg_[0-9]{6,9}\.ts)$")
_CLIP_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")
CLIP_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".vtt": "text/vtt; charset=utf-8"}
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"


def _is_staff(request: web.Request) -> bool:
    return keys.LOGIN in request


def _cache(public: bool, max_age: int) -> str:
    return f"{'public' if public else 'private'}, max-age={max_age}"


async def _session(request: web.Request, session_id: str) -> LiveSession:
    # A watched session's board is in memory (its viewers' sockets loaded it): use it, so
    # that segment requests do not each cost a store read.
    board = request.app[keys.MODERATION].boards.get(session_id)
    if board is not None:
        return board.session
    try:
        return await request.app[keys.STORE].get(LiveSession, session_id)
    except NotFound:
        raise web.HTTPNotFound() from None


def live_is_public(session: LiveSession, now: float) -> bool:
    """Viewers may read the recording while the session is live, and a little after."""
    if session.status == "live":
        return True
    return session.status == "ended" and now - session.ended_at < ENDED_GRACE_SECONDS


async def live_file(request: web.Request) -> web.StreamResponse:
    session_id = request.match_info["session_id"]
    name = request.match_info["name"]
    if not _ID.match(session_id) or not _LIVE_NAME.match(name):
        raise web.HTTPNotFound()
    session = await _session(request, session_id)
    public = live_is_public(session, request.app[keys.SESSIONS].clock())
    if not public and not _is_staff(request):
        raise web.HTTPNotFound()
    if name == PLAYLIST_NAME:
        # Players poll the playlist; "no-cache" lets them revalidate (ETag) each time.
        headers = {"Content-Type": PLAYLIST_TYPE, "Cache-Control": "no-cache"}
    else:
        headers = {"Content-Type": SEGMENT_TYPE, "Cache-Control": _cache(public, 86400)}
    return await _serve(request, hls_key(session_id, name), headers)


async def replay_file(request: web.Request) -> web.StreamResponse:
    session_id = request.match_info["session_id"]
    name = request.match_info["name"]
    if not _ID.match(session_id) or not _LIVE_NAME.match(name):
        raise web.HTTPNotFound()
    try:
        session = await request.app[keys.STORE].get(LiveSession, session_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    replays = request.app[keys.REPLAYS]
    if not replays.may_watch(session, staff=_is_staff(request)):
        raise web.HTTPNotFound()
    public = replays.state(session) == PUBLISHED
    if name == PLAYLIST_NAME:
        text = await replays.playlist(session_id)
        if text is None:
            raise web.HTTPNotFound()
        return bytes_response(request, vod_playlist(text).encode(), {
            "Content-Type": PLAYLIST_TYPE, "Cache-Control": "no-cache"})
    # An hour, not a day: a withdrawn replay should not linger long in shared caches.
    headers = {"Content-Type": SEGMENT_TYPE, "Cache-Control": _cache(public, 3600)}
    return await _serve(request, hls_key(session_id, name), headers)


async def _serve(request: web.Request, key: str, headers: dict[str, str]
                 ) -> web.StreamResponse:
    """The object ``key`` of the media store: a file (sendfile) or a stream."""
    store = request.app[keys.MEDIA]
    try:
        check_key(key)
    except ValueError:
        raise web.HTTPNotFound() from None
    local = store.local_path(key)
    if local is None:
        return await stream_object(request, store, key, headers)
    path = _inside(request.app[keys.SETTINGS].media_dir, local)
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=headers)


def _inside(root: Path, path: Path) -> Path | None:
    """``path`` resolved, or None when that leaves ``root`` (a symlink pointing out)."""
    base = root.resolve()
    resolved = path.resolve()
    return resolved if resolved.is_relative_to(base) and resolved != base else None


async def clip_file(request: web.Request) -> web.StreamResponse:
    clip_id = request.match_info["clip_id"]
    name = request.match_info["name"]
    if not _ID.match(clip_id) or not _CLIP_NAME.match(name):
        raise web.HTTPNotFound()
    try:
        clip = await request.app[keys.STORE].get(Clip, clip_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    public = clip.state == "published"
    if not public and not _is_staff(request):
        raise web.HTTPNotFound()
    key = next((p for p in (clip.media_path, clip.poster_path, clip.captions_path)
                if p and Path(p).name == name), "")
    content_type = CLIP_TYPES.get(Path(name).suffix.lower())
    if not key or content_type is None:
        raise web.HTTPNotFound()
    headers = {"Content-Type": content_type, "Cache-Control": _cache(public, 86400)}
    return await _serve(request, key, headers)


async def hls_js(request: web.Request) -> web.StreamResponse:
    if not HLS_JS.is_file():
        log.warning("hls.js is not installed (%s is missing): run `make install` (needs npm); "
                    "until then only browsers with native HLS play live video", HLS_JS)
        raise web.HTTPNotFound()
    return web.FileResponse(HLS_JS, headers={"Content-Type": "application/javascript",
                                             "Cache-Control": "public, max-age=86400"})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/media/live/{session_id}/{name}", live_file, None),
    Route("GET", "/media/replay/{session_id}/{name}", replay_file, None),
    Route("GET", "/media/clips/{clip_id}/{name}", clip_file, None),
    Route("GET", "/vendor/hls.js", hls_js, None),
)
