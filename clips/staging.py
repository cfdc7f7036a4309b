"""Cutting a clip where the media store keeps things: in place, or through a scratch folder.

``clips.cutter.cut_clip`` works on files: a playlist with its segments in, an MP4, a poster
and captions out. ``cut_stored`` gives it files whatever ``[media] storage`` is:

* **A directory** (``LocalMediaStore``: ``media_dir``, perhaps on a shared mount): the cut
  reads the recording in place and writes into the clip's folder — the cutter's own
  temporary-name-then-rename discipline makes the MP4's presence mean a complete clip.
* **A remote store** (S3): the playlist is read from the store and mapped onto the span
  first (``NotRecorded`` before anything is fetched), only the segments the span touches are
  fetched into a scratch folder (a few at a time), the cut runs there, and the outputs are
  uploaded — captions, poster, then the MP4 last, so that there too an MP4 in the store
  means a complete clip. The scratch folder is removed however the job ends.

Either way the result names the files by their store keys (``clips/<id>/g<n>.mp4``), which
is what the clip record keeps.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clips.cutter import ClipFiles, cut_clip
from clips.timeline import parse_playlist
from live.media_store import MediaStore, clip_key, hls_key, segment_key
from live.recorder_commands import PLAYLIST_NAME

FETCH_AT_ONCE = 4  # segments fetched in parallel (each ~0.5 MB at 2 s of 720p)


@dataclass(frozen=True)
class StoredClip:
    files: ClipFiles  # as cut (paths in a scratch folder when the store is remote)
    media_key: str
    poster_key: str
    captions_key: str


async def cut_stored(store: MediaStore, session_id: str, start_at: float, end_at: float, *,
                     clip_id: str, name: str, scratch: Path,
                     cutter: Callable[..., Awaitable[ClipFiles]] = cut_clip,
                     **options: Any) -> StoredClip:
    """Cut [start_at, end_at) of the session's recording into the clip's files ``name``.*
    in the store with ``cutter`` (``cut_clip``; ``options``: the rest of its keyword
    arguments). Raises what it raises, and ``MediaStoreError`` when the store fails."""
    playlist_key = hls_key(session_id, PLAYLIST_NAME)
    folder = clip_key(clip_id)
    in_place = store.local_path(playlist_key)
    out_place = store.local_path(folder.rstrip("/"))
    if in_place is not None and out_place is not None:
        files = await cutter(in_place, start_at, end_at, out_place, name=name, **options)
        return _stored(files, folder)
    work = Path(scratch) / f"{clip_id}.{name}.{secrets.token_hex(4)}"
    try:
        playlist = await stage_recording(store, playlist_key, start_at, end_at, work / "rec")
        files = await cutter(playlist, start_at, end_at, work / "out", name=name, **options)
        stored = _stored(files, folder)
        for path, key in ((files.captions_path, stored.captions_key),
                          (files.poster_path, stored.poster_key),
                          (files.media_path, stored.media_key)):
            await store.put_file(key, path)
        return stored
    finally:
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, work, True))


async def stage_recording(store: MediaStore, playlist_key: str, start_at: float,
                          end_at: float, into: Path) -> Path:
    """Fetch the playlist and the segments [start_at, end_at) touches into ``into``; the
    local playlist's path. ``NotRecorded`` when nothing is recorded in the span."""
    text = (await store.get(playlist_key)).decode("utf-8")
    spans = parse_playlist(text).locate(start_at, end_at)
    uris = list(dict.fromkeys(s.uri for span in spans for s in span.segments))
    await asyncio.to_thread(into.mkdir, parents=True, exist_ok=True)
    local = into / PLAYLIST_NAME
    await asyncio.to_thread(local.write_text, text, encoding="utf-8")
    gate = asyncio.Semaphore(FETCH_AT_ONCE)

    async def fetch(uri: str) -> None:
        key = segment_key(playlist_key, uri)  # ValueError for a URI leaving the folder
        target = into / uri
        async with gate:
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            await store.fetch(key, target)

    tasks = [asyncio.ensure_future(fetch(uri)) for uri in uris]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return local


def _stored(files: ClipFiles, folder: str) -> StoredClip:
    return StoredClip(files=files, media_key=folder + files.media_path.name,
                      poster_key=folder + files.poster_path.name,
                      captions_key=folder + files.captions_path.name)
