"""Broadcast sessions: scheduling, editing, starting and ending, and their figures.

Plain Python over the store. ``Sessions`` validates what an admin enters, audits every
change and reports each one through ``on_change`` so that connected viewers and staff learn
of it at once (the app wires that to the moderation service's event stream).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from store.base import Store
from store.records import AuditEntry, Broadcast, Question, StaffUser, new_id

MAX_TITLE = 60
MAX_DESCRIPTION = 500
STATUS_LABELS = {"scheduled": "即将开始", "live": "直播中", "ended": "已结束"}


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


@dataclass(frozen=True)
class Figures:
    asked: int
    answered: int
    replied: int
    declined: int
    merged: int
    waiting: int


class Sessions:
    def __init__(self, store: Store, on_change: Callable[[Broadcast], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.on_change = on_change
        self.clock = clock

    async def _validate(self, form: SessionForm) -> dict[str, Any]:
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
            if host.role not in ("host", "admin") or host.disabled:
                raise SessionError(f"{host.name} 不是可用的主持人账号。")
        return {
            "title": title, "description": form.description.strip(),
            "scheduled_start": form.scheduled_start, "scheduled_end": form.scheduled_end,
            "host_ids": list(dict.fromkeys(form.host_ids)),
            "presenter": " ".join(form.presenter.split())[:40],
        }

    async def _audit(self, actor: str, action: str, b: Broadcast,
                     before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        await self.store.audit(AuditEntry(
            id=new_id(), at=self.clock(), actor=actor, action=action, target=f"session:{b.id}",
            session_id=b.id, before=before, after=after))

    async def create(self, form: SessionForm, *, actor: str) -> Broadcast:
        values = await self._validate(form)
        now = self.clock()
        b = Broadcast(id=new_id(), created_at=now, updated_at=now, **values)
        await self.store.insert(b)
        await self._audit(actor, "session.create", b, None, {"title": b.title})
        return b

    async def edit(self, session_id: str, form: SessionForm, *, actor: str) -> Broadcast:
        current = await self.store.get(Broadcast, session_id)
        values = await self._validate(form)
        changed = {k: v for k, v in values.items() if getattr(current, k) != v}
        if not changed:
            return current
        updated = await self.store.update(Broadcast, session_id, changed, now=self.clock())
        await self._audit(actor, "session.edit", updated,
                          {k: getattr(current, k) for k in changed}, changed)
        self.on_change(updated)
        return updated

    async def start(self, session_id: str, *, actor: str) -> Broadcast:
        current = await self.store.get(Broadcast, session_id)
        if current.status != "scheduled":
            raise SessionError("只有“即将开始”的直播可以开始。")
        updated = await self.store.update(
            Broadcast, session_id, {"status": "live", "started_at": self.clock()},
            expected_version=current.version, now=self.clock())
        await self._audit(actor, "session.start", updated, {"status": current.status},
                          {"status": "live"})
        self.on_change(updated)
        return updated

    async def end(self, session_id: str, *, actor: str) -> Broadcast:
        current = await self.store.get(Broadcast, session_id)
        if current.status != "live":
            raise SessionError("只有直播中的场次可以结束。")
        updated = await self.store.update(
            Broadcast, session_id, {"status": "ended", "ended_at": self.clock()},
            expected_version=current.version, now=self.clock())
        await self._audit(actor, "session.end", updated, {"status": "live"},
                          {"status": "ended"})
        self.on_change(updated)
        return updated

    async def listing(self) -> dict[str, list[Broadcast]]:
        """Sessions grouped as the admin page shows them."""
        live = await self.store.find(Broadcast, {"status": "live"},
                                     order_by=["scheduled_start"])
        upcoming = await self.store.find(Broadcast, {"status": "scheduled"},
                                         order_by=["scheduled_start"])
        past = await self.store.find(Broadcast, {"status": "ended"}, order_by=["-ended_at"],
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
