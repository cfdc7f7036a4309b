"""Viewer intake: a viewer's question screened, limited and stored; "me too" marks.

A question is acknowledged only after the store has it (``Store.insert_question``, one
atomic write keyed by session, viewer and client id, so a retry returns the stored
question). Viewers' questions do not take a board's lock: staff actions never wait for
them. The limits (``ask_limits``) and restrictions are checked through interfaces that a
cluster shares (``moderation.redis_limits``, ``moderation.board_sync``); a "me too" is
counted once per viewer by the store whichever node takes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from live.eventlog import EventLog, Pending, rows
from moderation.audit import Audit
from moderation.board import Limits
from moderation.board_sync import (
    SESSION_MAX_AGE,
    VIEWER_MAX_AGE,
    apply_question,
    conflict_pause,
    transient_conflict,
)
from moderation.catalog import Catalog
from moderation.filters import TextRejected, normalize_text, screen
from moderation.hints import LaterHints
from moderation.pii import mask_pii
from moderation.questions import ON_AIR, QUEUED, Refused
from moderation.questions import PUBLIC as PUBLIC_STATES
from moderation.ratelimit import LimitsUnavailable, wait_message
from moderation.session_end import SessionEnd
from store.base import Conflict, Store, StoreError
from store.records import MeToo, Question, new_id

log = logging.getLogger(__name__)

MAX_NICKNAME = 20
UNAVAILABLE = "提问服务暂时不可用，请稍后再试。"
UNAVAILABLE_RETRY = 5.0
ME_TOO_FLUSH_SECONDS = 0.3
ME_TOO_ATTEMPTS = 5


class RefusedRetry(Refused):
    """Refused for now: the client may try again after ``retry_after`` seconds."""

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


def clean_nickname(nickname: str) -> str:
    try:
        text = normalize_text(nickname, min_len=1, max_len=200)
    except TextRejected:
        return ""
    return mask_pii(text[:MAX_NICKNAME])[0]


class ViewerIntake(SessionEnd, LaterHints):
    def __init__(self, store: Store, eventlog: EventLog, catalog: Catalog, limits: Limits,
                 clock: Callable[[], float] = time.time, audit: Audit | None = None) -> None:
        super().__init__(store, eventlog, catalog, limits, clock, audit)
        self._me_too_dirty: set[tuple[str, str]] = set()
        self._me_too_timer: asyncio.TimerHandle | None = None
        self._me_too_reads: set[asyncio.Task[None]] = set()

    async def _check_restriction(self, viewer_id: str) -> None:
        await self.sync.restrictions(self.store, self.restrictions)
        r = self.restrictions.get(viewer_id)
        if r is None or not self.restriction_active(r):
            return
        if r.kind == "ban":
            raise Refused("banned", "你已被禁止在直播间提问。")
        wait = r.until - self.clock()
        raise RefusedRetry("timed_out", f"你已被暂时禁言，请 {int(wait) + 1} 秒后再试。", wait)

    async def ask(self, session_id: str, viewer_id: str, client_addr: str, client_id: str,
                  text: str, nickname: str = "") -> tuple[Question, bool]:
        """Screen and store a viewer's question; returns (question, created).

        A retry with a client id already stored returns the stored question at once."""
        board = await self.board(session_id)
        existing = board.by_client.get((viewer_id, client_id))
        if existing is not None:
            return board.questions[existing], False
        await self.sync.refresh_session(self.store, board, SESSION_MAX_AGE)
        if board.session.status == "ended":
            raise Refused("session_ended", "本场直播已结束，欢迎下次再来提问。")
        await self._check_restriction(viewer_id)
        # With the engine, the moderators' hints (the item, a likely duplicate) follow the
        # ack (moderation.hints); without it they are read here, as they always were.
        later = self.item_hints is not None
        try:
            screened = screen(text, terms=self.terms,
                              open_questions=() if later else board.open_texts(),
                              catalog=self.catalog, min_len=self.limits.min_chars,
                              max_len=self.limits.max_chars, vocabulary=self.vocabulary,
                              suggest=not later)
        except TextRejected as exc:
            raise Refused(exc.code, exc.message) from None
        if screened.verdict == "reject":
            raise Refused("blocked", "问题包含不允许发布的内容，未能提交。")
        slow = float(board.session.settings.get("slow_mode_seconds", 0))
        try:
            wait = await self.ask_limits.admit(session_id, viewer_id, client_addr, slow)
        except LimitsUnavailable:
            raise RefusedRetry("unavailable", UNAVAILABLE, UNAVAILABLE_RETRY) from None
        if wait:
            raise RefusedRetry("rate_limited", wait_message(wait), wait)
        flags: dict[str, Any] = {}
        if screened.pii:
            flags["pii"] = screened.pii
        if screened.verdict == "hold":
            flags["held_terms"] = screened.matched_terms
        if screened.duplicate_of:
            flags["duplicate_of"] = screened.duplicate_of
            flags["duplicate_score"] = round(screened.duplicate_score, 2)
        if screened.suggestion is not None:
            flags["suggested_item"] = screened.suggestion.item_id
            flags["suggested_category"] = screened.suggestion.category
        now = self.clock()
        question = Question(
            id=new_id(), session_id=session_id, viewer_id=viewer_id, client_id=client_id,
            text=screened.text, nickname=clean_nickname(nickname), flags=flags,
            created_at=now, updated_at=now,
        )
        stored, created, pending = await self._store_question(question)
        board.put(stored)
        if created:
            self.eventlog.publish(pending)
            self.queue_hints(stored)  # the engine's reading follows the ack (moderation.hints)
            if board.session.status == "ended":  # the session ended while this was stored
                await self.settle_late(stored)
                stored = board.questions[stored.id]
        return stored, created

    async def _store_question(self, question: Question) -> tuple[Question, bool, Pending]:
        """The question and its events in one atomic store operation (a retry's question is
        returned as stored, with no events)."""
        events = self._events(None, question)  # what a new question announces
        try:
            stored, created, seqs = await self.store.insert_question_with_events(
                question, rows(events))
            pending = self.eventlog.numbered(question.session_id, events if created else [],
                                             seqs)
        except Conflict:  # a retry racing this one stored it first
            stored, created = await self.store.insert_question(question)
            pending = Pending(question.session_id)
        return stored, created, pending

    async def me_too(self, session_id: str, viewer_id: str, question_id: str) -> Question:
        board = await self.board(session_id)
        q = await self.sync.question(self.store, board, question_id, 0, VIEWER_MAX_AGE)
        # Questions not shown to the public do not exist as far as other viewers know.
        if q is None or (q.state not in PUBLIC_STATES and q.viewer_id != viewer_id):
            raise Refused("not_found", "找不到这个问题。")
        if q.viewer_id == viewer_id:
            raise Refused("own_question", "这是你自己的问题。")
        if q.state not in (QUEUED, ON_AIR):
            raise Refused("invalid_state", "只能对队列中的问题说“我也想问”。")
        updated = await self._count_me_too(question_id, viewer_id)
        # Keep the count without clobbering a concurrent staff change in memory (the
        # increment leaves the version alone, so staff actions do not conflict with it).
        current = board.questions.get(question_id, updated)
        board.put(updated if updated.version > current.version
                  else replace(current, me_too=updated.me_too))
        self._schedule_me_too_flush(session_id, question_id)
        return board.questions[question_id]

    async def _count_me_too(self, question_id: str, viewer_id: str) -> Question:
        # The mark and the count commit together: a failure leaves neither. Another node
        # counting the same question at the same moment may make this transaction lose a
        # write conflict; nothing was applied then, and it runs again.
        for attempt in range(ME_TOO_ATTEMPTS):
            try:
                async with self.store.transaction() as tx:
                    await tx.insert(MeToo(id=f"{question_id}:{viewer_id}",
                                          question_id=question_id, viewer_id=viewer_id,
                                          created_at=self.clock()))
                    updated = await tx.increment(Question, question_id, "me_too", 1,
                                                 now=self.clock())
                    if updated.state not in (QUEUED, ON_AIR):  # changed on another node
                        raise Refused("invalid_state", "只能对队列中的问题说“我也想问”。")
                return updated
            except Conflict:
                raise Refused("already", "你已经说过“我也想问”了。") from None
            except StoreError as exc:
                if not transient_conflict(exc) or attempt + 1 == ME_TOO_ATTEMPTS:
                    raise
                await conflict_pause(attempt)
        raise AssertionError("unreachable")

    def _schedule_me_too_flush(self, session_id: str, question_id: str) -> None:
        """Coalesce "me too" bursts: one event per question per flush interval, not one per
        click, so a popular question does not flood every viewer's socket."""
        self._me_too_dirty.add((session_id, question_id))
        if self._me_too_timer is None:
            loop = asyncio.get_running_loop()
            self._me_too_timer = loop.call_later(ME_TOO_FLUSH_SECONDS, self._flush_me_too)

    def _flush_me_too(self) -> None:
        self._me_too_timer = None
        dirty, self._me_too_dirty = self._me_too_dirty, set()
        if self.sync.shared:  # other nodes count too: announce the store's counts
            task = asyncio.get_running_loop().create_task(self._reread_me_too(dirty))
            self._me_too_reads.add(task)
            task.add_done_callback(self._me_too_reads.discard)
            return
        self._announce_me_too(dirty)

    async def _reread_me_too(self, dirty: set[tuple[str, str]]) -> None:
        try:
            found = await self.store.find(Question, {"id": sorted(q for _, q in dirty)})
        except StoreError as exc:  # the counts stand; the next "me too" announces them
            log.warning("me-too counts not reread, announced as this node has them: %s", exc)
        else:
            for q in found:
                board = self.boards.get(q.session_id)
                if board is not None:
                    apply_question(board, q)
        self._announce_me_too(dirty)

    def _announce_me_too(self, dirty: set[tuple[str, str]]) -> None:
        for session_id, question_id in sorted(dirty):
            board = self.boards.get(session_id)
            q = board.questions.get(question_id) if board else None
            if q is not None:
                self.eventlog.emit_later(session_id, self._events(q, q))
