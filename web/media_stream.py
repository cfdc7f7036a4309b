"""An object of the media store as an HTTP response: ranges, validators, streaming.

For a local store ``web.media`` hands the file to ``web.FileResponse`` (sendfile). For a
remote one (S3) the server reads the object and passes it on chunk by chunk, so the browser
talks only to this server: it never learns the store's endpoint, bucket or keys, and the
access rules of ``web.media`` hold for every byte. What a browser relies on is kept:

* ``Range: bytes=a-b`` / ``a-`` / ``-n`` → 206 with ``Content-Range`` (the store is asked for
  just that range); a range past the end → 416 with ``Content-Range: bytes */size``; a
  malformed one → 416 as ``FileResponse`` does. ``Accept-Ranges: bytes`` always (video
  players seek with ranges; Safari will not play an MP4 without them).
* ``ETag`` and ``Last-Modified`` from the store; ``If-None-Match`` → 304, which is what a
  player polling the live playlist sends every couple of seconds.
* A store that fails → 503 (its message goes to the log, never to the browser); a missing
  object → 404.
"""

from __future__ import annotations

import hashlib
import logging
from email.utils import formatdate

from aiohttp import web

from live.media_store import (
    MediaNotFound,
    MediaStore,
    MediaStoreError,
    ObjectInfo,
    RangeNotSatisfiable,
    resolve_range,
)

log = logging.getLogger(__name__)


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


async def stream_object(request: web.Request, store: MediaStore, key: str,
                        headers: dict[str, str]) -> web.StreamResponse:
    """Serve ``key`` from ``store`` with ``headers`` (type, caching) added."""
    try:
        wanted = request.http_range
    except ValueError:
        return _unsatisfiable((await _stat(store, key)).size)
    start, stop = wanted.start or 0, wanted.stop
    try:
        stream = await store.stream(key, start, stop)
    except RangeNotSatisfiable as exc:
        return _unsatisfiable(exc.size)
    except MediaNotFound:
        raise web.HTTPNotFound() from None
    except MediaStoreError as exc:
        log.warning("media store: reading %s failed: %s", key, exc)
        raise web.HTTPServiceUnavailable() from None
    try:
        info = stream.info
        common = {**headers, "ETag": info.etag, "Accept-Ranges": "bytes",
                  "Last-Modified": formatdate(info.modified, usegmt=True)}
        if _matches(request.headers.get("If-None-Match", ""), info.etag):
            return web.Response(status=304, headers=common)
        response = web.StreamResponse(status=206 if stream.partial else 200, headers=common)
        if stream.partial:
            response.headers["Content-Range"] = (
                f"bytes {stream.start}-{stream.stop - 1}/{info.size}")
        response.content_length = stream.length
        await response.prepare(request)
        if request.method != "HEAD":
            try:
                async for chunk in stream.chunks():
                    await response.write(chunk)
            except MediaStoreError as exc:  # headers are sent: all we can do is cut it short
                log.warning("media store: %s broke off: %s", key, exc)
                if request.transport is not None:
                    request.transport.close()
                return response
        await response.write_eof()
        return response
    finally:
        await stream.close()


def bytes_response(request: web.Request, data: bytes, headers: dict[str, str]
                   ) -> web.Response:
    """A document made by the server (a replay's playlist or captions) with what
    ``stream_object`` gives a stored object: an ``ETag`` of its content (``If-None-Match`` →
    304), ``Accept-Ranges`` and byte ranges (206, 416)."""
    etag = f'"{hashlib.sha256(data).hexdigest()[:20]}"'
    common = {**headers, "ETag": etag, "Accept-Ranges": "bytes"}
    if _matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=common)
    try:
        wanted = request.http_range
    except ValueError:
        return _unsatisfiable(len(data))
    if wanted.start is None and wanted.stop is None:
        return web.Response(body=data, headers=common)
    try:
        first, last = resolve_range("", len(data), wanted.start or 0, wanted.stop)
    except RangeNotSatisfiable:
        return _unsatisfiable(len(data))
    common["Content-Range"] = f"bytes {first}-{last - 1}/{len(data)}"
    return web.Response(status=206, body=data[first:last], headers=common)


def _unsatisfiable(size: int) -> web.Response:
    # Returned, not raised: the error middleware would replace the Content-Range.
    return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})


async def _stat(store: MediaStore, key: str) -> ObjectInfo:
    try:
        return await store.stat(key)
    except MediaNotFound:
        raise web.HTTPNotFound() from None
    except MediaStoreError as exc:
        log.warning("media store: reading %s failed: %s", key, exc)
        raise web.HTTPServiceUnavailable() from None
