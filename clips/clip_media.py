"""What the clip review reads and removes in the media store: a session's recording as a
timeline, whether a span of it can be cut, and a clip's files (``live.media_store``).

Kept apart from ``clips.review`` (the lifecycle) so that the lifecycle never touches paths or
objects itself: every read goes through the store, local directory or S3 alike, and a store
that fails becomes a reviewer's message (``ClipError``) or a logged, best-effort skip.
"""

from __future__ import annotations

import contextlib
import logging

from clips.clip_fields import ClipError
from clips.timeline import NotRecorded, Timeline, parse_playlist
from live.media_store import MediaStore, MediaStoreError, clip_key, hls_key
from live.recorder_commands import PLAYLIST_NAME
from store.records import Clip

log = logging.getLogger(__name__)

MIN_CLIP_SECONDS = 1.0
SPAN_SLACK = 0.5  # seconds a hand-given span may reach past the recording's ends
UNREACHABLE = "录像存储暂时无法访问，请稍后再试。"


async def read_timeline(store: MediaStore, session_id: str) -> Timeline:
    """The session's recording: FileNotFoundError when it has none, ValueError when its
    playlist cannot be read, MediaStoreError when the store fails."""
    text = await store.get(hls_key(session_id, PLAYLIST_NAME))
    return parse_playlist(text.decode("utf-8", "replace"))


async def check_span(store: MediaStore, session_id: str, start_at: float, end_at: float,
                     max_seconds: int) -> None:
    """ClipError, in the reviewer's words, unless [start_at, end_at) can be cut."""
    if not (end_at - start_at >= MIN_CLIP_SECONDS):
        raise ClipError(f"片段至少 {MIN_CLIP_SECONDS:g} 秒，出点要晚于入点。")
    if end_at - start_at > max_seconds:
        raise ClipError(f"片段最长 {max_seconds} 秒。")
    try:
        timeline = await read_timeline(store, session_id)
        timeline.locate(start_at, end_at)
    except FileNotFoundError:
        raise ClipError("这场直播没有录像。") from None
    except MediaStoreError as exc:
        log.warning("reading the recording of session %s: %s", session_id, exc)
        raise ClipError(UNREACHABLE) from None
    except NotRecorded:
        raise ClipError("所选时间段没有录像，请在录像范围内选择。") from None
    first, last = timeline.start, timeline.end
    if first is not None and last is not None and (
            start_at < first - SPAN_SLACK or end_at > last + SPAN_SLACK):
        raise ClipError(f"出入点超出录像范围：录像从 0 到 {last - first:.1f} 秒。")


async def recording_range(store: MediaStore, session_id: str) -> tuple[float, float] | None:
    """The first and last recorded moments of a session (wall clock), if any."""
    try:
        timeline = await read_timeline(store, session_id)
    except (FileNotFoundError, ValueError):
        return None
    except MediaStoreError as exc:
        log.warning("reading the recording of session %s: %s", session_id, exc)
        return None
    if timeline.start is None or timeline.end is None:
        return None
    return timeline.start, timeline.end


async def media_ready(store: MediaStore, clip: Clip) -> bool:
    """Whether the clip's MP4 is in the store (ClipError when the store cannot say)."""
    try:
        return bool(clip.media_path) and await store.exists(clip.media_path)
    except MediaStoreError as exc:
        log.warning("checking the files of clip %s: %s", clip.id, exc)
        raise ClipError(UNREACHABLE) from None


async def drop_old_files(store: MediaStore, clip: Clip) -> None:
    """Remove the files of earlier generations (best effort; they are never served)."""
    keep = {clip.media_path, clip.poster_path, clip.captions_path}
    with contextlib.suppress(MediaStoreError, OSError):
        for key in await store.list(clip_key(clip.id, "g")):
            if key not in keep:
                await store.delete(key)


async def delete_files(store: MediaStore, clip_id: str) -> None:
    """Remove all of a deleted clip's files (logged when the store fails: the record is
    gone, so nothing serves them)."""
    try:
        await store.delete_prefix(clip_key(clip_id))
    except MediaStoreError as exc:
        log.error("clip %s deleted, but not its files (%s)", clip_id, exc)
