"""Published clips for the library's web and browser tests.

Clip records go straight into the app's store and the search index is rebuilt from it, as
the app does at start. Clips that must play get real files: a tiny recording made with the
recorder's own command, cut by ``clips.cutter.cut_clip`` into
``<media_dir>/clips/<clip id>/g1.*``, the record keeping paths relative to the media
directory (as ``ClipLibrary`` does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from clips.cutter import cut_clip
from clips.timeline import load_playlist
from store.records import Clip, new_id
from tests.clips import media
from tests.clips.test_relevance import LIBRARY
from web import keys

# 2026-05-28 20:26:40 UTC, 2026-05-29 04:26:40 in Beijing: fixed, so dates are known.
BASE_TIME = 1_780_000_000.0
DAY = 86_400.0


@dataclass(frozen=True)
class ClipMedia:
    media_path: str
    poster_path: str
    captions_path: str
    duration: float


async def add_clip(app: web.Application, item_id: str, title: str, *, question: str = "",
                   summary: str = "", clip_id: str = "", state: str = "published",
                   published_at: float = BASE_TIME, views: int = 0,
                   files: ClipMedia | None = None, service_link: str | None = None,
                   duration: float = 65.0, **fields: Any) -> Clip:
    """Insert one clip (published unless ``state`` says otherwise); call ``reindex`` after
    the last one."""
    item = app[keys.LIBRARY].catalog.get(item_id) if item_id else None
    clip_id = clip_id or new_id()
    paths = files or ClipMedia(f"clips/{clip_id}/g1.mp4", f"clips/{clip_id}/g1.jpg",
                               f"clips/{clip_id}/g1.vtt", duration)
    clip = Clip(
        id=clip_id, session_id="s-test", question_id=f"q-{clip_id}", state=state,
        title=title, question=question, summary=summary,
        category=item.category if item else "", item_id=item_id,
        service_link=item.link if item and service_link is None else (service_link or ""),
        media_path=paths.media_path, poster_path=paths.poster_path,
        captions_path=paths.captions_path, duration=paths.duration,
        published_at=published_at if state == "published" else 0.0, views=views,
        generation=1, created_at=published_at, updated_at=published_at, **fields)
    await app[keys.STORE].insert(clip)
    return clip


async def reindex(app: web.Application) -> None:
    await app[keys.LIBRARY].sync_index(force=True)


async def add_relevance_library(app: web.Application,
                                files: ClipMedia | None = None) -> list[Clip]:
    """The relevance test's hand-written library (all four categories), one clip a day
    apart, views rising with age so newest and most watched differ. ``files``: real media
    for every clip to share (``make_media`` of a published clip: the media routes serve a
    clip's files by its own record)."""
    clips = []
    for n, (item_id, title, question, summary) in enumerate(LIBRARY):
        clips.append(await add_clip(app, item_id, title, question=question, summary=summary,
                                    published_at=BASE_TIME - n * DAY, views=n,
                                    duration=30 + n, files=files))
    return clips


async def make_media(ffmpeg: str, media_dir: Path, clip_id: str, *, seconds: float = 4.0,
                     captions: str = "") -> ClipMedia:
    """Real files for a clip: a recording of ``seconds`` + 2 s cut to its first ``seconds``."""
    recording = media_dir / "test-recordings" / clip_id
    playlist = await asyncio.to_thread(media.record, ffmpeg, recording, seconds + 2)
    timeline = await asyncio.to_thread(load_playlist, playlist)
    assert timeline.start is not None
    files = await cut_clip(playlist, timeline.start, timeline.start + seconds,
                           media_dir / "clips" / clip_id, name="g1", ffmpeg=ffmpeg,
                           captions=captions or "问：这段视频讲什么？", durable=False)

    def relative(path: Path) -> str:
        return path.relative_to(media_dir).as_posix()

    return ClipMedia(relative(files.media_path), relative(files.poster_path),
                     relative(files.captions_path), files.duration)
