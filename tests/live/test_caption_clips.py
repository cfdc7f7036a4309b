"""Captions become the answer's clip captions: the lines a captioner typed while a question
was on air are in the clip's WebVTT file (cut by the app's own worker with the real ffmpeg
from a real recording) and in the library's search text once the clip is published."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from clips.spoken import LINE_SECONDS, spoken_cues
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import session_hls_dir
from settings import Settings
from store.records import Caption, Clip
from tests.clips import media
from tests.live.conftest import Live
from web import keys

BEFORE = "主持人：下面这个问题来自网友。"
SAID = ["民警：带上身份证和购车发票到登记点。", "现场会给车装上防盗芯片，大约十分钟。"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No padding before "on air": the recording starts a moment before the question.
    return settings.replace(media={"record": False, "clip_pad_before": 0.0})


def clip_event(state: str) -> Any:
    return lambda f: f.get("kind") == "clip" and f.get("clip", {}).get("state") == state


async def test_the_lines_typed_on_air_are_the_clips_captions_and_search_text(
        live: Live) -> None:
    await asyncio.to_thread(media.record, find_ffmpeg(),
                            session_hls_dir(live.app[keys.SETTINGS].media_dir,
                                            live.session.id), 12)
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    captioner = await live.staff("cap", "captioner")
    ack = await viewer.request("ask", client_id=uuid.uuid4().hex, text="电瓶车怎么上牌？")
    qid = ack["question_id"]
    seen = await mod.until(lambda f: f.get("kind") == "question"
                           and f["question"]["id"] == qid)
    approved = await mod.request("approve", question_id=qid,
                                 version=seen["question"]["version"], category="电动自行车")
    assert (await captioner.request("caption", text=BEFORE))["type"] == "ack"
    await asyncio.sleep(0.1)
    on_air = await host.request("on_air", question_id=qid, version=approved["version"])
    for line in SAID:
        await asyncio.sleep(0.4)
        assert (await captioner.request("caption", text=line))["type"] == "ack"
    await asyncio.sleep(0.4)
    answered = await host.request("answered", question_id=qid, version=on_air["version"])
    assert answered["state"] == "answered"

    clip_id = (await mod.until(clip_event("pending")))["clip"]["id"]
    await mod.until(clip_event("draft"), timeout=30)
    clip = await live.app[keys.STORE].get(Clip, clip_id)
    review = live.app[keys.REVIEW]
    vtt_path = review.file(clip.captions_path)
    assert vtt_path is not None
    vtt = vtt_path.read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT")
    blocks = vtt.strip().split("\n\n")[1:]
    # The question first, then what was said, in order; the line before the air is not in it.
    assert [b.split("\n", 1)[1] for b in blocks] == ["电瓶车怎么上牌？", *SAID]
    assert BEFORE not in vtt
    times = [b.split("\n", 1)[0].split(" --> ") for b in blocks]
    assert times[0][1] == times[1][0]  # the question gives way to the first line
    assert times[1][1] == times[2][0]  # a line gives way to the next

    library = live.app[keys.LIBRARY]
    assert (await library.search("防盗芯片")).total == 0  # a draft is not in the library
    clip = await review.publish_clip(clip_id, expected_version=clip.version, actor="mod")
    anonymous = await live.site.new_client()
    found = await anonymous.get("/api/clips", params={"q": "防盗芯片"})
    assert [h["id"] for h in (await found.json())["hits"]] == [clip_id]


def line(at: float, text: str = "句") -> Caption:
    return Caption(id=text, session_id="s", text=text, at=at)


def test_a_line_shows_until_the_next_for_at_most_a_few_seconds_within_the_clip() -> None:
    cues = spoken_cues([line(101.0, "一"), line(103.0, "二"), line(118.0, "三")], 100.0, 20.0)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (1.0, 3.0, "一"), (3.0, 3.0 + LINE_SECONDS, "二"), (18.0, 20.0, "三")]
