"""Askers whose questions were merged into an answered one get its clip link when the clip
is published: on their own socket (a "clip" event naming their question) and in their
snapshot. Real recording, the app's clip worker and ffmpeg, the staff review page."""

from __future__ import annotations

import asyncio
import uuid

from live.ffmpeg import find_ffmpeg
from live.hls_recorder import session_hls_dir
from store.records import Clip
from tests.clips import media
from tests.live.conftest import Live, Socket, question_event
from tests.live.test_answer_clips import settings, wait_state
from tests.support import csrf_of
from web import keys

__all__ = ["settings"]  # the fixture: no recording of our own, no padding before "on air"


async def ask(sock: Socket, text: str) -> str:
    ack = await sock.request("ask", client_id=uuid.uuid4().hex, text=text)
    assert ack["type"] == "ack", ack
    return str(ack["question_id"])


async def version(mod: Socket, qid: str) -> int:
    seen = await mod.until(lambda f: question_event(f) and f["question"]["id"] == qid)
    return int(seen["question"]["version"])


async def test_merged_askers_get_the_clip_link(live: Live) -> None:
    ffmpeg = find_ffmpeg()
    await asyncio.to_thread(media.record, ffmpeg, session_hls_dir(
        live.app[keys.SETTINGS].media_dir, live.session.id), 12)
    asker = await live.viewer()
    second_client = await live.site.new_client()
    second = await live.viewer(second_client)
    third = await live.viewer()
    mod = await live.staff("mod", "moderator")
    host = await live.staff("host", "host")
    answered = await ask(asker, "电瓶车怎么上牌？")
    merged = await ask(second, "电动车上牌怎么办理？")
    chained = await ask(third, "电动自行车上牌去哪里？")
    # A merge of a merge: chained → merged → answered.
    assert (await mod.request("merge", question_id=chained, version=await version(mod, chained),
                              into=merged))["state"] == "merged"
    merged_version = await version(mod, merged)
    assert (await mod.request("merge", question_id=merged, version=merged_version,
                              into=answered))["state"] == "merged"
    approved = await mod.request("approve", question_id=answered,
                                 version=await version(mod, answered), category="电动自行车",
                                 item_id="ebike-registration")
    on_air = await host.request("on_air", question_id=answered, version=approved["version"])
    await asyncio.sleep(1.0)
    assert (await host.request("answered", question_id=answered,
                               version=on_air["version"]))["state"] == "answered"
    clips = await live.app[keys.STORE].find(Clip, {"question_id": answered})
    clip = await wait_state(live, clips[0].id, "draft")

    client = await live.site.login("mod")
    page = await client.get(f"/staff/clips/{clip.id}")
    published = await client.post(f"/staff/clips/{clip.id}", allow_redirects=False, data={
        "_csrf": csrf_of(await page.text()), "version": str(clip.version), "action": "publish"})
    assert published.status == 303
    url = f"/clips/{clip.id}"

    for sock, qid in ((second, merged), (third, chained)):
        told = await sock.until(lambda f, q=qid: f.get("kind") == "clip"
                                and f["question_id"] == q)
        assert told["url"] == url
    # Nobody else hears of the merged askers' questions.
    await asker.until(lambda f: f.get("kind") == "clip" and f["question_id"] == answered)
    assert (await asker.request("ping"))["type"] == "ack"
    assert not any(f.get("kind") == "clip" and f["question_id"] in (merged, chained)
                   for f in asker.seen)
    # A later connection of the merged asker finds the link in its snapshot.
    again = await live.viewer(second_client)
    snapshot = next(f for f in again.seen if f["type"] == "snapshot")
    assert snapshot["clips"] == {answered: url, merged: url}
