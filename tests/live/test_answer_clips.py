"""From the host's "answered" to a published clip, through the running app: real websockets,
a real recording in the session's media directory, the app's own clip worker and ffmpeg,
and the staff review pages."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from clips.timeline import parse_playlist
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import session_hls_dir
from live.recorder_commands import PLAYLIST_NAME
from settings import Settings
from store.records import Clip, Job, Question
from tests.clips import media
from tests.live.conftest import Live, Socket
from tests.support import both_backends, csrf_of
from web import keys


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No padding before "on air": the test recording starts a moment before the question.
    return settings.replace(media={"record": False, "clip_pad_before": 0.0})


def clip_event(state: str) -> Any:
    return lambda f: f.get("kind") == "clip" and f.get("clip", {}).get("state") == state


async def wait_state(live: Live, clip_id: str, state: str, timeout: float = 30) -> Clip:
    deadline = time.monotonic() + timeout
    while True:
        clip = await live.app[keys.STORE].get(Clip, clip_id)
        if clip.state == state or time.monotonic() > deadline:
            assert clip.state == state, clip.error
            return clip
        await asyncio.sleep(0.05)


async def answer(live: Live, viewer: Socket, mod: Socket, host: Socket, text: str,
                 before_answer: Callable[[Question], Awaitable[None]] | None = None) -> str:
    ack = await viewer.request("ask", client_id=uuid.uuid4().hex, text=text)
    qid: str = ack["question_id"]
    seen = await mod.until(lambda f: f.get("kind") == "question"
                           and f["question"]["id"] == qid)
    q = seen["question"]
    approved = await mod.request("approve", question_id=qid, version=q["version"],
                                 category="电动自行车", item_id="ebike-registration")
    on_air = await host.request("on_air", question_id=qid, version=approved["version"])
    if before_answer is not None:
        await before_answer(await live.app[keys.STORE].get(Question, qid))
    await asyncio.sleep(1.0)  # the answer takes a second
    answered = await host.request("answered", question_id=qid, version=on_air["version"])
    assert answered["state"] == "answered"
    return qid


@both_backends  # the clip worker's job leases and the library, in the app, on MongoDB too
async def test_an_answer_becomes_a_draft_that_is_reviewed_and_published(live: Live) -> None:
    ffmpeg = find_ffmpeg()
    media_dir = live.app[keys.SETTINGS].media_dir
    await asyncio.to_thread(media.record, ffmpeg, session_hls_dir(media_dir, live.session.id),
                            12)
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    qid = await answer(live, viewer, mod, host, "电瓶车怎么上牌？我电话13912345678")

    pending = await mod.until(clip_event("pending"))
    clip_id = pending["clip"]["id"]
    draft = await mod.until(clip_event("draft"), timeout=30)
    assert draft["clip"]["id"] == clip_id
    clip = await live.app[keys.STORE].get(Clip, clip_id)
    assert clip.question_id == qid and clip.title == "电瓶车怎么上牌？"
    assert 1.0 <= clip.duration <= 1.0 + 1.0 + media.SEGMENT + 0.5  # span + pad, copy mode

    client = await live.site.login("mod")
    listing = await client.get("/staff/clips")
    assert listing.status == 200 and "电瓶车怎么上牌？" in await listing.text()
    page = await client.get(f"/staff/clips/{clip_id}")
    html = await page.text()
    assert f'src="/media/{clip.media_path}"' in html and "<track" in html
    video = await client.get(f"/media/{clip.media_path}")
    assert video.status == 200 and video.content_type == "video/mp4"
    anonymous = await live.site.new_client()
    assert (await anonymous.get(f"/media/{clip.media_path}")).status in (403, 404)
    assert (await anonymous.get(f"/clips/{clip_id}")).status == 404

    form = {"_csrf": csrf_of(html), "version": str(clip.version), "action": "save",
            "title": "电动自行车上牌要带什么", "summary": "带身份证、发票和合格证。",
            "item_id": "ebike-registration", "category": "", "service_link": ""}
    saved = await client.post(f"/staff/clips/{clip_id}", data=form, allow_redirects=False)
    assert saved.status == 303
    stale = await client.post(f"/staff/clips/{clip_id}", data={**form, "title": "旧版本"},
                              allow_redirects=False)
    assert stale.status == 409 and "刚被别人修改过" in await stale.text()

    clip = await live.app[keys.STORE].get(Clip, clip_id)
    published = await client.post(f"/staff/clips/{clip_id}", allow_redirects=False, data={
        "_csrf": form["_csrf"], "version": str(clip.version), "action": "publish"})
    assert published.status == 303
    told = await viewer.until(lambda f: f.get("kind") == "clip")
    assert told["question_id"] == qid and told["url"] == f"/clips/{clip_id}"
    late = await live.viewer()  # a viewer who comes later finds the link in the snapshot
    snapshot = next(f for f in late.seen if f["type"] == "snapshot")
    assert snapshot["clips"] == {qid: f"/clips/{clip_id}"}
    public = await anonymous.get(f"/clips/{clip_id}")
    assert public.status == 200 and "电动自行车上牌要带什么" in await public.text()
    assert (await anonymous.get(f"/media/{clip.media_path}")).status == 200
    found = await anonymous.get("/api/clips", params={"q": "电瓶车上牌"})
    assert [h["id"] for h in (await found.json())["hits"]][:1] == [clip_id]

    hosts = await live.site.login("host")
    assert (await hosts.get("/staff/clips")).status == 403


async def test_trim_and_hand_made_clips_from_the_pages(live: Live) -> None:
    ffmpeg = find_ffmpeg()
    media_dir: Path = live.app[keys.SETTINGS].media_dir
    await asyncio.to_thread(media.record, ffmpeg, session_hls_dir(media_dir, live.session.id),
                            12)
    await live.site.add_user("mod2", "moderator")
    client = await live.site.login("mod2")
    new = await client.get(f"/staff/sessions/{live.session.id}/clips/new")
    html = await new.text()
    assert new.status == 200 and "共 12.0 秒" in html
    token = csrf_of(html)
    for bad, message in [({"in": "abc", "out": "3"}, "入点格式不正确"),
                         ({"in": "5", "out": "4"}, "出点要晚于入点"),
                         ({"in": "30", "out": "40"}, "没有录像"),
                         ({"in": "5", "out": "40"}, "超出录像范围")]:
        refused = await client.post(f"/staff/sessions/{live.session.id}/clips/new",
                                    data={"_csrf": token, "title": "t", **bad})
        assert refused.status == 400 and message in await refused.text()

    made = await client.post(f"/staff/sessions/{live.session.id}/clips/new",
                             data={"_csrf": token, "title": "窗口办理提醒", "in": "0:02.5",
                                   "out": "6"}, allow_redirects=False)
    assert made.status == 303
    clip_id = made.headers["Location"].split("/")[-1].split("?")[0]
    clip = await wait_state(live, clip_id, "draft")
    assert clip.created_by == "mod2" and clip.cut_mode == "accurate"
    assert abs(clip.duration - 3.5) <= 1 / media.FPS + 0.002

    page = await (await client.get(f"/staff/clips/{clip_id}")).text()
    shown = re.search(r'id="trim-in"[^>]*value="([0-9.]+)"', page)
    assert shown and abs(float(shown.group(1)) - 2.5) <= 1 / media.FPS + 0.001
    trimmed = await client.post(f"/staff/clips/{clip_id}", allow_redirects=False, data={
        "_csrf": csrf_of(page), "version": str(clip.version), "action": "trim",
        "in": "3", "out": "5.2"})
    assert trimmed.status == 303
    clip = await wait_state(live, clip_id, "draft")
    assert clip.generation == 2 and clip.media_path.endswith("g2-1.mp4")
    assert abs(clip.duration - 2.2) <= 1 / media.FPS + 0.002

    # The in point as the clock on the broadcast showed it (the desk's zone), the out point
    # as an offset: both name moments of the same recording.
    recorded = await live.app[keys.REVIEW].recording_range(live.session.id)
    assert recorded is not None
    moment = math.floor(recorded[0] + 3.0)
    wall = dt.datetime.fromtimestamp(moment, live.app[keys.SETTINGS].zone).strftime("%H:%M:%S")
    page = await (await client.get(f"/staff/clips/{clip_id}")).text()
    by_clock = await client.post(f"/staff/clips/{clip_id}", allow_redirects=False, data={
        "_csrf": csrf_of(page), "version": str(clip.version), "action": "trim",
        "in": wall, "out": "5.2"})
    assert by_clock.status == 303, await by_clock.text()
    clip = await wait_state(live, clip_id, "draft")
    assert clip.generation == 3 and abs(clip.start_at - moment) <= 1 / media.FPS + 0.002
    assert abs(clip.duration - (recorded[0] + 5.2 - moment)) <= 1 / media.FPS + 0.002

    gone = await client.post(f"/staff/clips/{clip_id}", allow_redirects=False, data={
        "_csrf": csrf_of(page), "version": str(clip.version), "action": "delete"})
    assert gone.status == 303
    assert not (media_dir / "clips" / clip_id).exists()


def first_segments(playlist: str, count: int, *, ended: bool) -> str:
    """The playlist as it was when only its first ``count`` segments were written."""
    lines = playlist.splitlines()
    count = max(1, count)
    starts = [i for i, line in enumerate(lines) if line.startswith("#EXTINF")]
    kept = lines[:starts[count]] if count < len(starts) else lines
    kept = [line for line in kept if line != "#EXT-X-ENDLIST"]
    return "\n".join(kept + (["#EXT-X-ENDLIST"] if ended else [])) + "\n"


async def recording_with(live: Live, seconds: float) -> tuple[Path, str]:
    """A recording in the session's directory; returns the playlist path and its full text."""
    hls = session_hls_dir(live.app[keys.SETTINGS].media_dir, live.session.id)
    playlist = await asyncio.to_thread(media.record, find_ffmpeg(), hls, seconds)
    return playlist, playlist.read_text(encoding="utf-8")


async def test_a_clip_waits_for_the_last_segment_and_holds_the_whole_answer(
        live: Live) -> None:
    playlist, full = await recording_with(live, 20)
    assert playlist.name == PLAYLIST_NAME
    segments = parse_playlist(full).segments
    first_pdt = segments[0].start

    async def still_recording(question: Question) -> None:
        # When the host answers, the playlist holds only the segments begun by "on air":
        # the ones of the answer's last seconds (and its padding) are still being written.
        begun = sum(1 for s in segments if s.start <= question.on_air_at)
        playlist.write_text(first_segments(full, begun, ended=False), encoding="utf-8")
        await asyncio.sleep(1.0)  # the answer goes on past the last segment written

    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    qid = await answer(live, viewer, mod, host, "电动车上牌需要哪些材料", still_recording)
    store = live.app[keys.STORE]
    question = await store.get(Question, qid)
    pad = live.app[keys.SETTINGS].media.clip_pad_after
    clip_id = f"a-{qid}"

    deadline = time.monotonic() + 20
    while True:  # the job looked, found the recording short of the answer, and waits
        clip = await store.get(Clip, clip_id)
        job = await store.get(Job, clip.job_id)
        if "等待录像" in job.last_error and job.state == "queued":
            break
        assert time.monotonic() < deadline, (clip.state, job)
        await asyncio.sleep(0.05)
    assert clip.state == "pending" and job.attempts == 0  # waiting is not a failed attempt

    playlist.write_text(first_segments(full, 99, ended=False), encoding="utf-8")
    clip = await wait_state(live, clip_id, "draft")
    assert clip.note == ""
    job = await store.get(Job, clip.job_id)
    assert job.state == "done" and job.attempts == 1
    frames = await asyncio.to_thread(media.frame_numbers, find_ffmpeg(),
                                     live.app[keys.SETTINGS].media_dir / clip.media_path)
    last_shown_until = first_pdt + (frames[-1] + 1) / media.FPS
    assert last_shown_until >= question.answered_at + pad - 1 / media.FPS, (
        frames[-1], question.answered_at - first_pdt)


async def test_a_recording_that_stops_short_gives_a_marked_draft(live: Live) -> None:
    playlist, full = await recording_with(live, 20)
    segments = parse_playlist(full).segments

    async def stopped(question: Question) -> None:
        # The recording stops during the answer, after the segment holding "on air".
        begun = sum(1 for s in segments if s.start <= question.on_air_at)
        playlist.write_text(first_segments(full, begun, ended=True), encoding="utf-8")
        await asyncio.sleep(1.0)

    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    qid = await answer(live, viewer, mod, host, "电动车上牌需要哪些材料", stopped)
    covered_end = parse_playlist(playlist.read_text(encoding="utf-8")).end
    assert covered_end is not None
    question = await live.app[keys.STORE].get(Question, qid)
    clip = await wait_state(live, f"a-{qid}", "draft")
    missing = question.answered_at + live.app[keys.SETTINGS].media.clip_pad_after - covered_end
    assert clip.note == f"录像未覆盖完整回答（缺少末尾 {missing:.1f} 秒）"
    assert clip.end_at <= covered_end + 0.001

    client = await live.site.login("mod")
    page = await (await client.get(f"/staff/clips/{clip.id}")).text()
    assert "录像未覆盖完整回答（缺少末尾" in page and clip.note in page
    listing = await (await client.get("/staff/clips")).text()
    assert clip.note in listing
