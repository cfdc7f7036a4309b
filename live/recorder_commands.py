"""The recorder's ffmpeg commands, as pure functions that return argument lists.

Nothing here runs anything or touches the disk: each function takes paths, numbers and
settings and returns the exact ``argv`` to hand to ``live.ffmpeg.run_ffmpeg``, so the tests
pin each command down by equality. Lists, never strings: no shell ever parses them (filter
arguments here are numbers, or paths escaped by ``filter_value``).

Every command starts with ``base()``: quiet logging (warnings and errors are what the stderr
tail is for), no stdin, and the machine-readable ``-progress pipe:1`` report the runner uses
to tell a working ffmpeg from a stuck one. ``base``, ``Encoder`` and the encode arguments are
shared with the clip cutter's commands (``clips.commands``), which sit above this layer.

The recording layout (``record_args``): HLS with MPEG-TS segments of ``segment_seconds``,
each starting on a keyframe, every segment carrying ``EXT-X-PROGRAM-DATE-TIME``:

* ``append_list``: a restarted ffmpeg reads the playlist back and appends to it; hlsenc then
  writes ``EXT-X-DISCONTINUITY`` before its first segment, and the new segments carry the new
  wall-clock dates, so the gap is visible in the playlist itself (``clips.timeline``).
* ``omit_endlist``: ffmpeg must not close the playlist when its *input* ends (a publisher
  hanging up is not the end of the session); the recorder appends ``#EXT-X-ENDLIST`` once,
  when the session ends.
* ``temp_file``: segments appear under their final name only when complete, so the live page
  and the cutter never read a half-written one.
* ``-hls_playlist_type event`` + ``-hls_list_size 0``: nothing is ever dropped from the
  playlist; the whole session stays cuttable and replayable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PLAYLIST_NAME = "index.m3u8"
BROWSER_SOURCE = "browser:"  # the source text of a session broadcast from a phone
PHONE_FRAME_RATE = 25  # what a phone's variable-rate picture is recorded at
SEGMENT_PATTERN = "seg_%06d.ts"


def base(ffmpeg: str, loglevel: str = "warning") -> list[str]:
    return [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", loglevel, "-nostats",
            "-progress", "pipe:1", "-y"]


@dataclass(frozen=True)
class Encoder:
    """How video is encoded, when it is: by the recorder (sources that are not H.264) and by
    the cutter for the re-encoded parts of a clip. Using the same settings in both keeps the
    re-encoded ends of a frame-accurate clip close to its copied middle."""

    preset: str = "veryfast"
    crf: int = 23
    maxrate_kbps: int = 0  # 0: no cap (a live uplink usually wants one, e.g. 4000)
    audio_kbps: int = 128


DEFAULT_ENCODER = Encoder()


def video_encode_args(enc: Encoder) -> list[str]:
    """libx264 with ``enc``'s settings."""
    args = ["-c:v", "libx264", "-preset", enc.preset, "-crf", str(enc.crf),
            "-pix_fmt", "yuv420p"]
    if enc.maxrate_kbps:
        args += ["-maxrate", f"{enc.maxrate_kbps}k", "-bufsize", f"{enc.maxrate_kbps * 2}k"]
    return args


def audio_encode_args(enc: Encoder) -> list[str]:
    return ["-c:a", "aac", "-b:a", f"{enc.audio_kbps}k", "-ar", "48000", "-ac", "2"]


def filter_value(text: str) -> str:
    """Escape a value for a filter option inside a ``-vf`` graph (a path in
    ``drawtext=fontfile=...``). Two levels, as ffmpeg parses two: the option parser's
    (``\\ ' :``) and then the graph parser's (``\\ ' [ ] , ;``)."""
    option = "".join("\\" + c if c in "\\':" else c for c in text)
    return "".join("\\" + c if c in "\\'[],;" else c for c in option)


# --------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class Source:
    """Where the live picture comes from, parsed from the session's source text.

    * ``""`` → the generated test picture;
    * ``listen:rtmp://0.0.0.0:1935/live/KEY`` → ffmpeg is the RTMP server; the studio encoder
      pushes to ``rtmp://<host>:1935/live/KEY``;
    * ``listen:srt://0.0.0.0:9000`` → SRT in listener mode;
    * any other URL (``rtmp://``, ``srt://``, ``http(s)://…m3u8``) → ffmpeg pulls it;
    * ``browser:`` → a phone's browser sends MediaRecorder chunks over a websocket, piped
      into ffmpeg's stdin (``live.browser_ingest``);
    * anything else is a local file, read at its native rate (``-re``).
    """

    kind: str  # "test" | "listen" | "pull" | "file" | "browser"
    url: str = ""

    @classmethod
    def parse(cls, text: str) -> Source:
        text = text.strip()
        if not text:
            return cls("test")
        if text == BROWSER_SOURCE:
            return cls("browser")
        if text.startswith("listen:"):
            url = text.removeprefix("listen:")
            if urlsplit(url).scheme not in ("rtmp", "srt"):
                raise ValueError(f"only rtmp:// and srt:// can listen, not {url!r}")
            return cls("listen", url)
        if "://" in text:
            return cls("pull", text)
        return cls("file", text.removeprefix("file:"))

    @property
    def label(self) -> str:
        """The source for display: no credentials, no query string, no stream key."""
        if self.kind == "test":
            return "test picture"
        if self.kind == "browser":
            return "phone browser"
        if self.kind == "file":
            return f"file {Path(self.url).name}"
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        path = parts.path.rsplit("/", 1)[0] + "/…" if parts.path.count("/") > 1 else ""
        return f"{self.kind} {parts.scheme}://{host}{port}{path}"


def source_input_args(source: Source) -> list[str]:
    if source.kind == "listen":
        if source.url.startswith("srt://"):
            sep = "&" if "?" in source.url else "?"
            url = source.url if "mode=" in source.url else f"{source.url}{sep}mode=listener"
            return ["-i", url]
        return ["-listen", "1", "-i", source.url]
    if source.kind == "file":
        return ["-re", "-i", source.url]
    if source.kind == "pull":
        return ["-i", source.url]
    if source.kind == "browser":
        # MediaRecorder's WebM (or fragmented MP4) arrives on stdin; ffmpeg finds the format.
        return ["-i", "pipe:0"]
    raise ValueError(f"no input arguments for a {source.kind} source")


def posix_tz(zone: str) -> str:
    """The POSIX ``TZ`` string for the IANA ``zone`` (the footer of its TZif file, e.g.
    "CST-8" for Asia/Shanghai, "EST5EDT,M3.2.0,M11.1.0" for America/New_York), so that
    ffmpeg's ``localtime`` draws the desk's clock even where the C library finds no zone
    files; the name itself when no file has a footer."""
    import zoneinfo
    from importlib import resources

    candidates = [Path(base, zone) for base in zoneinfo.TZPATH]
    with contextlib.suppress(ModuleNotFoundError):  # the tzdata package, if installed
        candidates.append(Path(str(resources.files("tzdata.zoneinfo").joinpath(zone))))
    for path in candidates:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if data.startswith(b"TZif") and data.endswith(b"\n"):
            footer = data[:-1].rsplit(b"\n", 1)[-1].decode("ascii", "replace")
            if footer:
                return footer
    return zone


def clock_env(zone: str) -> dict[str, str]:
    """The environment for ffmpeg so that the test picture's clock (``%{localtime}``)
    shows ``zone``, the desk's time zone."""
    return {"TZ": posix_tz(zone)}


def test_source_args(*, size: str = "1280x720", rate: int = 25, clock: bool = True,
                     fontfile: str | None = None) -> list[str]:
    """Inputs for the generated test picture: colour pattern, a tone that beeps every second,
    and (``clock``) the local time drawn on it (run it with ``clock_env``, so that local is
    the desk's time zone). ``-re`` paces it like a camera."""
    args = ["-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=2:sample_rate=48000"]
    if clock:
        # The default localtime format ("%Y-%m-%d %H:%M:%S") needs no escaping at all.
        font = f"fontfile={filter_value(fontfile)}:" if fontfile else ""
        args += ["-vf", f"drawtext={font}text='%{{localtime}}':fontsize=h/12:fontcolor=white"
                        ":box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2:y=h-th-h/12"]
    return args


# --------------------------------------------------------------------------------------------
# Recording


def record_args(ffmpeg: str, inputs: Sequence[str], out_dir: Path, *, copy_video: bool,
                copy_audio: bool, two_inputs: bool = False, segment_seconds: int = 2,
                encoder: Encoder = DEFAULT_ENCODER, frame_rate: int = 0) -> list[str]:
    """Ingest ``inputs`` (from ``source_input_args`` or ``test_source_args``) into HLS under
    ``out_dir``. H.264 video and AAC audio are copied as they come (``copy_*``); anything
    else is encoded, with a keyframe forced at every segment boundary. ``two_inputs``: the
    video and audio come from separate inputs (the test picture). ``frame_rate``: encode at
    this constant rate (a phone's WebM has a 1 kHz time base and a variable rate, which
    ffmpeg would otherwise fill up to 1000 frames a second)."""
    audio_map = "1:a:0" if two_inputs else "0:a:0?"
    args = [*base(ffmpeg), *inputs, "-map", "0:v:0", "-map", audio_map]
    if copy_video:
        args += ["-c:v", "copy"]
    else:
        args += [*video_encode_args(encoder), *(["-r", str(frame_rate)] if frame_rate else []),
                 "-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds})",
                 "-sc_threshold", "0"]
    args += ["-c:a", "copy"] if copy_audio else audio_encode_args(encoder)
    args += [
        "-f", "hls", "-hls_time", str(segment_seconds), "-hls_list_size", "0",
        "-hls_playlist_type", "event", "-hls_segment_type", "mpegts",
        "-hls_flags",
        "program_date_time+append_list+omit_endlist+independent_segments+temp_file",
        "-hls_segment_filename", str(out_dir / SEGMENT_PATTERN),
        str(out_dir / PLAYLIST_NAME),
    ]
    return args
