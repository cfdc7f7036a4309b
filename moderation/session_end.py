"""What happens to a session's open questions when it ends.

``live.sessions.Sessions.end`` commits the end of a broadcast in one transaction and, inside
it, calls its ``on_end`` hook — ``SessionEnd.session_ending`` here. Every question still
pending, queued or on air gets its outcome in that same transaction
(``moderation.questions.session_end_action``): carried to the next scheduled session (it ends
here as ``carried``, saying where, and a pending copy waits there) or, with none scheduled,
declined with the standard reason. Each outcome is audited with the end. The hook returns
what to do once the transaction has committed — update the boards in memory and publish
the events, which were appended in the same transaction (``live.eventlog``) — so nothing is
announced that the store does not hold.

An ask that passed the "session is live" check just before the end commits can be stored
just after it; ``settle_late`` gives that one question its outcome too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from live.eventlog import Pending
from moderation.board import ModerationCore
from moderation.questions import (
    OPEN,
    Carry,
    action_name,
    carried_copy,
    session_end_action,
    transition,
)
from moderation.views import question_events
from store.base import Store, StoreError
from store.records import LiveSession, Question, new_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    before: Question
    after: Question
    copy: Question | None  # the pending question in the next session, when carried


async def next_scheduled(tx: Store, ended: LiveSession, now: float) -> LiveSession | None:
    """The session open questions are carried to: the earliest scheduled one that has not
    yet been due to start (a scheduled session from the past that nobody started is not a
    promise to anyone)."""
    upcoming = await tx.find(LiveSession, {"status": "scheduled"}, order_by=["scheduled_start"])
    return next((b for b in upcoming if b.id != ended.id and b.scheduled_start >= now), None)


class SessionEnd(ModerationCore):
    async def _settle(self, tx: Store, session: LiveSession, questions: list[Question],
                      actor: str, now: float) -> list[Outcome]:
        target = await next_scheduled(tx, session, now) if questions else None
        outcomes = []
        for q in questions:
            action = session_end_action(target, new_id())
            changes = transition(q, action, now=now)
            updated = await tx.update(Question, q.id, changes, expected_version=q.version,
                                      now=now)
            copy = None
            if isinstance(action, Carry):
                copy = carried_copy(q, action, now)
                await tx.insert(copy)
            await self.audit(tx, actor, f"question.{action_name(action)}", f"question:{q.id}",
                             session_id=session.id, at=now,
                             before={k: getattr(q, k) for k in changes}, after=changes)
            outcomes.append(Outcome(q, updated, copy))
        return outcomes

    async def _append(self, tx: Store, session: LiveSession,
                      outcomes: list[Outcome]) -> list[Pending]:
        """The outcomes' events, in the settling transaction: the askers and staff of this
        session, and of the session questions were carried to."""
        events = [e for o in outcomes for e in question_events(o.before, o.after,
                                                                self.item_names)]
        pending = [await self.eventlog.append(tx, session.id, events)]
        copies: dict[str, list[Question]] = {}
        for o in outcomes:
            if o.copy is not None:
                copies.setdefault(o.copy.session_id, []).append(o.copy)
        for session_id, carried in copies.items():
            pending.append(await self.eventlog.append(tx, session_id, [
                e for copy in carried for e in question_events(None, copy, self.item_names)]))
        return pending

    def _announce(self, session: LiveSession, outcomes: list[Outcome],
                  pending: list[Pending]) -> None:
        """After the commit: the boards in memory, then the askers and staff."""
        board = self.boards.get(session.id)
        if board is not None:
            board.session = session
        for o in outcomes:
            if board is not None:
                board.put(o.after)
            if o.copy is not None and (target := self.boards.get(o.copy.session_id)):
                target.put(o.copy)
        self.eventlog.publish(*pending)

    async def session_ending(self, tx: Store, session: LiveSession,
                             actor: str) -> Callable[[], None]:
        """``live.sessions.EndHook``: settle every open question inside the end's
        transaction; returns what to run once it has committed."""
        now = self.clock()
        questions = await tx.questions_of(session.id, sorted(OPEN))
        questions.sort(key=lambda q: (q.created_at, q.id))
        outcomes = await self._settle(tx, session, questions, actor, now)
        pending = await self._append(tx, session, outcomes)
        return lambda: self._announce(session, outcomes, pending)

    async def settle_late(self, question: Question) -> None:
        """A question stored just after its session ended gets its outcome at once."""
        board = self.boards.get(question.session_id)
        if board is None or board.session.status != "ended":
            return
        async with board.lock:
            current = board.questions.get(question.id, question)
            if current.state not in OPEN:
                return
            try:
                async with self.store.transaction() as tx:
                    outcomes = await self._settle(tx, board.session, [current], "", self.clock())
                    pending = await self._append(tx, board.session, outcomes)
            except StoreError as exc:
                log.warning("question %s, asked as session %s ended, is left open: %s",
                            question.id, question.session_id, exc)
                return
        self._announce(board.session, outcomes, pending)
