"""Who may read which video file: a session's HLS recording (public while live and briefly
after, staff always), a clip's files (public once published, only the current cut's names),
HTTP ranges, validators, strict names, and hls.js from node_modules. Each test that serves
media runs on both media stores: a directory and an S3 bucket (SeaweedFS). The files here are
stand-ins; the recorder writes real ones in tests/live/test_hls_recorder.py and
tests/live/test_s3_media.py."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from live.media_store import clip_key, hls_key
from live.sessions import SessionForm
from settings import Secret, Settings
from store.records import Clip, LiveSession
from tests.support import Site
from web import keys, media
from web.security import CSP

PLAYLIST = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_000000.ts\n"


@pytest.fixture(params=["local", "s3"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The app's settings on each media store."""
    if request.param == "local":
        return settings
    seaweedfs = request.getfixturevalue("seaweedfs")
    return settings.replace(media={
        "storage": "s3", "s3_endpoint": seaweedfs.endpoint,
        "s3_bucket": request.getfixturevalue("s3_bucket"),
        "s3_access_key": seaweedfs.access_key, "s3_secret_key": Secret(seaweedfs.secret_key)})


async def put(site: Site, key: str, data: bytes | str) -> None:
    await site.app[keys.MEDIA].put(key, data.encode() if isinstance(data, str) else data)


async def session_with_recording(site: Site, status: str, ended_ago: float = 0.0) -> LiveSession:
    sessions = site.app[keys.SESSIONS]
    b = await sessions.create(SessionForm("场次", scheduled_start=1.8e9), actor="t")
    if status != "scheduled":
        b = await sessions.start(b.id, actor="t")
    if status == "ended":
        b = await sessions.end(b.id, actor="t")
        b = await site.app[keys.STORE].update(LiveSession, b.id,
                                              {"ended_at": time.time() - ended_ago},
                                              now=time.time())
        site.app[keys.MODERATION].session_changed(b)
    await put(site, hls_key(b.id, "index.m3u8"), PLAYLIST)
    await put(site, hls_key(b.id, "seg_000000.ts"), b"G" * 188 * 10)
    await put(site, hls_key(b.id, "seg_000001.ts.tmp"), b"G" * 188)
    return b


@pytest.mark.parametrize(("status", "ended_ago", "public"), [
    ("scheduled", 0, False),
    ("live", 0, True),
    ("ended", 60, True),  # players finish what they buffered
    ("ended", media.ENDED_GRACE_SECONDS + 60, False),
])
async def test_a_recording_is_public_while_live_and_for_staff_always(
        site: Site, status: str, ended_ago: float, public: bool) -> None:
    b = await session_with_recording(site, status, ended_ago)
    await site.add_user("officer", "host")
    staff = await site.login("officer")
    for client, allowed in ((site.first, public), (staff, True)):
        playlist = await client.get(f"/media/live/{b.id}/index.m3u8")
        segment = await client.get(f"/media/live/{b.id}/seg_000000.ts")
        if not allowed:
            assert playlist.status == segment.status == 404
            continue
        assert playlist.status == 200 and await playlist.text() == PLAYLIST
        assert playlist.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert playlist.headers["Cache-Control"] == "no-cache"
        assert segment.status == 200 and len(await segment.read()) == 1880
        assert segment.headers["Content-Type"] == "video/mp2t"
        scope = "public" if client is site.first else "private" if not public else "public"
        assert segment.headers["Cache-Control"] == f"{scope}, max-age=86400"


async def test_only_playlist_and_segment_names_are_served(site: Site) -> None:
    b = await session_with_recording(site, "live")
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    for path in (
        f"/media/live/{b.id}/seg_000001.ts.tmp",  # a segment still being written
        f"/media/live/{b.id}/seg_000002.ts",  # not there (yet)
        f"/media/live/{b.id}/seg_1.ts",
        f"/media/live/{b.id}/INDEX.M3U8",
        f"/media/live/{b.id}/%2e%2e%2f%2e%2e%2f%2e%2e%2fsettings.toml",
        f"/media/live/{b.id}/..%2Findex.m3u8",
        f"/media/live/..%2F{b.id}/index.m3u8",
        "/media/live/%2e%2e/index.m3u8",
        "/media/live/no-such-session/index.m3u8",
        f"/media/live/{b.id}/index.m3u8%00",
    ):
        assert (await admin.get(path)).status == 404, path


async def make_clip(site: Site, state: str, generation: int = 2, *,
                    media_path: str = "") -> Clip:
    clip_id = f"clip-{state}"
    for g in range(generation + 1):  # earlier cuts' files are still there
        await put(site, clip_key(clip_id, f"g{g}.mp4"), bytes(range(256)) * 4)
        await put(site, clip_key(clip_id, f"g{g}.jpg"), b"\xff\xd8\xff\xd9")
        await put(site, clip_key(clip_id, f"g{g}.vtt"),
                  "WEBVTT\n\n00:00.000 --> 00:02.000\n问题\n")
    clip = Clip(id=clip_id, session_id="s", state=state, generation=generation,
                media_path=media_path or f"clips/{clip_id}/g{generation}.mp4",
                poster_path=f"clips/{clip_id}/g{generation}.jpg",
                captions_path=f"clips/{clip_id}/g{generation}.vtt")
    await site.app[keys.STORE].insert(clip)
    return clip


@pytest.mark.parametrize("state", ["pending", "draft", "failed", "unpublished"])
async def test_unpublished_clips_are_for_staff_only(site: Site, state: str) -> None:
    clip = await make_clip(site, state)
    await site.add_user("mod", "moderator")
    staff = await site.login("mod")
    for name in ("g2.mp4", "g2.jpg", "g2.vtt"):
        assert (await site.first.get(f"/media/clips/{clip.id}/{name}")).status == 404
        response = await staff.get(f"/media/clips/{clip.id}/{name}")
        assert response.status == 200
        assert response.headers["Cache-Control"] == "private, max-age=86400"


async def test_a_published_clip_is_served_with_types_and_ranges(site: Site) -> None:
    clip = await make_clip(site, "published")
    base = f"/media/clips/{clip.id}"
    video = await site.first.get(f"{base}/g2.mp4")
    assert video.status == 200 and len(await video.read()) == 1024
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.headers["Accept-Ranges"] == "bytes"
    assert video.headers["Cache-Control"] == "public, max-age=86400"
    poster = await site.first.get(f"{base}/g2.jpg")
    assert poster.status == 200 and poster.headers["Content-Type"] == "image/jpeg"
    captions = await site.first.get(f"{base}/g2.vtt")
    assert captions.headers["Content-Type"] == "text/vtt; charset=utf-8"
    assert (await captions.text()).startswith("WEBVTT")

    part = await site.first.get(f"{base}/g2.mp4", headers={"Range": "bytes=0-99"})
    assert part.status == 206 and part.headers["Content-Range"] == "bytes 0-99/1024"
    assert await part.read() == bytes(range(100))
    tail = await site.first.get(f"{base}/g2.mp4", headers={"Range": "bytes=1000-"})
    assert tail.status == 206 and await tail.read() == bytes(range(232, 256))
    last = await site.first.get(f"{base}/g2.mp4", headers={"Range": "bytes=-24"})
    assert last.status == 206 and last.headers["Content-Range"] == "bytes 1000-1023/1024"
    assert await last.read() == bytes(range(232, 256))
    beyond = await site.first.get(f"{base}/g2.mp4", headers={"Range": "bytes=5000-6000"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == "bytes */1024"
    again = await site.first.get(f"{base}/g2.mp4",
                                 headers={"If-None-Match": video.headers["ETag"]})
    assert again.status == 304

    # Only the files the record names: not an earlier cut, not anything else in the folder.
    for name in ("g1.mp4", "g0.jpg", "g1.vtt", "g2.mp4.part", "..%2Fg2.mp4", "g3.mp4"):
        assert (await site.first.get(f"{base}/{name}")).status == 404, name
    assert (await site.first.get("/media/clips/no-such-clip/g2.mp4")).status == 404


async def test_a_polled_playlist_revalidates_and_the_store_stays_hidden(
        site: Site, settings: Settings) -> None:
    b = await session_with_recording(site, "live")
    first = await site.first.get(f"/media/live/{b.id}/index.m3u8")
    etag = first.headers["ETag"]
    same = await site.first.get(f"/media/live/{b.id}/index.m3u8",
                                headers={"If-None-Match": etag})
    assert same.status == 304
    await put(site, hls_key(b.id, "index.m3u8"), PLAYLIST + "#EXTINF:2.0,\nseg_000001.ts\n")
    grown = await site.first.get(f"/media/live/{b.id}/index.m3u8",
                                 headers={"If-None-Match": etag})
    assert grown.status == 200 and (await grown.text()).endswith("seg_000001.ts\n")
    media = settings.media
    secrets: list[Any] = [media.s3_access_key, media.s3_secret_key.reveal(), media.s3_bucket,
                          media.s3_endpoint.rsplit(":", 1)[-1]]
    for response in (first, grown):
        shown = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        shown += await response.text()
        assert not [s for s in secrets if s and s in shown]


async def test_a_clip_path_outside_the_media_directory_is_not_served(site: Site) -> None:
    secret = site.app[keys.SETTINGS].data_dir / "secret.mp4"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(b"secret")
    clip = await make_clip(site, "published", media_path="../secret.mp4")
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    assert (await admin.get(f"/media/clips/{clip.id}/secret.mp4")).status == 404


async def test_hls_js_comes_from_node_modules(site: Site, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture,
                                              tmp_path: Path) -> None:
    script = tmp_path / "hls.min.js"
    script.write_text("/* hls.js */")
    monkeypatch.setattr(media, "HLS_JS", script)
    response = await site.first.get("/vendor/hls.js")
    assert response.status == 200 and await response.text() == "/* hls.js */"
    assert response.headers["Content-Type"] == "application/javascript"
    assert response.headers["Content-Security-Policy"] == CSP

    monkeypatch.setattr(media, "HLS_JS", tmp_path / "missing.js")
    with caplog.at_level(logging.WARNING, logger="web.media"):
        assert (await site.first.get("/vendor/hls.js")).status == 404
    assert "hls.js is not installed" in caplog.text and "make install" in caplog.text


def test_the_csp_lets_hls_js_run_its_worker_and_play_from_blobs() -> None:
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["media-src"] == "'self' blob:"
    assert directives["worker-src"] == "'self' blob:"


def test_the_shipped_hls_js_path_is_the_npm_package() -> None:
    assert media.HLS_JS.parts[-4:] == ("node_modules", "hls.js", "dist", "hls.min.js")
