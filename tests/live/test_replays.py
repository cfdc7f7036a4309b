"""Replays through the running app, on each store backend: a session with a real recording
(the recorder's own ffmpeg command), a question answered on air with captions typed meanwhile,
then the replay — hidden from the public until an admin publishes it, its chapter, captions
and VOD playlist, its segments served with ranges, the clip link, the library, schedule and
session-list links, and withdrawn again."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest

from clips.replays import media_offset
from clips.timeline import load_playlist
from live.ffmpeg import find_ffmpeg
from live.hls_recorder import session_hls_dir, session_playlist
from settings import Settings
from store.records import AuditEntry, Clip, Question
from tests.clips import media
from tests.live.conftest import Live
from tests.support import both_backends, staff_csrf
from web import keys
from web.render import format_time

ASKED = "电瓶车怎么上牌？我电话13912345678"
SAID = "民警：带上身份证和购车发票到登记点。"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(media={"record": False, "clip_pad_before": 0.0})


async def answer_on_air(live: Live) -> str:
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    captioner = await live.staff("cap", "captioner")
    ack = await viewer.request("ask", client_id=uuid.uuid4().hex, text=ASKED)
    qid: str = ack["question_id"]
    seen = await mod.until(lambda f: f.get("kind") == "question"
                           and f["question"]["id"] == qid)
    approved = await mod.request("approve", question_id=qid,
                                 version=seen["question"]["version"],
                                 category="电动自行车", item_id="ebike-registration")
    await asyncio.sleep(1.0)  # on air a second into the recording, at least
    on_air = await host.request("on_air", question_id=qid, version=approved["version"])
    await asyncio.sleep(0.3)
    assert (await captioner.request("caption", text=SAID))["type"] == "ack"
    await asyncio.sleep(0.5)
    answered = await host.request("answered", question_id=qid, version=on_air["version"])
    assert answered["state"] == "answered"
    return qid


@both_backends
async def test_an_ended_session_is_a_replay_once_staff_publish_it(live: Live) -> None:
    app = live.app
    media_dir = app[keys.SETTINGS].media_dir
    await asyncio.to_thread(media.record, find_ffmpeg(),
                            session_hls_dir(media_dir, live.session.id), 60)
    qid = await answer_on_air(live)
    await app[keys.SESSIONS].end(live.session.id, actor="test")
    sid = live.session.id
    public = await live.site.new_client()
    for path in (f"/replay/{sid}", f"/replay/{sid}/captions.vtt",
                 f"/media/replay/{sid}/index.m3u8", f"/media/replay/{sid}/seg_000000.ts"):
        assert (await public.get(path)).status == 404, path  # not published yet

    await live.site.add_user("boss", "admin")
    admin = await live.site.login("boss")
    staff_view = await admin.get(f"/replay/{sid}")
    html = await staff_view.text()
    assert staff_view.status == 200 and 'id="replay-private"' in html
    assert staff_view.headers["Cache-Control"] == "no-store"
    listing = await (await admin.get("/admin/sessions")).text()
    assert f'href="/replay/{sid}"' in listing and "回放：未公开" in listing
    moderator = await live.site.login("mod")  # every role: the staff home lists it
    home = await (await moderator.get("/staff")).text()
    assert f'href="/replay/{sid}"' in home and "回放：未公开" in home
    assert (await moderator.get(f"/replay/{sid}")).status == 200

    csrf = await staff_csrf(admin, f"/admin/sessions/{sid}")
    done = await admin.post(f"/admin/sessions/{sid}", allow_redirects=False,
                            data={"_csrf": csrf, "action": "publish_replay"})
    assert done.status == 303 and done.headers["Location"].endswith("msg=replay_published")
    audit = await app[keys.STORE].find(AuditEntry, {"action": "replay.publish"},
                                         order_by=["at"])
    assert [(a.actor, a.session_id) for a in audit] == [("boss", sid)]

    page = await public.get(f"/replay/{sid}")
    html = await page.text()
    assert page.status == 200 and 'id="replay-private"' not in html
    assert "13912345678" not in html and "电瓶车怎么上牌？我电话" in html  # masked only
    timeline = load_playlist(session_playlist(media_dir, sid))
    stored = await app[keys.STORE].get(Question, qid)
    offset = media_offset(timeline, stored.on_air_at)
    assert offset is not None and offset >= 1.0
    chapter = re.search(r'id="q-' + qid + r'".*?data-offset="([0-9.]+)"', html, re.S)
    assert chapter is not None and float(chapter.group(1)) == pytest.approx(offset, abs=0.01)
    shown = format_time(stored.on_air_at, "%H:%M:%S", app[keys.SETTINGS].zone)
    assert f">{shown}</time>" in html and "电动自行车" in html  # wall clock, business item

    playlist = await public.get(f"/media/replay/{sid}/index.m3u8")
    text = await playlist.text()
    assert playlist.status == 200
    assert playlist.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-PROGRAM-DATE-TIME:" in text
    again = await public.get(f"/media/replay/{sid}/index.m3u8",
                             headers={"If-None-Match": playlist.headers["ETag"]})
    assert again.status == 304
    part = await public.get(f"/media/replay/{sid}/index.m3u8", headers={"Range": "bytes=0-6"})
    assert part.status == 206 and await part.text() == "#EXTM3U"
    segment = await public.get(f"/media/replay/{sid}/seg_000001.ts",
                               headers={"Range": "bytes=188-375"})
    assert segment.status == 206 and segment.headers["Content-Type"] == "video/mp2t"
    assert segment.headers["Content-Range"].startswith("bytes 188-375/")
    assert (await segment.read())[:1] == b"G"  # an MPEG-TS packet
    beyond = await public.get(f"/media/replay/{sid}/seg_000001.ts",
                              headers={"Range": "bytes=99999999-"})
    assert beyond.status == 416

    captions = await public.get(f"/replay/{sid}/captions.vtt")
    vtt = await captions.text()
    assert captions.headers["Content-Type"] == "text/vtt; charset=utf-8"
    assert vtt.startswith("WEBVTT") and SAID in vtt and "问：电瓶车怎么上牌？" in vtt
    assert "13912345678" not in vtt
    chapters = await (await public.get(f"/replay/{sid}/chapters.vtt")).text()
    assert "电瓶车怎么上牌？" in chapters

    # The answer's clip: linked from its chapter once published, and it links back.
    clips = app[keys.REVIEW]
    clip = await wait_clip(app, qid)
    assert "看这个问题的解答片段" not in html
    clip = await clips.publish_clip(clip.id, expected_version=clip.version, actor="boss")
    html = await (await public.get(f"/replay/{sid}")).text()
    assert f'href="/clips/{clip.id}"' in html
    clip_page = await (await public.get(f"/clips/{clip.id}")).text()
    assert f'href="/replay/{sid}#q-{qid}"' in clip_page
    front = await (await public.get("/clips")).text()
    assert f'href="/replay/{sid}"' in front
    schedule = await (await public.get("/schedule")).text()
    assert f'href="/replay/{sid}"' in schedule

    csrf = await staff_csrf(admin, f"/admin/sessions/{sid}")
    withdrawn = await admin.post(f"/admin/sessions/{sid}", allow_redirects=False,
                                 data={"_csrf": csrf, "action": "unpublish_replay"})
    assert withdrawn.status == 303
    assert (await public.get(f"/replay/{sid}")).status == 404
    assert (await public.get(f"/media/replay/{sid}/seg_000001.ts")).status == 404
    assert f'href="/replay/{sid}' not in await (await public.get(f"/clips/{clip.id}")).text()
    assert (await admin.get(f"/media/replay/{sid}/seg_000001.ts")).status == 200


async def wait_clip(app: Any, question_id: str) -> Clip:
    """The answer's clip once its cut has landed (a draft)."""
    store = app[keys.STORE]
    for _ in range(600):
        found = await store.find(Clip, {"question_id": question_id})
        if found and found[0].state == "draft":
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no draft clip for {question_id}: {found}")


async def test_a_session_not_ended_has_no_replay_even_for_staff(live: Live) -> None:
    await live.site.add_user("boss", "admin")
    admin = await live.site.login("boss")
    assert (await admin.get(f"/replay/{live.session.id}")).status == 404
    assert (await admin.get("/replay/nope")).status == 404
    assert (await admin.get(f"/media/replay/{live.session.id}/index.m3u8")).status == 404
    assert (await admin.get(f"/media/replay/{live.session.id}/x.ts")).status == 404


async def test_on_end_publishes_when_the_session_ends(live: Live) -> None:
    app = live.app
    app[keys.REPLAYS].publish = "on_end"  # [replays] publish = "on_end"
    public = await live.site.new_client()
    assert (await public.get(f"/replay/{live.session.id}")).status == 404  # still live
    await app[keys.SESSIONS].end(live.session.id, actor="test")
    page = await public.get(f"/replay/{live.session.id}")
    html = await page.text()
    assert page.status == 200 and "这场直播没有录像可以回放" in html  # none was recorded
    assert "<video" not in html
