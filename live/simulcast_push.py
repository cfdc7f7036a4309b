"""Pushing a live session's programme to its simulcast destinations, each with its health.

The source is the recorder's own output: each destination is one ffmpeg that reads the
session's live HLS playlist from its newest segment on, paced at its own rate (``-re``), and
copies the streams into FLV over RTMP (``live.simulcast.push_args``). No decode, no encode:
the recorder has already made H.264/AAC with a keyframe every segment. A destination that
refuses, drops or stalls is restarted alone after a back-off (1 s doubling to 30 s, reset
once a run has stayed up that long); the recording and the other destinations never notice.
The price is the segment length plus ffmpeg's read-ahead (a few seconds) of extra delay on
the destination, and measured CPU of a copy (see docs/video.md).

Lifecycle: the pushes follow this node's recorders. ``watch`` looks every ``FOLLOW_SECONDS``
at the sessions ``Recordings.recording()`` says this node records (it holds their recorder
lease): a session that starts recording here starts its pushes, one that stops (the session
ended, the lease went elsewhere, the node shuts down) stops them. So exactly one node pushes
each session, and a takeover moves the pushes with the recording. Destinations added or
removed while live take effect at once on the node that handled the request
(``targets_changed``) and within ``REFRESH_SECONDS`` on the node that pushes.

Health (``PushHealth``: connecting, up, down, stopped; last error, retries, next retry) goes
to the session's staff as a ``simulcast`` event on every change, scrubbed of the key. A
destination whose stored key does not open (``live.simulcast_keys``: the signing key changed)
is not pushed: it shows ``nokey`` until an admin enters the key again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from live.backoff import Backoff
from live.events import SIMULCAST, STAFF, Event, Publish
from live.ffmpeg import FFmpegNotFound, MediaError, Progress, find_ffmpeg, run_ffmpeg
from live.hls_recorder import session_playlist
from live.recordings import scrub
from live.simulcast import destination_label, push_args, push_url, target_secrets, targets
from live.simulcast_keys import StreamKeys
from settings import Settings
from store.base import Store, StoreError
from store.records import SimulcastTarget

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 1.0
REFRESH_SECONDS = 5.0
SIMULCAST_LABELS = {"idle": "未开始", "connecting": "正在连接", "up": "推流正常",
                    "down": "推流中断", "stopped": "已停止",
                    "nokey": "密钥需重新输入"}  # as web/static/simulcast.js
NO_KEY = "the stream key cannot be read (the signing key changed?): enter it again"


@dataclass(frozen=True)
class PushHealth:
    status: str = "idle"  # idle | connecting | up | down | stopped | nokey
    detail: str = ""
    last_error: str = ""
    last_error_at: float | None = None
    retries: int = 0
    retry_in: float | None = None  # seconds until the next attempt, while down
    since: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NOKEY = PushHealth(status="nokey", detail=NO_KEY)


class Pusher:
    """One destination of one session: a supervised ffmpeg and its health."""

    def __init__(self, target: SimulcastTarget, key: str, playlist: Path, *, ffmpeg: str,
                 on_health: Callable[[PushHealth], None], backoff_initial: float = 1.0,
                 backoff_max: float = 30.0, stall_seconds: float = 20.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.target = target
        self.url = push_url(target.url, key)
        self.playlist = playlist
        self.ffmpeg = ffmpeg
        self.on_health = on_health
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.secrets = target_secrets(target.url, key)
        self._health = PushHealth()
        self._task: asyncio.Task[None] | None = None

    def health(self) -> PushHealth:
        return self._health

    def start(self) -> None:
        if self._task is None:
            self._set(PushHealth(status="connecting", detail="waiting for the recording",
                                 since=self.clock()))
            self._task = asyncio.create_task(self._supervise(),
                                             name=f"simulcast:{self.target.id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._set(replace(self._health, status="stopped", detail="session ended",
                          retry_in=None, since=self.clock()))

    def scrub(self, text: str) -> str:
        return scrub(text.replace(self.url, destination_label(self.target.url)),
                     self.secrets)

    async def _supervise(self) -> None:
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        while True:
            await self._recorded()
            self._set(replace(self._health, status="connecting", retry_in=None,
                              detail=f"pushing to {destination_label(self.target.url)}",
                              since=self.clock()))
            try:
                await run_ffmpeg(push_args(self.ffmpeg, self.playlist, self.url),
                                 stall_timeout=self.stall_seconds, on_progress=self._progress,
                                 graceful_stop=1.0)
                error = "the push ended"
            except (MediaError, OSError, ValueError) as exc:
                error = str(exc)
            now = self.clock()
            health = self._health
            wait = backoff.after(now - (health.since or now) if health.status == "up" else 0)
            self._set(replace(health, status="down", detail=f"retrying in {wait:g} s",
                              last_error=self.scrub(error), last_error_at=now,
                              retry_in=wait, since=now))
            await asyncio.sleep(wait)
            backoff.grow()
            self._set(replace(self._health, retries=self._health.retries + 1))

    async def _recorded(self) -> None:
        """Wait until the recorder has written its playlist (its first segment)."""
        while True:  # the task is cancelled with the session
            if await asyncio.to_thread(self.playlist.exists):
                return
            await asyncio.sleep(0.5)

    def _progress(self, progress: Progress) -> None:
        if progress.out_time > 0 and self._health.status != "up":
            self._set(replace(self._health, status="up", detail="pushing", retry_in=None,
                              since=self.clock()))

    def _set(self, health: PushHealth) -> None:
        self._health = health
        self.on_health(health)


class Simulcasts:
    """The pushes of the sessions this node records; their health to staff."""

    def __init__(self, store: Store, publish: Publish, keys: StreamKeys, *, ffmpeg: str | None,
                 media_dir: Path, recording: Callable[[], list[str]] = list,
                 backoff_initial: float = 1.0, backoff_max: float = 30.0) -> None:
        self.store = store
        self.keys = keys  # opens the destinations' stored stream keys
        self.recording = recording  # the sessions this node records (Recordings.recording)
        self.publish = publish
        self.ffmpeg = ffmpeg
        self.media_dir = media_dir
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._active: set[str] = set()  # sessions recorded here
        self._pushers: dict[str, dict[str, Pusher]] = {}  # session -> target id -> pusher
        self._nokey: dict[str, dict[str, SimulcastTarget]] = {}  # keys that do not open
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    def pushing(self, session_id: str) -> list[str]:
        return list(self._pushers.get(session_id, {}))

    def view(self, session_id: str) -> list[dict[str, Any]]:
        """The health of each destination being pushed (``simulcast`` event, snapshot)."""
        pushes = [{"id": tid, "name": p.target.name,
                   "destination": destination_label(p.target.url), **p.health().as_dict()}
                  for tid, p in self._pushers.get(session_id, {}).items()]
        return pushes + [{"id": tid, "name": t.name, "destination": destination_label(t.url),
                          **NOKEY.as_dict()} for tid, t in self._nokey.get(session_id, {}).items()]

    def health(self, session_id: str, target_id: str) -> PushHealth | None:
        if target_id in self._nokey.get(session_id, {}):
            return NOKEY
        pusher = self._pushers.get(session_id, {}).get(target_id)
        return pusher.health() if pusher is not None else None

    # -- lifecycle -------------------------------------------------------------------------

    def recording_changed(self, session_id: str, recording: bool) -> None:
        """This node started (True) or stopped (False) recording ``session_id``."""
        if recording:
            self._active.add(session_id)
        else:
            self._active.discard(session_id)
        self._spawn(session_id)

    def targets_changed(self, session_id: str) -> None:
        """A destination was added or removed: follow it here if this node pushes."""
        if session_id in self._active or session_id in self._pushers:
            self._spawn(session_id)

    def watch(self) -> None:
        if self._watch is None and self.ffmpeg is not None:
            self._watch = asyncio.create_task(self._watching(), name="simulcast:watch")

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self._active.clear()
        await self.settle()
        for sid in list(self._pushers):
            await self._sync(sid)

    def _spawn(self, session_id: str) -> None:
        task = asyncio.create_task(self._sync(session_id), name=f"simulcast:{session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watching(self) -> None:
        refreshed = time.monotonic()
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            now = set(self.recording())
            for sid in now ^ self._active:
                self.recording_changed(sid, sid in now)
            if time.monotonic() - refreshed >= REFRESH_SECONDS:
                refreshed = time.monotonic()
                for sid in list(self._active):
                    self._spawn(sid)

    async def _sync(self, session_id: str) -> None:
        """Bring the session's pushers in line with its destinations (none unless active)."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            wanted: dict[str, SimulcastTarget] = {}
            if session_id in self._active and self.ffmpeg is not None:
                try:
                    wanted = {t.id: t for t in await targets(self.store, session_id)
                              if t.enabled}
                except StoreError as exc:
                    log.warning("simulcast: cannot read the destinations of %s: %s",
                                session_id, exc)
                    return
            opened = {tid: self.keys.open(t) for tid, t in wanted.items()}
            nokey = {tid: wanted.pop(tid) for tid, key in opened.items() if key is None}
            if nokey.keys() - self._nokey.get(session_id, {}).keys():
                log.warning("simulcast: %s: %d destination(s) not pushed: %s", session_id,
                            len(nokey), NO_KEY)
            changed = nokey.keys() != self._nokey.get(session_id, {}).keys()
            if nokey:
                self._nokey[session_id] = nokey
            else:
                self._nokey.pop(session_id, None)
            running = self._pushers.setdefault(session_id, {})
            for tid in [t for t in running if t not in wanted
                        or running[t].target != wanted[t]]:
                await running.pop(tid).stop()
                changed = True
            for tid, target in wanted.items():
                key = opened[tid]
                if tid not in running and session_id in self._active and key is not None:
                    running[tid] = self._pusher(session_id, target, key)
                    running[tid].start()
                    changed = True
            if not running:
                del self._pushers[session_id]
            if changed:
                self._announce(session_id)

    def _pusher(self, session_id: str, target: SimulcastTarget, key: str) -> Pusher:
        assert self.ffmpeg is not None
        return Pusher(target, key, session_playlist(self.media_dir, session_id), ffmpeg=self.ffmpeg,
                      on_health=lambda _h: self._announce(session_id),
                      backoff_initial=self.backoff_initial, backoff_max=self.backoff_max)

    def _announce(self, session_id: str) -> None:
        self.publish(session_id, [Event(STAFF, SIMULCAST,
                                        {"simulcast": self.view(session_id)})])


def make_simulcasts(settings: Settings, store: Store, publish: Publish,
                    recording: Callable[[], list[str]], *, signing_key: bytes) -> Simulcasts:
    """Pushes run where recordings do: without ffmpeg (or recording off) there are none. The
    stream keys are opened with a key derived from the signing key."""
    ffmpeg: str | None = None
    if settings.media.record:
        with contextlib.suppress(FFmpegNotFound):
            ffmpeg = find_ffmpeg(settings.media.ffmpeg)
    return Simulcasts(store, publish, StreamKeys(signing_key), ffmpeg=ffmpeg,
                      media_dir=settings.media_dir, recording=recording)
