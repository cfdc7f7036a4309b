"""Staff actions on a broadcast: a question's transitions, slow mode, viewer restrictions.

Each action is one unit of work. Its writes — the question, the merge target's counter, the
broadcast's on-air pointer, a restriction —, its audit entry and its events (numbered in the
store's outbox, ``live.eventlog``) commit together in one store transaction, or none of them
does. Only after the commit does the board in memory change and do the events go out, so a
failure anywhere inside (``StoreError``) leaves the store, the board and every client exactly
as they were, and the sender is told so (``NotApplied``, the wire's ``unavailable``).

Who may send which action, its fields and how it is audited are declared with the action
(``moderation.actions``); this module carries it out. Actions on one broadcast run one at a
time (a lock per board), so the one-on-air-per-host rule and the version check are decided against
the latest state; a second moderator acting on a question the first has just changed gets
``RefusedConflict`` with the current question, never a silent overwrite. Across nodes the
board may be stale: the question is reloaded when unknown or older than the sender's
version, and the on-air pointer is read and written inside the transaction with its
version (``moderation.board_sync``); a pointer changed by another node meanwhile makes the
action run once more against the fresh session, so only one question is ever on air.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from live.events import RESTRICTION, STAFF, Event
from moderation.audit import AuditTag
from moderation.board import Board, ModerationCore, restriction_view
from moderation.board_sync import apply_session, conflict_pause, transient_conflict
from moderation.questions import (
    ON_AIR,
    Action,
    Merge,
    Refused,
    latest_on_air,
    on_air_after,
    on_air_slots,
    transition,
)
from moderation.views import session_events
from store.base import Store, StoreError, VersionConflict
from store.records import LiveSession, Question, StaffUser, ViewerRestriction

log = logging.getLogger(__name__)


class RefusedConflict(Refused):
    """Someone changed the question first; carries it as it is now."""

    def __init__(self, current: Question) -> None:
        super().__init__("conflict", "这个问题刚被其他人处理过，已显示最新状态，请确认后再操作。")
        self.current = current


class NotApplied(Refused):
    """The store failed during the action: nothing of it was applied (wire: unavailable)."""

    def __init__(self) -> None:
        super().__init__("unavailable",
                         "操作没有生效：数据暂时无法保存，什么都没有改变，请稍后重试。")


def _not_applied(what: str, exc: StoreError) -> NotApplied:
    log.warning("%s not applied, nothing changed: %s", what, exc)
    return NotApplied()


async def _sync_on_air(tx: Store, session: LiveSession, slots: dict[str, str], q: Question,
                       now: float, expected: int | None) -> LiveSession | None:
    """Keep the broadcast's on-air pointers (one per host) in step with the question's
    state; returns the changed broadcast (to apply and announce after the commit), or None."""
    after = on_air_after(slots, q)
    pointer = latest_on_air(after)
    if after == session.on_air_ids and pointer == session.on_air_id:
        return None
    return await tx.update(LiveSession, session.id, {"on_air_ids": after, "on_air_id": pointer},
                           expected_version=expected, now=now)


def _slots(session: LiveSession, board: Board) -> dict[str, str]:
    return on_air_slots(session, {qid: q.host_id for qid, q in board.questions.items()
                                  if q.state == ON_AIR})


class _SessionMoved(Exception):
    """Another node changed the session (its on-air pointer) during the action, or won a
    write conflict with it: nothing was applied, and the action is decided again."""


class StaffActions(ModerationCore):
    async def act(self, session_id: str, user: StaffUser, question_id: str, version: int,
                  build: Callable[[Board, Question], Action], audit: AuditTag) -> Question:
        """Apply one staff action to one question; returns the changed question.

        ``build`` turns the request into the question's ``Action`` against the board as it
        is under the lock (each staff action declares its own, ``moderation.actions``, which
        also checks the sender's role); ``audit`` is the entry's label and target."""
        try:
            return await self._act(session_id, user, question_id, version, build, audit)
        except _SessionMoved:  # decided again against the session as it is now
            await conflict_pause(0)
            return await self._act(session_id, user, question_id, version, build, audit,
                                   last_try=True)

    async def _act(self, session_id: str, user: StaffUser, question_id: str, version: int,
                   build: Callable[[Board, Question], Action], audit: AuditTag,
                   last_try: bool = False) -> Question:
        board = await self.board(session_id)
        async with board.lock:
            q = await self.sync.question(self.store, board, question_id, version)
            if q is None:
                raise Refused("not_found", "找不到这个问题。")
            if q.version != version:
                raise RefusedConflict(q)
            action = build(board, q)
            now = self.clock()
            decided_on: dict[str, str] | None = _slots(board.session, board)
            try:
                changes = transition(q, action, now=now, on_air=decided_on)
            except Refused as exc:
                # A node's board may be stale about the air (another node's host answered):
                # the store's session, read in the transaction, decides.
                if exc.code != "air_busy" or not self.sync.shared:
                    raise
                decided_on, changes = None, {}
            merged: Question | None = None
            read = board.session
            try:
                async with self.store.transaction() as tx:
                    live = read = await self.sync.current_session(tx, board)
                    slots = _slots(live, board)
                    if slots != decided_on:  # another node changed it
                        changes = transition(q, action, now=now, on_air=slots)
                    updated = await tx.update(Question, q.id, changes,
                                              expected_version=q.version, now=now)
                    if isinstance(action, Merge):
                        merged = await tx.increment(Question, action.into.id, "merged_count",
                                                    1, now=now)
                    session = await _sync_on_air(tx, live, slots, updated, now,
                                                 self.sync.pointer_version(live))
                    await self.audit(
                        tx, user.name, audit.action, audit.target, session_id=session_id,
                        at=now, before={k: getattr(q, k) for k in changes}, after=changes)
                    events = []
                    if isinstance(action, Merge) and merged is not None:
                        events.extend(self._events(action.into, merged))
                    events.extend(self._events(q, updated))
                    if session is not None:
                        events.extend(session_events(session))
                    pending = await self.eventlog.append(tx, session_id, events)
            except VersionConflict as exc:
                if isinstance(exc.current, Question) and exc.current.id == q.id:
                    board.put(exc.current)
                    raise RefusedConflict(exc.current) from None
                if isinstance(exc.current, LiveSession) and not last_try:
                    apply_session(board, exc.current)
                    raise _SessionMoved() from None
                raise _not_applied(f"{audit.action} on {audit.target}", exc) from exc
            except StoreError as exc:
                if not last_try and (transient_conflict(exc)
                                     or await self._session_moved(board, read)):
                    raise _SessionMoved() from None  # another node's write won: again
                raise _not_applied(f"{audit.action} on {audit.target}", exc) from exc
            # Committed: only now does the board change.
            board.put(updated)
            if merged is not None:
                board.put(merged)
            if session is not None:
                board.session = session
        self.eventlog.publish(pending)
        for listener in self.on_changed:
            try:
                listener(q, updated)
            except Exception:
                log.exception("question listener %r failed for question %s", listener, q.id)
        if updated.state == "answered" and q.state != "answered":
            await self._answered(updated)
        return updated

    async def _session_moved(self, board: Board, read: LiveSession) -> bool:
        """On a cluster, after a failed transaction: whether another node changed the
        session (its hosts' air) since this action read it — MongoDB then refuses to replay
        the transaction, as what it read has changed. The action is decided once more."""
        if not self.sync.shared:
            return False
        try:
            fresh = await self.store.get(LiveSession, board.session.id)
        except StoreError:
            return False
        if fresh.version == read.version:
            return False
        apply_session(board, fresh)
        return True

    async def _answered(self, question: Question) -> None:
        for listener in self.on_answered:
            try:
                await listener(question)
            except Exception:
                # The answer stands (it is committed and announced). The clip library's
                # reconcile, at the next start, queues the clip this listener missed.
                log.exception("after-answer listener %r failed for question %s; the clip "
                              "library's reconcile at the next start will catch up",
                              listener, question.id)

    async def set_slow_mode(self, session_id: str, user: StaffUser, seconds: int,
                            audit: AuditTag) -> LiveSession:
        return await self.set_session_setting(session_id, user, "slow_mode_seconds", seconds,
                                              0, audit)

    async def set_session_setting(self, session_id: str, user: StaffUser, name: str,
                                  value: Any, default: Any, audit: AuditTag) -> LiveSession:
        """Change one of the session's settings (slow mode, "me too" raising), audited with
        its value before and after, announced to everyone in the session's view."""
        board = await self.board(session_id)
        async with board.lock:
            now = self.clock()
            try:
                async with self.store.transaction() as tx:
                    live = await self.sync.current_session(tx, board)
                    before = live.settings.get(name, default)
                    settings = {**live.settings, name: value}
                    updated = await tx.update(LiveSession, session_id, {"settings": settings},
                                              now=now)
                    await self.audit(tx, user.name, audit.action, audit.target,
                                     session_id=session_id, before={name: before},
                                     after={name: value}, at=now)
                    pending = await self.eventlog.append(tx, session_id,
                                                         session_events(updated))
            except StoreError as exc:
                raise _not_applied(f"{name} on session {session_id}", exc) from exc
            board.session = updated
        self.eventlog.publish(pending)
        return updated

    async def restrict(self, session_id: str, user: StaffUser, viewer_id: str, kind: str,
                       minutes: int, reason: str, audit: AuditTag) -> ViewerRestriction:
        now = self.clock()
        record = ViewerRestriction(
            id=viewer_id, kind=kind, until=now + minutes * 60 if kind == "timeout" else 0.0,
            reason=reason.strip()[:200], by=user.name, session_id=session_id,
            created_at=now, updated_at=now)
        try:
            async with self.store.transaction() as tx:
                await tx.delete(ViewerRestriction, viewer_id)
                await tx.insert(record)
                await self.audit(tx, user.name, audit.action, audit.target,
                                 session_id=session_id, at=now,
                                 after={"until": record.until, "reason": record.reason})
                pending = await self.eventlog.append(
                    tx, session_id, [_restriction_event(restriction_view(record))])
        except StoreError as exc:
            raise _not_applied(f"{kind} of viewer {viewer_id}", exc) from exc
        self.restrictions[viewer_id] = record
        self.eventlog.publish(pending)
        return record

    async def unrestrict(self, session_id: str, user: StaffUser, viewer_id: str,
                         audit: AuditTag) -> None:
        try:
            async with self.store.transaction() as tx:
                if not await tx.delete(ViewerRestriction, viewer_id):
                    raise Refused("not_found", "这位观众没有被限制。")
                await self.audit(tx, user.name, audit.action, audit.target,
                                 session_id=session_id)
                pending = await self.eventlog.append(tx, session_id, [_restriction_event(
                    {"viewer_id": viewer_id, "kind": "none"})])
        except StoreError as exc:
            raise _not_applied(f"unrestricting viewer {viewer_id}", exc) from exc
        self.restrictions.pop(viewer_id, None)
        self.eventlog.publish(pending)


def _restriction_event(view: dict[str, Any]) -> Event:
    return Event(STAFF, RESTRICTION, {"restriction": view})
