"""A broadcast's board, and the state every part of the moderation service shares.

``Board`` holds one broadcast's questions in memory, loaded once from the store and from then
on changed only after the store has committed a change, so that screening a new question
for duplicates or building a snapshot costs no database round trip. ``ModerationCore`` is
the state the viewer intake (``moderation.intake``) and the staff actions
(``moderation.staff_actions``) share: the store, the boards, the blocked terms and viewer
restrictions, the audit service and the event stream.

With several nodes another node may change a session's questions: ``sync``
(``moderation.board_sync``) rereads the store wherever the board may be stale, and
``ask_limits`` are shared through Redis (``moderation.redis_limits``); ``web.app`` sets both
for a cluster. The defaults are the one-process ones.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from live.eventlog import EventLog
from live.events import Event
from moderation.audit import Audit
from moderation.board_sync import VIEWER_MAX_AGE, BoardSync
from moderation.catalog import Catalog
from moderation.filters import BlockedTerm
from moderation.questions import OPEN, me_too_raises, queue_order
from moderation.ratelimit import AskLimits, LocalAskLimits
from moderation.views import question_events
from moderation.vocabulary import shipped_vocabulary
from settings import LiveSettings
from store.base import Store
from store.records import Caption, Clip, LiveSession, Question, ViewerRestriction

# Open questions a new one is compared with for the duplicate hint (the newest ones).
DUPLICATE_WINDOW = 200
# The newest caption lines a viewer's snapshot carries (moderation.captions).
RECENT_CAPTIONS = 3


@dataclass(frozen=True)
class Limits:
    """The [live] settings the service enforces (``Limits.of(settings.live)``)."""

    min_chars: int = LiveSettings.question_min_chars
    max_chars: int = LiveSettings.question_max_chars
    viewer_per_minute: int = LiveSettings.viewer_questions_per_minute
    address_per_minute: int = LiveSettings.address_questions_per_minute
    caption_max_chars: int = LiveSettings.caption_max_chars

    @classmethod
    def of(cls, live: LiveSettings) -> Limits:
        return cls(min_chars=live.question_min_chars, max_chars=live.question_max_chars,
                   viewer_per_minute=live.viewer_questions_per_minute,
                   address_per_minute=live.address_questions_per_minute,
                   caption_max_chars=live.caption_max_chars)


@dataclass
class Board:
    """One broadcast's questions, in memory, mirroring what the store has committed."""

    session: LiveSession
    questions: dict[str, Question] = field(default_factory=dict)
    by_client: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    clips: dict[str, str] = field(default_factory=dict)  # question id -> its published clip
    captions: deque[Caption] = field(default_factory=lambda: deque(maxlen=RECENT_CAPTIONS))

    def put(self, q: Question) -> None:
        self.questions[q.id] = q
        self.by_client[(q.viewer_id, q.client_id)] = q.id

    def queue(self) -> list[Question]:
        """The session's queue in order, by the session's rule (``me_too_raises``)."""
        return queue_order(list(self.questions.values()), self.raises)

    @property
    def raises(self) -> bool:
        """Whether "me too" counts raise questions in this session's queues."""
        return me_too_raises(self.session)

    def open_texts(self, limit: int = DUPLICATE_WINDOW) -> list[tuple[str, str]]:
        """The newest open questions, oldest of them first (so a tie points at the original):
        what a new question is checked against for duplicates. Bounded, so a flood of
        questions cannot make each new one slower."""
        found: list[tuple[str, str]] = []
        for q in reversed(self.questions.values()):
            if q.state in OPEN:
                found.append((q.id, q.text))
                if len(found) >= limit:
                    break
        found.reverse()
        return found


class ModerationCore:
    """The shared state, and the boards loaded on first use."""

    def __init__(self, store: Store, eventlog: EventLog, catalog: Catalog, limits: Limits,
                 clock: Callable[[], float] = time.time, audit: Audit | None = None) -> None:
        self.store = store
        self.eventlog = eventlog  # events appended in each action's transaction (live.eventlog)
        self.catalog = catalog
        self.limits = limits
        self.clock = clock
        self.audit = audit or Audit(clock)
        self.item_names = {item.id: item.name for item in catalog.items}
        self.vocabulary = shipped_vocabulary()  # the app sets the edited word list's
        self.boards: dict[str, Board] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        self.terms: list[BlockedTerm] = []
        self.restrictions: dict[str, ViewerRestriction] = {}
        self.ask_limits: AskLimits = LocalAskLimits(limits.viewer_per_minute,
                                                    limits.address_per_minute, clock=clock)
        self.sync = BoardSync()
        # Listeners told of a question once it is answered, after the change is committed
        # and published: the clip library queues the answer's clip (web.app wires it). A
        # listener's failure is logged and does not undo the answer; what it missed is
        # caught up by ``clips.library.ClipLibrary.reconcile`` (run at every start), which
        # queues a clip for every answered question that has none.
        self.on_answered: list[Callable[[Question], Awaitable[Any]]] = []
        # Listeners told of every committed staff change of a question, (before, after): the
        # understanding engine learns from questions approved under an item.
        self.on_changed: list[Callable[[Question, Question], None]] = []
        # Adds the understanding engine's hints to a new question's flags (text, flags).
        self.item_hints: Callable[[str, dict[str, Any]], None] | None = None

    async def board(self, session_id: str) -> Board:
        found = self.boards.get(session_id)
        if found is not None:
            return found
        lock = self._loading.setdefault(session_id, asyncio.Lock())
        async with lock:
            found = self.boards.get(session_id)
            if found is None:
                session = await self.store.get(LiveSession, session_id)
                found = Board(session)
                for q in await self.store.questions_of(session_id):
                    found.put(q)
                for clip in await self.store.find(Clip, {"session_id": session_id,
                                                         "state": "published"}):
                    if clip.question_id:
                        found.clips[clip.question_id] = clip.id
                for line in await self.store.find(Caption, {"session_id": session_id},
                                                  order_by=["-at"], limit=RECENT_CAPTIONS):
                    found.captions.appendleft(line)
                self.boards[session_id] = found
        return found

    async def synced_board(self, session_id: str, *, staff: bool) -> Board:
        """The board for a snapshot: on a cluster reloaded from the store first (always
        for staff, at most once a second for viewers); the board itself on one process."""
        board = await self.board(session_id)
        await self.sync.refresh(self.store, board, 0.0 if staff else VIEWER_MAX_AGE)
        if staff:
            await self.sync.restrictions(self.store, self.restrictions, 0.0)
        return board

    def restriction_active(self, r: ViewerRestriction) -> bool:
        return r.kind == "ban" or r.until > self.clock()

    def _events(self, before: Question | None, after: Question) -> list[Event]:
        return question_events(before, after, self.item_names)


def restriction_view(r: ViewerRestriction) -> dict[str, Any]:
    return {"viewer_id": r.id, "kind": r.kind, "until": r.until, "reason": r.reason,
            "by": r.by}
