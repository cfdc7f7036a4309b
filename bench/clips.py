"""Clip cutting benchmark (issue 4): seconds of video cut per second of wall time, for each
cutting mode, against bare ffmpeg commands doing the same cuts in the same run.

    .venv/bin/python bench/clips.py            # 30-minute 720p recording, 20 clips of 30-90 s
    .venv/bin/python bench/clips.py --quick    # 4-minute recording, 4 clips: a smoke run
    .venv/bin/python bench/clips.py --modes copy,accurate --ffmpeg /path/to/ffmpeg

What it does, in a temporary directory removed at the end:

1. The recording. Encoding 30 minutes of 720p on two cores would take longer than the rest
   of the run, so a 60-second video is encoded once — testsrc2 at 1280x720, 25 fps, with the
   recorder's own encoder settings (x264 veryfast, CRF 23, B-frames, a keyframe every 2 s;
   about 2.7 Mbit/s) — and then looped, stream-copied (``-stream_loop``), into HLS by the
   recorder's own command (``live.recorder_commands.record_args``), with a tone encoded to AAC
   alongside: 900 segments of 2 s, each with ``EXT-X-PROGRAM-DATE-TIME``, timestamps
   continuous across the loops — what the recorder leaves on disk after a 30-minute session.
   Each loop joins on a keyframe, so a join looks to the cutter like any segment boundary.
2. 20 clips (seeded random: starts anywhere, lengths 30-90 s) are cut in each mode through
   ``clips.cutter.cut_clip`` — the whole job: map the wall-clock span through the playlist,
   cut, check the MP4's index, write the poster JPEG and the WebVTT captions, fsync, rename
   into place — one clip at a time, as the app's clip worker would.
3. The floor, in the same run and interleaved clip by clip with the product (so that a
   change in machine load hits both): the same spans cut by one bare ffmpeg command each,
   reading the same segments (``concat:`` of the segment files, the fastest way a person
   with a shell would do it):
   * copy: ``ffmpeg -i concat:… -c copy -t D -movflags +faststart out.mp4``;
   * frame-accurate: there is no bare smart cut, so the floor is what a person would type
     for an exact clip: ``ffmpeg -ss S -i concat:… -t D -c:v libx264 -preset veryfast
     -crf 23 -c:a aac -movflags +faststart out.mp4`` — the same command is the floor of
     the ``reencode`` mode (run once per clip, next to the ``accurate`` cut, and reused).

Figures: per mode, seconds of video per second of wall time (total video / total wall), the
wall time of each clip (median and worst, also normalised to a 60-second clip), and the
floor's figures; then the targets: stream copy within 1.5x the bare floor's wall time (and a
60-second clip well under 0.5 s), frame-accurate trims at >= 40x real time.

Output: progress on stderr; one JSON line on stdout at the end. Exit status 0 when the run
completed (whatever the figures), 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clips.commands import concat_url  # noqa: E402
from clips.cutter import cut_clip  # noqa: E402
from clips.mp4 import mp4_info  # noqa: E402
from clips.timeline import Timeline, load_playlist  # noqa: E402
from live import recorder_commands as commands  # noqa: E402
from live.ffmpeg import find_ffmpeg, run_ffmpeg  # noqa: E402
from live.recorder_commands import Encoder  # noqa: E402

TARGETS = {
    "copy_vs_floor_max": 1.5,  # our wall time / bare ffmpeg's
    "copy_60s_clip_s_max": 0.5,
    "accurate_rate_min": 40.0,  # seconds of video per second of wall time
}
ENCODER = Encoder()  # the recorder's defaults: veryfast, CRF 23
QUESTION = "Can I pay a fine for someone else's car <online>? & how long does it take?"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine(ffmpeg: str) -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kib = int(f.readline().split()[1])
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[0]
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "ffmpeg": ffmpeg, "ffmpeg_version": version,
            "load_avg_start": os.getloadavg()[0],
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


async def make_recording(ffmpeg: str, tmp: Path, minutes: float,
                         source_seconds: int) -> tuple[Path, dict[str, Any]]:
    # The looped source is video only, in MP4: -stream_loop then offsets each loop by the
    # exact duration and the B-frame delay stays consistent across the join (looping an
    # MPEG-TS with B-frames, or with audio a few ms longer than the video, leaves a broken
    # GOP at every join). The tone is encoded live, as the recorder would.
    source = tmp / "source.mp4"
    started = time.perf_counter()
    await run_ffmpeg([
        *commands.base(ffmpeg), "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
        "-t", str(source_seconds), *commands.video_encode_args(ENCODER),
        "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0",
        "-an", "-f", "mp4", str(source)], timeout=900)
    encoded = time.perf_counter() - started
    loops = math.ceil(minutes * 60 / source_seconds)
    hls = tmp / "sessions" / "bench" / "hls"
    hls.mkdir(parents=True)
    started = time.perf_counter()
    inputs = ["-stream_loop", str(loops - 1), "-i", str(source),
              "-t", str(loops * source_seconds), "-f", "lavfi",
              "-i", "sine=frequency=440:beep_factor=2:sample_rate=48000"]
    await run_ffmpeg(commands.record_args(ffmpeg, inputs, hls, copy_video=True,
                                          copy_audio=False, two_inputs=True,
                                          encoder=ENCODER), timeout=1800)
    looped = time.perf_counter() - started
    playlist = hls / commands.PLAYLIST_NAME
    timeline = load_playlist(playlist)
    size = sum((hls / s.uri).stat().st_size for s in timeline.segments)
    seconds = sum(s.duration for s in timeline.segments)
    return playlist, {
        "source_seconds": source_seconds, "source_encode_s": round(encoded, 2),
        "loops": loops, "hls_build_s": round(looped, 2), "segments": len(timeline.segments),
        "seconds": round(seconds, 2), "mbit_per_s": round(size * 8 / seconds / 1e6, 2),
        "size_mib": round(size / 2**20, 1)}


def choose_clips(timeline: Timeline, count: int, seed: int) -> list[tuple[float, float]]:
    """``count`` wall-clock spans of 30-90 s anywhere in the recording (seeded)."""
    rng = random.Random(seed)
    assert timeline.start is not None and timeline.end is not None
    spans = []
    for _ in range(count):
        length = rng.uniform(30, 90)
        start = rng.uniform(timeline.start, timeline.end - length)
        spans.append((start, start + length))
    return spans


def bare_args(ffmpeg: str, mode: str, playlist: Path, span: tuple[float, float],
              out: Path) -> list[str]:
    """The one command a person would run for the same cut (see the module docstring)."""
    [located] = load_playlist(playlist).locate(*span)
    url = concat_url([playlist.parent / s.uri for s in located.segments])
    head = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y"]
    if mode == "copy":
        return [*head, "-i", url, "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
                "-t", f"{located.end_offset:.3f}", "-movflags", "+faststart", str(out)]
    return [*head, "-ss", f"{located.start_offset:.3f}", "-i", url, "-t",
            f"{located.duration:.3f}", "-map", "0:v:0", "-map", "0:a:0",
            *commands.video_encode_args(ENCODER), *commands.audio_encode_args(ENCODER),
            "-movflags", "+faststart", str(out)]


async def run_mode(ffmpeg: str, mode: str, playlist: Path, spans: list[tuple[float, float]],
                   out: Path, floors: dict[tuple[str, int], tuple[float, float]],
                   ) -> dict[str, Any]:
    """Cut every span in ``mode``, each next to its floor. ``floors`` keeps the bare runs:
    the bare re-encode is the floor of both ``accurate`` and ``reencode`` and runs once."""
    ours: list[tuple[float, float]] = []  # (video seconds, wall seconds)
    floor: list[tuple[float, float]] = []
    methods: set[str] = set()
    kind = "copy" if mode == "copy" else "encode"
    for i, span in enumerate(spans):
        bare = out / f"bare-{kind}-{i}.mp4"

        async def product(i: int = i, span: tuple[float, float] = span) -> None:
            started = time.perf_counter()
            clip = await cut_clip(playlist, *span, out, name=f"{mode}-{i}", ffmpeg=ffmpeg,
                                  mode=mode, captions=QUESTION, encoder=ENCODER)
            ours.append((clip.duration, time.perf_counter() - started))
            methods.add(clip.method)
            for path in (clip.media_path, clip.poster_path, clip.captions_path):
                path.unlink()

        def bare_cut(i: int = i, span: tuple[float, float] = span, bare: Path = bare) -> None:
            if (kind, i) not in floors:
                command = bare_args(ffmpeg, kind, playlist, span, bare)
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                wall = time.perf_counter() - started
                video = mp4_info(bare).track("vide")
                assert video is not None
                floors[kind, i] = (video.media_duration, wall)
                bare.unlink()
            floor.append(floors[kind, i])

        # Alternate the order so that neither side always runs on a warm cache.
        if i % 2:
            await product()
            bare_cut()
        else:
            bare_cut()
            await product()
        log(f"{mode} {i + 1}/{len(spans)}: {ours[-1][0]:.1f} s of video in "
            f"{ours[-1][1]:.3f} s (bare ffmpeg {floor[-1][1]:.3f} s)")
    return {"method": "+".join(sorted(methods)), **figures(ours, ""),
            **figures(floor, "floor_"),
            "vs_floor": round(sum(w for _, w in ours) / sum(w for _, w in floor), 3)}


def figures(runs: list[tuple[float, float]], prefix: str) -> dict[str, Any]:
    video = sum(v for v, _ in runs)
    wall = sum(w for _, w in runs)
    per60 = [w * 60 / v for v, w in runs]
    return {
        f"{prefix}video_s": round(video, 1), f"{prefix}wall_s": round(wall, 3),
        f"{prefix}rate_x": round(video / wall, 1),
        f"{prefix}clip_wall_p50_s": round(statistics.median(w for _, w in runs), 3),
        f"{prefix}clip_wall_max_s": round(max(w for _, w in runs), 3),
        f"{prefix}wall_per_60s_clip_p50_s": round(statistics.median(per60), 3),
    }


async def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ffmpeg = find_ffmpeg(args.ffmpeg)
    results: dict[str, Any] = {"bench": "clips", "quick": args.quick,
                               "machine": machine(ffmpeg)}
    log(f"encoding a {args.source_seconds} s 720p source and looping it into "
        f"{args.minutes} min of HLS with {ffmpeg}")
    playlist, results["recording"] = await make_recording(ffmpeg, tmp, args.minutes,
                                                          args.source_seconds)
    log(f"recording: {results['recording']}")
    spans = choose_clips(load_playlist(playlist), args.clips, args.seed)
    results["clips"] = {"count": len(spans),
                        "seconds": [round(b - a, 1) for a, b in spans]}
    out = tmp / "clips"
    out.mkdir()
    modes: dict[str, Any] = {}
    floors: dict[tuple[str, int], tuple[float, float]] = {}
    for mode in args.modes.split(","):
        modes[mode] = await run_mode(ffmpeg, mode, playlist, spans, out, floors)
        log(f"{mode}: {modes[mode]}")
    results["modes"] = modes
    results["targets"] = check_targets(modes)
    results["machine"]["load_avg_end"] = os.getloadavg()[0]
    return results


def check_targets(modes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "copy" in modes:
        copy = modes["copy"]
        out["copy_vs_floor"] = {"value": copy["vs_floor"],
                                "max": TARGETS["copy_vs_floor_max"],
                                "pass": copy["vs_floor"] <= TARGETS["copy_vs_floor_max"]}
        per60 = copy["wall_per_60s_clip_p50_s"]
        out["copy_60s_clip_s"] = {"value": per60, "max": TARGETS["copy_60s_clip_s_max"],
                                  "pass": per60 < TARGETS["copy_60s_clip_s_max"]}
    if "accurate" in modes:
        rate = modes["accurate"]["rate_x"]
        out["accurate_rate_x"] = {"value": rate, "min": TARGETS["accurate_rate_min"],
                                  "pass": rate >= TARGETS["accurate_rate_min"]}
    if "accurate" in modes and "reencode" in modes:
        out["smart_cut_vs_full_reencode_speedup"] = round(
            modes["accurate"]["rate_x"] / modes["reencode"]["rate_x"], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="recording (default 30)")
    parser.add_argument("--clips", type=int, default=None, help="clips per mode (default 20)")
    parser.add_argument("--source-seconds", type=int, default=None,
                        help="length of the encoded source that is looped (default 60)")
    parser.add_argument("--modes", default="copy,accurate,reencode")
    parser.add_argument("--ffmpeg", default="", help="ffmpeg binary (default: PATH, wheel)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 4-minute recording, 4 clips")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.minutes = args.minutes or (4 if args.quick else 30)
    args.clips = args.clips or (4 if args.quick else 20)
    args.source_seconds = args.source_seconds or (20 if args.quick else 60)
    tmp = Path(tempfile.mkdtemp(prefix="bench-clips-"))
    try:
        results = asyncio.run(bench(args, tmp))
    except Exception as exc:
        log(f"failed: {exc!r}")
        return 1
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
