"""Finding ffmpeg, running it (progress, stalls, time limits, cancellation, full disks),
probing (``live.ffmpeg``) and reading MP4s (``clips.mp4``), against the real binary."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from clips.mp4 import mp4_info, probe_duration
from clips.timeline import load_playlist
from live import recorder_commands as commands
from live.ffmpeg import (
    DiskFull,
    FFmpegError,
    FFmpegNotFound,
    FFmpegStalled,
    FFmpegTimeout,
    Progress,
    find_ffmpeg,
    find_ffprobe,
    is_disk_full,
    parse_ffmpeg_banner,
    parse_progress_block,
    probe,
    run_ffmpeg,
)
from tests.clips import media

ENDLESS = ["-re", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=10"]


def null_output(ffmpeg: str, *inputs: str) -> list[str]:
    return [*commands.base(ffmpeg), *inputs, "-f", "null", "-"]


# -- discovery ---------------------------------------------------------------------------


def test_configured_ffmpeg_wins_and_a_wrong_one_is_an_error(ffmpeg: str) -> None:
    assert find_ffmpeg(ffmpeg) == ffmpeg
    with pytest.raises(FFmpegNotFound, match=r"media\.ffmpeg"):
        find_ffmpeg("/nonexistent/ffmpeg")


def test_without_ffmpeg_on_the_path_the_wheel_binary_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import imageio_ffmpeg

    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_ffmpeg() == imageio_ffmpeg.get_ffmpeg_exe()
    assert find_ffprobe(ffmpeg=find_ffmpeg()) is None  # the wheel ships no ffprobe


def test_ffprobe_next_to_ffmpeg_or_on_the_path(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    probe_bin = tmp_path / "ffprobe"
    probe_bin.write_text("#!/bin/sh\n")
    probe_bin.chmod(0o755)
    assert find_ffprobe(ffmpeg=str(tmp_path / "ffmpeg")) == str(probe_bin)
    with pytest.raises(FFmpegNotFound, match=r"media\.ffprobe"):
        find_ffprobe("/nonexistent/ffprobe")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_ffprobe(ffmpeg="ffmpeg") is None


# -- the runner --------------------------------------------------------------------------


def test_progress_blocks_parse_numbers_and_not_available() -> None:
    p = parse_progress_block({"frame": "50", "out_time_us": "2000000", "total_size": "N/A",
                              "bitrate": "  812.5kbits/s", "speed": "1.01x",
                              "progress": "continue"})
    assert p == Progress(out_time=2.0, frame=50, total_size=None, bitrate_kbps=812.5,
                         speed=1.01, ended=False)
    assert parse_progress_block({"out_time_us": "N/A", "progress": "end"}) == Progress(
        ended=True)


async def test_a_finished_run_reports_its_progress(ffmpeg: str) -> None:
    seen: list[Progress] = []
    result = await run_ffmpeg(
        null_output(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25:duration=2"),
        timeout=30, stall_timeout=10, on_progress=seen.append)
    assert result.returncode == 0
    assert result.progress.ended and result.progress.out_time == pytest.approx(2.0, abs=0.05)
    assert seen[-1] == result.progress


async def test_a_failure_carries_the_tail_of_stderr(ffmpeg: str) -> None:
    with pytest.raises(FFmpegError) as caught:
        await run_ffmpeg(null_output(ffmpeg, "-i", "/nonexistent/input.ts"), timeout=30)
    err = caught.value
    assert err.returncode not in (0, None)
    assert any("No such file or directory" in line for line in err.tail)
    assert "No such file or directory" in str(err)
    assert not isinstance(err, DiskFull)


async def test_a_missing_binary_is_not_found() -> None:
    with pytest.raises(FFmpegNotFound):
        await run_ffmpeg(["/nonexistent/ffmpeg", "-version"])


async def test_no_progress_at_all_is_a_stall(ffmpeg: str, tmp_path: Path) -> None:
    fifo = tmp_path / "nobody-writes"
    os.mkfifo(fifo)
    with pytest.raises(FFmpegStalled, match=r"no progress in 0\.5 s"):
        await run_ffmpeg(null_output(ffmpeg, "-i", str(fifo)), stall_timeout=0.5)
    assert media.wait_gone(media.ffmpeg_children(str(fifo)))


async def test_running_too_long_is_a_timeout(ffmpeg: str) -> None:
    with pytest.raises(FFmpegTimeout, match=r"longer than 0\.6 s"):
        await run_ffmpeg(null_output(ffmpeg, *ENDLESS), timeout=0.6, stall_timeout=10)


async def test_cancelling_stops_ffmpeg_gracefully_then_for_good(ffmpeg: str,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "graceful.mp4"
    started = asyncio.Event()
    args = [*commands.base(ffmpeg), *ENDLESS, "-c:v", "libx264", "-preset", "ultrafast",
            "-f", "mp4", str(out)]

    def on_progress(p: Progress) -> None:
        if p.out_time > 0.3:
            started.set()

    task = asyncio.create_task(run_ffmpeg(args, graceful_stop=5, on_progress=on_progress))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not media.ffmpeg_children(str(out))
    # SIGINT let ffmpeg write its trailer: the MP4 is complete.
    assert mp4_info(out).track("vide") is not None


async def test_a_failing_progress_callback_stops_ffmpeg_and_surfaces(ffmpeg: str) -> None:
    def broken(_: Progress) -> None:
        raise LookupError("publisher bug")

    args = null_output(ffmpeg, *ENDLESS, "-metadata", "comment=callback-test")
    with pytest.raises(LookupError, match="publisher bug"):
        await run_ffmpeg(args, timeout=30, on_progress=broken)
    assert not media.ffmpeg_children("comment=callback-test")


async def test_a_full_disk_is_reported_as_such(
        ffmpeg: str, tiny_disk: Callable[[str], Path]) -> None:
    disk = tiny_disk("64k")
    args = [*commands.base(ffmpeg), "-f", "lavfi", "-i",
            "testsrc2=size=320x180:rate=25:duration=4", "-c:v", "rawvideo", "-f", "nut",
            str(disk / "big.nut")]
    with pytest.raises(DiskFull) as caught:
        await run_ffmpeg(args, timeout=30)
    assert is_disk_full(caught.value.tail)


def test_disk_full_is_recognised_in_ffmpeg_messages() -> None:
    assert is_disk_full(["av_interleaved_write_frame(): No space left on device"])
    assert not is_disk_full(["Conversion failed!"])


# -- the filter-graph escaping, against the real parser -----------------------------------


async def test_escaped_paths_reach_the_filter_intact(ffmpeg: str, tmp_path: Path) -> None:
    odd = tmp_path / "we'ird:na,me[1];\\x.txt"
    odd.write_text("hello")
    await run_ffmpeg([*commands.base(ffmpeg), "-f", "lavfi", "-i",
                      "testsrc2=size=64x36:rate=1", "-vf",
                      f"drawtext=textfile={commands.filter_value(str(odd))}",
                      "-frames:v", "1", "-f", "null", "-"], timeout=30)


# -- probing -----------------------------------------------------------------------------


async def test_probe_with_and_without_ffprobe_agree(ffmpeg: str, recording: Path) -> None:
    segment = recording.parent / load_playlist(recording).segments[0].uri
    without = await probe(segment, ffmpeg=ffmpeg)
    assert (without.video_codec, without.audio_codec) == ("h264", "aac")
    assert (without.width, without.height, without.fps) == (media.W, media.H, 25)
    assert without.duration == pytest.approx(2.0, abs=0.1)
    ffprobe = shutil.which("ffprobe")
    if ffprobe:
        with_probe = await probe(segment, ffmpeg=ffmpeg, ffprobe=ffprobe)
        assert (with_probe.video_codec, with_probe.audio_codec, with_probe.width,
                with_probe.height) == ("h264", "aac", media.W, media.H)


async def test_probe_of_something_unreadable_fails(ffmpeg: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"not media at all")
    with pytest.raises(FFmpegError, match="cannot probe"):
        await probe(junk, ffmpeg=ffmpeg)


def test_banner_parsing_reads_streams() -> None:
    text = """Input #0, mpegts, from 'x.ts':
  Duration: 00:01:02.50, start: 1.400000, bitrate: 95 kb/s
  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), \
1280x720 [SAR 1:1 DAR 16:9], 29.97 fps, 29.97 tbr, 90k tbn
  Stream #0:1[0x101](und): Audio: aac (LC) ([15][0][0][0] / 0x000F), 48000 Hz, stereo"""
    info = parse_ffmpeg_banner(text)
    assert (info.duration, info.video_codec, info.audio_codec, info.width, info.height,
            info.fps) == (62.5, "h264", "aac", 1280, 720, 29.97)


async def test_mp4_index_matches_ffprobe(ffmpeg: str, tmp_path: Path) -> None:
    out = media.encode_mp4(ffmpeg, tmp_path / "x.mp4", 3, "-movflags", "+faststart")
    info = mp4_info(out)
    video = info.track("vide")
    assert video is not None and info.track("soun") is not None
    assert (video.samples, video.media_duration, video.width, video.height) == (
        75, 3.0, media.W, media.H)
    assert info.faststart
    assert await probe_duration(out, ffmpeg=ffmpeg) == info.duration
    assert not mp4_info(media.remux(ffmpeg, out, tmp_path / "slow.mp4")).faststart
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(ValueError):
        mp4_info(truncated)


async def test_the_environment_reaches_the_process() -> None:
    """The C library of the process started (here ``date`` standing in for ffmpeg) reads the
    desk's zone from ``clock_env``: New York is -0500 in winter, Tokyo +0900."""
    for zone, offset in (("America/New_York", "-0500"), ("Asia/Tokyo", "+0900")):
        result = await run_ffmpeg(
            ["sh", "-c", "date -d @1800000000 +%z >&2"], timeout=10, check=False,
            env=commands.clock_env(zone))
        assert result.tail[-1] == offset
