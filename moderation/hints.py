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
questions slows neither acks nor moderators.

The update is taken under the board's lock and only if the question is still the version
that was read, and it leaves the version as it was (hints are not a decision): a question a
moderator has acted on meanwhile is left as the moderator made it, and a moderator acting on
the version they saw is never refused because the hints arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from moderation.board import Board, ModerationCore
from moderation.filters import find_duplicate
from moderation.suggest import suggest_item
from store.base import StoreError, VersionConflict
from store.records import Question

log = logging.getLogger(__name__)

BACKLOG = 1000


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
        while self._hint_queue:
            question = self._hint_queue.popleft()
            try:
                await self._hint(question)
            except Exception:
                log.exception("hints for question %s failed; it is filed by hand",
                              question.id)
            await asyncio.sleep(0)  # acks and frames go out between two readings

    async def _hint(self, question: Question) -> None:
        hints = self.item_hints
        board = self.boards.get(question.session_id)
        if hints is None or board is None:
            return
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
        if flags == question.flags:
            return
        async with board.lock:
            current = board.questions.get(question.id)
            if current is None or current.version != question.version:
                return  # acted on meanwhile: the moderator's decision stands
            try:
                async with self.store.transaction() as tx:
                    # Hints are not a decision: the version stays, so a moderator acting on
                    # what they saw is not refused as a conflict because the hints came in.
                    updated = await tx.update(Question, question.id, {"flags": flags},
                                              expected_version=question.version,
                                              now=self.clock(), bump_version=False)
                    pending = await self.eventlog.append(tx, question.session_id,
                                                         self._events(current, updated))
            except VersionConflict:
                return
            except StoreError as exc:
                log.warning("hints for question %s not stored: %s", question.id, exc)
                return
            board.put(updated)
        self.eventlog.publish(pending)


def _earlier_open(board: Board, question: Question) -> list[tuple[str, str]]:
    """The open questions a new one may repeat: those asked before it (so a tie points at
    the original), within the board's window."""
    return [(qid, text) for qid, text in board.open_texts()
            if qid != question.id and (earlier := board.questions.get(qid)) is not None
            and earlier.created_at <= question.created_at]
