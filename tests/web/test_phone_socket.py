"""Broadcasting from a phone, without a browser: the camera socket's refusals, one sender at
a time (refused, or taken over explicitly), and a phone's WebM stream (made by ffmpeg, sent
as MediaRecorder would in chunks over a real websocket client) recorded into the session's
HLS playlist, resumed behind a discontinuity after the phone reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from live.ffmpeg import find_ffmpeg, find_ffprobe
from live.hls_recorder import session_playlist
from live.sessions import SessionForm, describe_source, source_kind
from settings import Settings
from store.records import LiveSession
from tests.conftest import require
from tests.support import Site, staff_csrf, until
from web import keys
from web.phone_pages import MAX_CHUNK, MAX_MESSAGES

Client = TestClient[Any, Any]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recording on (a ``browser:`` session's ffmpeg idles until a phone sends), 1 s
    segments."""
    return settings.replace(media={"record": True, "segment_seconds": 1,
                                   "test_picture_size": "320x180"})


def origin(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


async def connect(client: Client, session_id: str, query: str = "",
                  **headers: str) -> aiohttp.ClientWebSocketResponse:
    return await client.ws_connect(f"/ws/camera/{session_id}{query}",
                                   headers={"Origin": origin(client), **headers})


async def refusal(ws: aiohttp.ClientWebSocketResponse) -> tuple[str, int | None]:
    """The error frame's code and the close code."""
    code = ""
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            frame = json.loads(msg.data)
            if frame["type"] == "error":
                code = frame["code"]
    return code, ws.close_code


async def ready(ws: aiohttp.ClientWebSocketResponse) -> None:
    msg = await ws.receive(timeout=10)
    assert msg.type is WSMsgType.TEXT, msg
    assert json.loads(msg.data) == {"type": "ready"}


async def phone_session(site: Site, *, live: bool = True) -> LiveSession:
    officer = await site.app[keys.STORE].find(type(await site.add_user("officer", "host")))
    host_id = next(u.id for u in officer if u.name == "officer")
    sessions = site.app[keys.SESSIONS]
    session = await sessions.create(SessionForm("街面执勤直播", scheduled_start=time.time(),
                                                host_ids=(host_id,), source_kind="browser"),
                                    actor="test")
    if live:
        await sessions.start(session.id, actor="test")
        recordings = site.app[keys.RECORDINGS]
        await until(lambda: session.id in recordings.recording(), "the recorder")
    return session


async def test_the_phone_source_is_a_choice_of_the_session_form(site: Site) -> None:
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/sessions")
    created = await admin.post("/admin/sessions", data={
        "_csrf": token, "title": "街面执勤", "scheduled_start": "2027-01-06T10:00",
        "source_kind": "browser"})
    assert created.status == 200
    page = await created.text()
    assert 'value="browser" checked' in page
    [session] = await site.app[keys.STORE].find(LiveSession)
    assert session.source == "browser:" and source_kind(session.source) == "browser"
    assert f'href="/staff/sessions/{session.id}/camera"' in page
    assert describe_source(session.source) == "手机直播"


async def test_the_camera_socket_refuses_whoever_may_not_send(site: Site) -> None:
    session = await phone_session(site, live=False)
    await site.add_user("other", "host")
    await site.add_user("mod", "moderator")
    officer, other, mod = (await site.login("officer"), await site.login("other"),
                           await site.login("mod"))
    anonymous = site.first

    # Before the upgrade: no Origin, another site's Origin, an unknown session.
    for headers in ({}, {"Origin": "https://evil.example"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await officer.ws_connect(f"/ws/camera/{session.id}", headers=headers)
        assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(officer, "nosuchsession")
    assert refused.value.status == 404

    # After it, with a reason the page shows.
    assert await refusal(await connect(anonymous, session.id)) == ("unauthorized", 4401)
    assert await refusal(await connect(mod, session.id)) == ("forbidden", 4403)
    assert await refusal(await connect(other, session.id)) == ("forbidden", 4403)  # not its host
    assert await refusal(await connect(officer, session.id)) == ("not_live", 4409)

    # A live session whose picture comes from somewhere else.
    sessions = site.app[keys.SESSIONS]
    test_picture = await sessions.create(SessionForm("演播室", scheduled_start=time.time(),
                                                     source_kind="test"), actor="test")
    await sessions.start(test_picture.id, actor="test")
    # (a session that names no hosts may be sent by any host)
    assert await refusal(await connect(officer, test_picture.id)) == ("wrong_source", 4409)

    # The camera page itself: hosts of the session and admins; it may use the camera.
    assert (await mod.get(f"/staff/sessions/{session.id}/camera")).status == 403
    assert (await other.get(f"/staff/sessions/{session.id}/camera")).status == 403
    page = await officer.get(f"/staff/sessions/{session.id}/camera")
    assert page.status == 200
    assert page.headers["Permissions-Policy"] == "camera=(self), microphone=(self), geolocation=()"
    assert (await officer.get("/staff")).headers["Permissions-Policy"].startswith("camera=()")


async def test_one_phone_at_a_time_and_the_frame_limits(site: Site) -> None:
    session = await phone_session(site)
    await site.add_user("boss", "admin")
    officer, admin = await site.login("officer"), await site.login("boss")
    phones = site.app[keys.PHONES]

    first = await connect(officer, session.id)
    await ready(first)
    # A second sender is refused, unless it takes over explicitly.
    assert await refusal(await connect(admin, session.id)) == ("busy", 4409)
    second = await connect(admin, session.id, "?takeover=1")
    await ready(second)
    assert await refusal(first) == ("taken_over", 4409)
    sender = phones.sender(session.id)
    assert sender is not None and sender.user_id != ""

    # Binary frames only; none over MAX_CHUNK (aiohttp closes with 1009).
    await second.send_str("hello")
    assert await refusal(second) == ("binary_only", 1003)
    big = await connect(officer, session.id)
    await ready(big)
    await big.send_bytes(b"\0" * (MAX_CHUNK + 1))
    assert (await refusal(big))[1] == 1009

    # More messages than the budget allows (MAX_MESSAGES a second over 10 s) end it. (Empty
    # ones: bytes would reach ffmpeg, which could refuse them first.)
    fast = await connect(officer, session.id)
    await ready(fast)
    with contextlib.suppress(ConnectionResetError):  # closed while we send
        for _ in range(MAX_MESSAGES * 10 + 5):
            await fast.send_bytes(b"")
    assert await refusal(fast) == ("too_fast", 4429)

    # A logout ends the stream at the next check (every 2 s).
    logged = await connect(officer, session.id)
    await ready(logged)
    token = await staff_csrf(officer)
    await officer.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert await refusal(logged) == ("unauthorized", 4401)
    officer = await site.login("officer")

    # The session ends: the phone is told and the socket closes normally.
    last = await connect(officer, session.id)
    await ready(last)
    await site.app[keys.SESSIONS].end(session.id, actor="test")
    assert await refusal(last) == ("not_live", 1000)
    assert await refusal(await connect(officer, session.id)) == ("not_live", 4409)


def phone_webm(path: Path, seconds: int) -> bytes:
    """What MediaRecorder sends: WebM with VP8 video and Opus audio (made by ffmpeg)."""
    ffmpeg = find_ffmpeg("")
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                    "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k",
                    "-c:a", "libopus", "-f", "webm", "-y", str(path)], check=True)
    return path.read_bytes()


async def send_like_a_phone(ws: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
    for start in range(0, len(data), 32 * 1024):
        await ws.send_bytes(data[start:start + 32 * 1024])
        await asyncio.sleep(0.02)


def segments(playlist: Path) -> list[str]:
    if not playlist.exists():
        return []
    return [line for line in playlist.read_text().splitlines()
            if line and not line.startswith("#")]


def streams(path: Path) -> set[str]:
    ffprobe = find_ffprobe("", find_ffmpeg(""))
    require(ffprobe is not None, "ffprobe is not installed")
    assert ffprobe is not None
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_type",
                          "-of", "csv=p=0", str(path)], check=True, capture_output=True,
                         text=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


async def test_a_phone_stream_is_recorded_and_resumes_after_a_drop(
        site: Site, tmp_path: Path) -> None:
    session = await phone_session(site)
    officer = await site.login("officer")
    recordings = site.app[keys.RECORDINGS]
    playlist = session_playlist(site.app[keys.SETTINGS].media_dir, session.id)
    clip = phone_webm(tmp_path / "phone.webm", 4)
    health = recordings.health(session.id)
    assert health is not None and health.detail == "waiting for the phone to connect"

    ws = await connect(officer, session.id)
    await ready(ws)
    await send_like_a_phone(ws, clip)
    await until(lambda: len(segments(playlist)) >= 3, "segments from the phone", timeout=30)
    assert streams(playlist.parent / segments(playlist)[0]) == {"video", "audio"}
    await ws.close()  # the phone drops: ffmpeg ends its input, staff see the ingest down

    def went_down() -> bool:
        h = recordings.health(session.id)
        return h is not None and h.last_error == "the phone disconnected" and bool(h.gaps)

    await until(went_down, "the ingest down with a gap")

    def waiting() -> bool:  # still down (no picture) while the next run waits for the phone
        h = recordings.health(session.id)
        return h is not None and (h.status, h.detail) == (
            "down", "waiting for the phone to reconnect")

    await until(waiting, "the ingest waiting for the phone")
    before = len(segments(playlist))
    again = await connect(officer, session.id)
    await ready(again)
    await send_like_a_phone(again, clip)
    await until(lambda: len(segments(playlist)) >= before + 3, "segments after the reconnect",
                timeout=30)
    text = playlist.read_text()
    # The resumed run appends behind a discontinuity (hlsenc marks each run's first segment).
    lines = text.splitlines()
    at = lines.index(segments(playlist)[before])
    assert "#EXT-X-DISCONTINUITY" in lines[lines.index(segments(playlist)[before - 1]):at], text
    assert "#EXT-X-ENDLIST" not in text
    await until(lambda: getattr(recordings.health(session.id), "status", "") == "up",
                "the ingest up again")
    h = recordings.health(session.id)
    assert h is not None and h.gaps[0].end is not None
    await again.close()
