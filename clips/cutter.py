"""Cutting a clip out of a session's recording: MP4, poster JPEG and WebVTT captions.

``cut_clip`` owns one clip job from wall-clock span to finished files:

1. The span is mapped onto the recording through the playlist's program-date-time tags
   (``clips.timeline``); a span crossing a gap yields one piece per recorded run.
2. Each piece is cut in one of three modes:

   * ``copy`` (default) — stream copy from the keyframe that starts the segment holding the
     start, up to the end: no decoding, about disk speed. The clip may begin up to one
     segment (2 s) early.
   * ``accurate`` — frame-accurate "smart cut": only the partial GOPs at each end are
     re-encoded (at most one segment each, in parallel), the segments between are copied
     untouched, and the pieces are joined byte for byte as MPEG-TS with the recording's own
     timestamps (decode timestamps of the re-encoded ends are set to run on across each
     seam; see ``commands.encode_piece_args``). Audio is copied over the exact span. (Why
     not always re-encode: ``docs/video.md`` has the numbers.)
   * ``reencode`` — decode and encode the whole span; the slow, simple reference.

3. The result is checked before anything is published: the MP4's own index is read
   (``clips.mp4.mp4_info``) for the video duration — within one segment of the request
   for ``copy``, within one frame for the others — a non-zero size and ``moov`` before
   ``mdat`` (``+faststart``). The poster JPEG is made meanwhile, from the recording, and the
   captions file last.

Every file is written under a temporary name (``.<name>.<token>.*``) in the output directory
and renamed into place only when all three are complete, the MP4 last: a clip's MP4 existing
means the clip is ready. A cancelled or failed job removes its temporary files; leftovers of a
job that was killed outright are removed by the next job for the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clips import commands
from clips.captions import Cue, webvtt
from clips.mp4 import Mp4Info, mp4_info
from clips.timeline import TS_HZ, Span, load_playlist, scan_ts
from live.ffmpeg import DiskFull, MediaError, run_ffmpeg
from live.recorder_commands import DEFAULT_ENCODER, Encoder

MODES = ("copy", "accurate", "reencode")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")

CaptionsIn = str | Sequence[Cue | tuple[float, float, str]]


class ClipCheckFailed(MediaError):
    """The cut finished but the file is not what was asked for (duration, size, layout)."""


@dataclass(frozen=True)
class ClipFiles:
    media_path: Path
    poster_path: Path
    captions_path: Path
    duration: float  # seconds of video in the MP4
    size_bytes: int
    mode: str  # as asked
    method: str  # as done: "copy", "smart" or "reencode"
    start_at: float  # wall-clock span the clip actually covers
    end_at: float
    width: int
    height: int


@dataclass(frozen=True)
class _Piece:
    path: Path
    start_at: float
    end_at: float
    expected: float  # seconds of video asked of this piece
    tolerance: float  # how far the result may be from it
    method: str
    frames: int | None = None  # frames the span holds at the nominal rate (accurate modes)


@dataclass(frozen=True)
class _Run:
    """What every ffmpeg run of a job shares."""

    ffmpeg: str
    encoder: Encoder
    timeout: float
    stall_timeout: float

    async def __call__(self, args: list[str]) -> None:
        await run_ffmpeg(args, timeout=self.timeout, stall_timeout=self.stall_timeout)


async def cut_clip(
    playlist_path: str | Path,
    start_at: float,
    end_at: float,
    out_dir: str | Path,
    *,
    name: str,
    ffmpeg: str,
    mode: str = "copy",
    captions: CaptionsIn = "",
    encoder: Encoder = DEFAULT_ENCODER,
    poster_width: int | None = None,
    run_timeout: float = 600.0,
    stall_timeout: float = 30.0,
    check_free_space: bool = True,
    durable: bool = True,
) -> ClipFiles:
    """Cut [start_at, end_at) (wall clock, epoch seconds) from the recording whose playlist
    is ``playlist_path`` into ``out_dir/<name>.mp4``, ``.jpg`` and ``.vtt``.

    ``captions``: a text shown over the whole clip, or cues ``(start, end, text)`` in seconds
    from the clip's start. ``encoder``: for the re-encoded parts; pass the recording's, so
    that the ends of an accurate clip look like its copied middle. Each ffmpeg run is
    killed after ``run_timeout`` seconds, or ``stall_timeout`` seconds without progress.

    Raises ``NotRecorded`` (nothing recorded in the span), ``DiskFull``, ``FFmpegError`` and
    its kinds, or ``ClipCheckFailed``; on any of them, and on cancellation, no temporary
    file remains and no MP4 is at the final path (the MP4 is renamed last: its presence
    means the clip is complete).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if not _NAME.match(name):
        raise ValueError(f"clip name {name!r}: letters, digits, '-' and '_' only")
    playlist = Path(playlist_path)
    out = Path(out_dir)
    timeline = await asyncio.to_thread(load_playlist, playlist)
    spans = timeline.locate(start_at, end_at)
    seg_dir = playlist.parent
    await asyncio.to_thread(_prepare, out, name)
    if check_free_space:
        await asyncio.to_thread(_check_space, out, seg_dir, spans)

    token = secrets.token_hex(4)
    work = out / f".{name}.{token}.work"
    tmp_media = out / f".{name}.{token}.mp4.part"
    tmp_poster = out / f".{name}.{token}.jpg.part"
    tmp_vtt = out / f".{name}.{token}.vtt.part"
    final_media, final_poster, final_vtt = (out / f"{name}{ext}"
                                             for ext in (".mp4", ".jpg", ".vtt"))
    run = _Run(ffmpeg, encoder, run_timeout, stall_timeout)
    try:
        await asyncio.to_thread(work.mkdir)
        pieces: list[_Piece] = []

        async def cut() -> None:
            for i, span in enumerate(spans):
                target = tmp_media if len(spans) == 1 else work / f"piece{i}.mp4"
                pieces.append(await _cut_span(run, span, seg_dir, work, target, mode))
            if len(pieces) > 1:
                listing = work / "pieces.ffconcat"
                text = commands.ffconcat_listing([p.path for p in pieces])
                await asyncio.to_thread(_write_text, listing, text)
                await run(commands.concat_clips_args(ffmpeg, listing, tmp_media))

        # The poster comes from the recording, not the clip, so that it is made while the
        # clip is cut (the cut is mostly I/O; the other core is free).
        source, at = _poster_frame(spans[0], seg_dir, mode)
        await _gather([cut(), run(commands.poster_args(ffmpeg, source, tmp_poster, at=at,
                                                       width=poster_width))])
        try:
            info = await asyncio.to_thread(mp4_info, tmp_media)
        except ValueError as exc:
            raise ClipCheckFailed(f"the cut is not a complete MP4: {exc}") from exc
        duration = _check(info, tmp_media, pieces)
        video = info.track("vide")
        assert video is not None
        if not await asyncio.to_thread(_nonempty, tmp_poster):
            raise ClipCheckFailed("ffmpeg wrote no poster frame")
        await asyncio.to_thread(_write_text, tmp_vtt, webvtt(_cues(captions, duration)))
        if durable:
            await asyncio.to_thread(_fsync, tmp_media, tmp_poster, tmp_vtt)
        size = tmp_media.stat().st_size
        await asyncio.to_thread(_publish, [(tmp_vtt, final_vtt), (tmp_poster, final_poster),
                                           (tmp_media, final_media)])
        methods = {p.method for p in pieces}
        return ClipFiles(
            media_path=final_media, poster_path=final_poster, captions_path=final_vtt,
            duration=duration, size_bytes=size, mode=mode,
            method=methods.pop() if len(methods) == 1 else "+".join(sorted(methods)),
            start_at=pieces[0].start_at, end_at=pieces[-1].end_at,
            width=video.width, height=video.height)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"disk full writing clip {name}: {exc}") from exc
        raise
    finally:
        await asyncio.shield(asyncio.to_thread(
            _remove, [work, tmp_media, tmp_poster, tmp_vtt]))


async def _cut_span(run: _Run, span: Span, seg_dir: Path, work: Path, target: Path,
                    mode: str) -> _Piece:
    paths = [seg_dir / s.uri for s in span.segments]
    first = await asyncio.to_thread(scan_ts, paths[0])
    if mode == "copy":
        seg0 = span.segments[0]
        lead = (first.video_pts - first.start) / TS_HZ  # audio may start before the video
        await run(commands.cut_copy_args(run.ffmpeg, paths, target,
                                         duration=span.end_offset + lead,
                                         audio=first.audio_pts is not None))
        return _Piece(target, seg0.start, span.end_at, expected=span.duration,
                      tolerance=max(seg.duration for seg in span.segments) + 0.1,
                      method="copy")

    last = first if len(paths) == 1 else await asyncio.to_thread(scan_ts, paths[-1])
    fd = first.frame_ticks
    if fd is None:
        raise MediaError(f"{paths[0]}: cannot tell the frame rate")
    s_pts = first.video_pts + round(span.start_offset * TS_HZ / fd) * fd
    e_pts = last.video_pts + round((span.end_at - span.segments[-1].start) * TS_HZ / fd) * fd
    start_at = span.segments[0].start + (s_pts - first.video_pts) / TS_HZ
    end_at = span.segments[-1].start + (e_pts - last.video_pts) / TS_HZ
    frames = round((e_pts - s_pts) / fd)
    audio = first.audio_pts is not None
    if mode == "reencode":
        await run(commands.cut_accurate_args(run.ffmpeg, paths, target, start_pts=s_pts,
                                             end_pts=e_pts, encoder=run.encoder,
                                             audio=audio))
        return _Piece(target, start_at, end_at, expected=frames * fd / TS_HZ,
                      tolerance=fd / TS_HZ + 0.002, method="reencode", frames=frames)

    # Smart cut: re-encode the partial GOPs at the ends, copy the whole segments between.
    lead = (first.video_pts - first.video_dts) / TS_HZ
    seg_end = [round(s.duration * TS_HZ) for s in span.segments]
    encodes = []
    if len(paths) == 1:
        video = [work / "only.ts"]
        encodes.append(commands.encode_piece_args(
            run.ffmpeg, paths, video[0], start_pts=s_pts, end_pts=e_pts,
            encoder=run.encoder, decode_lead=lead))
    else:
        video = list(paths)
        if s_pts > first.video_pts:
            video[0] = work / "head.ts"
            encodes.append(commands.encode_piece_args(
                run.ffmpeg, paths[:1], video[0], start_pts=s_pts, end_pts=None,
                encoder=run.encoder, decode_lead=lead))
        if e_pts <= last.video_pts:
            video.pop()  # the end falls on the last segment's first frame
        elif e_pts < last.video_pts + seg_end[-1]:
            video[-1] = work / "tail.ts"
            encodes.append(commands.encode_piece_args(
                run.ffmpeg, paths[-1:], video[-1], start_pts=last.video_pts,
                end_pts=e_pts, encoder=run.encoder, decode_lead=lead))
    await _gather([run(args) for args in encodes])
    await run(commands.join_pieces_args(
        run.ffmpeg, video, paths if audio else None, target,
        audio_seek=(s_pts - first.start) / TS_HZ, duration=(e_pts - s_pts) / TS_HZ))
    return _Piece(target, start_at, end_at, expected=frames * fd / TS_HZ,
                  tolerance=fd / TS_HZ + 0.002, method="smart", frames=frames)


async def _gather(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run coroutines together; if one fails, cancel (and so kill) the others."""
    tasks = [asyncio.ensure_future(j) for j in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _poster_frame(span: Span, seg_dir: Path, mode: str) -> tuple[Path, float]:
    """Where the poster is taken: the first keyframe inside the clip — the start of a copy
    clip, the second segment's start for the others (at most one segment in) — which costs
    one decoded frame; in a clip within one segment, its first frame."""
    segments = span.segments
    if mode == "copy":
        return seg_dir / segments[0].uri, 0.0
    if len(segments) > 1 and segments[1].start < span.end_at:
        return seg_dir / segments[1].uri, 0.0
    return seg_dir / segments[0].uri, span.start_offset


def _check(info: Mp4Info, path: Path, pieces: list[_Piece]) -> float:
    """The clip's video duration, once it is shown to be what was asked."""
    video = info.track("vide")
    if video is None or video.samples == 0:
        raise ClipCheckFailed(f"{path.name}: no video frames")
    if not info.faststart:
        raise ClipCheckFailed(f"{path.name}: index (moov) is not at the front")
    expected = sum(p.expected for p in pieces)
    tolerance = sum(p.tolerance for p in pieces)
    if abs(video.media_duration - expected) > tolerance:
        raise ClipCheckFailed(
            f"{path.name}: {video.media_duration:.3f} s of video, asked for {expected:.3f} s "
            f"(± {tolerance:.3f} s)")
    # A frame-accurate clip has no more frames than its span holds (fewer when the source
    # dropped some: its timestamps, and so the duration above, keep the holes).
    most = sum(p.frames or 0 for p in pieces) + len(pieces)
    if all(p.frames is not None for p in pieces) and video.samples > most:
        raise ClipCheckFailed(f"{path.name}: {video.samples} frames, at most {most} expected")
    return video.media_duration


def _cues(captions: CaptionsIn, duration: float) -> list[Cue]:
    if isinstance(captions, str):
        return [Cue(0.0, duration, captions)]
    cues = [c if isinstance(c, Cue) else Cue(*c) for c in captions]
    return [Cue(c.start, min(c.end, duration), c.text) for c in cues if c.start < duration]


def _prepare(out: Path, name: str) -> None:
    """Create the output directory; remove what a killed job for this name left behind."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{name}.*"):
        _remove([stale])


def _check_space(out: Path, seg_dir: Path, spans: list[Span]) -> None:
    """Fail before starting when the clip cannot fit: it needs about what its segments
    take, twice over for the pieces of a smart cut."""
    need = 2 * sum((seg_dir / s.uri).stat().st_size for span in spans
                   for s in span.segments) + (1 << 20)
    free = shutil.disk_usage(out).free
    if free < need:
        raise DiskFull(f"disk full: the clip needs about {need >> 10} KiB in {out}, "
                       f"{free >> 10} KiB free")


def _nonempty(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _fsync(*paths: Path) -> None:
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _publish(moves: list[tuple[Path, Path]]) -> None:
    for src, dst in moves:
        os.replace(src, dst)


def _remove(paths: list[Path]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
