"""The media store contract, run against both backends: a directory and SeaweedFS's S3 API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from live import media_store
from live.media_store import (
    LocalMediaStore,
    MediaNotFound,
    MediaStore,
    MediaStoreError,
    RangeNotSatisfiable,
    check_key,
    clip_key,
    hls_key,
    segment_key,
)
from live.s3_store import PART_SIZE, S3MediaStore
from settings import Secret, Settings


def s3_store(seaweedfs: Any, bucket: str, **changes: Any) -> S3MediaStore:
    args: dict[str, Any] = {"bucket": bucket, "endpoint": seaweedfs.endpoint,
                            "access_key": seaweedfs.access_key,
                            "secret_key": seaweedfs.secret_key, "prefix": "tp/"}
    return S3MediaStore(**{**args, **changes})


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStore]:
    if request.param == "local":
        made: MediaStore = LocalMediaStore(tmp_path / "media")
    else:
        seaweedfs = request.getfixturevalue("seaweedfs")
        made = s3_store(seaweedfs, request.getfixturevalue("s3_bucket"))
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def read_all(store: MediaStore, key: str, start: int = 0,
                   stop: int | None = None) -> tuple[bytes, int, int, int]:
    stream = await store.stream(key, start, stop)
    try:
        data = b"".join([chunk async for chunk in stream.chunks()])
    finally:
        await stream.close()
    return data, stream.start, stream.stop, stream.info.size


async def test_put_get_stat_list_and_delete(store: MediaStore) -> None:
    key = hls_key("s1", "seg_000001.ts")
    await store.put(key, b"0123456789")
    await store.put(hls_key("s1", "index.m3u8"), b"#EXTM3U\n")
    await store.put(clip_key("c1", "g1.mp4"), b"mp4")
    assert await store.get(key) == b"0123456789"
    info = await store.stat(key)
    assert (info.key, info.size) == (key, 10) and info.etag.startswith('"')
    assert await store.exists(key) and not await store.exists(hls_key("s1", "seg_000002.ts"))
    assert await store.list("sessions/s1/") == [
        "sessions/s1/hls/index.m3u8", "sessions/s1/hls/seg_000001.ts"]
    assert await store.list("clips/") == ["clips/c1/g1.mp4"]
    await store.put(key, b"changed")  # a put replaces
    assert await store.get(key) == b"changed"
    assert (await store.stat(key)).etag != info.etag
    await store.delete(key)
    await store.delete(key)  # deleting what is gone is not an error
    with pytest.raises(MediaNotFound):
        await store.get(key)
    with pytest.raises(FileNotFoundError):  # callers that knew files still catch it
        await store.stat(key)
    assert await store.delete_prefix(hls_key("s1")) == 1
    assert await store.list("sessions/") == []
    assert await store.list("clips/") == ["clips/c1/g1.mp4"]


async def test_byte_ranges_as_http_asks_for_them(store: MediaStore) -> None:
    key = clip_key("c1", "g1.mp4")
    body = bytes(range(256)) * 4
    await store.put(key, body)
    assert await read_all(store, key) == (body, 0, 1024, 1024)
    assert await read_all(store, key, 100, 200) == (body[100:200], 100, 200, 1024)
    assert await read_all(store, key, 1000) == (body[1000:], 1000, 1024, 1024)
    assert await read_all(store, key, -24) == (body[-24:], 1000, 1024, 1024)
    assert await read_all(store, key, 1000, 5000) == (body[1000:], 1000, 1024, 1024)
    with pytest.raises(RangeNotSatisfiable) as refused:
        await store.stream(key, 1024)
    assert refused.value.size == 1024
    with pytest.raises(MediaNotFound):
        await store.stream(clip_key("c1", "g2.mp4"))


async def test_files_go_in_and_come_out_whole(store: MediaStore, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(2 * PART_SIZE + 12345)  # above PART_SIZE: uploaded in three parts
    big.write_bytes(data)
    key = clip_key("c1", "g1.mp4")
    await store.put_file(key, big)
    assert (await store.stat(key)).size == len(data)
    copy = tmp_path / "out" / "copy.bin"
    copy.parent.mkdir()
    await store.fetch(key, copy)
    assert copy.read_bytes() == data
    assert sorted(p.name for p in copy.parent.iterdir()) == ["copy.bin"]  # no temporary left
    with pytest.raises(MediaNotFound):
        await store.fetch(clip_key("c1", "g9.mp4"), tmp_path / "out" / "missing")
    assert not (tmp_path / "out" / "missing").exists()


@pytest.mark.parametrize("key", ["", "/etc/passwd", "a/../b", "a//b", ".hidden", "a/.b",
                                 "a b", "a/b/"])
def test_keys_never_leave_the_root(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_segment_keys_follow_the_playlist() -> None:
    playlist = hls_key("s1", "index.m3u8")
    assert segment_key(playlist, "seg_000003.ts") == "sessions/s1/hls/seg_000003.ts"
    with pytest.raises(ValueError):
        segment_key(playlist, "../../../clips/c1/g1.mp4")


async def test_the_s3_store_keeps_to_its_prefix(seaweedfs: Any, s3_bucket: str) -> None:
    store = s3_store(seaweedfs, s3_bucket, prefix="one/")
    other = s3_store(seaweedfs, s3_bucket, prefix="two/")
    await store.open()
    await other.open()
    try:
        await store.put(clip_key("c1", "g1.vtt"), b"WEBVTT\n")
        assert await other.list("") == []
        names = [o["Key"] for o in seaweedfs.client().list_objects_v2(
            Bucket=s3_bucket)["Contents"]]
        assert names == ["one/clips/c1/g1.vtt"]
    finally:
        await store.close()
        await other.close()


async def test_check_reaches_the_bucket_and_says_why_not(seaweedfs: Any, s3_bucket: str,
                                                         settings: Settings) -> None:
    good = settings.replace(media={
        "storage": "s3", "s3_endpoint": seaweedfs.endpoint, "s3_bucket": s3_bucket,
        "s3_access_key": seaweedfs.access_key,
        "s3_secret_key": Secret(seaweedfs.secret_key)})
    assert s3_bucket in await media_store.check(good)
    wrong = good.replace(media={"s3_secret_key": Secret("not-the-secret")})
    with pytest.raises(MediaStoreError, match="access denied") as denied:
        await media_store.check(wrong)
    assert "not-the-secret" not in str(denied.value)
    with pytest.raises(MediaStoreError, match="no such bucket"):
        await media_store.check(good.replace(media={"s3_bucket": "no-such-bucket-here"}))
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    with pytest.raises(MediaStoreError):
        await media_store.check(good.replace(media={"s3_endpoint": closed}))
    assert "local directory" in await media_store.check(settings)


def test_s3_settings_need_a_bucket_and_take_the_secret_from_the_environment(
        tmp_path: Path) -> None:
    from settings import SettingsError, load_settings

    path = tmp_path / "settings.toml"
    path.write_text('[media]\nstorage = "s3"\ns3_endpoint = "http://127.0.0.1:8333"\n')
    with pytest.raises(SettingsError, match="s3_bucket is empty"):
        load_settings(path, env={})
    path.write_text('[media]\nstorage = "s3"\ns3_bucket = "media"\ns3_secret_key = "file"\n')
    loaded = load_settings(path, env={"TIPPOCKET_S3_SECRET_KEY": "from-env-0123"})
    assert loaded.media.s3_secret_key.reveal() == "from-env-0123"
    assert "from-env-0123" not in repr(loaded) and "from-env-0123" not in str(loaded.media)
    path.write_text('[media]\nstorage = "nfs"\n')
    with pytest.raises(SettingsError, match="storage must be one of local, s3"):
        load_settings(path, env={})
