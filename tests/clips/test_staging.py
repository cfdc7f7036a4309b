"""Cutting where the media store keeps the recording: from an S3 bucket (SeaweedFS) the span's
segments are fetched, cut and the outputs uploaded, MP4 last; the frames are the marked ones;
nothing is fetched for a span with no recording; a store that fails leaves no scratch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clips.staging import cut_stored
from clips.timeline import NotRecorded, load_playlist
from live.media_store import MediaStore, MediaStoreError, clip_key, hls_key
from live.recorder_commands import Encoder
from live.s3_store import S3MediaStore
from tests.clips import media


@pytest.fixture
async def bucket(seaweedfs: Any, s3_bucket: str) -> AsyncIterator[S3MediaStore]:
    store = S3MediaStore(bucket=s3_bucket, endpoint=seaweedfs.endpoint,
                         access_key=seaweedfs.access_key, secret_key=seaweedfs.secret_key)
    await store.open()
    yield store
    await store.close()


async def upload_recording(store: MediaStore, playlist: Path, session_id: str) -> None:
    """A recording's folder (its playlist and every file beside or under it) as objects."""
    folder = playlist.parent
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            await store.put_file(hls_key(session_id, path.relative_to(folder).as_posix()),
                                 path)


async def test_a_clip_is_cut_from_fetched_segments_and_uploaded(
        bucket: S3MediaStore, ffmpeg: str, recording: Path, tmp_path: Path) -> None:
    await upload_recording(bucket, recording, "rec")
    t0 = load_playlist(recording).segments[0].start
    stored = await cut_stored(bucket, "rec", t0 + 2.48, t0 + 6.8, clip_id="c-1", name="g1",
                              scratch=tmp_path / "scratch", ffmpeg=ffmpeg, mode="accurate",
                              captions="问题", encoder=Encoder(preset="ultrafast"))
    assert (stored.media_key, stored.poster_key, stored.captions_key) == (
        "clips/c-1/g1.mp4", "clips/c-1/g1.jpg", "clips/c-1/g1.vtt")
    assert await bucket.list(clip_key("c-1")) == [
        "clips/c-1/g1.jpg", "clips/c-1/g1.mp4", "clips/c-1/g1.vtt"]
    assert media.names(tmp_path / "scratch") == []  # the scratch folder is emptied
    mp4 = tmp_path / "back.mp4"
    await bucket.fetch(stored.media_key, mp4)
    assert mp4.stat().st_size == stored.files.size_bytes
    frames = media.frame_numbers(ffmpeg, mp4)
    assert (frames[0], frames[-1]) == (62, 169)  # 2.48 s .. 6.8 s at 25 fps
    assert (await bucket.get(stored.captions_key)).decode().startswith("WEBVTT")


async def test_segments_in_subfolders_and_across_a_gap(
        bucket: S3MediaStore, ffmpeg: str, gapped: tuple[Path, float], tmp_path: Path) -> None:
    playlist, t0 = gapped
    await upload_recording(bucket, playlist, "gap")
    stored = await cut_stored(bucket, "gap", t0 + 4.2, t0 + 12.4, clip_id="c-2", name="g1",
                              scratch=tmp_path, ffmpeg=ffmpeg, mode="copy")
    back = tmp_path / "back.mp4"
    await bucket.fetch(stored.media_key, back)
    frames = media.frame_numbers(ffmpeg, back)
    assert any(f < 150 for f in frames) and any(f >= 500 for f in frames)
    with pytest.raises(NotRecorded):  # a span in the gap: found before any segment is fetched
        await cut_stored(bucket, "gap", t0 + 6.5, t0 + 9.5, clip_id="c-3", name="g1",
                         scratch=tmp_path / "gap-scratch", ffmpeg=ffmpeg)
    assert not (tmp_path / "gap-scratch").exists()
    assert await bucket.list(clip_key("c-3")) == []


async def test_a_store_that_cannot_be_reached_fails_the_cut_and_leaves_no_scratch(
        ffmpeg: str, tmp_path: Path) -> None:
    closed = S3MediaStore(bucket="b-closed", endpoint="http://127.0.0.1:9",
                          access_key="k", secret_key="s", connect_timeout=0.2)
    await closed.open()
    try:
        with pytest.raises(MediaStoreError) as failed:
            await cut_stored(closed, "rec", 0.0, 5.0, clip_id="c-1", name="g1",
                             scratch=tmp_path / "scratch", ffmpeg=ffmpeg)
        assert not isinstance(failed.value, FileNotFoundError)  # retried, not "no recording"
    finally:
        await closed.close()
    assert not (tmp_path / "scratch").exists()
