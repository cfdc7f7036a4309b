"""Reading finished MP4 files without a process: the ``moov`` box (``mp4_info``) gives exact
per-track durations, frame counts and whether ``moov`` precedes ``mdat`` (``+faststart``).
The cutter checks every clip it writes this way; ``probe_duration`` falls back to a probe
(``live.ffmpeg.probe``) for anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from live.ffmpeg import FFmpegError, probe


async def probe_duration(path: str | Path, *, ffmpeg: str, ffprobe: str | None = None) -> float:
    """Duration in seconds of a media file (MP4s are read directly, without a process)."""
    with contextlib.suppress(ValueError, OSError):
        mp4 = await asyncio.to_thread(mp4_info, path)
        if mp4.duration > 0:
            return mp4.duration
    info = await probe(path, ffmpeg=ffmpeg, ffprobe=ffprobe)
    if info.duration is None:
        raise FFmpegError(f"no duration for {path}")
    return info.duration


@dataclass(frozen=True)
class Mp4Track:
    kind: str  # "vide", "soun", "text", ...
    timescale: int
    media_duration: float  # seconds of samples (mdhd)
    samples: int  # frames for video (stsz)
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Mp4Info:
    duration: float  # presentation duration (mvhd), seconds
    tracks: tuple[Mp4Track, ...]
    faststart: bool  # moov before mdat: playable while downloading

    def track(self, kind: str) -> Mp4Track | None:
        return next((t for t in self.tracks if t.kind == kind), None)


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in data[start:end]."""
    found = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"truncated {kind!r} box")
        found.append((kind, pos + head, pos + size))
        pos += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def mp4_info(path: str | Path) -> Mp4Info:
    """Read the ``moov`` box of an MP4 (ISO BMFF) file: durations, tracks, sample counts.

    Raises ValueError when the file is not a complete MP4 (no ``moov``, truncated boxes).
    """
    moov: bytes | None = None
    moov_at = mdat_at = -1
    with open(path, "rb") as f:
        size_total = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            head = f.read(16)
            size, kind = struct.unpack_from(">I4s", head)
            if size == 1:
                (size,) = struct.unpack_from(">Q", head, 8)
            elif size == 0:
                size = size_total - pos
            if size < 8 or pos + size > size_total:
                raise ValueError(f"truncated {kind!r} box at {pos}")
            if kind == b"moov":
                moov_at = pos
                f.seek(pos)
                moov = f.read(size)
            elif kind == b"mdat":
                mdat_at = pos
            pos += size
    if moov is None:
        raise ValueError(f"{path}: no moov box (not a finished MP4)")
    body = _boxes(moov, 0, len(moov))[0]
    mvhd = _child(moov, body[1], body[2], b"mvhd")
    if mvhd is None:
        raise ValueError("no mvhd")
    duration = _header_duration(moov, mvhd[0], scale_at=(12, 20))
    tracks = []
    for kind, start, end in _boxes(moov, body[1], body[2]):
        if kind == b"trak":
            tracks.append(_track(moov, start, end))
    return Mp4Info(duration=duration, tracks=tuple(tracks),
                   faststart=mdat_at < 0 or moov_at < mdat_at)


def _header_duration(data: bytes, at: int, scale_at: tuple[int, int]) -> float:
    """Duration of an mvhd/mdhd box (version 0 or 1) in seconds."""
    version = data[at]
    if version == 1:
        timescale, duration = struct.unpack_from(">IQ", data, at + scale_at[1])
    else:
        timescale, duration = struct.unpack_from(">II", data, at + scale_at[0])
    return duration / timescale if timescale else 0.0


def _track(data: bytes, start: int, end: int) -> Mp4Track:
    width = height = 0
    if tkhd := _child(data, start, end, b"tkhd"):
        w, h = struct.unpack_from(">II", data, tkhd[1] - 8)
        width, height = w >> 16, h >> 16
    mdia = _child(data, start, end, b"mdia")
    if mdia is None:
        raise ValueError("trak without mdia")
    mdhd = _child(data, mdia[0], mdia[1], b"mdhd")
    hdlr = _child(data, mdia[0], mdia[1], b"hdlr")
    if mdhd is None or hdlr is None:
        raise ValueError("mdia without mdhd/hdlr")
    version = data[mdhd[0]]
    timescale = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))[0]
    media_duration = _header_duration(data, mdhd[0], scale_at=(12, 20))
    kind = data[hdlr[0] + 8: hdlr[0] + 12].decode("latin-1")
    samples = 0
    if ((minf := _child(data, mdia[0], mdia[1], b"minf"))
            and (stbl := _child(data, minf[0], minf[1], b"stbl"))
            and (stsz := _child(data, stbl[0], stbl[1], b"stsz"))):
        samples = struct.unpack_from(">I", data, stsz[0] + 8)[0]
    return Mp4Track(kind=kind, timescale=timescale, media_duration=media_duration,
                    samples=samples, width=width, height=height)
