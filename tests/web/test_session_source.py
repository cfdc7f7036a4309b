"""A session's video source, chosen on the admin session form: the four kinds, validation,
the RTMP push address and stream key (shown to admins only), and no change while live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from live.recordings import rtmp_push_address
from live.sessions import SessionError, SessionForm, Sessions, describe_source, stream_key
from moderation.audit import Audit
from settings import Settings
from store.base import Store
from store.records import AuditEntry, LiveSession
from tests.support import Site, staff_csrf
from web import keys

FORM = {"title": "周三上午场", "scheduled_start": "2027-01-06T10:00"}


async def sessions(store: Store) -> Sessions:
    return Sessions(store, lambda b: None, audit=Audit(), rtmp_listen="rtmp://10.0.0.5:1935/live")


async def test_each_kind_of_source_is_stored_as_the_recorder_reads_it(
        sqlite_store: Store, tmp_path: Path) -> None:
    s = await sessions(sqlite_store)
    video = tmp_path / "上午 节目.mp4"  # spaces are fine in a path
    video.write_bytes(b"\0" * 10)

    async def source(**form: str | bool) -> str:
        b = await s.create(SessionForm("场次", scheduled_start=1.8e9, **form),  # type: ignore[arg-type]
                           actor="t")
        return b.source

    assert await source() == ""
    assert await source(source_kind="test") == ""
    assert await source(source_kind="pull", source_url=" srt://cam.example:9000?latency=200 ") \
        == "srt://cam.example:9000?latency=200"
    assert await source(source_kind="file", source_path=f"file:{video}") == str(video)
    pushed = await source(source_kind="rtmp")
    assert re.fullmatch(r"listen:rtmp://10\.0\.0\.5:1935/live/[A-Za-z0-9_-]{24}", pushed)
    assert await source(source_kind="rtmp") != pushed  # every push source gets its own key


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("pull", "", "请填写拉流地址"),
    ("pull", "ftp://example.com/a.ts", "拉流地址只支持"),
    ("pull", "concat:/a.ts|/b.ts", "拉流地址只支持"),
    ("pull", "rtmp:/no-host", "拉流地址只支持"),
    ("pull", "rtmp:///live/x", "缺少主机名"),
    ("pull", "http://[::1/x", "格式不正确"),
    ("pull", "listen:rtmp://0.0.0.0:1935/live/key", "请选择“RTMP 推流”"),
    ("pull", "https://a.example/x y.m3u8", "不能包含空格"),
    ("pull", "https://a.example/" + "x" * 500, "最多 500 个字符"),
    ("file", "", "请填写文件路径"),
    ("file", "videos/a.mp4", "完整文件路径"),
    ("file", "/nonexistent/a.mp4", "找不到这个文件"),
    ("file", "/tmp", "找不到这个文件"),
    ("file", "/srv/a://b.mp4", "这是一个网址"),
    ("file", "/srv/a\tb.mp4", "不能包含控制字符"),
    ("other", "", "未知的视频源类型"),
])
async def test_bad_sources_are_refused_with_a_reason(sqlite_store: Store, kind: str, value: str,
                                                     message: str) -> None:
    s = await sessions(sqlite_store)
    with pytest.raises(SessionError, match=re.escape(message)):
        await s.create(SessionForm("场次", scheduled_start=1.8e9, source_kind=kind,
                                   source_url=value, source_path=value), actor="t")


async def test_the_stream_key_is_kept_until_replaced_and_never_audited(
        sqlite_store: Store) -> None:
    s = await sessions(sqlite_store)
    b = await s.create(SessionForm("场次", scheduled_start=1.8e9, source_kind="rtmp"), actor="t")
    key = stream_key(b.source)
    kept = await s.edit(b.id, SessionForm("场次", scheduled_start=1.8e9, source_kind="rtmp"),
                        actor="t")
    assert stream_key(kept.source) == key
    kept = await s.edit(b.id, SessionForm("场次", scheduled_start=1.8e9), actor="t")
    assert kept.source == b.source  # no choice in the form: the source stays
    renewed = await s.edit(b.id, SessionForm("场次", scheduled_start=1.8e9, source_kind="rtmp",
                                             new_key=True), actor="t")
    assert stream_key(renewed.source) not in ("", key)
    [entry] = await sqlite_store.find(AuditEntry, {"action": "session.edit"},
                                        order_by=["at"])
    assert key not in repr(entry) and stream_key(renewed.source) not in repr(entry)
    assert entry.before == {"source": describe_source(b.source)}
    assert entry.before["source"].startswith("RTMP 推流（密钥指纹 ")


async def test_the_source_cannot_change_while_live(sqlite_store: Store) -> None:
    s = await sessions(sqlite_store)
    b = await s.create(SessionForm("场次", scheduled_start=1.8e9), actor="t")
    await s.start(b.id, actor="t")
    with pytest.raises(SessionError, match="直播进行中不能更换视频源"):
        await s.edit(b.id, SessionForm("场次", scheduled_start=1.8e9, source_kind="rtmp"),
                     actor="t")
    # Other fields still can, with the source left alone (the form sends no choice).
    edited = await s.edit(b.id, SessionForm("新标题", scheduled_start=1.8e9), actor="t")
    assert edited.title == "新标题" and edited.source == ""


def test_the_push_address_prefers_the_public_host(settings: Settings) -> None:
    assert rtmp_push_address(settings) == "rtmp://127.0.0.1:1935/live"
    public = settings.replace(server={"public_url": "https://help.example.cn"})
    assert rtmp_push_address(public) == "rtmp://help.example.cn:1935/live"
    named = public.replace(media={"rtmp_public_host": "studio.example.cn", "rtmp_port": 19350})
    assert rtmp_push_address(named) == "rtmp://studio.example.cn:19350/live"


async def test_admins_choose_a_push_source_and_see_the_address_and_key(site: Site) -> None:
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/sessions")
    created = await admin.post("/admin/sessions", data={"_csrf": token, **FORM,
                                                        "source_kind": "rtmp"})
    assert created.status == 200
    [b] = await site.app[keys.STORE].find(LiveSession)
    key = stream_key(b.source)
    page = await created.text()
    assert '<code id="push-address">rtmp://127.0.0.1:1935/live</code>' in page
    assert f'<code id="stream-key">{key}</code>' in page
    assert 'value="rtmp" checked' in page

    # Nobody else sees the key: not the viewers' page, not a host's console, not the log.
    await site.add_user("officer", "host")
    host = await site.login("officer")
    for client, path in ((site.first, f"/live/{b.id}"), (host, f"/staff/sessions/{b.id}/host"),
                         (admin, "/admin/audit"), (admin, "/admin/sessions")):
        response = await client.get(path)
        assert response.status == 200 and key not in await response.text(), path

    # A bad pull URL is refused on the page, with the reason, and changes nothing.
    refused = await admin.post(f"/admin/sessions/{b.id}", data={
        "_csrf": token, **FORM, "source_kind": "pull", "source_url": "ftp://x/y"})
    assert refused.status == 400 and "拉流地址只支持" in await refused.text()
    assert (await site.app[keys.STORE].get(LiveSession, b.id)).source == b.source

    # While live the choice is locked on the page, and refused if sent anyway.
    await admin.post(f"/admin/sessions/{b.id}", data={"_csrf": token, "action": "start"})
    page = await (await admin.get(f"/admin/sessions/{b.id}")).text()
    assert '<fieldset class="source-choice" disabled>' in page
    refused = await admin.post(f"/admin/sessions/{b.id}", data={
        "_csrf": token, **FORM, "source_kind": "test"})
    assert refused.status == 400 and "直播进行中不能更换视频源" in await refused.text()


async def test_the_session_page_says_when_video_is_off(site: Site) -> None:
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    b = await site.app[keys.SESSIONS].create(SessionForm("场次", scheduled_start=1.8e9),
                                             actor="t")
    page = await (await admin.get(f"/admin/sessions/{b.id}")).text()
    assert "视频录制未开启" in page and "admin_session.js" not in page
    live = await (await site.first.get(f"/live/{b.id}")).text()
    assert 'data-video="off"' in live and "本场直播未开启视频" in live
