"""The understanding engine's hints for moderators, added after a question is acknowledged.

Reading a question (``moderation.understander.Understander.item_hints``: the top items with
their confidences) costs a few milliseconds of the event loop's time, and comparing it with
the open questions for a likely duplicate (``moderation.filters.find_duplicate``) most of
another. A viewer's ack needs
none of it — it means "stored" — so the intake stores the question, acknowledges it, and
queues it here; the hints follow a moment later as an update of the question's flags, with
the staff event that shows them (the keyword suggester's guess instead while the engine is
still being built). At a normal pace the update lands within milliseconds, long before anyone
can act on the question; in a flood the queue is bounded (``BACKLOG``) and a question that
does not fit gets no suggested item — the moderator files it by hand — so a burst of
questions slows neither acks nor moderators. The lane works in slices (``SLICE_QUESTIONS``
questions or ``SLICE_SECONDS`` of reading, whichever comes first) and stores a slice's hints
in one transaction per session, so a busy lane commits, locks and tells the consoles once
per slice, not once per question. Acks come first: while questions wait, the lane rests after
each slice so that it takes at most ``SHARE`` of the loop's time, and a flood's acks the rest.

The update is taken under the board's lock and only if the question is still the version
that was read, and it leaves the version as it was (hints are not a decision): a question a
moderator has acted on meanwhile is left as the moderator made it, and a moderator acting on
the version they saw is never refused because the hints arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from live.eventlog import Pending
from live.events import Event
from moderation.board import Board, ModerationCore
from moderation.filters import find_duplicate
from moderation.suggest import suggest_item
from store.base import StoreError, VersionConflict
from store.records import Question

log = logging.getLogger(__name__)

BACKLOG = 1000
# A slice of the hint lane: read at most this many questions, for at most this long, before
# their hints are stored together and the loop serves acks again.
SLICE_QUESTIONS = 32
SLICE_SECONDS = 0.004
# The share of the event loop's time the lane takes at most while questions wait for it: after
# a slice it rests three times as long as it read, and the acks have the rest.
SHARE = 0.25
rest = asyncio.sleep  # how the lane waits (tests see it)


class LaterHints(ModerationCore):
    """Queues new questions for the engine's hints and applies them one at a time."""

    _hint_queue: deque[Question]
    _hint_task: asyncio.Task[None] | None

    def queue_hints(self, question: Question) -> None:
        if self.item_hints is None:
            return
        if not hasattr(self, "_hint_queue"):
            self._hint_queue = deque()
            self._hint_task = None
        if len(self._hint_queue) >= BACKLOG:
            return  # a flood: this one is filed by hand
        self._hint_queue.append(question)
        if self._hint_task is None or self._hint_task.done():
            self._hint_task = asyncio.create_task(self._apply_hints(), name="item-hints")

    async def hints_settled(self) -> None:
        """Wait until every queued question has its hints (tests, shutdown)."""
        task = getattr(self, "_hint_task", None)
        while task is not None and not task.done():
            await asyncio.shield(task)
            task = self._hint_task

    def stop_hints(self) -> None:
        task = getattr(self, "_hint_task", None)
        if task is not None:
            task.cancel()
        if hasattr(self, "_hint_queue"):
            self._hint_queue.clear()

    async def _apply_hints(self) -> None:
        loop = asyncio.get_running_loop()
        while self._hint_queue:
            # Read a slice's worth of questions back to back, then store their hints in
            # one transaction per session: a flood's hints cost one commit, one lock and
            # one staff frame per slice rather than per question.
            read: dict[str, list[tuple[Question, dict[str, Any]]]] = {}
            started = loop.time()
            for _ in range(SLICE_QUESTIONS):
                if not self._hint_queue:
                    break
                question = self._hint_queue.popleft()
                try:
                    flags = self._read_hints(question)
                except Exception:
                    log.exception("hints for question %s failed; it is filed by hand",
                                  question.id)
                    continue
                if flags is not None:
                    read.setdefault(question.session_id, []).append((question, flags))
                if loop.time() - started >= SLICE_SECONDS:
                    break
            busy = loop.time() - started
            for session_id, hinted in read.items():
                try:
                    await self._store_hints(session_id, hinted)
                except Exception:
                    log.exception("hints for %d questions not stored; they are filed by hand",
                                  len(hinted))
            if self._hint_queue:
                # Acks first: the lane takes at most SHARE of the loop while questions wait.
                await rest(busy * (1 - SHARE) / SHARE)

    def _read_hints(self, question: Question) -> dict[str, Any] | None:
        """The question's flags with the hints added, or None when there is nothing new."""
        hints = self.item_hints
        board = self.boards.get(question.session_id)
        if hints is None or board is None:
            return None
        flags = dict(question.flags)
        hints(question.text, flags)
        duplicate = find_duplicate(question.text, _earlier_open(board, question),
                                   vocabulary=self.vocabulary)
        if duplicate is not None:
            flags["duplicate_of"], score = duplicate
            flags["duplicate_score"] = round(score, 2)
        if "suggested_items" not in flags:  # the engine is not built yet: the keyword guess
            guess = suggest_item(question.text, self.catalog, self.vocabulary)
            if guess is not None:
                flags["suggested_item"] = guess.item_id
                flags["suggested_category"] = guess.category
        return None if flags == question.flags else flags

    async def _store_hints(self, session_id: str,
                           hinted: list[tuple[Question, dict[str, Any]]]) -> None:
        """Store the hints of one session's questions in one transaction, each only if the
        question is still the version that was read; a conflict (another node acted on one)
        stores them one by one instead, so one conflict costs the others nothing."""
        board = self.boards.get(session_id)
        if board is None:
            return
        async with board.lock:
            still = [(board.questions[q.id], q, flags) for q, flags in hinted
                     if q.id in board.questions
                     and board.questions[q.id].version == q.version]
            if not still:
                return
            updated: list[Question] = []
            pending: list[Pending] = []
            try:
                updated, written = await self._write_hints(session_id, still)
                pending.append(written)
            except VersionConflict:  # one of them changed on another node: the others alone
                if len(still) > 1:
                    for one in still:
                        with contextlib.suppress(VersionConflict):
                            more, written = await self._write_hints(session_id, [one])
                            updated += more
                            pending.append(written)
            except StoreError as exc:
                log.warning("hints for %d questions not stored: %s", len(still), exc)
                return
            for question in updated:
                board.put(question)
        self.eventlog.publish(*pending)

    async def _write_hints(self, session_id: str,
                           still: list[tuple[Question, Question, dict[str, Any]]]
                           ) -> tuple[list[Question], Pending]:
        async with self.store.transaction() as tx:
            # Hints are not a decision: the version stays, so a moderator acting on what
            # they saw is not refused as a conflict because the hints came in. One batch:
            # while a block is open, SQLite's writer serves it alone (acks wait), and each
            # operation of a block is a round trip through the busy loop.
            updated = await tx.update_many(
                Question, [(question.id, {"flags": flags}, question.version)
                           for _current, question, flags in still],
                now=self.clock(), bump_version=False)
            events: list[Event] = []
            for (current, _question, _flags), done in zip(still, updated, strict=True):
                events += self._events(current, done)
            pending = await self.eventlog.append(tx, session_id, events)
        return updated, pending


def _earlier_open(board: Board, question: Question) -> list[tuple[str, str]]:
    """The open questions a new one may repeat: those asked before it (so a tie points at
    the original), within the board's window."""
    return [(qid, text) for qid, text in board.open_texts()
            if qid != question.id and (earlier := board.questions.get(qid)) is not None
            and earlier.created_at <= question.created_at]
