"""Keeping a node's boards (``moderation.board.Board``) and restriction list right when other
nodes change the same sessions.

One process (``BoardSync``): the board is changed only after this process's own commits, so
it is always current and every method here costs nothing.

A cluster (``StoreBoardSync``): another node may have asked, changed or put on air a
question this node has never seen, changed the session (slow mode, ended) or banned a viewer.
The store is the record, so this reads it, never relying on events arriving:

- a staff action naming a question the board lacks, or a newer version than the board's,
  reloads the session's questions first (``question``);
- the on-air pointer is read inside the action's transaction and written with the version
  read (``current_session``, ``pointer_version``), so two nodes putting two questions on air
  at once cannot both succeed: the loser's transaction conflicts and its action is retried
  once against the fresh session (``moderation.staff_actions``);
- a staff snapshot reloads the board first (max age 0), a viewer snapshot or an unknown
  question in a viewer's "me too" at most once a second (``VIEWER_MAX_AGE``), and asking
  rereads the session (status, slow mode) at most once a second (``SESSION_MAX_AGE``);
- restrictions are reread from the store when older than ``RESTRICTIONS_MAX_AGE`` before
  a question is checked against them: a ban or timeout applied on another node holds here
  within that time.

A refresh never makes the board older: a question is replaced only by a newer version (on
an equal version the counters, which move without a version, take the larger value and the
hints in the flags are added), the
session only by the same or a newer version. Concurrent callers share one reload.

Two nodes writing the same record in two MongoDB transactions at once make one of them
fail with a transient write conflict (one node runs its transactions one at a time, so it
never sees one): "me too" and staff actions run such a transaction again
(``transient_conflict``), a few times for "me too", once for a staff action.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from store.base import Store
from store.records import LiveSession, Question, ViewerRestriction

if TYPE_CHECKING:  # moderation.board builds its sync from here
    from moderation.board import Board

SESSION_MAX_AGE = 1.0
VIEWER_MAX_AGE = 1.0
RESTRICTIONS_MAX_AGE = 0.5


class BoardSync:
    """One process: the board is always current (the module docstring)."""

    shared = False

    async def refresh(self, store: Store, board: Board, max_age: float) -> None:
        """Reload the session and its questions unless done less than ``max_age`` ago."""

    async def refresh_session(self, store: Store, board: Board, max_age: float) -> None:
        """Reread the session record unless done less than ``max_age`` ago."""

    async def question(self, store: Store, board: Board, question_id: str, version: int,
                       max_age: float = 0.0) -> Question | None:
        """The question as the board has it, reloading first when it is unknown here or
        older than ``version``."""
        return board.questions.get(question_id)

    async def current_session(self, tx: Store, board: Board) -> LiveSession:
        """The session as the action's transaction must see it (its on-air pointer)."""
        return board.session

    def pointer_version(self, session: LiveSession) -> int | None:
        """The version the on-air pointer's update expects (None: no check)."""
        return None

    async def restrictions(self, store: Store, records: dict[str, ViewerRestriction],
                           max_age: float = RESTRICTIONS_MAX_AGE) -> None:
        """Bring ``records`` (viewer id → restriction) up to date with the store."""


@dataclass
class _Stamp:
    """When a board's last reloads started (monotonic), and the lock that shares one."""

    questions: float = -1e18
    session: float = -1e18
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class StoreBoardSync(BoardSync):
    """A cluster: the store is read whenever the board may be stale (module docstring)."""

    shared = True

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._stamps: dict[str, _Stamp] = {}
        self._restrictions_read = -1e18
        self._restrictions_lock = asyncio.Lock()

    def _stamp(self, session_id: str) -> _Stamp:
        found = self._stamps.get(session_id)
        if found is None:
            found = self._stamps[session_id] = _Stamp()
        return found

    async def refresh(self, store: Store, board: Board, max_age: float) -> None:
        asked = self.clock()
        stamp = self._stamp(board.session.id)
        if stamp.questions > asked - max_age:
            return
        async with stamp.lock:
            # A reload that started after this call began covers it.
            if stamp.questions > asked - max_age:
                return
            started = self.clock()
            session = await store.get(LiveSession, board.session.id)
            questions = await store.questions_of(board.session.id)
            apply_session(board, session)
            for q in questions:
                apply_question(board, q)
            stamp.questions = stamp.session = started

    async def refresh_session(self, store: Store, board: Board, max_age: float) -> None:
        asked = self.clock()
        stamp = self._stamp(board.session.id)
        if stamp.session > asked - max_age:
            return
        async with stamp.lock:
            if stamp.session > asked - max_age:
                return
            started = self.clock()
            apply_session(board, await store.get(LiveSession, board.session.id))
            stamp.session = started

    async def question(self, store: Store, board: Board, question_id: str, version: int,
                       max_age: float = 0.0) -> Question | None:
        q = board.questions.get(question_id)
        if q is None or q.version < version:
            await self.refresh(store, board, max_age)
            q = board.questions.get(question_id)
        return q

    async def current_session(self, tx: Store, board: Board) -> LiveSession:
        session = await tx.get(LiveSession, board.session.id)
        apply_session(board, session)
        return session

    def pointer_version(self, session: LiveSession) -> int | None:
        return session.version

    async def restrictions(self, store: Store, records: dict[str, ViewerRestriction],
                           max_age: float = RESTRICTIONS_MAX_AGE) -> None:
        asked = self.clock()
        if self._restrictions_read > asked - max_age:
            return
        async with self._restrictions_lock:
            if self._restrictions_read > asked - max_age:
                return
            started = self.clock()
            found = await store.find(ViewerRestriction, order_by=["created_at"])
            records.clear()
            records.update((r.id, r) for r in found)
            self._restrictions_read = started


def transient_conflict(exc: BaseException) -> bool:
    """A transaction that lost a write conflict to another node's (MongoDB's
    ``TransientTransactionError``): nothing was applied, and running it again is safe.
    One node never meets it (its transactions run one at a time)."""
    cause = exc.__cause__
    has_label = getattr(cause, "has_error_label", None)
    return callable(has_label) and bool(has_label("TransientTransactionError"))


async def conflict_pause(attempt: int) -> None:
    """A short random pause before running a conflicted transaction again, so two nodes
    retrying the same write do not collide in step."""
    await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))  # noqa: S311 - jitter


def apply_session(board: Board, session: LiveSession) -> None:
    if session.version >= board.session.version:
        board.session = session


def apply_question(board: Board, q: Question) -> None:
    """Put ``q`` on the board unless the board's copy is newer."""
    current = board.questions.get(q.id)
    if current is None or q.version > current.version:
        board.put(q)
    elif q.version == current.version:
        # What moves without a version: the counters, and the engine's hints in the flags
        # (moderation.hints). Take the store's, never losing what this board has.
        merged = replace(current, me_too=max(q.me_too, current.me_too),
                         merged_count=max(q.merged_count, current.merged_count),
                         flags={**current.flags, **q.flags})
        if merged != current:
            board.put(merged)
