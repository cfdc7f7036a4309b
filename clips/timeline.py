"""From wall-clock time to the recording: the HLS playlist as a timeline, and TS timestamps.

A moderator marks a clip in wall-clock time ("from 14:03:10 to 14:04:05"). The recording is a
list of 2-second MPEG-TS segments whose ``EXT-X-PROGRAM-DATE-TIME`` tags say when each began.
This module owns that mapping:

* ``parse_playlist`` reads a media playlist into segments with wall-clock start and end,
  grouped into *runs*: a run is one unbroken stretch of one ffmpeg process. A new run begins at
  ``EXT-X-DISCONTINUITY`` (the recorder restarted ffmpeg, whose timestamps start over) or
  wherever the wall clock jumps; the space between two runs is a gap.
* ``Timeline.locate`` maps a wall-clock span onto the runs: one ``Span`` per run it touches
  (segments plus offsets), clamped to what was recorded. A span that falls entirely in a gap
  (or before/after the recording) raises ``NotRecorded``.
* ``Timeline.coverage`` says how much of a wall-clock span the recording holds (and how much
  is missing at its end, in gaps or before its start), so that callers decide what a short
  recording means: ``locate`` clamps, it never reports.
* ``scan_ts`` reads the first timestamps of a segment (video PTS and DTS, audio PTS, frame
  spacing) straight from the TS packets, with no process: frame-accurate cutting needs the
  exact presentation time of a segment's first frame, which ffmpeg's ``start_time`` does not
  give (it is the earliest of audio and video, often a few frames apart).

MPEG-TS timestamps count 90 kHz ticks and wrap after 26.5 hours; one run of the recorder is
far shorter than that.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from live.ffmpeg import MediaError

TS_HZ = 90_000
GAP_TOLERANCE = 0.25  # seconds of wall-clock jump between segments treated as a gap


class NotRecorded(MediaError):
    """The requested span has no recording (entirely in a gap, before or after it)."""


@dataclass(frozen=True)
class Segment:
    uri: str
    sequence: int
    duration: float
    start: float  # wall clock, epoch seconds
    run: int

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Span:
    """The part of a clip that lies in one run: consecutive segments and where to cut them."""

    segments: tuple[Segment, ...]
    start_at: float  # wall clock, clamped to the recording
    end_at: float

    @property
    def start_offset(self) -> float:
        """Seconds from the first segment's start to the span's start."""
        return self.start_at - self.segments[0].start

    @property
    def end_offset(self) -> float:
        return self.end_at - self.segments[0].start

    @property
    def duration(self) -> float:
        return self.end_at - self.start_at


@dataclass(frozen=True)
class Coverage:
    """How much of a requested wall-clock span the recording holds."""

    start_at: float  # as requested
    end_at: float
    recorded: float  # seconds of the span that lie in recorded segments
    covered_end: float | None  # where the recording ends now (None: nothing yet)
    ended: bool  # the recording is finished: what is missing will never come
    # Seconds of the span inside gaps between runs (a recorder that stopped and was taken
    # over by another node): the clip skips them, and its note says so.
    gap_seconds: float = 0.0

    @property
    def missing_end(self) -> float:
        """Seconds at the end of the span the recording does not (yet) reach."""
        if self.covered_end is None:
            return self.end_at - self.start_at
        return max(0.0, self.end_at - max(self.covered_end, self.start_at))

    @property
    def missing(self) -> float:
        """Seconds of the span with no recording (gaps, before the start, after the end)."""
        return max(0.0, self.end_at - self.start_at - self.recorded)

    @property
    def complete(self) -> bool:
        return self.missing_end <= 0.0


@dataclass(frozen=True)
class Timeline:
    segments: tuple[Segment, ...]
    target_duration: float
    ended: bool  # #EXT-X-ENDLIST seen: the recording is finished

    @property
    def start(self) -> float | None:
        return self.segments[0].start if self.segments else None

    @property
    def end(self) -> float | None:
        return self.segments[-1].end if self.segments else None

    def runs(self) -> list[tuple[Segment, ...]]:
        out: list[list[Segment]] = []
        for seg in self.segments:
            if not out or out[-1][-1].run != seg.run:
                out.append([])
            out[-1].append(seg)
        return [tuple(run) for run in out]

    def gaps(self) -> list[tuple[float, float]]:
        """Wall-clock stretches between runs that have no recording."""
        runs = self.runs()
        return [(a[-1].end, b[0].start) for a, b in itertools.pairwise(runs)
                if b[0].start > a[-1].end]

    def coverage(self, start_at: float, end_at: float) -> Coverage:
        """How much of [start_at, end_at) is recorded, and whether the end is reached."""
        if not end_at > start_at:
            raise ValueError(f"empty span: {start_at} .. {end_at}")
        recorded = sum(max(0.0, min(end_at, run[-1].end) - max(start_at, run[0].start))
                       for run in self.runs())
        gap = sum(max(0.0, min(end_at, hi) - max(start_at, lo)) for lo, hi in self.gaps())
        return Coverage(start_at=start_at, end_at=end_at, recorded=recorded,
                        covered_end=self.end, ended=self.ended, gap_seconds=gap)

    def locate(self, start_at: float, end_at: float, *, min_span: float = 0.04) -> list[Span]:
        """The recorded parts of [start_at, end_at), one Span per run, in order.

        Parts of the request in a gap or outside the recording are dropped (the clip is
        clamped); pieces shorter than ``min_span`` (about a frame) are ignored. Ask
        ``coverage`` first to know whether anything will be dropped.
        """
        if not end_at > start_at:
            raise ValueError(f"empty span: {start_at} .. {end_at}")
        spans = []
        for run in self.runs():
            lo = max(start_at, run[0].start)
            hi = min(end_at, run[-1].end)
            if hi - lo < min_span:
                continue
            touched = tuple(s for s in run if s.end > lo and s.start < hi)
            spans.append(Span(segments=touched, start_at=lo, end_at=hi))
        if not spans:
            where = (f"{self.start:.3f} .. {self.end:.3f}" if self.segments
                     else "nothing yet")
            raise NotRecorded(
                f"no recording between {start_at:.3f} and {end_at:.3f} (recorded: {where}; "
                f"gaps: {len(self.gaps())})")
        return spans


_TAG = re.compile(r"#([A-Z0-9-]+)(?::(.*))?$")


def parse_pdt(value: str) -> float:
    """An ``EXT-X-PROGRAM-DATE-TIME`` value (ISO 8601 with offset) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"bad EXT-X-PROGRAM-DATE-TIME {value!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"EXT-X-PROGRAM-DATE-TIME without a time zone: {value!r}")
    return moment.timestamp()


def parse_playlist(text: str) -> Timeline:
    """A media playlist as a Timeline. Segments get their start from their own
    program-date-time, else from the end of the previous segment of the same run; a run that
    starts without a date cannot be placed and is an error."""
    segments: list[Segment] = []
    target = 0.0
    ended = False
    sequence = 0
    duration: float | None = None
    pdt: float | None = None
    discontinuity = False
    run = -1
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            if duration is None:
                raise ValueError(f"segment {line!r} without #EXTINF")
            prev = segments[-1] if segments else None
            jumped = (prev is not None and pdt is not None
                      and abs(pdt - prev.end) > GAP_TOLERANCE)
            if prev is None or discontinuity or jumped:
                run += 1
            if pdt is not None:
                start = pdt
            elif prev is not None and prev.run == run:
                start = prev.end
            else:
                raise ValueError(f"segment {line!r} starts a run without a program date")
            segments.append(Segment(uri=line, sequence=sequence, duration=duration,
                                    start=start, run=run))
            sequence += 1
            duration = pdt = None
            discontinuity = False
            continue
        m = _TAG.match(line)
        if not m:
            continue
        tag, value = m[1], m[2] or ""
        if tag == "EXTINF":
            duration = float(value.split(",", 1)[0])
        elif tag == "EXT-X-PROGRAM-DATE-TIME":
            pdt = parse_pdt(value)
        elif tag == "EXT-X-DISCONTINUITY":
            discontinuity = True
        elif tag == "EXT-X-TARGETDURATION":
            target = float(value)
        elif tag == "EXT-X-MEDIA-SEQUENCE":
            sequence = int(value)
        elif tag == "EXT-X-ENDLIST":
            ended = True
    return Timeline(segments=tuple(segments), target_duration=target, ended=ended)


def load_playlist(path: str | Path) -> Timeline:
    return parse_playlist(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# MPEG-TS timestamps


@dataclass(frozen=True)
class TsStart:
    """The first timestamps of an MPEG-TS file, in 90 kHz ticks."""

    video_pts: int
    video_dts: int
    audio_pts: int | None
    frame_ticks: int | None  # spacing of the first two video frames (decode order)

    @property
    def start(self) -> int:
        """What ffmpeg calls the file's start time: the earliest first timestamp."""
        return min(self.video_pts, self.audio_pts if self.audio_pts is not None
                   else self.video_pts)

    @property
    def reorder_frames(self) -> int:
        """How many frames decode order runs ahead of display order (B-frame delay)."""
        if not self.frame_ticks:
            return 0
        return round((self.video_pts - self.video_dts) / self.frame_ticks)


def _timestamp(b: bytes) -> int:
    return (((b[0] >> 1) & 0x07) << 30 | b[1] << 22 | (b[2] >> 1) << 15
            | b[3] << 7 | b[4] >> 1)


def scan_ts(path: str | Path, *, limit: int = 8 << 20) -> TsStart:
    """First video PTS/DTS, first audio PTS and the video frame spacing of a TS file."""
    video: list[tuple[int, int]] = []
    audio_pts: int | None = None
    read = 0
    with open(path, "rb") as f:
        while read < limit and (len(video) < 2 or audio_pts is None):
            chunk = f.read(188 * 512)
            if not chunk:
                break
            read += len(chunk)
            for pos in range(0, len(chunk) - 187, 188):
                if chunk[pos] != 0x47 or not chunk[pos + 1] & 0x40:
                    continue  # not a packet that starts a PES
                payload = pos + 4
                if chunk[pos + 3] & 0x20:  # adaptation field present
                    payload += 1 + chunk[pos + 4]
                pes = chunk[payload:pos + 188]
                if len(pes) < 19 or pes[:3] != b"\x00\x00\x01":
                    continue
                stream_id, flags = pes[3], pes[7] >> 6
                if not flags & 0x2:
                    continue
                pts = _timestamp(pes[9:14])
                dts = _timestamp(pes[14:19]) if flags == 0x3 else pts
                if 0xE0 <= stream_id <= 0xEF and len(video) < 2:
                    video.append((pts, dts))
                elif 0xC0 <= stream_id <= 0xDF and audio_pts is None:
                    audio_pts = pts
    if not video:
        raise MediaError(f"{path}: no video timestamps in the first {read} bytes")
    frame_ticks = video[1][1] - video[0][1] if len(video) > 1 else None
    return TsStart(video_pts=video[0][0], video_dts=video[0][1], audio_pts=audio_pts,
                   frame_ticks=frame_ticks if frame_ticks and frame_ticks > 0 else None)
