"""The recorder against a real ffmpeg: the test picture into HLS, restarts after a crash
with the gap on record, unreachable and stalled sources, and finalizing the playlist."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from clips.cutter import cut_clip
from clips.timeline import load_playlist
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import IngestHealth, Recorder, finalize_playlist, recent_bitrate_kbps
from live.recorder_commands import Encoder
from tests.clips import media
from tests.support import until


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    return find_ffmpeg()


def make_recorder(ffmpeg: str, root: Path, seen: list[IngestHealth],
                  **kwargs: object) -> Recorder:
    options: dict[str, object] = {
        "test_size": "320x180", "encoder": Encoder(preset="ultrafast"),
        "backoff_initial": 0.1, "backoff_max": 0.4, "stall_seconds": 5.0,
        "stop_grace": 5.0, **kwargs}
    return Recorder(root / "media", ffmpeg=ffmpeg, on_health=seen.append,
                    **options)  # type: ignore[arg-type]


def segments(playlist: Path) -> int:
    try:
        return len(load_playlist(playlist).segments)
    except FileNotFoundError:
        return 0


async def test_test_picture_is_recorded_restarted_after_a_crash_and_finalized(
        ffmpeg: str, tmp_path: Path) -> None:
    seen: list[IngestHealth] = []
    recorder = make_recorder(ffmpeg, tmp_path, seen)
    playlist = recorder.playlist_path("s1")
    assert playlist == tmp_path / "media/sessions/s1/hls/index.m3u8"
    await recorder.start("s1")
    try:
        await until(lambda: segments(playlist) >= 2, "two segments")
        assert recorder.health().status == "up"
        await until(lambda: (recorder.health().bitrate_kbps or 0) > 0, "a bitrate")

        # ffmpeg dies: the recorder starts another, which appends after a discontinuity.
        [pid] = media.ffmpeg_children(str(playlist.parent))
        os.kill(pid, signal.SIGKILL)
        await until(lambda: recorder.health().status == "down", "down")
        await until(lambda: recorder.health().status == "up", "up again")
        before = segments(playlist)
        await until(lambda: segments(playlist) >= before + 2, "two more segments")
    finally:
        await recorder.stop()

    health = recorder.health()
    assert health.status == "stopped" and health.restarts == 1
    assert "status -9" in health.last_error
    [gap] = health.gaps
    assert gap.end is not None and gap.end > gap.start
    assert seen[0].status == "starting" and seen[-1].status == "stopped"
    assert {"up", "down"} <= {h.status for h in seen}

    text = playlist.read_text()
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == text.count("#EXTINF:")
    timeline = load_playlist(playlist)
    assert timeline.ended and len(timeline.runs()) == 2
    # The restart is in the dates: the second run starts when ingest came back.
    assert timeline.runs()[1][0].start == pytest.approx(gap.end, abs=1.0)
    for run in timeline.runs():
        assert all(abs(s.duration - 2) < 0.05 for s in run[:-1])
    assert not list(playlist.parent.glob("*.tmp"))
    for seg in timeline.segments:
        assert media.decodes_cleanly(ffmpeg, playlist.parent / seg.uri) == ""

    # The live recording cuts: a frame-accurate clip across the restart.
    first, second = timeline.runs()
    clip = await cut_clip(playlist, first[-1].end - 1, second[0].start + 1.5,
                          tmp_path / "clips",
                          ffmpeg=ffmpeg, name="c", mode="accurate",
                          encoder=Encoder(preset="ultrafast"))
    assert clip.duration == pytest.approx(2.5, abs=0.1)
    assert media.jpeg_size(clip.poster_path) == (320, 180)


@pytest.mark.parametrize(("source", "copy", "error"), [
    ("rtmp://127.0.0.1:1/live/x", None, "Connection refused"),
    ("/nonexistent/feed.ts", False, "No such file or directory"),
])
async def test_an_unreachable_source_is_down_and_retried_with_backoff(
        ffmpeg: str, tmp_path: Path, source: str, copy: bool | None, error: str) -> None:
    seen: list[IngestHealth] = []
    recorder = make_recorder(ffmpeg, tmp_path, seen)
    await recorder.start("s2", source, copy=copy)
    try:
        await until(lambda: recorder.health().restarts >= 4, "four restarts")
        assert recorder.recording == "s2"  # still supervising, nothing raised
    finally:
        await recorder.stop()
    downs = [h for h in seen if h.status == "down"]
    assert error in downs[0].last_error
    assert downs[0].last_error_at is not None
    assert [h.retry_in for h in downs[:4]] == [0.1, 0.2, 0.4, 0.4]
    assert recorder.health().gaps == ()  # nothing was recorded, so nothing is missing
    # The source as staff see it, in the label and in ffmpeg's error: no stream key.
    assert all(source not in h.last_error for h in seen)
    assert "rtmp://127.0.0.1:1/live/…" in downs[0].source or source.startswith("/")


async def test_an_ffmpeg_that_stops_making_progress_is_killed_and_leaves_a_gap(
        ffmpeg: str, tmp_path: Path) -> None:
    seen: list[IngestHealth] = []
    recorder = make_recorder(ffmpeg, tmp_path, seen, stall_seconds=1.0)
    await recorder.start("s3")
    try:
        await until(lambda: recorder.health().status == "up", "up")
        [pid] = media.ffmpeg_children(str(recorder.hls_dir("s3")))
        os.kill(pid, signal.SIGSTOP)  # frozen: alive, but no progress
        await until(lambda: recorder.health().status == "down", "the stall")
        assert media.wait_gone([pid])
        health = recorder.health()
        assert health.last_error == "ffmpeg made no progress for 1 s"
        [gap] = health.gaps
        assert gap.end is None and gap.reason == health.last_error
        await until(lambda: recorder.health().status == "up", "up again")
        assert recorder.health().gaps[0].end is not None
    finally:
        await recorder.stop()


async def test_a_source_that_never_sends_anything_is_a_stall(ffmpeg: str,
                                                             tmp_path: Path) -> None:
    fifo = tmp_path / "nobody-writes"
    os.mkfifo(fifo)
    recorder = make_recorder(ffmpeg, tmp_path, [], startup_seconds=0.5, stop_grace=0.2)
    await recorder.start("s6", str(fifo), copy=True)
    try:
        await until(lambda: recorder.health().status == "down", "the stall")
    finally:
        await recorder.stop()
    assert recorder.health().last_error == "ffmpeg made no progress in 0.5 s"
    assert recorder.health().gaps == ()
    assert not media.ffmpeg_children(str(fifo))


async def test_start_twice_is_refused_and_stop_without_start_is_harmless(
        ffmpeg: str, tmp_path: Path) -> None:
    recorder = make_recorder(ffmpeg, tmp_path, [])
    await recorder.stop()
    with pytest.raises(ValueError, match="session id"):
        await recorder.start("../x")
    await recorder.start("s4", "/nonexistent.ts", copy=False)
    try:
        with pytest.raises(RuntimeError, match="already recording"):
            await recorder.start("s5")
    finally:
        await recorder.stop()
    assert recorder.recording is None


def test_finalizing_appends_the_end_tag_once(tmp_path: Path) -> None:
    playlist = tmp_path / "index.m3u8"
    assert not finalize_playlist(playlist)
    playlist.write_text("#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n")
    assert finalize_playlist(playlist)
    assert not finalize_playlist(playlist)
    assert playlist.read_text() == "#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n#EXT-X-ENDLIST\n"


def test_bitrate_comes_from_the_last_segments(tmp_path: Path) -> None:
    lines = ["#EXTM3U"]
    for i in range(5):
        (tmp_path / f"seg_{i}.ts").write_bytes(b"\0" * (1000 * (i + 1)))
        lines += ["#EXTINF:2.000000,", f"seg_{i}.ts"]
    (tmp_path / "index.m3u8").write_text("\n".join(lines) + "\n")
    # The last three: 3000 + 4000 + 5000 bytes in 6 s.
    assert recent_bitrate_kbps(tmp_path / "index.m3u8") == 16.0
    assert recent_bitrate_kbps(tmp_path / "missing.m3u8") is None

