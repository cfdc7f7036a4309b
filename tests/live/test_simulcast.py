"""Simulcast: the push command, the destination form's checks and masking, then a real push of
a live test-picture session to a local RTMP listener (ffmpeg) that receives video, while a
destination that refuses shows ``down`` with its error — and the stream key appears in no
page, log line, audit entry or event."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from live.ffmpeg import find_ffmpeg, find_ffprobe, probe
from live.sessions import SessionForm
from live.simulcast import (
    SimulcastError,
    TargetForm,
    add_target,
    check_key,
    check_url,
    destination_label,
    mask_key,
    push_args,
    push_url,
    target_secrets,
)
from live.simulcast_keys import StreamKeys
from live.simulcast_push import Simulcasts
from settings import Settings
from store.records import AuditEntry, LiveSession, SimulcastTarget
from tests.live.conftest import Live
from tests.live.test_recorder_takeover import LEASE, nodes, wait
from tests.support import Site, csrf_of
from web import keys

__all__ = ["nodes"]  # the two-node fixture

KEY = "dyS3cr3tPushK3y-9f8e7d?sign=abcdef123456"




def test_the_push_command_copies_the_live_playlist_to_flv() -> None:
    assert push_args("ffmpeg", Path("/m/sessions/s1/hls/index.m3u8"),
                     "rtmp://h/live/k") == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
        "-progress", "pipe:1", "-y", "-re", "-live_start_index", "-1",
        "-i", "/m/sessions/s1/hls/index.m3u8", "-map", "0:v:0", "-map", "0:a:0?",
        "-c", "copy", "-f", "flv", "-flvflags", "no_duration_filesize", "rtmp://h/live/k"]
    with pytest.raises(ValueError):
        push_args("ffmpeg", Path("/x"), "-f")


@pytest.mark.parametrize("url", ["", "-f null", "-y", "file:/etc/passwd", "http://h/live",
                                 "rtmp://", "rtmp://h/live x", "rtmp://h:99999/live"])
def test_only_rtmp_server_addresses_are_accepted(url: str) -> None:
    with pytest.raises(SimulcastError):
        check_url(url)


def test_keys_are_checked_masked_and_scrubbed() -> None:
    assert check_url(" rtmps://push.example.com:443/app ") == "rtmps://push.example.com:443/app"
    with pytest.raises(SimulcastError):
        check_key("has space")
    assert mask_key(KEY) == "••••3456" and mask_key("short") == "••••"
    url = "rtmp://user:pa55word@push.example.com/third?auth=xyz123"
    assert push_url(url, KEY).endswith("/third?auth=xyz123/" + KEY)
    secrets = target_secrets(url, KEY)
    assert KEY in secrets and "pa55word" in secrets and "auth=xyz123" in secrets
    assert destination_label(url) == "rtmp://push.example.com/third"


# --- a real push -------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recording on, with a tiny test picture and 1-second segments (two cores)."""
    return settings.replace(media={"record": True, "test_picture_size": "320x180",
                                   "segment_seconds": 1, "stall_seconds": 5})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def rtmp_listener(port: int, key: str, out: Path) -> asyncio.subprocess.Process:
    """A stand-in for the platform's ingest: ffmpeg listening for one RTMP publisher and
    writing what it receives to ``out``."""
    return await asyncio.create_subprocess_exec(
        find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-listen", "1",
        "-f", "flv", "-i", f"rtmp://127.0.0.1:{port}/live/{key}", "-c", "copy", "-y",
        str(out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


def ffmpeg_arguments() -> list[str]:
    """The arguments of every process running now (the pushes' ffmpeg among them)."""
    found: list[str] = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.extend(a.decode(errors="replace") for a in cmdline.read_bytes().split(b"\0"))
        except OSError:
            continue  # the process has ended
    return found


def push_state(name: str, status: str) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        return frame.get("kind") == "simulcast" and any(
            p["name"] == name and p["status"] == status for p in frame["simulcast"])
    return match


def pushed(frame: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in frame["simulcast"] if p["name"] == name)
    return found


async def test_a_live_session_is_pushed_to_a_listener_and_a_refusal_shows_down(
        site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good_key, bad_key = "LiveK3yForTheListener42", "An0therS3cretKeyRefused"
    port, closed = free_port(), free_port()
    out = tmp_path / "received.flv"
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    sessions = site.app[keys.SESSIONS]
    b = await sessions.create(SessionForm("转推场", scheduled_start=1.8e9), actor="boss")
    page = await (await admin.get(f"/admin/sessions/{b.id}")).text()
    for name, url, key in [("本地平台", f"rtmp://127.0.0.1:{port}/live", good_key),
                           ("拒绝连接", f"rtmp://127.0.0.1:{closed}/live", bad_key)]:
        response = await admin.post(f"/admin/sessions/{b.id}", data={
            "_csrf": csrf_of(page), "action": "add_target", "target_name": name,
            "target_url": url, "target_key": key})
        page = await response.text()
        assert response.status == 200 and name in page, page
    refused = await admin.post(f"/admin/sessions/{b.id}", data={
        "_csrf": csrf_of(page), "action": "add_target", "target_name": "坏",
        "target_url": "-f null", "target_key": "k"})
    assert refused.status == 400 and "rtmp://" in await refused.text()

    listener = await rtmp_listener(port, good_key, out)
    live = Live(site, b)
    try:
        staff = await live.staff("boss", "admin", client=admin)
        await sessions.start(b.id, actor="boss")
        up = await staff.until(push_state("本地平台", "up"), timeout=30)
        # The stored key is sealed; the push command is given the key itself.
        assert f"rtmp://127.0.0.1:{port}/live/{good_key}" in ffmpeg_arguments()
        assert pushed(up, "本地平台")["destination"] == f"rtmp://127.0.0.1:{port}/live"
        down = pushed(await staff.until(push_state("拒绝连接", "down"), timeout=30), "拒绝连接")
        assert "Connection refused" in down["last_error"], down
        assert down["retry_in"] and down["last_error_at"]
        await asyncio.sleep(4)  # a few seconds of programme at the listener
        # The refusing destination does not take the session or the recording down.
        assert (await site.app[keys.STORE].get(LiveSession, b.id)).status == "live"
        assert site.app[keys.RECORDINGS].view(b.id)["status"] == "up"
        assert site.app[keys.SIMULCASTS].health(b.id, pushed(up, "本地平台")["id"]).status == "up"

        admin_page = await (await admin.get(f"/admin/sessions/{b.id}")).text()
        assert "推流正常" in admin_page and "推流中断" in admin_page
        await sessions.end(b.id, actor="boss")  # the pushes stop with the recording
        await asyncio.wait_for(listener.wait(), timeout=20)
    finally:
        if listener.returncode is None:
            listener.kill()
            await listener.wait()
        for sock in live.sockets:
            await sock.close()

    info = await probe(out, ffmpeg=find_ffmpeg(), ffprobe=find_ffprobe("", find_ffmpeg()))
    assert info.video_codec == "h264" and info.width == 320, info
    assert info.duration is not None and info.duration >= 2, info

    # The keys: nowhere in the pages, the events, the audit log or the log.
    audit = await site.app[keys.STORE].find(AuditEntry, {"session_id": b.id}, order_by=["at"])
    assert {a.action for a in audit} >= {"simulcast.add"}
    admin_page = await (await admin.get(f"/admin/sessions/{b.id}")).text()
    assert "••••er42" in admin_page
    seen = [json.dumps(s.seen, ensure_ascii=False) for s in live.sockets]
    texts = [page, admin_page, *seen, caplog.text,
             json.dumps([a.__dict__ for a in audit], ensure_ascii=False),
             await (await site.first.get(f"/live/{b.id}")).text()]
    for key in (good_key, bad_key):
        for text in texts:
            assert key not in text
    assert not re.search(r"密钥指纹 [0-9a-f]{8}", seen[0])  # fingerprints only in the audit
    assert any("密钥指纹" in json.dumps(a.after, ensure_ascii=False) for a in audit)


async def test_destinations_follow_this_nodes_recordings(site: Site, tmp_path: Path) -> None:
    """Only sessions this node records are pushed (the lease holder); removed destinations
    stop at once."""
    store = site.app[keys.STORE]
    await store.insert(SimulcastTarget(id="t1", session_id="s1", name="甲",
                                       url="rtmp://127.0.0.1:1/live", stream_key="kkkkkkkk"))
    recording: list[str] = []
    events: list[tuple[str, Any]] = []
    pushes = Simulcasts(store, lambda sid, evs: events.append((sid, evs)),
                        StreamKeys(b"test-secret-key"), ffmpeg=find_ffmpeg(),
                        media_dir=tmp_path, recording=lambda: recording)
    pushes.watch()
    try:
        await asyncio.sleep(1.5)
        assert pushes.pushing("s1") == []  # live elsewhere, or not at all: nothing here
        recording.append("s1")
        for _ in range(40):
            if pushes.pushing("s1"):
                break
            await asyncio.sleep(0.1)
        assert pushes.pushing("s1") == ["t1"]
        assert pushes.view("s1")[0]["status"] == "connecting"  # no playlist yet
        await store.delete(SimulcastTarget, "t1")
        pushes.targets_changed("s1")
        await pushes.settle()
        assert pushes.pushing("s1") == []
    finally:
        await pushes.close()
    assert events and all(sid == "s1" for sid, _ in events)


# --- several nodes: the pushes follow the recorder lease --------------------------------------


async def test_only_the_recording_node_pushes_and_a_takeover_moves_the_pushes(
        nodes: tuple[web.Application, web.Application]) -> None:
    a, b = nodes
    sessions = a[keys.SESSIONS]
    session = await sessions.create(SessionForm("两节点转推", scheduled_start=1.8e9), actor="t")
    target = await add_target(a[keys.STORE], a[keys.SESSIONS].audit, session.id,
                              TargetForm("甲", f"rtmp://127.0.0.1:{free_port()}/live",
                                         "TwoN0desSecretKey"),
                              keys=a[keys.SIMULCASTS].keys, actor="t")
    await sessions.start(session.id, actor="t")

    async def pushing(app: web.Application) -> bool:
        return app[keys.SIMULCASTS].pushing(session.id) == [target.id]

    await wait(lambda: pushing(a), "node A to push", 30)
    await asyncio.sleep(2)  # B looks at the store and the recordings too: it must not push
    assert b[keys.SIMULCASTS].pushing(session.id) == []

    await a[keys.RECORDINGS].halt()  # node A dies; its pushes stop with its recorder

    async def a_stopped() -> bool:
        return a[keys.SIMULCASTS].pushing(session.id) == []

    await wait(a_stopped, "node A's pushes to stop", 10)
    await wait(lambda: pushing(b), "node B to take the pushes over", LEASE * 2 + 15)
    await sessions.end(session.id, actor="t")

    async def b_stopped() -> bool:
        return b[keys.SIMULCASTS].pushing(session.id) == []

    await wait(b_stopped, "node B's pushes to stop at the end", 20)
