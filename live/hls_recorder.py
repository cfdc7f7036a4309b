"""The recorder: one supervised ffmpeg turning a session's live source into HLS on disk.

While a session is live, ``Recorder`` keeps an ffmpeg process ingesting its source into
``<media_dir>/sessions/<session_id>/hls/index.m3u8`` (2-second MPEG-TS segments, a keyframe
at each, program-date-time on each; the command is ``live.recorder_commands.record_args``). The same
files serve the live page and the clip cutter.

Supervision, because live sources fail: when ffmpeg exits, or makes no progress for
``stall_seconds`` (a publisher that froze, a network pull that hangs), it is killed and
started again after a back-off that doubles up to ``backoff_max`` and resets once a run has
stayed up for a while. The restarted ffmpeg appends to the same playlist behind an
``EXT-X-DISCONTINUITY``; the hole is recorded as a ``Gap`` in the health report (and is
visible in the playlist's dates, which is what the cutter relies on). When the session ends,
ffmpeg gets SIGINT to write its last segment, and the recorder closes the playlist with
``#EXT-X-ENDLIST``.

With a remote media store (``[media] storage = "s3"``) the folder above is a local spool:
an ``HlsUploader`` (``live.hls_upload``) uploads each finished segment, then the playlist
naming it, and prunes the spool; before the first ffmpeg start it makes the spool continue
the session's stored playlist (a resumed session, perhaps on another node), and a store that
cannot be read then counts as a failed start (retried after the back-off). At
the end the final playlist is uploaded before ``stop`` returns.

Health (``IngestHealth``) is a frozen snapshot — status, bitrate of the last segments, last
error, restarts, gaps — handed to ``on_health`` on every change so the app can publish it to
staff (it is called from the supervision task and must not raise). Plain asyncio: no aiohttp
here; the app owns the Recorder's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from live import recorder_commands as commands
from live.backoff import Backoff
from live.browser_ingest import PhoneFeeds
from live.ffmpeg import MediaError, Progress, probe, run_ffmpeg
from live.hls_upload import HlsUploader
from live.media_store import MediaStore, MediaStoreError, hls_key
from live.recorder_commands import DEFAULT_ENCODER, Encoder, Source

# Store ids are URL-safe base64 (letters, digits, "-", "_"); paths are always absolute, so a
# leading "-" never reaches ffmpeg as an option.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
)


@dataclass(frozen=True)
class Gap:
    """A stretch of the session with no recording: from when ingest stopped to when it came
    back (``end`` None while it is still down)."""

    start: float
    end: float | None
    reason: str


@dataclass(frozen=True)
class IngestHealth:
    session_id: str | None = None
    status: str = "idle"  # idle | starting | up | down | stopped
    detail: str = ""
    source: str = ""  # display label, no credentials or stream key
    bitrate_kbps: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    restarts: int = 0
    retry_in: float | None = None  # seconds until the next start, while down
    gaps: tuple[Gap, ...] = ()
    since: float | None = None  # when ``status`` last changed (wall clock)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def session_hls_dir(media_dir: Path, session_id: str) -> Path:
    """Where a session's recording lives: ``<media_dir>/sessions/<id>/hls``."""
    if not _SESSION_ID.match(session_id):
        raise ValueError(f"session id {session_id!r} cannot name a directory")
    return Path(media_dir) / "sessions" / session_id / "hls"


def session_playlist(media_dir: Path, session_id: str) -> Path:
    return session_hls_dir(media_dir, session_id) / commands.PLAYLIST_NAME


def _rewrite_playlist(path: Path, change: Callable[[str], str | None]) -> bool:
    """Replace a playlist's text by ``change(text)`` atomically (a player polling it sees
    the old text or the new one); False when it is missing or ``change`` returns None."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    changed = change(text)
    if changed is None:
        return False
    tmp = path.with_name(path.name + ".rewrite")
    tmp.write_text(changed, encoding="utf-8")
    os.replace(tmp, path)
    return True


def finalize_playlist(path: Path) -> bool:
    """Close an HLS event playlist with ``#EXT-X-ENDLIST`` (atomically, once)."""
    return _rewrite_playlist(path, lambda text: None if "#EXT-X-ENDLIST" in text
                             else text.rstrip("\n") + "\n#EXT-X-ENDLIST\n")


def reopen_playlist(path: Path) -> bool:
    """Remove the ``#EXT-X-ENDLIST`` a clean shutdown wrote into a still-live session's
    playlist, so that the resumed recording appends to an open playlist (and players keep
    polling it)."""

    def reopen(text: str) -> str | None:
        lines = text.rstrip("\n").split("\n")
        if lines[-1].strip() != "#EXT-X-ENDLIST":
            return None
        return "\n".join(lines[:-1]) + "\n"

    return _rewrite_playlist(path, reopen)


def recent_bitrate_kbps(playlist: Path, segments: int = 3) -> float | None:
    """Bitrate of the last few complete segments, from the playlist's tail and their sizes."""
    try:
        with open(playlist, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return None
    pairs: list[tuple[float, str]] = []
    duration: float | None = None
    for line in lines:
        if line.startswith("#EXTINF:"):
            with contextlib.suppress(ValueError):
                duration = float(line[8:].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            pairs.append((duration, line.strip()))
            duration = None
    seconds = size = 0.0
    for dur, uri in pairs[-segments:]:
        try:
            size += (playlist.parent / uri).stat().st_size
        except FileNotFoundError:
            continue
        seconds += dur
    return round(size * 8 / seconds / 1000, 1) if seconds else None


class Recorder:
    """Records one live session at a time; ``start`` returns at once, ``stop`` finalizes."""

    def __init__(
        self,
        media_dir: Path,
        *,
        ffmpeg: str,
        ffprobe: str | None = None,
        segment_seconds: int = 2,
        stall_seconds: float = 10.0,
        startup_seconds: float = 20.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stop_grace: float = 5.0,
        encoder: Encoder = DEFAULT_ENCODER,
        test_size: str = "1280x720",
        test_rate: int = 25,
        on_health: Callable[[IngestHealth], None] | None = None,
        clock: Callable[[], float] = time.time,
        store: MediaStore | None = None,
        time_zone: str = "Asia/Shanghai",
        phones: PhoneFeeds | None = None,
    ) -> None:
        self.media_dir = Path(media_dir)
        self.store = store  # None or a local store: ffmpeg writes in place
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.segment_seconds = segment_seconds
        self.stall_seconds = stall_seconds
        self.startup_seconds = startup_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stop_grace = stop_grace
        self.encoder = encoder
        self.test_size = test_size
        self.test_rate = test_rate
        self.on_health = on_health
        self.clock = clock
        self.clock_env = commands.clock_env(time_zone)  # the test picture's clock
        self._health = IngestHealth()
        self._task: asyncio.Task[None] | None = None
        self._session: str | None = None
        self._advanced_at: float | None = None  # wall clock of the last progress
        self._rate_checked = 0.0
        self._rate_task: asyncio.Task[None] | None = None
        self._clock: tuple[bool, str | None] | None = None  # see _clock_font
        self._uploader: HlsUploader | None = None
        self.phones = phones  # where a ``browser:`` source's chunks arrive

    # -- public ----------------------------------------------------------------------------

    def hls_dir(self, session_id: str) -> Path:
        return session_hls_dir(self.media_dir, session_id)

    def playlist_path(self, session_id: str) -> Path:
        return self.hls_dir(session_id) / commands.PLAYLIST_NAME

    @property
    def recording(self) -> str | None:
        """The session being recorded, if any."""
        return self._session if self._task is not None else None

    def health(self) -> IngestHealth:
        return self._health

    async def start(self, session_id: str, source: str = "", *,
                    copy: bool | None = None) -> None:
        """Start recording ``session_id`` from ``source`` (see ``live.recorder_commands.Source``).

        ``copy``: copy the source's streams (True), encode them (False), or decide from a
        probe (None: H.264 video and AAC audio are copied; a listening RTMP/SRT source,
        which cannot be probed before the encoder connects, is copied). Returns at once; a
        source that fails shows in ``health()``, never as an exception here.
        """
        if self._task is not None:
            raise RuntimeError(f"already recording session {self._session}")
        parsed = Source.parse(source)
        out = self.hls_dir(session_id)
        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
        self._session = session_id
        self._advanced_at = None
        self._uploader = None
        if (self.store is not None
                and self.store.local_path(hls_key(session_id, commands.PLAYLIST_NAME)) is None):
            self._uploader = HlsUploader(self.store, out, session_id)
        self._set(IngestHealth(session_id=session_id, status="starting", source=parsed.label,
                               detail=self._waiting_detail(parsed), since=self.clock()))
        self._task = asyncio.create_task(self._supervise(parsed, out, copy),
                                         name=f"recorder:{session_id}")
        self._task.add_done_callback(self._supervisor_ended)

    async def stop(self) -> None:
        """Stop ffmpeg (letting it write its last segment) and finalize the playlist."""
        task, session = self._task, self._session
        if task is None or session is None:
            return
        if self.phones is not None:  # the phone's stream ends first: a clean last segment
            self.phones.end(session)
        task.cancel()
        if self._rate_task is not None:
            self._rate_task.cancel()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a bug in supervision surfaces here
        finally:
            self._task = None
        out = self.hls_dir(session)
        await asyncio.to_thread(_tidy, out)
        await asyncio.to_thread(finalize_playlist, out / commands.PLAYLIST_NAME)
        uploader, self._uploader = self._uploader, None
        if uploader is not None:
            await uploader.stop()
        now = self.clock()
        gaps = tuple(replace(g, end=now) if g.end is None else g for g in self._health.gaps)
        self._set(replace(self._health, status="stopped", detail="session ended", gaps=gaps,
                          bitrate_kbps=None, retry_in=None, since=now))

    async def abandon(self, detail: str = "recorded by another node") -> None:
        """Stop ffmpeg but leave the playlist as it is (no tidying, no ``#EXT-X-ENDLIST``):
        another node holds the session's recorder lease now and appends to it."""
        task = self._task
        if task is None:
            return
        task.cancel()
        if self._rate_task is not None:
            self._rate_task.cancel()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._task = None
        self._set(replace(self._health, status="stopped", detail=detail, bitrate_kbps=None,
                          retry_in=None, since=self.clock()))

    # -- supervision -----------------------------------------------------------------------

    async def _supervise(self, source: Source, out: Path, copy: bool | None) -> None:
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        phone = self.phones.feed(out.parent.name) \
            if source.kind == "browser" and self.phones is not None else None
        while True:
            try:
                await self._restore(out)
                args, startup = await self._command(source, out, copy)
                await run_ffmpeg(args, stall_timeout=self.stall_seconds,
                                 startup_timeout=startup, on_progress=self._on_progress,
                                 graceful_stop=self.stop_grace, env=self.clock_env,
                                 feed=phone.stream() if phone else None)
                error = "the phone disconnected" if phone else "the source ended"
            except (MediaError, OSError, MediaStoreError) as exc:
                error = str(exc)
            if source.url:  # ffmpeg quotes its input: keep credentials and keys out of sight
                error = error.replace(source.url, source.label)
            now = self.clock()
            health = self._health
            wait = backoff.after(now - (health.since or now) if health.status == "up" else 0)
            self._went_down(error, now, wait)
            await asyncio.sleep(wait)
            if phone is None:  # (the next run waits for the phone, idle)
                backoff.grow()
            # A phone that dropped out is still down (no picture) until it is back.
            dropped = phone is not None and any(g.end is None for g in self._health.gaps)
            self._set(replace(self._health, status="down" if dropped else "starting",
                              since=self.clock(), retry_in=None,
                              detail="waiting for the phone to reconnect" if dropped
                              else self._waiting_detail(source),
                              restarts=self._health.restarts + 1))

    async def _restore(self, out: Path) -> None:
        """With a remote store, once per recording (ffmpeg restarts within it append to
        this node's spool): continue the stored playlist, and keep uploading."""
        uploader = self._uploader
        if uploader is None or uploader.running:
            return
        if await uploader.restore():
            await asyncio.to_thread(reopen_playlist, out / commands.PLAYLIST_NAME)
        uploader.start()

    async def _command(self, source: Source, out: Path,
                       copy: bool | None) -> tuple[list[str], float]:
        """The ffmpeg command for ``source`` and how long it may take to show progress."""
        startup = self.startup_seconds
        if source.kind == "test":
            clock, font = await self._clock_font()
            inputs = commands.test_source_args(size=self.test_size, rate=self.test_rate,
                                               clock=clock, fontfile=font)
            return commands.record_args(
                self.ffmpeg, inputs, out, copy_video=False, copy_audio=False,
                two_inputs=True, segment_seconds=self.segment_seconds,
                encoder=self.encoder), startup
        copy_video = copy_audio = copy is not False
        if source.kind == "browser":
            if self.phones is None:
                raise MediaError("this server takes no phone broadcasts")
            startup, copy_video, copy_audio = math.inf, False, False  # VP8/Opus, any GOP
        elif source.kind == "listen":
            startup = math.inf  # waiting for the encoder to push is not a stall
        elif copy is None:
            info = await probe(source.url, ffmpeg=self.ffmpeg, ffprobe=self.ffprobe,
                               timeout=self.startup_seconds)
            copy_video = info.video_codec == "h264"
            copy_audio = info.audio_codec == "aac"
        return commands.record_args(
            self.ffmpeg, commands.source_input_args(source), out, copy_video=copy_video,
            copy_audio=copy_audio, segment_seconds=self.segment_seconds, encoder=self.encoder,
            frame_rate=commands.PHONE_FRAME_RATE if source.kind == "browser" else 0), startup

    async def _clock_font(self) -> tuple[bool, str | None]:
        """Whether this ffmpeg can draw the test clock (it needs drawtext, built with
        freetype, and a font: a known font file, else fontconfig's default), and with which
        font file. Tried once on a 64x36 frame; builds that cannot get no clock."""
        if self._clock is None:
            font = await asyncio.to_thread(
                lambda: next((f for f in _FONTS if os.path.exists(f)), None))
            args = [self.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
                    "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=1",
                    *commands.test_source_args(clock=True, fontfile=font)[-2:],
                    "-frames:v", "1", "-f", "null", "-"]
            try:
                await run_ffmpeg(args, timeout=15)
                self._clock = (True, font)
            except MediaError:
                self._clock = (False, None)
        return self._clock

    @staticmethod
    def _waiting_detail(source: Source) -> str:
        if source.kind == "listen":
            return f"waiting for the encoder to connect ({source.label})"
        if source.kind == "browser":
            return "waiting for the phone to connect"
        return f"starting ({source.label})"

    def _on_progress(self, progress: Progress) -> None:
        now = self.clock()
        if progress.out_time <= 0:
            return
        self._advanced_at = now
        health = self._health
        if health.status != "up":
            gaps = tuple(replace(g, end=now) if g.end is None else g for g in health.gaps)
            self._set(replace(health, status="up", detail="recording", since=now, gaps=gaps))
            self._rate_checked = now
        elif (now - self._rate_checked >= self.segment_seconds and self._session
              and (self._rate_task is None or self._rate_task.done())):
            self._rate_checked = now
            self._rate_task = asyncio.create_task(self._measure(self._session))

    async def _measure(self, session_id: str) -> None:
        rate = await asyncio.to_thread(recent_bitrate_kbps, self.playlist_path(session_id))
        if self._health.status == "up" and rate != self._health.bitrate_kbps:
            self._set(replace(self._health, bitrate_kbps=rate))

    def _went_down(self, error: str, now: float, retry_in: float) -> None:
        health = self._health
        gaps = health.gaps
        if health.status == "up":
            gaps = (*gaps, Gap(start=self._advanced_at or now, end=None, reason=error))
        self._set(replace(health, status="down", detail=f"restarting in {retry_in:g} s",
                          last_error=error, last_error_at=now, bitrate_kbps=None,
                          retry_in=retry_in, gaps=gaps, since=now))

    def _supervisor_ended(self, task: asyncio.Task[None]) -> None:
        """Supervision only ends by ``stop()``; if a bug ends it, say so in the health (the
        exception itself is raised by ``stop()``)."""
        if not task.cancelled() and task.exception() is not None:
            self._health = replace(self._health, status="down", since=self.clock(),
                                   detail="the recorder failed; stop and start again",
                                   last_error=repr(task.exception()),
                                   last_error_at=self.clock())

    def _set(self, health: IngestHealth) -> None:
        self._health = health
        if self.on_health is not None:
            self.on_health(health)


def _tidy(hls_dir: Path) -> None:
    """Remove the ``.tmp`` segment a killed ffmpeg was writing."""
    for leftover in hls_dir.glob("*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()

