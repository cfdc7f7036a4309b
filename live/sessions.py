"""LiveSession sessions: scheduling, editing, starting and ending, and their figures.

Plain Python over the store. ``Sessions`` validates what an admin enters, commits every
change in one transaction with its audit entry, and after the commit reports it to its
``listeners`` so that connected viewers and staff learn of it at once (the app wires that to
the moderation service's event stream, and to the recordings). The audit entry is built by
the audit service (``moderation.audit.Audit``), which this package, below moderation in the
layers, receives as its ``audit`` callable (``AuditWriter``).

The video source is chosen from four kinds (``SOURCE_KINDS``) and stored as the ffmpeg source
text ``live.recorder_commands.Source.parse`` reads: "" for the test picture,
``listen:rtmp://<bind>:<port>/live/<key>`` for an RTMP push (the key generated here, never
typed), a pull URL, or a file path. It can be changed only while the session is not live. The
stream key is a secret: the audit log records a fingerprint of it, never the key.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from live.recorder_commands import BROWSER_SOURCE, Source
from store.base import Store, VersionConflict
from store.records import HOSTS, LiveSession, Question, StaffUser, new_id

MAX_TITLE = 60
MAX_DESCRIPTION = 500
STATUS_LABELS = {"scheduled": "即将开始", "live": "直播中", "ended": "已结束"}
SOURCE_KINDS = {"test": "测试画面", "rtmp": "RTMP 推流", "pull": "拉流地址", "file": "本地文件",
                "browser": "手机直播"}
PULL_SCHEMES = ("rtmp", "rtmps", "srt", "http", "https", "udp")
MAX_SOURCE = 500


class AuditWriter(Protocol):
    """Writes one audit entry through ``store`` (the change's transaction)."""

    async def __call__(
        self, store: Store, actor: str, action: str, target: str, *,
        session_id: str = "", before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None, at: float | None = None,
    ) -> object: ...


class EndHook(Protocol):
    """Called inside the transaction that ends ``session`` (its writes commit with the end,
    or not at all); returns what to run once the end has committed. The moderation service
    settles the session's open questions this way (``moderation.session_end``)."""

    async def __call__(self, tx: Store, session: LiveSession,
                       actor: str) -> Callable[[], None]: ...


class SessionError(Exception):
    """A request about a broadcast that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class SessionForm:
    title: str
    description: str = ""
    scheduled_start: float = 0.0
    scheduled_end: float = 0.0
    host_ids: tuple[str, ...] = ()
    presenter: str = ""
    # The video source: one of SOURCE_KINDS, or "" to keep the current one (the test picture
    # for a new session). ``source_url`` is read for "pull", ``source_path`` for "file";
    # ``new_key`` replaces the stream key of an RTMP push.
    source_kind: str = ""
    source_url: str = ""
    source_path: str = ""
    new_key: bool = False


def source_kind(source: str) -> str:
    """Which of the form's choices a stored source text is."""
    text = source.strip()
    if not text:
        return "test"
    if text == BROWSER_SOURCE:
        return "browser"
    if text.startswith("listen:rtmp://"):
        return "rtmp"
    if "://" in text:
        return "pull"  # also a listen:srt:// source set outside the form
    return "file"


def stream_key(source: str) -> str:
    """The stream key of an RTMP push source ("" for other sources)."""
    if source_kind(source) != "rtmp":
        return ""
    return urlsplit(source.strip().removeprefix("listen:")).path.rsplit("/", 1)[-1]


def new_stream_key() -> str:
    return secrets.token_urlsafe(18)


def describe_source(source: str) -> str:
    """The source for the audit log and the pages: no stream key, no credentials."""
    kind = source_kind(source)
    if kind in ("test", "browser"):
        return SOURCE_KINDS[kind]
    if kind == "rtmp":
        digest = hashlib.sha256(stream_key(source).encode()).hexdigest()[:8]
        return f"{SOURCE_KINDS['rtmp']}（密钥指纹 {digest}）"
    if kind == "file":
        return f"{SOURCE_KINDS['file']} {source.strip()}"
    try:
        label = Source.parse(source).label.removeprefix("pull ").removeprefix("listen ")
    except ValueError:
        label = "（无法识别）"
    return f"{SOURCE_KINDS['pull']} {label}"


def _plain(text: str, what: str, *, spaces: bool = False) -> str:
    text = text.strip()
    if len(text) > MAX_SOURCE:
        raise SessionError(f"{what}最多 {MAX_SOURCE} 个字符。")
    if any(ord(c) < 32 or ord(c) == 127 or (c.isspace() and not (spaces and c == " "))
           for c in text):
        raise SessionError(f"{what}不能包含{'' if spaces else '空格或'}控制字符。")
    return text


def check_pull_url(text: str) -> str:
    """A URL for ffmpeg to pull from, or SessionError."""
    url = _plain(text, "拉流地址")
    if not url:
        raise SessionError("请填写拉流地址。")
    if url.lower().startswith("listen:"):
        raise SessionError("要让服务器等待推流，请选择“RTMP 推流”，推流地址和密钥由系统生成。")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SessionError("拉流地址格式不正确。") from None
    if parts.scheme not in PULL_SCHEMES or "://" not in url:
        raise SessionError("拉流地址只支持 " + "、".join(f"{s}://" for s in PULL_SCHEMES)
                           + "。")
    if not parts.hostname or port == 0:
        raise SessionError("拉流地址缺少主机名或端口不正确。")
    return url


async def check_file(text: str) -> str:
    """A local file for ffmpeg to read, or SessionError. It must exist now (it is read when
    the session goes live)."""
    path = _plain(text, "文件路径", spaces=True).removeprefix("file:")
    if not path:
        raise SessionError("请填写文件路径。")
    if "://" in path or path.startswith("listen:"):
        raise SessionError("这是一个网址：网络视频源请选择“拉流地址”。")
    if not os.path.isabs(path):
        raise SessionError("请填写以 / 开头的完整文件路径。")
    if not await asyncio.to_thread(os.path.isfile, path):
        raise SessionError("服务器上找不到这个文件，或它不是普通文件。")
    return path


@dataclass(frozen=True)
class Figures:
    asked: int
    answered: int
    replied: int
    declined: int
    merged: int
    waiting: int


class Sessions:
    def __init__(self, store: Store, on_change: Callable[[LiveSession], None],
                 clock: Callable[[], float] = time.time, *, audit: AuditWriter,
                 rtmp_listen: str = "rtmp://127.0.0.1:1935/live",
                 on_end: EndHook | None = None) -> None:
        self.store = store
        self.audit = audit
        self.on_end = on_end
        # Told of every change, in order: the moderation service (viewers and staff learn
        # of it), then whoever else joins (the recordings, in web.app).
        self.listeners: list[Callable[[LiveSession], None]] = [on_change]
        self.clock = clock
        # Where an RTMP push session's ffmpeg listens, without the key (see
        # live.recordings.rtmp_listen_base).
        self.rtmp_listen = rtmp_listen

    async def _source(self, form: SessionForm, current: LiveSession | None) -> str:
        old = current.source if current is not None else ""
        kind = form.source_kind
        if not kind:
            return old
        if kind == "test":
            return ""
        if kind == "browser":  # a host's phone sends the picture (live.browser_ingest)
            return BROWSER_SOURCE
        if kind == "rtmp":
            key = "" if form.new_key else stream_key(old)
            return f"listen:{self.rtmp_listen}/{key or new_stream_key()}"
        # A source saved earlier is kept as it is (a file that has since gone is reported
        # by the recorder, not by every later edit of the title).
        if kind == "pull":
            unchanged = source_kind(old) == "pull" and form.source_url.strip() == old
            return old if unchanged else check_pull_url(form.source_url)
        if kind == "file":
            unchanged = source_kind(old) == "file" and form.source_path.strip() == old
            return old if unchanged else await check_file(form.source_path)
        raise SessionError("未知的视频源类型。")

    def _changed(self, session: LiveSession) -> None:
        for listener in self.listeners:
            listener(session)

    async def _validate(self, form: SessionForm,
                        current: LiveSession | None = None) -> dict[str, Any]:
        title = " ".join(form.title.split())
        if not title:
            raise SessionError("请填写直播标题。")
        if len(title) > MAX_TITLE:
            raise SessionError(f"标题最多 {MAX_TITLE} 字。")
        if len(form.description) > MAX_DESCRIPTION:
            raise SessionError(f"简介最多 {MAX_DESCRIPTION} 字。")
        if not form.scheduled_start:
            raise SessionError("请填写计划开始时间。")
        if form.scheduled_end and form.scheduled_end <= form.scheduled_start:
            raise SessionError("结束时间必须晚于开始时间。")
        for host_id in form.host_ids:
            try:
                host = await self.store.get(StaffUser, host_id)
            except Exception:
                raise SessionError("所选主持人账号不存在。") from None
            if host.role not in HOSTS or host.disabled:
                raise SessionError(f"{host.name} 不是可用的主持人账号。")
        return {
            "title": title, "description": form.description.strip(),
            "scheduled_start": form.scheduled_start, "scheduled_end": form.scheduled_end,
            "host_ids": list(dict.fromkeys(form.host_ids)),
            "presenter": " ".join(form.presenter.split())[:40],
            "source": await self._source(form, current),
        }

    async def _audit(self, tx: Store, actor: str, action: str, b: LiveSession,
                     before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        await self.audit(tx, actor, action, f"session:{b.id}", session_id=b.id, before=before,
                         after=after)

    async def create(self, form: SessionForm, *, actor: str) -> LiveSession:
        values = await self._validate(form)
        now = self.clock()
        b = LiveSession(id=new_id(), created_at=now, updated_at=now, **values)
        async with self.store.transaction() as tx:
            await tx.insert(b)
            await self._audit(tx, actor, "session.create", b, None, {"title": b.title})
        return b

    async def edit(self, session_id: str, form: SessionForm, *, actor: str) -> LiveSession:
        current = await self.store.get(LiveSession, session_id)
        values = await self._validate(form, current)  # may read a file: before the commit
        changed = {k: v for k, v in values.items() if getattr(current, k) != v}
        if not changed:
            return current
        if "source" in changed and current.status == "live":
            raise SessionError("直播进行中不能更换视频源：请在开播前或结束后修改。")
        before = {k: getattr(current, k) for k in changed}
        after = dict(changed)
        if "source" in changed:  # the stream key stays out of the audit log
            before["source"] = describe_source(current.source)
            after["source"] = describe_source(changed["source"])
        try:
            async with self.store.transaction() as tx:
                updated = await tx.update(LiveSession, session_id, changed,
                                          expected_version=current.version, now=self.clock())
                await self._audit(tx, actor, "session.edit", updated, before, after)
        except VersionConflict:
            raise SessionError("别人刚刚修改过这场直播，请重新打开后再改。") from None
        self._changed(updated)
        return updated

    async def _set_status(self, session_id: str, status: str, *, actor: str) -> LiveSession:
        """Start (scheduled → live) or end (live → ended) a session, audited."""
        frm, stamp, action, refusal = {
            "live": ("scheduled", "started_at", "session.start", "只有“即将开始”的直播可以开始。"),
            "ended": ("live", "ended_at", "session.end", "只有直播中的场次可以结束。"),
        }[status]
        changes: dict[str, Any] = {"status": status, stamp: self.clock()}
        if status == "ended":
            # whatever was on air gets its outcome (on_end)
            changes["on_air_id"], changes["on_air_ids"] = "", {}
        after_commit: Callable[[], None] | None = None
        try:
            async with self.store.transaction() as tx:
                current = await tx.get(LiveSession, session_id)
                if current.status != frm:
                    raise SessionError(refusal)
                updated = await tx.update(LiveSession, session_id, changes,
                                          expected_version=current.version, now=self.clock())
                await self._audit(tx, actor, action, updated, {"status": frm},
                                  {"status": status})
                if status == "ended" and self.on_end is not None:
                    after_commit = await self.on_end(tx, updated, actor)
        except VersionConflict:
            raise SessionError("别人刚刚修改过这场直播，请刷新后再试。") from None
        if after_commit is not None:
            after_commit()
        self._changed(updated)
        return updated

    async def start(self, session_id: str, *, actor: str) -> LiveSession:
        return await self._set_status(session_id, "live", actor=actor)

    async def end(self, session_id: str, *, actor: str) -> LiveSession:
        return await self._set_status(session_id, "ended", actor=actor)

    async def listing(self) -> dict[str, list[LiveSession]]:
        """Sessions grouped as the admin page shows them."""
        live = await self.store.find(LiveSession, {"status": "live"},
                                     order_by=["scheduled_start"])
        upcoming = await self.store.find(LiveSession, {"status": "scheduled"},
                                         order_by=["scheduled_start"])
        past = await self.store.find(LiveSession, {"status": "ended"}, order_by=["-ended_at"],
                                     limit=100)
        return {"live": live, "upcoming": upcoming, "past": past}

    async def figures(self, session_id: str) -> Figures:
        count = self.store.count

        async def n(state: str | list[str]) -> int:
            return await count(Question, {"session_id": session_id, "state": state})

        return Figures(
            asked=await count(Question, {"session_id": session_id}),
            answered=await n("answered"), replied=await n("replied"),
            declined=await n("declined"), merged=await n("merged"),
            waiting=await n(["pending", "queued", "on_air"]),
        )
