"""Cutting clips out of real recordings, checked frame by frame on the decoded pixels."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from clips.cutter import ClipFiles, cut_clip
from clips.mp4 import mp4_info
from clips.timeline import NotRecorded, load_playlist
from live.ffmpeg import DiskFull
from live.recorder_commands import Encoder
from tests.clips import media

QUESTION = "Why was I <b>fined</b> --> & who decides?"


async def cut(ffmpeg: str, playlist: Path, start: float, end: float, out: Path,
              **kwargs: object) -> tuple[ClipFiles, list[int]]:
    """Cut [start, end) seconds after the recording's first date; frames of the result."""
    t0 = load_playlist(playlist).start
    assert t0 is not None
    clip = await cut_clip(playlist, t0 + start, t0 + end, out, ffmpeg=ffmpeg,
                          name=str(kwargs.pop("name", "clip")),
                          encoder=Encoder(preset="ultrafast"), **kwargs)  # type: ignore[arg-type]
    return clip, media.frame_numbers(ffmpeg, clip.media_path)


@pytest.mark.parametrize(("start", "end"), [(2.48, 6.8), (3.1, 3.9), (4.0, 8.0), (0, 12)])
async def test_copy_clip_starts_on_the_keyframe_before_and_ends_at_the_mark(
        ffmpeg: str, recording: Path, tmp_path: Path, start: float, end: float) -> None:
    clip, frames = await cut(ffmpeg, recording, start, end, tmp_path, captions=QUESTION)
    first = round(start * media.FPS)
    keyframe = int(start // media.SEGMENT) * int(media.SEGMENT * media.FPS)
    assert frames[0] == keyframe  # within one segment before the mark
    assert frames == list(range(frames[0], frames[0] + len(frames)))
    assert first - frames[0] < media.SEGMENT * media.FPS
    assert abs(frames[-1] + 1 - round(end * media.FPS)) <= 2
    assert clip.method == "copy"
    assert abs(clip.duration - (end - start)) <= media.SEGMENT


@pytest.mark.parametrize("preset", ["ultrafast", "veryfast"])
@pytest.mark.parametrize(("start", "end"), [
    (2.48, 6.8), (3.1, 3.9), (4.0, 8.0), (0.52, 11.96),
    (5.0, 6.04), (1.96, 2.04), (5.96, 10.0),  # pieces of a single frame at a seam
])
async def test_accurate_clip_matches_the_mark_within_a_frame(
        ffmpeg: str, recordings: dict[str, Path], tmp_path: Path, preset: str, start: float,
        end: float) -> None:
    clip, frames = await cut(ffmpeg, recordings[preset], start, end, tmp_path,
                             mode="accurate")
    assert clip.method == "smart"
    assert abs(frames[0] - start * media.FPS) <= 1
    assert abs(frames[-1] + 1 - end * media.FPS) <= 1
    assert frames == list(range(frames[0], frames[0] + len(frames)))  # none lost or doubled
    assert abs(clip.duration - (end - start)) <= 1 / media.FPS + 0.002
    assert media.decodes_cleanly(ffmpeg, clip.media_path) == ""
    audio = mp4_info(clip.media_path).track("soun")
    assert audio is not None and audio.samples > 0


async def test_reencoded_clip_matches_the_mark_within_a_frame(
        ffmpeg: str, recordings: dict[str, Path], tmp_path: Path) -> None:
    clip, frames = await cut(ffmpeg, recordings["veryfast"], 2.48, 6.8, tmp_path,
                             mode="reencode")
    assert clip.method == "reencode"
    assert (frames[0], frames[-1]) == (62, 169)
    assert len(frames) == 108


async def test_poster_and_captions_are_written_beside_the_clip(
        ffmpeg: str, recording: Path, tmp_path: Path) -> None:
    clip, _ = await cut(ffmpeg, recording, 1, 5, tmp_path, mode="accurate", name="q-17",
                        captions=[(0, 2, QUESTION), (2, 9, "Reply:\n\nthe officer.")])
    assert clip.media_path == tmp_path / "q-17.mp4"
    assert media.jpeg_size(clip.poster_path) == (media.W, media.H) == (clip.width, clip.height)
    assert media.parse_vtt(await asyncio.to_thread(clip.captions_path.read_text)) == [
        ("00:00:00.000", "00:00:02.000",
         "Why was I &lt;b&gt;fined&lt;/b&gt; --&gt; &amp; who decides?"),
        ("00:00:02.000", "00:00:04.000", "Reply:\nthe officer."),  # clamped to the clip
    ]
    # ffmpeg's own WebVTT reader accepts it too (and turns the references back into text).
    assert "Why was I <b>fined</b> --> & who decides?" in media.vtt_as_srt(
        ffmpeg, clip.captions_path)
    assert clip.size_bytes == clip.media_path.stat().st_size > 0
    assert media.names(tmp_path) == ["q-17.jpg", "q-17.mp4", "q-17.vtt"]


async def test_a_span_across_a_gap_joins_both_runs(ffmpeg: str, gapped: tuple[Path, float],
                                                   tmp_path: Path) -> None:
    playlist, t0 = gapped
    for mode in ("accurate", "copy"):
        clip = await cut_clip(playlist, t0 + 4.2, t0 + 12.4, tmp_path, ffmpeg=ffmpeg,
                              name=mode, mode=mode, encoder=Encoder(preset="ultrafast"))
        frames = media.frame_numbers(ffmpeg, clip.media_path)
        first_run = [f for f in frames if f < 500]
        second_run = [f for f in frames if f >= 500]
        assert first_run == list(range(first_run[0], 150))
        assert second_run == list(range(500, second_run[-1] + 1))
        if mode == "accurate":
            assert abs(first_run[0] - 4.2 * 25) <= 1 and abs(second_run[-1] + 1 - 560) <= 1
        assert clip.end_at - clip.start_at > 8  # the wall-clock span, gap included


async def test_a_span_entirely_in_a_gap_is_not_recorded(
        ffmpeg: str, gapped: tuple[Path, float], tmp_path: Path) -> None:
    playlist, t0 = gapped
    with pytest.raises(NotRecorded):
        await cut_clip(playlist, t0 + 6.5, t0 + 9.5, tmp_path, ffmpeg=ffmpeg, name="gap")
    assert media.names(tmp_path) == []


async def test_a_cancelled_cut_leaves_nothing_and_a_retry_makes_one_clip(
        ffmpeg: str, recordings: dict[str, Path], tmp_path: Path) -> None:
    playlist = recordings["veryfast"]
    t0 = load_playlist(playlist).start
    assert t0 is not None
    (tmp_path / ".job.0dead.mp4.part").write_bytes(b"left by a killed job")
    task = asyncio.create_task(cut_clip(playlist, t0, t0 + 12, tmp_path, ffmpeg=ffmpeg,
                                        name="job", mode="reencode",
                                        encoder=Encoder(preset="veryslow")))
    while not media.ffmpeg_children(str(tmp_path)):
        assert not task.done(), "the cut ended before it could be cancelled"
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.05)
    running = media.ffmpeg_children(str(tmp_path))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert media.wait_gone(running)
    assert media.names(tmp_path) == []

    clip = await cut_clip(playlist, t0 + 1, t0 + 3, tmp_path, ffmpeg=ffmpeg, name="job",
                          mode="accurate")
    assert media.names(tmp_path) == ["job.jpg", "job.mp4", "job.vtt"]
    assert len(media.frame_numbers(ffmpeg, clip.media_path)) == 50


async def test_leftovers_of_a_killed_job_are_removed(ffmpeg: str, recording: Path,
                                                     tmp_path: Path) -> None:
    (tmp_path / ".c.0dead.work").mkdir()
    (tmp_path / ".c.0dead.work" / "head.ts").write_bytes(b"x")
    (tmp_path / ".c.0dead.jpg.part").write_bytes(b"x")
    (tmp_path / ".other.0dead.mp4.part").write_bytes(b"another job's")
    await cut(ffmpeg, recording, 1, 3, tmp_path, name="c")
    assert media.names(tmp_path) == [
        ".other.0dead.mp4.part", "c.jpg", "c.mp4", "c.vtt"]


async def test_a_disk_too_small_fails_before_cutting(
        ffmpeg: str, recording: Path, tiny_disk: Callable[[str], Path]) -> None:
    disk = tiny_disk("200k")
    with pytest.raises(DiskFull, match="needs about"):
        await cut(ffmpeg, recording, 0, 12, disk)
    assert media.names(disk) == []


async def test_a_disk_that_fills_while_cutting_fails_clearly(
        ffmpeg: str, recording: Path, tiny_disk: Callable[[str], Path]) -> None:
    disk = tiny_disk("16k")
    with pytest.raises(DiskFull) as caught:
        await cut(ffmpeg, recording, 0, 12, disk, mode="reencode", check_free_space=False)
    assert "No space left on device" in " ".join(caught.value.tail)
    assert media.names(disk) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "fast"}, "mode must be"),
    ({"name": "../etc"}, "clip name"),
])
async def test_bad_arguments_are_refused(ffmpeg: str, recording: Path, tmp_path: Path,
                                         kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await cut(ffmpeg, recording, 1, 2, tmp_path, **kwargs)
