"""Replays (``clips.replays``): who may watch, wall clock → replay time across gaps, the VOD
playlist, captions and chapters as WebVTT, and the replay read from a real recording and a
store of each backend (publishing audited)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clips.replays import (
    CAPTION_SECONDS,
    DELETED,
    EXPIRED,
    NOT_ENDED,
    PUBLISHED,
    QUESTION_SECONDS,
    REPLAY,
    UNPUBLISHED,
    Chapter,
    Replay,
    ReplayError,
    Replays,
    may_watch,
    media_offset,
    replay_state,
    vod_playlist,
)
from clips.timeline import load_playlist, parse_playlist
from live.media_store import LocalMediaStore
from moderation.audit import Audit
from store.base import Store
from store.records import AuditEntry, Caption, Clip, LiveSession, Question

PDT = "2026-11-02T10:00:00.000+0800"
START = 1793584800.0  # 2026-11-02 10:00:00 China time

# Two runs: 10:00:00–10:00:06 (three 2-second segments), a gap, 10:00:20–10:00:24.
GAPPED = f"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-PROGRAM-DATE-TIME:{PDT}
#EXTINF:2.000000,
seg_000000.ts
#EXTINF:2.000000,
seg_000001.ts
#EXTINF:2.000000,
seg_000002.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-02T10:00:20.000+0800
#EXTINF:2.000000,
seg_000003.ts
#EXTINF:2.000000,
seg_000004.ts
"""


def session(status: str = "ended", **settings: object) -> LiveSession:
    return LiveSession(id="s1", title="上午场", status=status, ended_at=START + 30,
                       settings=dict(settings))


# --- who may watch ----------------------------------------------------------------------------


def test_staff_publish_is_the_default_and_on_end_publishes_when_the_session_ends() -> None:
    assert replay_state(session(), "staff") == UNPUBLISHED
    assert replay_state(session(), "on_end") == PUBLISHED
    assert replay_state(session("live"), "on_end") == NOT_ENDED
    assert replay_state(session("scheduled"), "staff") == NOT_ENDED


def test_staffs_choice_wins_over_the_setting_and_expiry_wins_over_everything() -> None:
    published = {"state": PUBLISHED, "by": "admin", "at": START}
    withdrawn = {"state": UNPUBLISHED, "by": "admin", "at": START}
    assert replay_state(session(**{REPLAY: published}), "staff") == PUBLISHED
    assert replay_state(session(**{REPLAY: withdrawn}), "on_end") == UNPUBLISHED
    assert replay_state(session(**{REPLAY: published, DELETED: START}), "staff") == EXPIRED


def test_the_public_watches_published_replays_staff_also_unpublished_nobody_expired() -> None:
    assert not may_watch(session(), "staff", staff=False)
    assert may_watch(session(), "staff", staff=True)
    assert may_watch(session(), "on_end", staff=False)
    assert not may_watch(session("live"), "on_end", staff=True)
    assert not may_watch(session(**{DELETED: START}), "on_end", staff=True)


# --- time -------------------------------------------------------------------------------------


def test_wall_clock_maps_to_replay_time_with_gaps_taking_no_time() -> None:
    timeline = parse_playlist(GAPPED)
    assert media_offset(timeline, START) == 0.0
    assert media_offset(timeline, START + 3.5) == pytest.approx(3.5)
    assert media_offset(timeline, START - 5) == 0.0  # before the start: the start
    assert media_offset(timeline, START + 10) == pytest.approx(6.0)  # in the gap: the resume
    assert media_offset(timeline, START + 21) == pytest.approx(7.0)
    assert media_offset(timeline, START + 24) is None  # after the end: not in the replay


def test_the_playlist_becomes_video_on_demand_with_an_end() -> None:
    vod = vod_playlist(GAPPED)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in vod and "EVENT" not in vod
    assert vod.rstrip().endswith("#EXT-X-ENDLIST") and vod.count("#EXT-X-ENDLIST") == 1
    assert vod_playlist(vod) == vod  # an ended playlist keeps one end tag
    untyped = vod_playlist("#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n")
    assert untyped.splitlines()[1] == "#EXT-X-PLAYLIST-TYPE:VOD"
    assert len(parse_playlist(vod).segments) == 5


def test_captions_follow_each_other_and_the_questions_open_their_chapters() -> None:
    timeline = parse_playlist(GAPPED)
    lines = [Caption(id=f"c{i}", session_id="s1", text=text, at=START + at)
             for i, (at, text) in enumerate([(1.0, "主持人：欢迎收看"), (2.5, "第一个问题"),
                                             (21.0, "<b>民警</b>：带身份证"),
                                             (30.0, "录像之后的字幕")])]
    chapters = (
        Chapter("q1", "驾照到期怎么换？", "", START + 2.0, media_offset(timeline, START + 2.0)),
        Chapter("q2", "电动车怎么上牌？", "", START + 20.0, media_offset(timeline, START + 20.0),
                clip_id="k2"),
        Chapter("q3", "录像之后的问题", "", START + 40.0, None),
    )
    replay = Replay(session(), timeline, chapters, tuple(lines))
    cues = [(c.start, c.end, c.text) for c in replay.caption_cues()]
    assert cues == [
        (1.0, 2.5, "主持人：欢迎收看"),  # until the next line
        (2.0, 6.0, "问：驾照到期怎么换？"),  # until the next chapter (within QUESTION_SECONDS)
        (2.5, 7.0, "第一个问题"),
        (6.0, 10.0, "问：电动车怎么上牌？"),  # the end of the recording
        (7.0, 10.0, "<b>民警</b>：带身份证"),
    ]
    alone = Replay(session(), timeline, (), (Caption("c", "s1", "一行", START + 0.5),))
    assert [(c.start, c.end) for c in alone.caption_cues()] == [(0.5, 0.5 + CAPTION_SECONDS)]
    first = Replay(session(), timeline, chapters[:1], ())
    assert [(c.start, c.end) for c in first.caption_cues()] == [(2.0, 2.0 + QUESTION_SECONDS)]
    vtt = replay.captions_vtt()
    assert vtt.startswith("WEBVTT\n") and "&lt;b&gt;民警&lt;/b&gt;" in vtt
    assert "00:00:06.000 --> 00:00:10.000\n问：电动车怎么上牌？" in vtt
    assert "录像之后" not in vtt
    assert replay.chapters_vtt() == ("WEBVTT\n\n00:00:02.000 --> 00:00:06.000\n驾照到期怎么换？"
                                     "\n\n00:00:06.000 --> 00:00:10.000\n电动车怎么上牌？\n")


# --- read from a recording and a store --------------------------------------------------------


@pytest.fixture
def media_root(tmp_path: Path, recording: Path) -> Path:
    """A media directory holding session s1's real 12-second recording."""
    root = tmp_path / "media"
    shutil.copytree(recording.parent, root / "sessions" / "s1" / "hls")
    return root


async def test_a_replay_is_read_from_the_recording_and_the_store(
        store: Store, media_root: Path) -> None:
    timeline = load_playlist(media_root / "sessions/s1/hls/index.m3u8")
    start = timeline.start
    assert start is not None
    await store.insert(session())
    for i, (state, at) in enumerate([("answered", 4.0), ("answered", 1.0), ("replied", 2.0),
                                     ("declined", 3.0)]):
        await store.insert(Question(id=f"q{i}", session_id="s1", viewer_id="v", client_id=f"c{i}",
                                    text=f"问题{i} 电话1**********", state=state,
                                    item_id="ebike-registration", on_air_at=start + at,
                                    answered_at=start + at + 1))
    await store.insert(Clip(id="k0", session_id="s1", question_id="q0", state="published"))
    await store.insert(Clip(id="k1", session_id="s1", question_id="q1", state="draft"))
    await store.insert(Caption(id="c0", session_id="s1", text="民警：请带身份证", at=start + 4.5))
    await store.insert(Caption(id="x", session_id="other", text="别的场次", at=start + 4.5))
    replays = Replays(store, LocalMediaStore(media_root), publish="staff", audit=Audit())
    replay = await replays.load(await store.get(LiveSession, "s1"))
    assert replay is not None and replay.duration == pytest.approx(12.0, abs=0.1)
    # Answered on air only, in the order they went on air; only published clips linked.
    assert [(c.question_id, c.clip_id) for c in replay.chapters] == [("q1", ""), ("q0", "k0")]
    assert [c.offset for c in replay.chapters] == [pytest.approx(1.0), pytest.approx(4.0)]
    assert [c.text for c in replay.captions] == ["民警：请带身份证"]
    assert "问题0 电话1**********" in replay.chapters_vtt()

    await store.insert(LiveSession(id="s2", title="没有录像", status="ended"))
    assert await replays.load(await store.get(LiveSession, "s2")) is None


async def test_staff_publish_and_withdraw_a_replay_audited(store: Store,
                                                         media_root: Path) -> None:
    clock = iter(range(1000, 2000))
    replays = Replays(store, LocalMediaStore(media_root), publish="staff", audit=Audit(),
                      clock=lambda: float(next(clock)))
    await store.insert(session())
    await store.insert(LiveSession(id="s3", title="直播中", status="live"))
    assert await replays.published() == []
    updated = await replays.set_published("s1", True, actor="admin")
    assert replays.state(updated) == PUBLISHED
    assert [s.id for s in await replays.published()] == ["s1"]
    withdrawn = await replays.set_published("s1", False, actor="admin")
    assert replays.state(withdrawn) == UNPUBLISHED and await replays.published() == []
    entries = await store.find(AuditEntry, {"target": "session:s1"}, order_by=["at"])
    assert [(e.action, e.actor) for e in entries] == [("replay.publish", "admin"),
                                                      ("replay.unpublish", "admin")]
    with pytest.raises(ReplayError, match="直播结束后"):
        await replays.set_published("s3", True, actor="admin")
    await store.update(LiveSession, "s1", {"settings": {**withdrawn.settings, DELETED: 5.0}},
                       now=5.0)
    with pytest.raises(ReplayError, match="保存期限"):
        await replays.set_published("s1", True, actor="admin")
