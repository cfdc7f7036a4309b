"""Running ffmpeg: finding the binaries, the error tree, the async runner, and probing.

This module owns every process the video code starts (the recorder here in ``live``, the
cutter in ``clips``). Commands arrive as finished argument lists (built by the pure
functions in ``live.recorder_commands`` and ``clips.commands``) and are run with
``asyncio.create_subprocess_exec`` — never a shell, so no text is ever re-parsed — while the
event loop keeps serving. The runner reads ffmpeg's ``-progress pipe:1`` report to tell a
working process from a stuck one: a process whose output position has not moved for
``stall_timeout`` seconds is killed, as is one that outlives ``timeout`` or whose task is
cancelled. Every failure is a typed exception carrying the last lines of ffmpeg's stderr,
because "ffmpeg exited with status 1" alone never explains anything.

Probing: ``ffprobe`` is used when it is on the PATH (or named in the settings); the
``imageio-ffmpeg`` wheel ships no ffprobe, so the fallback parses ``ffmpeg -i``'s stream
summary, which gives codecs, size and a 10 ms duration. (Finished MP4s are read without any
process by ``clips.mp4``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
from collections import deque
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAIL_LINES = 40

# --------------------------------------------------------------------------------------------
# Errors


class MediaError(Exception):
    """Base of every error raised by the video code (the recorder and ``clips``)."""


class FFmpegNotFound(MediaError):
    """No usable ffmpeg (or ffprobe) binary."""


class FFmpegError(MediaError):
    """ffmpeg failed; ``tail`` holds the last lines it wrote to stderr."""

    def __init__(self, message: str, *, tail: Sequence[str] = (), returncode: int | None = None,
                 command: Sequence[str] = ()) -> None:
        self.message = message
        self.tail = tuple(tail)
        self.returncode = returncode
        self.command = tuple(command)
        last = next((line for line in reversed(self.tail) if line.strip()), "")
        super().__init__(f"{message}: {last}" if last else message)


class FFmpegTimeout(FFmpegError):
    """ffmpeg ran longer than its time limit and was killed."""


class FFmpegStalled(FFmpegError):
    """ffmpeg made no progress for ``stall_timeout`` seconds and was killed."""


class DiskFull(FFmpegError):
    """The output disk is full (ENOSPC), whether ffmpeg or Python hit it."""


_DISK_FULL = re.compile(r"no space left on device|\benospc\b", re.IGNORECASE)
# Output errors that ffmpeg reports but (in some versions) still exits 0 after.
_LOST_OUTPUT = re.compile(r"^Error (writing trailer|closing file)")


def is_disk_full(lines: Sequence[str]) -> bool:
    return any(_DISK_FULL.search(line) for line in lines)


# --------------------------------------------------------------------------------------------
# Discovery


def _executable(name: str) -> str | None:
    if os.sep in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name)


def find_ffmpeg(configured: str = "") -> str:
    """The ffmpeg to run: the configured one, else ``ffmpeg`` on the PATH, else the binary in
    the ``imageio-ffmpeg`` wheel. A configured name that does not resolve is an error (a typo
    in the settings must not silently fall back to another build)."""
    if configured:
        found = _executable(configured)
        if found is None:
            raise FFmpegNotFound(f"media.ffmpeg = {configured!r} is not an executable")
        return found
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise FFmpegNotFound("no ffmpeg on the PATH and imageio-ffmpeg is not installed") from exc
    exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    if _executable(exe) is None:
        raise FFmpegNotFound(f"the imageio-ffmpeg binary {exe} is not executable")
    return exe


def find_ffprobe(configured: str = "", ffmpeg: str = "") -> str | None:
    """The ffprobe to run, or None (probing then falls back to ``ffmpeg -i``): the configured
    one, else ``ffprobe`` next to ``ffmpeg``, else on the PATH."""
    if configured:
        found = _executable(configured)
        if found is None:
            raise FFmpegNotFound(f"media.ffprobe = {configured!r} is not an executable")
        return found
    if ffmpeg and os.sep in ffmpeg:
        sibling = os.path.join(os.path.dirname(ffmpeg), "ffprobe")
        if _executable(sibling):
            return sibling
    return shutil.which("ffprobe")


# --------------------------------------------------------------------------------------------
# The runner


@dataclass(frozen=True)
class Progress:
    """One ``-progress`` block: where the output is and how fast it grows."""

    out_time: float = 0.0  # seconds of output written
    frame: int = 0
    total_size: int | None = None  # bytes, None when the muxer does not say (HLS)
    bitrate_kbps: float | None = None
    speed: float | None = None
    ended: bool = False


def parse_progress_block(fields: dict[str, str]) -> Progress:
    """A ``-progress`` block (key=value lines up to ``progress=...``) as a Progress."""

    def num(key: str) -> float | None:
        raw = fields.get(key, "").strip().rstrip("x").removesuffix("kbits/s").strip()
        try:
            return float(raw)
        except ValueError:
            return None

    out_us = num("out_time_us")
    if out_us is None:
        out_us = num("out_time_ms")  # the same microseconds, under its historical name
    size = num("total_size")
    frame = num("frame")
    return Progress(
        out_time=max(0.0, out_us / 1e6) if out_us is not None else 0.0,
        frame=int(frame) if frame is not None else 0,
        total_size=int(size) if size is not None else None,
        bitrate_kbps=num("bitrate"),
        speed=num("speed"),
        ended=fields.get("progress") == "end",
    )


@dataclass(frozen=True)
class Result:
    returncode: int
    tail: tuple[str, ...]
    progress: Progress
    elapsed: float


@dataclass
class _Watch:
    started: float
    advanced_at: float | None = None
    progress: Progress = field(default_factory=Progress)

    def note(self, p: Progress, now: float) -> None:
        old = self.progress
        if (p.out_time > old.out_time or p.frame > old.frame
                or (p.total_size or 0) > (old.total_size or 0)):
            self.advanced_at = now
        self.progress = p


async def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 (the runner must kill ffmpeg itself)
    stall_timeout: float | None = None,
    startup_timeout: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    graceful_stop: float = 0.0,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    feed: AsyncIterable[bytes] | None = None,
) -> Result:
    """Run ``args`` (``args[0]`` is the binary) and wait for it without blocking the loop.

    ``args`` should carry ``-progress pipe:1`` (the builders add it) so that stalls can be
    seen: after the first advance, ``stall_timeout`` seconds without one kill the process;
    before it, ``startup_timeout`` applies (default: ``stall_timeout``; ``math.inf`` waits
    forever, e.g. for an RTMP publisher). On cancellation the process gets SIGINT and
    ``graceful_stop`` seconds to finish its files (0: killed at once), then SIGKILL.
    A non-zero exit raises FFmpegError (DiskFull when stderr says ENOSPC) unless
    ``check=False``. ``env``: variables set for ffmpeg on top of this process's (``TZ`` for
    the test picture's clock). ``feed``: bytes written to ffmpeg's stdin (a phone's stream,
    ``live.browser_ingest``); stdin is closed when it ends, so ffmpeg sees the end of input.
    """
    loop = asyncio.get_running_loop()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL if feed is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env} if env else None)
    except FileNotFoundError as exc:
        raise FFmpegNotFound(f"cannot run {args[0]!r}: {exc.strerror}") from exc
    watch = _Watch(started=loop.time())
    writer = None if feed is None else asyncio.ensure_future(_write_stdin(proc, feed))

    async def read_progress() -> None:
        assert proc.stdout is not None
        fields: dict[str, str] = {}
        async for raw in proc.stdout:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            fields[key] = value
            if key == "progress":
                p = parse_progress_block(fields)
                fields = {}
                watch.note(p, loop.time())
                if on_progress is not None:
                    on_progress(p)

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    progress_reader = asyncio.ensure_future(read_progress())
    readers = asyncio.gather(progress_reader, read_stderr())
    waiter = asyncio.ensure_future(proc.wait())
    failure: type[FFmpegError] | None = None
    reason = ""
    try:
        while not waiter.done():
            watched = {waiter} if progress_reader.done() else {waiter, progress_reader}
            await asyncio.wait(watched, timeout=0.1)
            if progress_reader.done() and (error := progress_reader.exception()):
                raise error  # on_progress failed: stop ffmpeg, surface the bug
            if waiter.done():
                break
            now = loop.time()
            if timeout is not None and now - watch.started > timeout:
                failure, reason = FFmpegTimeout, f"ffmpeg ran longer than {timeout:g} s"
            elif watch.advanced_at is None:
                limit = startup_timeout if startup_timeout is not None else stall_timeout
                if limit is not None and now - watch.started > limit:
                    failure, reason = FFmpegStalled, f"ffmpeg made no progress in {limit:g} s"
            elif stall_timeout is not None and now - watch.advanced_at > stall_timeout:
                failure, reason = FFmpegStalled, (
                    f"ffmpeg made no progress for {stall_timeout:g} s")
            if failure is not None:
                await _kill(proc)
                break
    except BaseException:
        # Cancelled (or the loop is going down): never leave ffmpeg behind.
        await asyncio.shield(_stop(proc, graceful_stop))
        readers.cancel()
        with contextlib.suppress(BaseException):
            await readers
        raise
    finally:
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
    returncode = await waiter
    with contextlib.suppress(Exception):
        await asyncio.wait_for(readers, 5)
    elapsed = loop.time() - watch.started
    lines = tuple(tail)
    if failure is not None:
        cls = DiskFull if is_disk_full(lines) else failure
        raise cls(reason, tail=lines, returncode=returncode, command=args)
    if check and is_disk_full(lines):
        # Some builds exit with status 0 after "Error writing trailer: No space left".
        raise DiskFull("disk full", tail=lines, returncode=returncode, command=args)
    if check and (returncode != 0 or any(_LOST_OUTPUT.search(line) for line in lines)):
        raise FFmpegError(f"ffmpeg exited with status {returncode}", tail=lines,
                          returncode=returncode, command=args)
    return Result(returncode=returncode, tail=lines, progress=watch.progress, elapsed=elapsed)


async def _write_stdin(proc: asyncio.subprocess.Process, feed: AsyncIterable[bytes]) -> None:
    """Copy ``feed`` into ffmpeg's stdin, then close it (end of input). ffmpeg going away
    first (a broken pipe) just ends the copy; the runner reports why it went."""
    stdin = proc.stdin
    assert stdin is not None
    try:
        async for chunk in feed:
            stdin.write(chunk)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
            stdin.close()
        aclose = getattr(feed, "aclose", None)
        if aclose is not None:
            await aclose()


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGINT first (ffmpeg then writes its trailer and the last HLS segment), SIGKILL after
    ``grace`` seconds."""
    if proc.returncode is None and grace > 0:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)
    await _kill(proc)


# --------------------------------------------------------------------------------------------
# Probing


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found; None where it could not tell."""

    duration: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None


def parse_ffprobe_json(text: str) -> MediaInfo:
    data: dict[str, Any] = json.loads(text or "{}")
    streams: list[dict[str, Any]] = data.get("streams") or []
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "audio"), {})
    fps = None
    num, _, den = str(video.get("avg_frame_rate") or video.get("r_frame_rate") or "").partition("/")
    with contextlib.suppress(ValueError, ZeroDivisionError):
        fps = float(num) / float(den or 1) or None
    duration = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        duration = float((data.get("format") or {})["duration"])
    return MediaInfo(
        duration=duration,
        video_codec=video.get("codec_name"), audio_codec=audio.get("codec_name"),
        width=video.get("width"), height=video.get("height"), fps=fps)


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+.*?: (Video|Audio): (\w+)(.*)")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r", ([\d.]+) (?:fps|tbr)\b")


def parse_ffmpeg_banner(text: str) -> MediaInfo:
    """``ffmpeg -i input``'s stream summary as MediaInfo (the fallback without ffprobe)."""
    duration = None
    if m := _DURATION.search(text):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    video_codec = audio_codec = None
    width = height = None
    fps = None
    for m in _STREAM.finditer(text):
        if m[1] == "Video" and video_codec is None:
            video_codec = m[2]
            if size := _SIZE.search(m[3]):
                width, height = int(size[1]), int(size[2])
            if rate := _FPS.search(m[3]):
                fps = float(rate[1])
        elif m[1] == "Audio" and audio_codec is None:
            audio_codec = m[2]
    return MediaInfo(duration=duration, video_codec=video_codec, audio_codec=audio_codec,
                     width=width, height=height, fps=fps)


async def probe(source: str | Path, *, ffmpeg: str, ffprobe: str | None = None,
                timeout: float = 20.0) -> MediaInfo:  # noqa: ASYNC109 (kills the probe)
    """Codecs, size, rate and duration of a file or URL (ffprobe, else ``ffmpeg -i``)."""
    target = str(source)
    if ffprobe:
        args = [ffprobe, "-v", "error", "-print_format", "json", "-show_format",
                "-show_streams", "--", target]
    else:
        args = [ffmpeg, "-hide_banner", "-nostdin", "-i", target]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:
        await _kill(proc)
        raise
    text = err.decode("utf-8", "replace")
    lines = text.splitlines()[-TAIL_LINES:]
    if ffprobe:
        if proc.returncode != 0:
            raise FFmpegError(f"cannot probe {target}", tail=lines, returncode=proc.returncode,
                              command=args)
        return parse_ffprobe_json(out.decode("utf-8", "replace"))
    info = parse_ffmpeg_banner(text)
    if info.video_codec is None and info.audio_codec is None:
        raise FFmpegError(f"cannot probe {target}", tail=lines, returncode=proc.returncode,
                          command=args)
    return info


