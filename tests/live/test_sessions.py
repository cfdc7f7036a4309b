"""LiveSession sessions on their own (live/sessions.py), on a real SQLite store: creating,
starting and ending, edits, what the form is validated against, the listeners told of each
change, the admin listing and the figures. (The video source's kinds and their validation
are tests/web/test_session_source.py's.)"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from live.sessions import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    SessionError,
    SessionForm,
    Sessions,
    describe_source,
    source_kind,
    stream_key,
)
from moderation.audit import Audit
from store.base import NotFound, Store
from store.records import AuditEntry, LiveSession, Question, StaffUser

START = 1_800_000_000.0
FORM = SessionForm("交警视频帮 上午场", scheduled_start=START, scheduled_end=START + 3600)


@dataclass
class Clock:
    now: float = START - 86_400

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    store: Store
    clock: Clock
    sessions: Sessions
    told: list[tuple[str, str, str]] = field(default_factory=list)  # (listener, id, status)

    async def audit(self, session_id: str) -> list[AuditEntry]:
        return await self.store.find(AuditEntry, {"session_id": session_id}, order_by=["at"])


@pytest.fixture
async def rig(sqlite_store: Store) -> Rig:
    clock = Clock()
    told: list[tuple[str, str, str]] = []
    sessions = Sessions(sqlite_store, lambda b: told.append(("first", b.id, b.status)), clock,
                        audit=Audit(clock), rtmp_listen="rtmp://10.0.0.5:1935/live")
    sessions.listeners.append(lambda b: told.append(("second", b.id, b.status)))
    return Rig(sqlite_store, clock, sessions, told)


async def test_create_stores_the_cleaned_form_and_audits_it(rig: Rig) -> None:
    form = SessionForm("  交警视频帮\n 上午场 ", description="  办理驾驶证、电动自行车上牌。 ",
                       scheduled_start=START, scheduled_end=START + 3600,
                       presenter="  王  警官 " + "长" * 50)
    b = await rig.sessions.create(form, actor="boss")
    assert b.title == "交警视频帮 上午场" and b.description == "办理驾驶证、电动自行车上牌。"
    assert b.presenter == ("王 警官 " + "长" * 50)[:40]
    assert (b.status, b.source, b.started_at, b.ended_at) == ("scheduled", "", 0.0, 0.0)
    assert b.created_at == rig.clock.now
    assert await rig.store.get(LiveSession, b.id) == b
    [entry] = await rig.audit(b.id)
    assert (entry.actor, entry.action, entry.target) == ("boss", "session.create",
                                                         f"session:{b.id}")
    assert entry.after == {"title": "交警视频帮 上午场"} and entry.before is None
    assert rig.told == [], "nobody watches a session that did not exist"


@pytest.mark.parametrize(("changes", "message"), [
    ({"title": " \n "}, "请填写直播标题"),
    ({"title": "长" * (MAX_TITLE + 1)}, f"标题最多 {MAX_TITLE} 字"),
    ({"description": "x" * (MAX_DESCRIPTION + 1)}, f"简介最多 {MAX_DESCRIPTION} 字"),
    ({"scheduled_start": 0.0}, "请填写计划开始时间"),
    ({"scheduled_end": START}, "结束时间必须晚于开始时间"),
    ({"scheduled_end": START - 60}, "结束时间必须晚于开始时间"),
    ({"host_ids": ("nobody",)}, "所选主持人账号不存在"),
    ({"host_ids": ("mod",)}, "mod 不是可用的主持人账号"),
    ({"host_ids": ("gone",)}, "gone 不是可用的主持人账号"),
])
async def test_a_bad_form_is_refused_with_a_reason_and_nothing_stored(
        rig: Rig, changes: dict[str, object], message: str) -> None:
    await rig.store.insert(StaffUser(id="mod", name="mod", role="moderator", password_hash="x"))
    await rig.store.insert(StaffUser(id="gone", name="gone", role="host", password_hash="x",
                                     disabled=True))
    with pytest.raises(SessionError, match=re.escape(message)):
        await rig.sessions.create(replace(FORM, **changes), actor="boss")  # type: ignore[arg-type]
    assert await rig.store.find(LiveSession) == []
    assert await rig.store.count(AuditEntry) == 0


async def test_hosts_are_host_or_admin_accounts_each_listed_once(rig: Rig) -> None:
    for uid, role in (("h1", "host"), ("a1", "admin")):
        await rig.store.insert(StaffUser(id=uid, name=uid, role=role, password_hash="x"))
    b = await rig.sessions.create(replace(FORM, host_ids=("h1", "a1", "h1")), actor="boss")
    assert b.host_ids == ["h1", "a1"]


async def test_a_session_goes_live_then_ends_and_every_listener_hears_in_order(
        rig: Rig) -> None:
    b = await rig.sessions.create(FORM, actor="boss")
    rig.clock.now = START + 5
    live = await rig.sessions.start(b.id, actor="boss")
    assert (live.status, live.started_at, live.version) == ("live", START + 5, b.version + 1)
    rig.clock.now = START + 3000
    ended = await rig.sessions.end(b.id, actor="host1")
    assert (ended.status, ended.started_at, ended.ended_at) == ("ended", START + 5, START + 3000)
    assert rig.told == [("first", b.id, "live"), ("second", b.id, "live"),
                        ("first", b.id, "ended"), ("second", b.id, "ended")]
    actions = [(e.actor, e.action, e.before, e.after) for e in await rig.audit(b.id)]
    assert actions[1:] == [
        ("boss", "session.start", {"status": "scheduled"}, {"status": "live"}),
        ("host1", "session.end", {"status": "live"}, {"status": "ended"}),
    ]


async def test_start_and_end_only_from_the_right_status(rig: Rig) -> None:
    b = await rig.sessions.create(FORM, actor="boss")
    with pytest.raises(SessionError, match="只有直播中的场次可以结束"):
        await rig.sessions.end(b.id, actor="boss")
    await rig.sessions.start(b.id, actor="boss")
    with pytest.raises(SessionError, match="只有“即将开始”的直播可以开始"):
        await rig.sessions.start(b.id, actor="boss")
    await rig.sessions.end(b.id, actor="boss")
    for again in (rig.sessions.start, rig.sessions.end):
        with pytest.raises(SessionError):
            await again(b.id, actor="boss")
    assert (await rig.store.get(LiveSession, b.id)).status == "ended"
    assert len(rig.told) == 4  # start and end, two listeners each; refusals tell nobody
    with pytest.raises(NotFound):
        await rig.sessions.start("no-such-session", actor="boss")


async def test_an_edit_records_what_changed_and_tells_the_listeners(rig: Rig) -> None:
    b = await rig.sessions.create(FORM, actor="boss")
    rig.clock.now += 60
    edited = await rig.sessions.edit(
        b.id, replace(FORM, title="交警视频帮 下午场", scheduled_end=START + 7200), actor="ed")
    assert edited.title == "交警视频帮 下午场" and edited.scheduled_end == START + 7200
    assert edited.updated_at == rig.clock.now and edited.version == b.version + 1
    entry = (await rig.audit(b.id))[-1]
    assert (entry.actor, entry.action) == ("ed", "session.edit")
    assert entry.before == {"title": "交警视频帮 上午场", "scheduled_end": START + 3600}
    assert entry.after == {"title": "交警视频帮 下午场", "scheduled_end": START + 7200}
    assert rig.told == [("first", b.id, "scheduled"), ("second", b.id, "scheduled")]


async def test_an_edit_that_changes_nothing_is_not_saved_audited_or_announced(rig: Rig) -> None:
    b = await rig.sessions.create(FORM, actor="boss")
    same = await rig.sessions.edit(b.id, replace(FORM, title=f"  {FORM.title}  "), actor="ed")
    assert same == b
    assert [e.action for e in await rig.audit(b.id)] == ["session.create"]
    assert rig.told == []


async def test_a_refused_edit_changes_nothing(rig: Rig) -> None:
    b = await rig.sessions.create(FORM, actor="boss")
    with pytest.raises(SessionError, match="请填写直播标题"):
        await rig.sessions.edit(b.id, replace(FORM, title=""), actor="ed")
    await rig.sessions.start(b.id, actor="boss")
    rig.told.clear()
    with pytest.raises(SessionError, match="直播进行中不能更换视频源"):
        await rig.sessions.edit(b.id, replace(FORM, title="新标题", source_kind="pull",
                                              source_url="rtmp://cam.example/live/x"),
                                actor="ed")
    current = await rig.store.get(LiveSession, b.id)
    assert (current.title, current.source) == (FORM.title, "")
    assert rig.told == []


async def test_a_saved_file_source_is_kept_by_later_edits_even_once_it_has_gone(
        rig: Rig, tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"\0")
    b = await rig.sessions.create(replace(FORM, source_kind="file", source_path=str(video)),
                                  actor="boss")
    video.unlink()  # the recorder reports it when the session goes live
    edited = await rig.sessions.edit(b.id, replace(FORM, title="新标题", source_kind="file",
                                                   source_path=str(video)), actor="ed")
    assert edited.source == str(video) and edited.title == "新标题"
    with pytest.raises(SessionError, match="找不到这个文件"):
        await rig.sessions.edit(b.id, replace(FORM, source_kind="file",
                                              source_path=str(tmp_path / "b.mp4")), actor="ed")


def test_sources_are_described_without_keys_or_credentials() -> None:
    push = "listen:rtmp://0.0.0.0:1935/live/SeCrEtKeY"
    assert [source_kind(s) for s in ("", " ", push, "srt://h:9000", "listen:srt://h:9000",
                                     "/srv/a.mp4")] == [
        "test", "test", "rtmp", "pull", "pull", "file"]
    assert stream_key(push) == "SeCrEtKeY" and stream_key("rtmp://h/live/x") == ""
    assert describe_source("") == "测试画面"
    assert describe_source(push).startswith("RTMP 推流（密钥指纹 ")
    assert "SeCrEtKeY" not in describe_source(push)
    assert describe_source("/srv/a.mp4") == "本地文件 /srv/a.mp4"
    pulled = describe_source("rtmp://user:pw@cam.local/live/secretkey")
    assert pulled.startswith("拉流地址 rtmp://cam.local/")
    assert "pw" not in pulled and "secretkey" not in pulled
    assert "abc" not in describe_source("srt://h:9000?passphrase=abc")


async def test_listing_groups_sessions_as_the_admin_page_shows_them(rig: Rig) -> None:
    made = {}
    for name, start in (("later", START + 7200), ("sooner", START), ("live", START - 60),
                        ("old", START - 86_400), ("recent", START - 3600)):
        made[name] = await rig.sessions.create(replace(FORM, title=name, scheduled_start=start,
                                                       scheduled_end=0.0), actor="boss")
    for name, ended_at in (("old", START - 80_000), ("recent", START - 100)):
        await rig.sessions.start(made[name].id, actor="boss")
        rig.clock.now = ended_at
        await rig.sessions.end(made[name].id, actor="boss")
    await rig.sessions.start(made["live"].id, actor="boss")
    groups = await rig.sessions.listing()
    assert {k: [b.title for b in v] for k, v in groups.items()} == {
        "live": ["live"], "upcoming": ["sooner", "later"], "past": ["recent", "old"]}


async def test_figures_count_a_sessions_questions_by_outcome(rig: Rig) -> None:
    b = await rig.sessions.create(FORM, actor="boss")
    other = await rig.sessions.create(FORM, actor="boss")
    states = ["pending", "queued", "queued", "on_air", "answered", "answered", "replied",
              "declined", "merged", "merged", "merged"]
    for i, state in enumerate(states):
        await rig.store.insert(Question(id=f"q{i}", session_id=b.id, viewer_id="v",
                                        client_id=f"c{i}", text="问题", state=state))
    await rig.store.insert(Question(id="elsewhere", session_id=other.id, viewer_id="v",
                                    client_id="c", text="问题", state="answered"))
    figures = await rig.sessions.figures(b.id)
    assert (figures.asked, figures.answered, figures.replied, figures.declined,
            figures.merged, figures.waiting) == (11, 2, 1, 1, 3, 4)
