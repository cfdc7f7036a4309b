"""Clip fixtures: a real ffmpeg, short recordings made with the recorder's own command, and
a tiny tmpfs to fill up.

The recordings are made once per test session, faster than real time (a few hundred
milliseconds each); their program-date-time tags are whatever the clock said, so tests read
the start back from the playlist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clips.timeline import load_playlist
from live.ffmpeg import find_ffmpeg
from tests.clips import media


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return find_ffmpeg()


@pytest.fixture(scope="session")
def recordings(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """12-second recordings (6 segments): x264 ultrafast (no B-frames) and veryfast
    (B-frames, decode order two frames ahead)."""
    root = tmp_path_factory.mktemp("recordings")
    return {preset: media.record(ffmpeg, root / preset, 12, preset=preset)
            for preset in ("ultrafast", "veryfast")}


@pytest.fixture(scope="session")
def recording(recordings: dict[str, Path]) -> Path:
    return recordings["ultrafast"]


@pytest.fixture(scope="session")
def gapped(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A playlist of two runs — frames 0..149, a 4-second gap, frames 500..649 — as a
    restarted recorder leaves it (each run's timestamps start over). Returns the playlist and
    the first run's start (wall clock)."""
    root = tmp_path_factory.mktemp("gapped")
    media.record(ffmpeg, root / "a", 6)
    media.record(ffmpeg, root / "b", 6, first_frame=500)
    t0 = 1_800_000_000.0
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:EVENT"]
    for run, start in (("a", t0), ("b", t0 + 10)):
        lines.append("#EXT-X-DISCONTINUITY")
        recorded = load_playlist(root / run / "index.m3u8")
        for seg in recorded.segments:
            stamp = _iso(start + seg.start - recorded.segments[0].start)
            lines += [f"#EXTINF:{seg.duration:.6f},", f"#EXT-X-PROGRAM-DATE-TIME:{stamp}",
                      f"{run}/{seg.uri}"]
    lines.append("#EXT-X-ENDLIST")
    playlist = root / "index.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    return playlist, t0


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


