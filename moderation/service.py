"""The moderation service: questions in, staff actions, events out.

``Moderation`` keeps an in-memory board per broadcast (its questions, loaded once from the
store, then written through), so that screening a new question for duplicates or building a
snapshot costs no database round trip. Every change goes store-first: a question is
acknowledged, and an action's event published, only after the store has committed it.

Staff actions on one broadcast run one at a time (a lock per broadcast), so the one-on-air
rule and the version check are decided against the latest state; a second moderator acting
on a question the first has just changed gets ``Refused("conflict")`` with the current
question, never a silent overwrite. Viewers' questions do not take that lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from live.hub import PUBLIC, Event, Publish
from moderation.catalog import Catalog
from moderation.filters import BlockedTerm, TextRejected, normalize_text, screen
from moderation.pii import mask_pii
from moderation.questions import (
    FINAL,
    ON_AIR,
    OPEN,
    QUEUED,
    Action,
    Merge,
    Refused,
    queue_order,
    transition,
)
from moderation.questions import PUBLIC as PUBLIC_STATES
from moderation.ratelimit import RateLimiter, SlowMode, wait_message
from moderation.views import (
    owner_view,
    public_view,
    question_events,
    session_events,
    session_view,
    staff_view,
)
from settings import LiveSettings
from store.base import Conflict, Store, VersionConflict
from store.records import (
    AuditEntry,
    Broadcast,
    Clip,
    MeToo,
    Question,
    ReasonTemplate,
    StaffUser,
    TermRule,
    ViewerRestriction,
    new_id,
)

log = logging.getLogger(__name__)
MAX_NICKNAME = 20
# Open questions a new one is compared with for the duplicate hint (the newest ones).
DUPLICATE_WINDOW = 200
DEFAULT_REASONS = (
    "与本场直播的主题无关，欢迎拨打 122 或到车管所窗口咨询。",
    "问题涉及您个人的具体案件，需要核实身份，请到窗口或拨打 122 办理。",
    "问题描述不够清楚，请补充关键信息（如车型、业务类型）后重新提问。",
    "本场已经解答过相同的问题，请查看已解答列表或小贴士视频。",
    "内容不文明或含有不实信息，未予采用。",
)
ME_TOO_FLUSH_SECONDS = 0.3


@dataclass(frozen=True)
class Limits:
    """The [live] settings the service enforces (``Limits.of(settings.live)``)."""

    min_chars: int = LiveSettings.question_min_chars
    max_chars: int = LiveSettings.question_max_chars
    viewer_per_minute: int = LiveSettings.viewer_questions_per_minute
    address_per_minute: int = LiveSettings.address_questions_per_minute

    @classmethod
    def of(cls, live: LiveSettings) -> Limits:
        return cls(min_chars=live.question_min_chars, max_chars=live.question_max_chars,
                   viewer_per_minute=live.viewer_questions_per_minute,
                   address_per_minute=live.address_questions_per_minute)


class AuditTag(NamedTuple):
    """How a staff action is written to the audit log: its label and target, as declared
    with the action (``moderation.actions``)."""

    action: str
    target: str


@dataclass
class Board:
    """One broadcast's questions, in memory, mirroring the store."""

    session: Broadcast
    questions: dict[str, Question] = field(default_factory=dict)
    by_client: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    slow_mode: SlowMode | None = None
    clips: dict[str, str] = field(default_factory=dict)  # question id -> its published clip

    def put(self, q: Question) -> None:
        self.questions[q.id] = q
        self.by_client[(q.viewer_id, q.client_id)] = q.id

    def queue(self) -> list[Question]:
        return queue_order(list(self.questions.values()))

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


class Moderation:
    def __init__(self, store: Store, publish: Publish, catalog: Catalog, limits: Limits,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.publish = publish
        self.catalog = catalog
        self.limits = limits
        self.clock = clock
        self.item_names = {item.id: item.name for item in catalog.items}
        self.boards: dict[str, Board] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        self.per_viewer = RateLimiter(limits.viewer_per_minute, 60.0, clock=clock)
        self.per_address = RateLimiter(limits.address_per_minute, 60.0, clock=clock)
        self.terms: list[BlockedTerm] = []
        self.restrictions: dict[str, ViewerRestriction] = {}
        self._me_too_dirty: set[tuple[str, str]] = set()
        self._me_too_timer: asyncio.TimerHandle | None = None
        # Called (awaited) after a question is marked answered and the change is stored and
        # published: the clip library queues the answer's clip. A failing hook is logged;
        # the clip library's reconcile at start catches what it missed.
        self.on_answered: list[Callable[[Question], Awaitable[Any]]] = []

    def set_catalog(self, catalog: Catalog) -> None:
        """Use an edited service catalog for suggestions and approvals from now on."""
        self.catalog = catalog
        self.item_names = {item.id: item.name for item in catalog.items}

    async def start(self) -> None:
        """Load what every question is checked against: blocked terms, restrictions."""
        await self.reload_terms()
        for r in await self.store.find(ViewerRestriction, order_by=["created_at"]):
            self.restrictions[r.id] = r

    async def reload_terms(self) -> None:
        rules = await self.store.find(TermRule, order_by=["term"])
        self.terms = [BlockedTerm(r.term, "reject" if r.action == "reject" else "hold")
                      for r in rules]

    # --- boards -----------------------------------------------------------------------

    async def board(self, session_id: str) -> Board:
        found = self.boards.get(session_id)
        if found is not None:
            return found
        lock = self._loading.setdefault(session_id, asyncio.Lock())
        async with lock:
            found = self.boards.get(session_id)
            if found is None:
                session = await self.store.get(Broadcast, session_id)
                found = Board(session)
                found.slow_mode = SlowMode(int(session.settings.get("slow_mode_seconds", 0)),
                                           clock=self.clock)
                for q in await self.store.questions_of(session_id):
                    found.put(q)
                for clip in await self.store.find(Clip, {"session_id": session_id,
                                                         "state": "published"}):
                    if clip.question_id:
                        found.clips[clip.question_id] = clip.id
                self.boards[session_id] = found
        return found

    def session_changed(self, session: Broadcast) -> None:
        """Tell viewers and staff about a changed broadcast (started, ended, edited)."""
        board = self.boards.get(session.id)
        if board is not None:
            board.session = session
        self.publish(session.id, session_events(session))

    def clip_changed(self, clip: Clip) -> None:
        """Keep the answered questions' links to their published clips current, and tell
        the session's viewers (the asker follows an answer to its clip)."""
        if not clip.question_id:
            return
        board = self.boards.get(clip.session_id)
        published = clip.state == "published"
        if board is not None:
            if published:
                board.clips[clip.question_id] = clip.id
            else:
                board.clips.pop(clip.question_id, None)
        self.publish(clip.session_id, [Event(PUBLIC, "clip", {
            "question_id": clip.question_id, "clip_id": clip.id if published else "",
            "url": f"/clips/{clip.id}" if published else "",
            "title": clip.title if published else ""})])

    def _emit(self, before: Question | None, after: Question) -> None:
        self.publish(after.session_id, question_events(before, after, self.item_names))

    # --- snapshots --------------------------------------------------------------------

    def viewer_snapshot(self, board: Board, viewer_id: str) -> dict[str, Any]:
        public = [q for q in board.questions.values() if q.state in (QUEUED, ON_AIR)]
        answered = sorted((q for q in board.questions.values() if q.state == "answered"),
                          key=lambda q: -q.answered_at)
        mine = [q for q in board.questions.values() if q.viewer_id == viewer_id]
        return {
            "session": session_view(board.session),
            "questions": [public_view(q, self.item_names) for q in public + answered],
            "mine": [owner_view(q, self.item_names) for q in mine],
            "clips": {qid: f"/clips/{cid}" for qid, cid in board.clips.items()},
        }

    def staff_snapshot(self, board: Board) -> dict[str, Any]:
        open_first = sorted(board.questions.values(),
                            key=lambda q: (q.state in FINAL, -q.created_at))
        return {
            "session": session_view(board.session),
            "questions": [staff_view(q, self.item_names) for q in open_first[:500]],
            "restrictions": [_restriction_view(r) for r in self.restrictions.values()
                             if self._restriction_active(r)],
        }

    # --- viewers ----------------------------------------------------------------------

    def _restriction_active(self, r: ViewerRestriction) -> bool:
        return r.kind == "ban" or r.until > self.clock()

    def _check_restriction(self, viewer_id: str) -> None:
        r = self.restrictions.get(viewer_id)
        if r is None or not self._restriction_active(r):
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
        if board.session.status == "ended":
            raise Refused("session_ended", "本场直播已结束，欢迎下次再来提问。")
        self._check_restriction(viewer_id)
        try:
            screened = screen(text, terms=self.terms, open_questions=board.open_texts(),
                              catalog=self.catalog, min_len=self.limits.min_chars,
                              max_len=self.limits.max_chars)
        except TextRejected as exc:
            raise Refused(exc.code, exc.message) from None
        if screened.verdict == "reject":
            raise Refused("blocked", "问题包含不允许发布的内容，未能提交。")
        assert board.slow_mode is not None
        limits = ((board.slow_mode, viewer_id), (self.per_viewer, viewer_id),
                  (self.per_address, client_addr))
        # Ask every limiter first and record only when all allow: a refusal by one must
        # not count as a question against the others.
        wait = max(limiter.check(key, record=False) for limiter, key in limits)
        if wait:
            raise RefusedRetry("rate_limited", wait_message(wait), wait)
        for limiter, key in limits:
            limiter.check(key)
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
        stored, created = await self.store.insert_question(question)
        board.put(stored)
        if created:
            self._emit(None, stored)
        return stored, created

    async def me_too(self, session_id: str, viewer_id: str, question_id: str) -> Question:
        board = await self.board(session_id)
        q = board.questions.get(question_id)
        # Questions not shown to the public do not exist as far as other viewers know.
        if q is None or (q.state not in PUBLIC_STATES and q.viewer_id != viewer_id):
            raise Refused("not_found", "找不到这个问题。")
        if q.viewer_id == viewer_id:
            raise Refused("own_question", "这是你自己的问题。")
        if q.state not in (QUEUED, ON_AIR):
            raise Refused("invalid_state", "只能对队列中的问题说“我也想问”。")
        try:
            await self.store.insert(MeToo(id=f"{question_id}:{viewer_id}",
                                          question_id=question_id, viewer_id=viewer_id,
                                          created_at=self.clock()))
        except Conflict:
            raise Refused("already", "你已经说过“我也想问”了。") from None
        updated = await self.store.increment(Question, question_id, "me_too", 1,
                                             now=self.clock())
        # Keep the count without clobbering a concurrent staff change in memory (the
        # increment leaves the version alone, so staff actions do not conflict with it).
        current = board.questions.get(question_id, updated)
        board.put(replace(current, me_too=updated.me_too))
        self._schedule_me_too_flush(session_id, question_id)
        return board.questions[question_id]

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
        for session_id, question_id in dirty:
            board = self.boards.get(session_id)
            q = board.questions.get(question_id) if board else None
            if q is not None:
                self._emit(q, q)

    # --- staff ------------------------------------------------------------------------

    async def act(self, session_id: str, user: StaffUser, question_id: str, version: int,
                  build: Callable[[Board, Question], Action], audit: AuditTag) -> Question:
        """Apply one staff action to one question; returns the changed question.

        ``build`` turns the request into the question's ``Action`` against the board as it
        is under the lock (each staff action declares its own, ``moderation.actions``)."""
        board = await self.board(session_id)
        async with board.lock:
            q = board.questions.get(question_id)
            if q is None:
                raise Refused("not_found", "找不到这个问题。")
            if q.version != version:
                raise RefusedConflict(q)
            action = build(board, q)
            now = self.clock()
            changes = transition(q, action, now=now, on_air_id=board.session.on_air_id)
            try:
                updated = await self.store.update(Question, q.id, changes,
                                                  expected_version=q.version, now=now)
            except VersionConflict as exc:
                board.put(exc.current)
                raise RefusedConflict(exc.current) from None
            board.put(updated)
            if isinstance(action, Merge):
                target = await self.store.increment(Question, action.into.id, "merged_count",
                                                    1, now=now)
                board.put(target)
                self._emit(action.into, target)
            session = await self._sync_on_air(board, updated, now)
            await self.store.audit(AuditEntry(
                id=new_id(), at=now, actor=user.name, action=audit.action,
                target=audit.target, session_id=session_id,
                before={k: getattr(q, k) for k in changes}, after=changes,
            ))
        events = list(question_events(q, updated, self.item_names))
        if session is not None:
            events.extend(session_events(session))
        self.publish(session_id, events)
        if updated.state == "answered" and q.state != "answered":
            for hook in self.on_answered:
                try:
                    await hook(updated)
                except Exception:
                    log.exception("after-answer hook failed for question %s", updated.id)
        return updated

    async def _sync_on_air(self, board: Board, q: Question, now: float) -> Broadcast | None:
        """Keep the broadcast's on-air pointer in step with the question's state; returns
        the changed broadcast, to announce once the question's own event is out."""
        session = board.session
        target = q.id if q.state == ON_AIR else ("" if session.on_air_id == q.id else None)
        if target is None or target == session.on_air_id:
            return None
        board.session = await self.store.update(Broadcast, session.id, {"on_air_id": target},
                                                now=now)
        return board.session

    async def set_slow_mode(self, session_id: str, user: StaffUser, seconds: int,
                            audit: AuditTag) -> Broadcast:
        board = await self.board(session_id)
        async with board.lock:
            before = int(board.session.settings.get("slow_mode_seconds", 0))
            settings = {**board.session.settings, "slow_mode_seconds": seconds}
            now = self.clock()
            updated = await self.store.update(Broadcast, session_id, {"settings": settings},
                                              now=now)
            assert board.slow_mode is not None
            board.slow_mode.set_interval(seconds)
            await self.store.audit(AuditEntry(
                id=new_id(), at=now, actor=user.name, action=audit.action,
                target=audit.target, session_id=session_id,
                before={"slow_mode_seconds": before}, after={"slow_mode_seconds": seconds}))
        self.session_changed(updated)
        return updated

    async def restrict(self, session_id: str, user: StaffUser, viewer_id: str, kind: str,
                       minutes: int, reason: str, audit: AuditTag) -> ViewerRestriction:
        now = self.clock()
        record = ViewerRestriction(
            id=viewer_id, kind=kind, until=now + minutes * 60 if kind == "timeout" else 0.0,
            reason=reason.strip()[:200], by=user.name, session_id=session_id,
            created_at=now, updated_at=now)
        await self.store.delete(ViewerRestriction, viewer_id)
        await self.store.insert(record)
        self.restrictions[viewer_id] = record
        await self.store.audit(AuditEntry(
            id=new_id(), at=now, actor=user.name, action=audit.action,
            target=audit.target, session_id=session_id, before=None,
            after={"until": record.until, "reason": record.reason}))
        self.publish(session_id, [Event("staff", "restriction",
                                        {"restriction": _restriction_view(record)})])
        return record

    async def unrestrict(self, session_id: str, user: StaffUser, viewer_id: str,
                         audit: AuditTag) -> None:
        if not await self.store.delete(ViewerRestriction, viewer_id):
            raise Refused("not_found", "这位观众没有被限制。")
        self.restrictions.pop(viewer_id, None)
        await self.store.audit(AuditEntry(
            id=new_id(), at=self.clock(), actor=user.name, action=audit.action,
            target=audit.target, session_id=session_id))
        self.publish(session_id, [Event("staff", "restriction",
                                        {"restriction": {"viewer_id": viewer_id,
                                                         "kind": "none"}})])

    async def reason_templates(self) -> list[ReasonTemplate]:
        return await self.store.find(ReasonTemplate, order_by=["position", "created_at"])

    async def seed_reason_templates(self) -> int:
        """On a fresh install, the decline reasons a help desk needs on day one (admins edit
        them at /admin/lists). Does nothing once any template exists."""
        if await self.store.count(ReasonTemplate):
            return 0
        now = self.clock()
        for i, text in enumerate(DEFAULT_REASONS):
            await self.store.insert(ReasonTemplate(id=new_id(), text=text, position=float(i),
                                                   created_at=now, updated_at=now))
        return len(DEFAULT_REASONS)


class RefusedRetry(Refused):
    """Refused for now: the client may try again after ``retry_after`` seconds."""

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class RefusedConflict(Refused):
    """Someone changed the question first; carries it as it is now."""

    def __init__(self, current: Question) -> None:
        super().__init__("conflict", "这个问题刚被其他人处理过，已显示最新状态，请确认后再操作。")
        self.current = current


def clean_nickname(nickname: str) -> str:
    try:
        text = normalize_text(nickname, min_len=1, max_len=200)
    except TextRejected:
        return ""
    return mask_pii(text[:MAX_NICKNAME])[0]


def _restriction_view(r: ViewerRestriction) -> dict[str, Any]:
    return {"viewer_id": r.id, "kind": r.kind, "until": r.until, "reason": r.reason,
            "by": r.by}


