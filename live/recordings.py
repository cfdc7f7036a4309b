"""Recording the live sessions: one ``Recorder`` per live session, kept in step with the
sessions' lifecycle, and each recorder's ingest health published to the session's staff.

``Recordings.session_changed`` is one of ``Sessions.listeners``, after the moderation
service's (``web.app``). A session that goes live starts recording from its
source; one that ends is stopped and its playlist finalized (``#EXT-X-ENDLIST``). At start,
``resume`` records again every session the store still has live — the server restarted in the
middle of a broadcast — appending to its playlist after a discontinuity (a playlist that a
clean shutdown had closed is reopened first). ``close`` stops them all at shutdown. Several
sessions may be live at once; each has its own recorder and its own ffmpeg.

Starting and stopping happen in background tasks, one per session, that loop until the
session's recorder matches what the store last said: a start and an end in quick succession
run in order, and the last word wins. A source that cannot even be started (a bad source text
in the store, an unwritable media directory, no ffmpeg at all) shows as ingest ``down`` with
the reason; nothing here raises into the request that started the session.

Health goes to staff as an ``ingest`` event on every change, except that changes of the
bitrate alone (about every segment) go out at most every ``RATE_EVENT_SECONDS``: a three-hour
broadcast must not fill the hub's resume buffer with bitrates. The source's secrets — the RTMP
stream key, a pull URL's credentials and query — never leave this module: the recorder labels
the source without them, and ``scrub`` removes them from any text ffmpeg may have echoed.

Several nodes (``leases``, ``live.recorder_lease``): a session is recorded only by the node
holding its recorder lease. ``watch`` runs on every node: every third of the lease it renews
the leases this node holds (a lease lost to another node, or not renewed for half its time,
stops the recorder here without closing the playlist), and looks at the store's live
sessions, so that a session started or ended through another node, or one whose recorder's
node died, is picked up here within the lease time. The taking node appends to the same
playlist behind a discontinuity, so the hole shows on the clip timeline
(``clips.timeline``). A clean stop releases its leases for another node to take at once.

Plain asyncio, no aiohttp; the app owns the lifetime (a cleanup context in ``web.app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from live.browser_ingest import PhoneFeeds
from live.events import INGEST, STAFF, Event, Publish
from live.ffmpeg import FFmpegNotFound, MediaError, find_ffmpeg, find_ffprobe
from live.hls_recorder import IngestHealth, Recorder, reopen_playlist, session_playlist
from live.media_store import MediaStore
from live.recorder_lease import RecorderLeases
from settings import MediaSettings, Settings
from store.base import Store, StoreError
from store.records import LiveSession

log = logging.getLogger(__name__)

RATE_EVENT_SECONDS = 15.0
SHOWN_GAPS = 10  # the most recent gaps sent to staff; ``gap_count`` has them all
PUSH_APP = "live"  # the RTMP application name: rtmp://host:port/live, key = stream name



class SessionRecorder(Protocol):
    """What ``Recordings`` needs of a recorder (``live.hls_recorder.Recorder``; tests fake it)."""

    async def start(self, session_id: str, source: str = "", *,
                    copy: bool | None = None) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> IngestHealth: ...


RecorderFactory = Callable[[Callable[[IngestHealth], None]], SessionRecorder]


# --- RTMP push addresses -------------------------------------------------------------------


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def rtmp_listen_base(media: MediaSettings) -> str:
    """Where a push session's ffmpeg listens, without the key: ``rtmp://bind:port/live``."""
    return f"rtmp://{_host(media.rtmp_bind)}:{media.rtmp_port}/{PUSH_APP}"


def rtmp_push_address(settings: Settings) -> str:
    """The server address to paste into the studio encoder (OBS: 服务器), without the key:
    ``rtmp_public_host``, else the host of ``public_url``, else ``rtmp_bind``."""
    media = settings.media
    host = (media.rtmp_public_host or urlsplit(settings.server.public_url).hostname
            or media.rtmp_bind)
    return f"rtmp://{_host(host)}:{media.rtmp_port}/{PUSH_APP}"


# --- secrets -------------------------------------------------------------------------------


def source_secrets(source: str) -> tuple[str, ...]:
    """The parts of a source text that must never be shown: the whole URL, its last path
    segment (an RTMP stream key, for a push or a pull), its password and its query."""
    url = source.strip().removeprefix("listen:")
    if "://" not in url:
        return ()  # the test picture, or a file path: nothing secret in it
    found = {url}
    with contextlib.suppress(ValueError):  # a malformed URL: the whole of it is hidden
        parts = urlsplit(url)
        found.add(parts.query)
        if parts.path.count("/") > 1:  # what the recorder's label hides, too
            found.add(parts.path.rsplit("/", 1)[-1])
        found.add(parts.password or "")
    # Short fragments ("", "a") would mangle ordinary words without hiding anything.
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "…")
    return text


def scrub_health(health: IngestHealth, secrets: tuple[str, ...]) -> IngestHealth:
    if not secrets:
        return health
    return replace(health, detail=scrub(health.detail, secrets),
                   source=scrub(health.source, secrets),
                   last_error=scrub(health.last_error, secrets),
                   gaps=tuple(replace(g, reason=scrub(g.reason, secrets)) for g in health.gaps))


def health_view(health: IngestHealth) -> dict[str, Any]:
    """The health as staff receive it: ``IngestHealth.as_dict()`` with only the latest gaps
    (and ``gap_count``), plus ``enabled``."""
    view = health.as_dict()
    view["gap_count"] = len(health.gaps)
    view["gaps"] = view["gaps"][-SHOWN_GAPS:]
    view["enabled"] = True
    return view


OFF_VIEW: dict[str, Any] = {"enabled": False, "status": "off", "detail": "recording is off"}
INGEST_LABELS = {"idle": "未开始", "starting": "正在连接", "up": "信号正常", "down": "信号中断",
                 "stopped": "已停止", "off": "未开启"}  # as web/static/ingest.js shows them


# --- the manager ---------------------------------------------------------------------------


class Recordings:
    """One recorder per live session, following the store; ingest health to staff.

    ``factory`` makes a recorder reporting to the given health callback; None means
    recording is off (``[media] record = false``), or, with ``broken`` set, that it is on but
    cannot run (no ffmpeg): live sessions then show ingest down with that reason.
    """

    def __init__(self, store: Store, publish: Publish, factory: RecorderFactory | None, *,
                 media_dir: Path | None = None, broken: str = "",
                 leases: RecorderLeases | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.publish = publish
        self.factory = factory
        self.media_dir = media_dir
        self.broken = broken
        self.clock = clock
        self._wanted: dict[str, str | None] = {}  # session -> source to record, None: stop
        self._running: dict[str, tuple[SessionRecorder | None, str]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._health: dict[str, IngestHealth] = {}
        # When staff were last sent each session's health, and what they were sent.
        self._published: dict[str, tuple[float, IngestHealth]] = {}
        self._closing = False
        self.leases = leases
        self._terms: dict[str, int] = {}  # session -> this node's term of its lease
        self._renewed: dict[str, float] = {}  # session -> when its lease was last renewed
        self._standby: set[str] = set()  # live sessions another node records
        self._watch: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Recording is on in the settings (whether or not it can run)."""
        return self.factory is not None or bool(self.broken)

    def recording(self) -> list[str]:
        """The sessions that have a running recorder."""
        return [sid for sid, (recorder, _) in self._running.items() if recorder is not None]

    def health(self, session_id: str) -> IngestHealth | None:
        return self._health.get(session_id)

    def view(self, session_id: str) -> dict[str, Any]:
        """The session's ingest health for staff (the snapshot and the ``ingest`` event)."""
        if not self.enabled:
            return dict(OFF_VIEW)
        health = self._health.get(session_id) or IngestHealth(session_id=session_id)
        return health_view(health)

    # -- lifecycle -------------------------------------------------------------------------

    def session_changed(self, session: LiveSession) -> None:
        """A session was started, ended or edited: bring its recorder in line (soon)."""
        if not self.enabled:
            return
        want = session.source if session.status == "live" else None
        self._wanted[session.id] = want
        worker = self._workers.get(session.id)
        idle = worker is None or worker.done()
        if self._closing or (idle and want is None and session.id not in self._running):
            return  # shutting down, or an edit of a session that is not recording
        if idle:
            self._workers[session.id] = asyncio.create_task(
                self._reconcile(session.id), name=f"recording:{session.id}")

    async def resume(self) -> int:
        """Record again every session the store has live (after a restart)."""
        if not self.enabled:
            return 0
        live = await self.store.find(LiveSession, {"status": "live"})
        for session in live:
            self.session_changed(session)
        return len(live)

    async def settle(self) -> None:
        """Wait until every pending start and stop has been carried out."""
        while True:
            pending = [t for t in self._workers.values() if not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        """Stop every recorder (each writes its last segment and closes its playlist), then
        release the leases: another node takes the sessions still live at its next look."""
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.settle()
        running, self._running = self._running, {}
        await asyncio.gather(*(self._stop(sid, recorder)
                               for sid, (recorder, _) in running.items()))
        terms, self._terms = self._terms, {}
        if self.leases is not None:
            for sid, term in terms.items():
                with contextlib.suppress(StoreError):
                    await self.leases.release(sid, term, ended=False)

    def watch(self) -> None:
        """Start watching the store's live sessions and renewing this node's leases."""
        if self.leases is not None and self.enabled and self._watch is None:
            self._watch = asyncio.create_task(self._watching(), name="recordings:watch")

    async def halt(self) -> None:
        """Stop recording here at once, releasing nothing and leaving the playlists open:
        what a node that dies does (its leases run out, other nodes take over)."""
        self._closing = True
        for task in [*self._workers.values(), *([self._watch] if self._watch else [])]:
            task.cancel()
        running, self._running = self._running, {}
        self._terms.clear()
        for recorder, _ in running.values():
            abandon = getattr(recorder, "abandon", None)
            if abandon is not None:
                await abandon("node stopped")

    async def _watching(self) -> None:
        assert self.leases is not None
        while True:
            await asyncio.sleep(self.leases.renew_every)
            try:
                await self._renew_all()
                await self._follow_store()
            except StoreError as exc:
                log.warning("recordings: cannot reach the store: %s", exc)
            except Exception:
                log.exception("recordings: watching the live sessions failed")

    async def _renew_all(self) -> None:
        assert self.leases is not None
        for sid, term in list(self._terms.items()):
            try:
                kept = await self.leases.renew(sid, term)
            except StoreError:
                # Not renewed: stop before another node may take over (half the lease).
                kept = self.clock() - self._renewed.get(sid, 0.0) < \
                    self.leases.lease_seconds / 2
            else:
                if kept:
                    self._renewed[sid] = self.clock()
            if not kept and self._terms.get(sid) == term:
                await self._lose(sid)

    async def _follow_store(self) -> None:
        """Sessions started or ended through another node, and live sessions whose lease
        may be free: brought in line here."""
        live = {s.id: s for s in await self.store.find(LiveSession, {"status": "live"})}
        for sid, session in live.items():
            if sid in self._standby or self._wanted.get(sid) != session.source:
                self.session_changed(session)
        for sid, want in list(self._wanted.items()):
            if want is not None and sid not in live:
                self._standby.discard(sid)
                with contextlib.suppress(StoreError):
                    self.session_changed(await self.store.get(LiveSession, sid))

    async def _lose(self, session_id: str) -> None:
        """Another node records this session now: stop here, leave its playlist open."""
        log.warning("recordings: the lease of session %s went to another node", session_id)
        self._terms.pop(session_id, None)
        self._standby.add(session_id)
        running = self._running.pop(session_id, None)
        if running is not None and running[0] is not None:
            abandon = getattr(running[0], "abandon", None)  # Recorder: the playlist stays open
            await (abandon() if abandon is not None else running[0].stop())

    async def _reconcile(self, session_id: str) -> None:
        while True:
            want = self._wanted.get(session_id)
            running = self._running.get(session_id)
            if running is not None and (want is None or running[1] != want):
                del self._running[session_id]
                await self._stop(session_id, running[0])
                term = self._terms.pop(session_id, None)
                if want is None and term is not None and self.leases is not None:
                    with contextlib.suppress(StoreError):
                        await self.leases.release(session_id, term, ended=True)
            elif running is None and want is not None:
                if self.leases is not None and session_id not in self._terms:
                    term = await self._acquire(session_id)
                    if term is None:  # another node records it
                        self._standby.add(session_id)
                        return
                self._standby.discard(session_id)
                self._running[session_id] = (await self._start(session_id, want), want)
            else:
                return

    async def _acquire(self, session_id: str) -> int | None:
        assert self.leases is not None
        try:
            term = await self.leases.acquire(session_id)
        except StoreError as exc:
            log.warning("recordings: cannot take the lease of session %s: %s", session_id,
                        exc)
            return None
        if term is not None:
            self._terms[session_id] = term
            self._renewed[session_id] = self.clock()
            log.info("recordings: this node records session %s (term %d)", session_id, term)
        return term

    async def _start(self, session_id: str, source: str) -> SessionRecorder | None:
        secrets = source_secrets(source)

        def report(health: IngestHealth) -> None:
            self._on_health(session_id, secrets, health)

        if self.factory is None:
            self._failed(report, session_id, self.broken)
            return None
        recorder = self.factory(report)
        try:
            if self.media_dir is not None:
                await asyncio.to_thread(reopen_playlist,
                                        session_playlist(self.media_dir, session_id))
            await recorder.start(session_id, source)
        except (ValueError, OSError, MediaError) as exc:
            # A source text the form would not accept, an unwritable media directory: the
            # session stays live without video, and staff see why.
            reason = scrub(str(exc), secrets)
            log.error("cannot record session %s: %s", session_id, reason)
            self._failed(report, session_id, reason)
            return None
        return recorder

    def _failed(self, report: Callable[[IngestHealth], None], session_id: str,
                reason: str) -> None:
        now = time.time()
        report(IngestHealth(session_id=session_id, status="down",
                            detail="recording cannot start", last_error=reason,
                            last_error_at=now, since=now))

    async def _stop(self, session_id: str, recorder: SessionRecorder | None) -> None:
        if recorder is None:
            health = self._health.get(session_id)
            if health is not None:
                self._on_health(session_id, (), replace(
                    health, status="stopped", detail="session ended", since=time.time()))
            return
        try:
            await recorder.stop()
        except Exception:
            # stop() re-raises a bug in the recorder's supervision. Nobody awaits this
            # background task, so this log is where it surfaces; the other sessions' stops
            # must still run.
            log.exception("stopping the recorder of session %s failed", session_id)

    def _on_health(self, session_id: str, secrets: tuple[str, ...],
                   health: IngestHealth) -> None:
        health = scrub_health(health, secrets)
        self._health[session_id] = health
        now = self.clock()
        shown = self._published.get(session_id)
        if (shown is not None and shown[1].bitrate_kbps is not None
                and health.bitrate_kbps is not None
                and replace(shown[1], bitrate_kbps=health.bitrate_kbps) == health
                and now - shown[0] < RATE_EVENT_SECONDS):
            return  # only the bitrate moved, and staff were told one recently
        self._published[session_id] = (now, health)
        self.publish(session_id, [Event(STAFF, INGEST, {"ingest": self.view(session_id)})])


def make_recordings(settings: Settings, store: Store, publish: Publish,
                    media_store: MediaStore | None = None, *, node: str = "",
                    phones: PhoneFeeds | None = None) -> Recordings:
    """The recordings the settings ask for: off, on, or on but without an ffmpeg.
    ``media_store``: where recordings go (None: ``media_dir``; a remote store: uploaded from
    ``media_dir`` as a spool, ``live.hls_upload``). With ``node`` (this node's id), each
    session is recorded under a lease (one node records it). ``phones``: where phones'
    streams arrive, for ``browser:`` sources (``live.browser_ingest``)."""
    media = settings.media
    if not media.record:
        return Recordings(store, publish, None)
    try:
        ffmpeg = find_ffmpeg(media.ffmpeg)
        ffprobe = find_ffprobe("", ffmpeg)
    except FFmpegNotFound as exc:
        log.error("[media] record is on, but %s: live sessions will have no video", exc)
        return Recordings(store, publish, None, broken=str(exc))
    media_dir = settings.media_dir

    def factory(on_health: Callable[[IngestHealth], None]) -> Recorder:
        return Recorder(media_dir, ffmpeg=ffmpeg, ffprobe=ffprobe,
                        segment_seconds=media.segment_seconds,
                        stall_seconds=float(media.stall_seconds),
                        test_size=media.test_picture_size, on_health=on_health,
                        store=media_store, time_zone=settings.server.time_zone,
                        phones=phones)

    leases = RecorderLeases(store, node, media.recorder_lease_seconds) if node else None
    return Recordings(store, publish, factory, media_dir=media_dir, leases=leases)

