"""Media on S3 (SeaweedFS), end to end with real ffmpeg: a live session recorded through the
spool into the bucket and served by the app, a clip cut from fetched segments, served with
ranges and deleted; a recording resumed on a node whose spool is empty; and uploads that
survive the store going away in the middle of a broadcast."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clips.timeline import parse_playlist
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import Recorder, session_hls_dir
from live.hls_upload import HlsUploader, playlist_uris
from live.media_store import MediaNotFound, MediaStore, clip_key, hls_key
from live.recorder_commands import PLAYLIST_NAME
from live.s3_store import S3MediaStore
from live.sessions import SessionForm
from settings import Secret, Settings
from tests.services import SeaweedProcess
from tests.support import ClientFactory, Site
from web import keys
from web.app import create_app


def s3_settings(seaweedfs: Any, bucket: str) -> dict[str, Any]:
    return {"storage": "s3", "s3_endpoint": seaweedfs.endpoint, "s3_bucket": bucket,
            "s3_access_key": seaweedfs.access_key,
            "s3_secret_key": Secret(seaweedfs.secret_key), "s3_prefix": "tp/"}


@pytest.fixture
def settings(settings: Settings, seaweedfs: Any, s3_bucket: str) -> Settings:
    """Recording on (a tiny test picture, 1-second segments: two cores) into an S3 bucket."""
    return settings.replace(media={
        "record": True, "test_picture_size": "320x180", "segment_seconds": 1,
        "stall_seconds": 5, **s3_settings(seaweedfs, s3_bucket)})


@pytest.fixture
async def bucket_store(seaweedfs: Any, s3_bucket: str) -> AsyncIterator[S3MediaStore]:
    store = S3MediaStore(bucket=s3_bucket, endpoint=seaweedfs.endpoint,
                         access_key=seaweedfs.access_key, secret_key=seaweedfs.secret_key,
                         prefix="tp/")
    await store.open()
    yield store
    await store.close()


async def stored_playlist(store: MediaStore, session_id: str) -> str:
    try:
        return (await store.get(hls_key(session_id, PLAYLIST_NAME))).decode()
    except MediaNotFound:
        return ""


async def wait_segments(store: MediaStore, session_id: str, count: int,
                        timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = await stored_playlist(store, session_id)
        if len(playlist_uris(text)) >= count:
            return text
        assert time.monotonic() < deadline, f"{count} segments in the bucket: {text!r}"
        await asyncio.sleep(0.1)


async def assert_complete(store: MediaStore, session_id: str, text: str) -> None:
    """Every segment the stored playlist names is in the store."""
    keys_there = set(await store.list(hls_key(session_id)))
    named = {hls_key(session_id, uri) for uri in playlist_uris(text)}
    assert named <= keys_there, sorted(named - keys_there)


async def test_a_session_recorded_to_s3_is_served_cut_and_deleted(
        site: Site, bucket_store: S3MediaStore, seaweedfs: Any, s3_bucket: str) -> None:
    app = site.app
    sessions = app[keys.SESSIONS]
    review = app[keys.REVIEW]
    session = await sessions.create(SessionForm("场次", scheduled_start=1.8e9), actor="t")
    await sessions.start(session.id, actor="t")
    text = await wait_segments(bucket_store, session.id, 5)
    await assert_complete(bucket_store, session.id, text)
    spool = session_hls_dir(app[keys.SETTINGS].media_dir, session.id)
    assert len(list(spool.glob("*.ts"))) <= 3 + 2  # the last few, and what is not up yet

    # The player reads the bucket through the app: the playlist and a segment.
    served = await site.first.get(f"/media/live/{session.id}/index.m3u8")
    assert served.status == 200 and "#EXT-X-PROGRAM-DATE-TIME:" in await served.text()
    first = re.search(r"^seg_\d+\.ts$", await served.text(), re.M)
    assert first is not None
    segment = await site.first.get(f"/media/live/{session.id}/{first.group(0)}")
    body = await segment.read()
    assert segment.status == 200 and segment.headers["Content-Type"] == "video/mp2t"
    assert body[:1] == b"G" and body == await bucket_store.get(
        hls_key(session.id, first.group(0)))

    await sessions.end(session.id, actor="t")
    await app[keys.RECORDINGS].settle()
    closed = await stored_playlist(bucket_store, session.id)
    assert closed.rstrip().endswith("#EXT-X-ENDLIST")
    await assert_complete(bucket_store, session.id, closed)
    assert not spool.exists()  # everything is up: the spool is gone

    # A clip by hand, frame-accurate, from segments fetched out of the bucket.
    timeline = parse_playlist(closed)
    assert timeline.start is not None
    clip = await review.create_manual(session.id, timeline.start + 1.5, timeline.start + 3.7,
                                      actor="t", title="S3 片段")
    deadline = time.monotonic() + 60
    while (clip := await review.get(clip.id)).state == "pending":
        assert time.monotonic() < deadline, "the cut did not finish"
        await asyncio.sleep(0.1)
    assert clip.state == "draft", clip.error
    assert abs(clip.duration - 2.2) <= 1 / 25 + 0.002
    stem = "g1-1"  # generation 1, the job's first attempt (clips.worker fences by attempt)
    assert clip.media_path == clip_key(clip.id, f"{stem}.mp4")
    assert sorted(await bucket_store.list(clip_key(clip.id))) == [
        clip_key(clip.id, f"{stem}{ext}") for ext in (".jpg", ".mp4", ".vtt")]
    media_dir = app[keys.SETTINGS].media_dir
    assert not (media_dir / "clips").exists()  # nothing kept locally
    assert not list((media_dir / ".cuts").iterdir())  # the scratch folder is emptied

    await site.add_user("mod", "moderator")
    staff = await site.login("mod")
    page = await (await staff.get(f"/staff/clips/{clip.id}")).text()
    assert f'src="/media/{clip.media_path}"' in page  # the review page, unchanged
    clip = await review.publish_clip(clip.id, expected_version=clip.version, actor="t")
    public = await site.first.get(f"/clips/{clip.id}")
    assert public.status == 200 and f"/media/{clip.media_path}" in await public.text()
    mp4 = await bucket_store.get(clip.media_path)
    url = f"/media/clips/{clip.id}/{stem}.mp4"
    part = await site.first.get(url, headers={"Range": "bytes=0-99"})
    assert part.status == 206 and part.headers["Content-Type"] == "video/mp4"
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(mp4)}"
    assert await part.read() == mp4[:100] and mp4[4:8] == b"ftyp"
    whole = await site.first.get(url)
    assert whole.status == 200 and await whole.read() == mp4
    poster = await site.first.get(f"/media/clips/{clip.id}/{stem}.jpg")
    assert poster.status == 200 and (await poster.read())[:2] == b"\xff\xd8"
    for response in (part, whole, poster):
        shown = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert s3_bucket not in shown and str(seaweedfs.s3_port) not in shown
        assert seaweedfs.access_key not in shown

    clip = await review.unpublish(clip.id, expected_version=clip.version, actor="t")
    await review.delete(clip.id, expected_version=clip.version, actor="t")
    assert await bucket_store.list(clip_key(clip.id)) == []
    assert (await site.first.get(url)).status == 404


async def test_a_recording_resumed_on_a_node_with_an_empty_spool_continues_the_playlist(
        bucket_store: S3MediaStore, tmp_path: Path) -> None:
    def recorder(node: str) -> Recorder:
        return Recorder(tmp_path / node, ffmpeg=find_ffmpeg(), segment_seconds=1,
                        test_size="160x90", store=bucket_store)

    first = recorder("node-a")
    await first.start("s3rec")
    await wait_segments(bucket_store, "s3rec", 3)
    await first.stop()
    before = await stored_playlist(bucket_store, "s3rec")
    assert before.rstrip().endswith("#EXT-X-ENDLIST")
    assert not (tmp_path / "node-a" / "sessions" / "s3rec" / "hls").exists()

    second = recorder("node-b")  # another node: nothing of this session in its spool
    await second.start("s3rec")
    await wait_segments(bucket_store, "s3rec", len(playlist_uris(before)) + 3)
    await second.stop()
    after = await stored_playlist(bucket_store, "s3rec")
    timeline = parse_playlist(after)
    assert timeline.ended and len(timeline.runs()) == 2  # a discontinuity where it resumed
    assert after.startswith(before.rstrip().removesuffix("#EXT-X-ENDLIST").rstrip())
    uris = playlist_uris(after)
    assert len(uris) == len(set(uris))  # numbering went on: nothing overwritten
    await assert_complete(bucket_store, "s3rec", after)

    # node-a again, with a spool that still holds its own, older playlist: the stored one
    # (node-b's segments too) is continued, not overwritten.
    spool = tmp_path / "node-a" / "sessions" / "s3rec" / "hls"
    spool.mkdir(parents=True)
    (spool / PLAYLIST_NAME).write_text(before.rstrip().removesuffix("#EXT-X-ENDLIST"))
    third = recorder("node-a")
    await third.start("s3rec")
    await wait_segments(bucket_store, "s3rec", len(uris) + 2)
    await third.stop()
    last = await stored_playlist(bucket_store, "s3rec")
    assert last.startswith(after.rstrip().removesuffix("#EXT-X-ENDLIST").rstrip())
    assert len(parse_playlist(last).runs()) == 3
    await assert_complete(bucket_store, "s3rec", last)


async def test_uploads_wait_out_a_store_that_goes_away(tmp_path: Path) -> None:
    seaweed = SeaweedProcess(tmp_path / "weed")
    seaweed.start()
    store = S3MediaStore(bucket="outage", endpoint=seaweed.endpoint,
                         access_key=seaweed.access_key, secret_key=seaweed.secret_key,
                         connect_timeout=0.5, read_timeout=2.0)
    await store.open()
    try:
        seaweed.create_bucket("outage")
        spool = tmp_path / "spool"
        spool.mkdir()
        lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1"]

        def write_segment(n: int) -> None:
            (spool / f"seg_{n:06d}.ts").write_bytes(bytes([n]) * 1000)
            lines.extend(["#EXTINF:1.0,", f"seg_{n:06d}.ts"])
            (spool / PLAYLIST_NAME).write_text("\n".join(lines) + "\n")

        uploader = HlsUploader(store, spool, "s3rec", interval=0.05, keep=1,
                               retry_initial=0.1, retry_max=0.5)
        uploader.start()
        write_segment(0)
        await wait_segments(store, "s3rec", 1)

        seaweed.stop()  # the store goes away mid-broadcast; ffmpeg goes on writing
        for n in range(1, 4):
            write_segment(n)
        deadline = time.monotonic() + 20
        while not uploader.failing:
            assert time.monotonic() < deadline, "the uploader never noticed"
            await asyncio.sleep(0.05)
        assert sorted(p.name for p in spool.glob("*.ts")) == [
            f"seg_{n:06d}.ts" for n in range(4)]  # nothing pruned that is not up

        seaweed.start()  # back, on the same port, with its data
        text = await wait_segments(store, "s3rec", 4)
        await assert_complete(store, "s3rec", text)
        assert await store.get(hls_key("s3rec", "seg_000003.ts")) == bytes([3]) * 1000
        assert uploader.failing == ""
        assert await uploader.stop()
        assert not spool.exists()
    finally:
        await store.close()
        seaweed.stop()


async def test_a_store_that_is_down_is_a_503_that_names_nothing(
        settings: Settings, aiohttp_client: ClientFactory) -> None:
    down = settings.replace(media={"record": False, "s3_endpoint": "http://127.0.0.1:9",
                                   "s3_bucket": "bucket-of-record"})
    client = await aiohttp_client(create_app(down))
    sessions = client.app[keys.SESSIONS]
    session = await sessions.create(SessionForm("场次", scheduled_start=1.8e9), actor="t")
    await sessions.start(session.id, actor="t")
    for name in ("index.m3u8", "seg_000000.ts"):
        response = await client.get(f"/media/live/{session.id}/{name}")
        assert response.status == 503
        shown = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        shown += await response.text()
        assert "bucket-of-record" not in shown and "127.0.0.1:9" not in shown
