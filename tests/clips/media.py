"""Tiny test media whose every frame says which frame it is.

The picture (96x32, 25 fps) is three flat bands whose grey levels spell the frame number in
decimal (units, tens, hundreds; level 20 + 20·digit, far enough apart to survive lossy
coding). Decoding a clip and reading the bands gives the exact recording frame of each of its
frames, so "the clip starts at the marked frame" is checked on the pixels themselves.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from live import recorder_commands as commands
from live.recorder_commands import Encoder

W, H, FPS = 96, 32, 25
SEGMENT = 2.0


def pattern_inputs(seconds: float, first_frame: int = 0) -> list[str]:
    n = f"(N+{first_frame})"
    lum = (f"if(lt(X,32),20+mod({n},10)*20,"
           f"if(lt(X,64),20+mod(floor({n}/10),10)*20,20+mod(floor({n}/100),10)*20))")
    video = (f"color=c=black:size={W}x{H}:rate={FPS}:duration={seconds},format=yuv420p,"
             f"geq=lum='{lum}':cb=128:cr=128")
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    return ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio]


def record(ffmpeg: str, out_dir: Path, seconds: float, *, preset: str = "ultrafast",
           first_frame: int = 0) -> Path:
    """An HLS recording made by the recorder's own command, faster than real time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = commands.record_args(ffmpeg, pattern_inputs(seconds, first_frame), out_dir,
                                copy_video=False, copy_audio=False, two_inputs=True,
                                encoder=Encoder(preset=preset))
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return out_dir / commands.PLAYLIST_NAME


def ts_clip(ffmpeg: str, out: Path, seconds: float) -> Path:
    """A plain MPEG-TS file (H.264/AAC) of the pattern."""
    args = [ffmpeg, "-v", "error", "-y", *pattern_inputs(seconds), "-c:v", "libx264",
            "-preset", "ultrafast", "-g", str(FPS), "-c:a", "aac", "-f", "mpegts", str(out)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return out


def frame_numbers(ffmpeg: str, path: Path) -> list[int]:
    """The recording frame number of every frame of ``path``; decoding errors fail."""
    raw = subprocess.run(
        [ffmpeg, "-v", "error", "-xerror", "-i", str(path), "-map", "0:v:0",
         "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
        check=True, capture_output=True, timeout=60).stdout
    size = W * H * 3 // 2
    numbers = []
    for i in range(0, len(raw), size):
        luma = raw[i:i + W * H]

        def digit(x0: int, luma: bytes = luma) -> int:
            values = [luma[r * W + c] for r in range(8, 24) for c in range(x0 + 8, x0 + 24)]
            return round((sum(values) / len(values) - 20) / 20)

        numbers.append(digit(0) + 10 * digit(32) + 100 * digit(64))
    return numbers


def decodes_cleanly(ffmpeg: str, path: Path) -> str:
    """ffmpeg's complaints when decoding all of ``path`` ('' when there are none)."""
    done = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True, timeout=60)
    return done.stderr.strip() if done.returncode == 0 else f"exit {done.returncode}"


def names(directory: Path) -> list[str]:
    """The sorted names in ``directory`` (temporary files included)."""
    return sorted(p.name for p in directory.iterdir())


def vtt_as_srt(ffmpeg: str, path: Path) -> str:
    """The captions as ffmpeg's WebVTT reader understood them, written back as SRT."""
    return subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "srt", "-"],
                          check=True, capture_output=True, text=True, timeout=60).stdout


def encode_mp4(ffmpeg: str, out: Path, seconds: float, *extra: str) -> Path:
    """An MP4 of the pattern (``extra``: output options such as ``-movflags +faststart``)."""
    subprocess.run([ffmpeg, "-v", "error", "-y", *pattern_inputs(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", *extra, str(out)],
                   check=True, capture_output=True, timeout=60)
    return out


def remux(ffmpeg: str, src: Path, out: Path) -> Path:
    """``src`` copied into a plain MP4 (index at the end)."""
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(src), "-c", "copy", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out


def jpeg_size(path: Path) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    data = path.read_bytes()
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    i = 2
    while i < len(data):
        assert data[i] == 0xFF
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        i += 2 + length
    raise AssertionError("no SOF marker")


def parse_vtt(text: str) -> list[tuple[str, str, str]]:
    """(start, end, text) of each cue; asserts the WebVTT structure."""
    blocks = text.strip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for block in blocks[1:]:
        timing, _, body = block.partition("\n")
        start, arrow, end = timing.partition(" --> ")
        assert arrow and body, block
        assert "-->" not in body and "\n\n" not in body
        cues.append((start, end, body))
    return cues


def ffmpeg_children(marker: str) -> list[int]:
    """Pids of running processes whose command line mentions ``marker``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"ffmpeg" in cmdline:
            found.append(int(pid))
    return found


def wait_gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
                if state != "Z":
                    alive.append(pid)
            except (ProcessLookupError, FileNotFoundError):
                pass
        if not alive:
            return True
        time.sleep(0.02)
    return False

