"""Recording live sessions: recorders follow the sessions (fake recorders, no ffmpeg), then
the whole app with real ffmpeg — a session's recording served over HTTP and finalized, resumed
after a restart, an RTMP push from an encoder, and sources that cannot be reached showing
ingest down to staff without breaking anything."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clips.timeline import load_playlist
from live.events import STAFF, Event
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import IngestHealth, session_playlist
from live.recordings import (
    RATE_EVENT_SECONDS,
    Recordings,
    make_recordings,
    reopen_playlist,
    scrub,
    source_secrets,
)
from live.sessions import SessionForm
from settings import Settings
from store.base import Store
from store.records import LiveSession
from tests.live.conftest import Live
from tests.support import ClientFactory, Site, csrf_of, staff_csrf, until
from web import keys
from web.app import create_app

KEY = "Sk3yS3cr3tV4lue"

# --- the manager, with fake recorders --------------------------------------------------------


class FakeRecorder:
    def __init__(self, log: list[tuple[str, str, str]], on_health: Callable[[IngestHealth], None],
                 fail: Exception | None = None) -> None:
        self.log = log
        self.on_health = on_health
        self.fail = fail
        self.session = ""
        self._health = IngestHealth()

    async def start(self, session_id: str, source: str = "", *,
                    copy: bool | None = None) -> None:
        await asyncio.sleep(0.01)
        if self.fail is not None:
            raise self.fail
        self.session = session_id
        self.log.append(("start", session_id, source))
        self.report(IngestHealth(session_id=session_id, status="starting", source="test"))

    async def stop(self) -> None:
        await asyncio.sleep(0.01)
        self.log.append(("stop", self.session, ""))
        self.report(replace(self._health, status="stopped"))

    def report(self, health: IngestHealth) -> None:
        self._health = health
        self.on_health(health)

    def health(self) -> IngestHealth:
        return self._health


class Bench:
    """A ``Recordings`` with fake recorders, a fake clock and the events it published."""

    def __init__(self, store: Store, fail: Exception | None = None) -> None:
        self.log: list[tuple[str, str, str]] = []
        self.recorders: dict[str, FakeRecorder] = {}
        self.events: list[tuple[str, Event]] = []
        self.now = 1000.0
        self.fail = fail
        self.recordings = Recordings(store, self.publish, self.factory, clock=lambda: self.now)

    def factory(self, on_health: Callable[[IngestHealth], None]) -> FakeRecorder:
        recorder = FakeRecorder(self.log, on_health, self.fail)
        self.recorders[str(len(self.recorders))] = recorder
        return recorder

    def publish(self, session_id: str, events: Iterable[Event]) -> None:
        self.events += [(session_id, e) for e in events]


def broadcast(session_id: str, status: str, source: str = "") -> LiveSession:
    return LiveSession(id=session_id, title="场次", status=status, source=source)


async def test_recorders_follow_the_sessions_several_at_once(sqlite_store: Store) -> None:
    bench = Bench(sqlite_store)
    recordings = bench.recordings
    recordings.session_changed(broadcast("a", "live"))
    recordings.session_changed(broadcast("b", "live", "rtmp://cam/live/x"))
    recordings.session_changed(broadcast("c", "scheduled"))  # an edit: nothing to do
    await recordings.settle()
    assert sorted(bench.log) == [("start", "a", ""), ("start", "b", "rtmp://cam/live/x")]
    assert sorted(recordings.recording()) == ["a", "b"]

    # Started and ended before the start had even run: in order, and the end wins.
    recordings.session_changed(broadcast("d", "live"))
    recordings.session_changed(broadcast("d", "ended"))
    recordings.session_changed(broadcast("a", "ended"))
    await recordings.settle()
    assert [e for e in bench.log if e[1] == "d"] in ([], [("start", "d", ""), ("stop", "d", "")])
    assert bench.log[-1] in (("stop", "a", ""), ("stop", "d", ""))
    assert recordings.recording() == ["b"]
    assert recordings.view("a")["status"] == "stopped"

    await recordings.close()
    assert bench.log[-1] == ("stop", "b", "")
    assert recordings.recording() == []
    recordings.session_changed(broadcast("e", "live"))  # after close: ignored
    await recordings.settle()
    assert not any(e[1] == "e" for e in bench.log)


async def test_sessions_left_live_are_resumed(sqlite_store: Store) -> None:
    for b in (broadcast("live1", "live"), broadcast("soon", "scheduled"),
              broadcast("done", "ended")):
        await sqlite_store.insert(b)
    bench = Bench(sqlite_store)
    assert await bench.recordings.resume() == 1
    await bench.recordings.settle()
    assert bench.log == [("start", "live1", "")]
    await bench.recordings.close()


async def test_health_reaches_staff_without_secrets_and_bitrates_sparingly(
        sqlite_store: Store) -> None:
    bench = Bench(sqlite_store)
    source = f"listen:rtmp://127.0.0.1:1935/live/{KEY}"
    bench.recordings.session_changed(broadcast("s", "live", source))
    await bench.recordings.settle()
    [recorder] = bench.recorders.values()
    up = IngestHealth(session_id="s", status="up", source="listen rtmp://127.0.0.1:1935/live/…",
                      detail=f"publisher {KEY} connected")
    recorder.report(up)
    bench.now += 1
    recorder.report(replace(up, bitrate_kbps=100.0))  # the first bitrate: at once
    for rate in (101.0, 102.0):  # within RATE_EVENT_SECONDS of the last event: held back
        bench.now += 1
        recorder.report(replace(up, bitrate_kbps=rate))
    bench.now += RATE_EVENT_SECONDS
    recorder.report(replace(up, bitrate_kbps=103.0))
    recorder.report(replace(up, status="down", bitrate_kbps=None,
                            last_error=f"rtmp://127.0.0.1:1935/live/{KEY}: I/O error"))

    assert all(sid == "s" and e.audience == STAFF and e.kind == "ingest"
               for sid, e in bench.events)
    shown = [e.data["ingest"] for _, e in bench.events]
    assert [(v["status"], v["bitrate_kbps"]) for v in shown] == [
        ("starting", None), ("up", None), ("up", 100.0), ("up", 103.0), ("down", None)]
    assert shown[-1]["last_error"] == "…: I/O error"
    assert shown[1]["detail"] == "publisher … connected"
    assert KEY not in json.dumps(shown)
    # The latest health, for snapshots and pages, has every change, bitrates included.
    bench.recordings.session_changed(broadcast("s", "live", source))
    assert bench.recordings.view("s")["status"] == "down"
    assert bench.recordings.view("s")["enabled"] is True
    await bench.recordings.close()


async def test_a_source_that_cannot_start_shows_down_without_raising(
        sqlite_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    bench = Bench(sqlite_store, fail=ValueError(f"only rtmp:// and srt:// can listen, not "
                                                f"'http://x/live/{KEY}'"))
    with caplog.at_level(logging.ERROR, logger="live.recordings"):
        bench.recordings.session_changed(
            broadcast("s", "live", f"listen:http://x/live/{KEY}"))
        await bench.recordings.settle()
    view = bench.recordings.view("s")
    assert view["status"] == "down" and "can listen" in view["last_error"]
    assert KEY not in json.dumps(view) and KEY not in caplog.text
    bench.recordings.session_changed(broadcast("s", "ended"))
    await bench.recordings.settle()
    assert bench.recordings.view("s")["status"] == "stopped"


async def test_recording_off_or_without_ffmpeg(settings: Settings, sqlite_store: Store,
                                               caplog: pytest.LogCaptureFixture) -> None:
    events: list[Event] = []

    def publish(session_id: str, batch: Iterable[Event]) -> None:
        events.extend(batch)

    await sqlite_store.insert(broadcast("s", "live"))
    off = make_recordings(settings.replace(media={"record": False}), sqlite_store, publish)
    assert not off.enabled and await off.resume() == 0
    assert off.view("s") == {"enabled": False, "status": "off", "detail": "recording is off"}

    with caplog.at_level(logging.ERROR, logger="live.recordings"):
        broken = make_recordings(
            settings.replace(media={"ffmpeg": "/nonexistent/ffmpeg"}),
            sqlite_store, publish)
    assert "live sessions will have no video" in caplog.text
    assert await broken.resume() == 1
    await broken.settle()
    assert broken.view("s")["status"] == "down"
    assert "/nonexistent/ffmpeg" in broken.view("s")["last_error"]
    assert [e.data["ingest"]["status"] for e in events] == ["down"]
    await broken.close()


def test_secrets_of_a_source() -> None:
    assert source_secrets("") == source_secrets("/srv/a.mp4") == ()
    assert KEY in source_secrets(f"listen:rtmp://0.0.0.0:1935/live/{KEY}")
    found = source_secrets("srt://user:pa55word@cam:9000/x/y?passphrase=abcdefgh")
    assert {"pa55word", "passphrase=abcdefgh", "y"} & set(found) == {"pa55word",
                                                                    "passphrase=abcdefgh"}
    assert scrub(f"rtmp://h/live/{KEY} and {KEY}", source_secrets(f"rtmp://h/live/{KEY}")) \
        == "… and …"


def test_a_closed_playlist_is_reopened_for_a_resumed_recording(tmp_path: Path) -> None:
    playlist = tmp_path / "index.m3u8"
    assert not reopen_playlist(playlist)
    playlist.write_text("#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n#EXT-X-ENDLIST\n")
    assert reopen_playlist(playlist)
    assert playlist.read_text() == "#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n"
    assert not reopen_playlist(playlist)


# --- the app, with real ffmpeg ---------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recording on, with a tiny test picture and 1-second segments (two cores)."""
    return settings.replace(media={"record": True, "test_picture_size": "320x180",
                                   "segment_seconds": 1, "stall_seconds": 5})


def segments(playlist: Path) -> int:
    try:
        return len(load_playlist(playlist).segments)
    except FileNotFoundError:
        return 0


def ingest(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("kind") == "ingest" and f["ingest"]["status"] == status


async def test_a_live_session_is_recorded_served_and_finalized(site: Site) -> None:
    sessions = site.app[keys.SESSIONS]
    b = await sessions.create(SessionForm("场次", scheduled_start=1.8e9), actor="t")
    live = Live(site, b)
    try:
        staff = await live.staff("boss", "admin")
        assert staff.seen[-1]["ingest"]["status"] == "idle"  # the snapshot has it
        b = await sessions.start(b.id, actor="t")
        playlist = session_playlist(site.app[keys.SETTINGS].media_dir, b.id)
        await until(lambda: segments(playlist) >= 2, "two segments")
        await staff.until(ingest("up"), timeout=10)

        response = await site.first.get(f"/media/live/{b.id}/index.m3u8")
        assert response.status == 200
        text = await response.text()
        assert "#EXT-X-PROGRAM-DATE-TIME:" in text and "#EXT-X-ENDLIST" not in text
        first = re.search(r"^seg_\d+\.ts$", text, re.M)
        assert first is not None
        segment = await site.first.get(f"/media/live/{b.id}/{first.group(0)}")
        assert segment.status == 200 and segment.headers["Content-Type"] == "video/mp2t"
        assert (await segment.read())[:1] == b"G"  # an MPEG-TS sync byte

        await sessions.end(b.id, actor="t")
        await site.app[keys.RECORDINGS].settle()
        await staff.until(ingest("stopped"), timeout=10)
        closed = await (await site.first.get(f"/media/live/{b.id}/index.m3u8")).text()
        assert closed.rstrip().endswith("#EXT-X-ENDLIST")
        assert load_playlist(playlist).ended
    finally:
        for sock in live.sockets:
            await sock.close()


async def test_a_restart_in_the_middle_of_a_broadcast_resumes_its_recording(
        settings: Settings, aiohttp_client: ClientFactory) -> None:
    before = await aiohttp_client(create_app(settings))
    sessions = before.app[keys.SESSIONS]
    b = await sessions.create(SessionForm("场次", scheduled_start=1.8e9), actor="t")
    await sessions.start(b.id, actor="t")
    playlist = session_playlist(settings.media_dir, b.id)
    await until(lambda: segments(playlist) >= 2, "two segments")
    await before.close()  # a clean shutdown stops the recorder and closes the playlist
    recorded = segments(playlist)
    assert load_playlist(playlist).ended

    after = await aiohttp_client(create_app(settings))
    await after.app[keys.RECORDINGS].settle()  # resume() starts recorders in the background
    assert after.app[keys.RECORDINGS].recording() == [b.id]
    await until(lambda: segments(playlist) >= recorded + 2, "two more segments")
    timeline = load_playlist(playlist)
    assert not timeline.ended and len(timeline.runs()) == 2  # a discontinuity at the restart
    await after.app[keys.SESSIONS].end(b.id, actor="t")
    await after.app[keys.RECORDINGS].settle()
    assert load_playlist(playlist).ended


@pytest.mark.parametrize("kind", ["pull", "file"])
async def test_an_unreachable_source_shows_ingest_down_to_staff(
        site: Site, tmp_path: Path, kind: str) -> None:
    feed = tmp_path / "feed.ts"
    feed.write_bytes(b"")
    form = SessionForm("场次", scheduled_start=1.8e9, source_kind=kind,
                       source_url="rtmp://127.0.0.1:1/live/x", source_path=str(feed))
    sessions = site.app[keys.SESSIONS]
    b = await sessions.create(form, actor="t")
    feed.unlink()  # the file was there when the admin chose it, gone when the session starts
    live = Live(site, b)
    try:
        staff = await live.staff("boss", "admin")
        viewer = await live.viewer()
        await sessions.start(b.id, actor="t")
        down = (await staff.until(ingest("down"), timeout=15))["ingest"]
        expected = "Connection refused" if kind == "pull" else "No such file or directory"
        assert expected in down["last_error"] and down["last_error_at"]
        assert down["source"] in ("pull rtmp://127.0.0.1:1/live/…", "file feed.ts")
        # Everything else carries on: questions, the pages, the (absent) playlist.
        ack = await viewer.request("ask", client_id="c1", text="驾驶证到期怎么换？")
        assert ack["type"] == "ack", ack
        assert (await site.first.get(f"/live/{b.id}")).status == 200
        assert (await site.first.get(f"/media/live/{b.id}/index.m3u8")).status == 404
        await site.add_user("officer", "host")
        host = await site.login("officer")
        assert (await host.get(f"/staff/sessions/{b.id}/host")).status == 200
        assert site.app[keys.RECORDINGS].view(b.id)["status"] in ("down", "starting")
    finally:
        for sock in live.sockets:
            await sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def push_settings(settings: Settings) -> Settings:
    return settings.replace(media={"rtmp_port": free_port()})


async def test_an_encoder_pushes_to_the_address_and_key_on_the_session_page(
        push_settings: Settings, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(create_app(push_settings))
    site = Site(client.app, client, aiohttp_client)
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/sessions")
    page = await (await admin.post("/admin/sessions", data={
        "_csrf": token, "title": "推流场", "scheduled_start": "2027-01-06T10:00",
        "source_kind": "rtmp"})).text()
    address = re.search(r'<code id="push-address">([^<]+)</code>', page)
    key = re.search(r'<code id="stream-key">([^<]+)</code>', page)
    assert address and key
    [b] = await site.app[keys.STORE].find(LiveSession)
    live = Live(site, b)
    pusher: asyncio.subprocess.Process | None = None
    try:
        staff = await live.staff("boss", "admin", client=admin)
        await admin.post(f"/admin/sessions/{b.id}", data={"_csrf": csrf_of(page),
                                                          "action": "start"})
        waiting = (await staff.until(ingest("starting"), timeout=10))["ingest"]
        assert "waiting for the encoder" in waiting["detail"]
        pusher = await push(f"{address.group(1)}/{key.group(1)}")
        await staff.until(ingest("up"), timeout=15)
        playlist = session_playlist(push_settings.media_dir, b.id)
        await until(lambda: segments(playlist) >= 2, "two pushed segments")
        assert key.group(1) not in json.dumps(live.sockets[0].seen)
        assert key.group(1) not in await (await site.first.get(f"/live/{b.id}")).text()
    finally:
        if pusher is not None and pusher.returncode is None:
            pusher.kill()
            await pusher.wait()
        for sock in live.sockets:
            await sock.close()


async def push(url: str) -> asyncio.subprocess.Process:
    """An encoder (ffmpeg, as OBS would) publishing a small H.264/AAC stream to ``url``; tried
    again while the recorder's listener is not up yet."""
    args = [find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-t", "30", "-f", "flv", url]
    deadline = time.monotonic() + 10
    while True:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), timeout=1.5)
        except TimeoutError:
            return process  # still publishing
        assert time.monotonic() < deadline, "the encoder could not connect"
        await asyncio.sleep(0.2)

