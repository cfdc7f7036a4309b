"""The moderation service: questions in, staff actions, events out.

``Moderation`` is the one object the web layer talks to. It is composed of the viewer
intake (``moderation.intake``: questions and "me too"), the staff actions
(``moderation.staff_actions``: each one a single unit of work with its audit entry) and the
boards they share (``moderation.board``); here are the snapshots clients start from, the
broadcast and clip changes other parts report, and the lists the service reads at start.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

from live.events import CLIP, PUBLIC, Event, viewer_audience
from moderation.audit import AuditTag
from moderation.board import Board, Limits, restriction_view
from moderation.captions import caption_view
from moderation.catalog import Catalog
from moderation.filters import BlockedTerm
from moderation.intake import RefusedRetry, ViewerIntake, clean_nickname
from moderation.questions import FINAL, MERGED, ON_AIR, QUEUED, Refused
from moderation.staff_actions import NotApplied, RefusedConflict, StaffActions
from moderation.views import (
    owner_view,
    public_view,
    session_events,
    session_view,
    staff_view,
)
from moderation.vocabulary import Vocabulary
from store.records import (
    Clip,
    LiveSession,
    Question,
    ReasonTemplate,
    TermRule,
    ViewerRestriction,
    new_id,
)

__all__ = ["AuditTag", "Board", "Limits", "Moderation", "NotApplied", "RefusedConflict",
           "RefusedRetry", "clean_nickname"]

DEFAULT_REASONS = (
    "与本场直播的主题无关，欢迎拨打 122 或到车管所窗口咨询。",
    "问题涉及您个人的具体案件，需要核实身份，请到窗口或拨打 122 办理。",
    "问题描述不够清楚，请补充关键信息（如车型、业务类型）后重新提问。",
    "本场已经解答过相同的问题，请查看已解答列表或小贴士视频。",
    "内容不文明或含有不实信息，未予采用。",
)
STAFF_SNAPSHOT_QUESTIONS = 500


def _staff_key(q: Question) -> tuple[bool, float, str]:
    return (q.state in FINAL, -q.created_at, q.id)


def _cursor(q: Question) -> str:
    final, created, ident = _staff_key(q)
    return f"{int(final)}:{created!r}:{ident}"


def _parse_cursor(text: str) -> tuple[bool, float, str]:
    final, _, rest = text.partition(":")
    created, _, ident = rest.partition(":")
    try:
        value = float(created)
    except ValueError:
        value = math.nan
    if final not in ("0", "1") or not ident or not math.isfinite(value):
        raise Refused("bad_field", "after 不是有效的分页位置。")
    return (final == "1", value, ident)


def merge_root(board: Board, q: Question) -> Question | None:
    """The question ``q`` was merged into, following merges of merges (None if unknown)."""
    seen = {q.id}
    while q.state == MERGED and q.merged_into and q.merged_into not in seen:
        found = board.questions.get(q.merged_into)
        if found is None:
            return None
        seen.add(found.id)
        q = found
    return q


def merged_into(board: Board, question_id: str) -> list[Question]:
    """Every question merged, directly or through another merged one, into ``question_id``."""
    return [q for q in board.questions.values()
            if q.state == MERGED and q.id != question_id
            and (root := merge_root(board, q)) is not None and root.id == question_id]


class Moderation(ViewerIntake, StaffActions):
    def set_catalog(self, catalog: Catalog) -> None:
        """Use an edited service catalog for suggestions and approvals from now on."""
        self.catalog = catalog
        self.item_names = {item.id: item.name for item in catalog.items}

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Use an edited word list for suggestions and duplicate hints from now on."""
        self.vocabulary = vocabulary

    async def start(self) -> None:
        """Load what every question is checked against: blocked terms, restrictions."""
        await self.reload_terms()
        for r in await self.store.find(ViewerRestriction, order_by=["created_at"]):
            self.restrictions[r.id] = r

    async def reload_terms(self) -> None:
        rules = await self.store.find(TermRule, order_by=["term"])
        self.terms = [BlockedTerm(r.term, "reject" if r.action == "reject" else "hold")
                      for r in rules]

    # --- what other parts report ------------------------------------------------------

    def session_changed(self, session: LiveSession) -> None:
        """Tell viewers and staff about a changed broadcast (started, ended, edited)."""
        board = self.boards.get(session.id)
        if board is not None:
            board.session = session
        self.eventlog.emit_later(session.id, session_events(session))

    def clip_changed(self, clip: Clip) -> None:
        """Keep the answered questions' links to their published clips current, and tell
        the session's viewers (the asker follows an answer to its clip). The askers of
        questions merged into the answered one are told too, each on their own question:
        their question was answered by that clip."""
        if not clip.question_id:
            return
        board = self.boards.get(clip.session_id)
        published = clip.state == "published"
        if board is not None:
            if published:
                board.clips[clip.question_id] = clip.id
            else:
                board.clips.pop(clip.question_id, None)
        link = {"clip_id": clip.id if published else "",
                "url": f"/clips/{clip.id}" if published else "",
                "title": clip.title if published else ""}
        events = [Event(PUBLIC, CLIP, {"question_id": clip.question_id, **link})]
        if board is not None:
            events.extend(Event(viewer_audience(q.viewer_id), CLIP, {"question_id": q.id, **link})
                          for q in merged_into(board, clip.question_id))
        self.eventlog.emit_later(clip.session_id, events)

    # --- snapshots --------------------------------------------------------------------

    def viewer_snapshot(self, board: Board, viewer_id: str) -> dict[str, Any]:
        public = [q for q in board.questions.values() if q.state in (QUEUED, ON_AIR)]
        answered = sorted((q for q in board.questions.values() if q.state == "answered"),
                          key=lambda q: -q.answered_at)
        mine = [q for q in board.questions.values() if q.viewer_id == viewer_id]
        clips = {qid: f"/clips/{cid}" for qid, cid in board.clips.items()}
        for q in mine:  # a merged question of this viewer's links to its answer's clip
            if q.state == MERGED and q.id not in clips:
                answer = merge_root(board, q)
                if answer is not None and answer.id in board.clips:
                    clips[q.id] = f"/clips/{board.clips[answer.id]}"
        return {
            "session": session_view(board.session),
            "questions": [public_view(q, self.item_names) for q in public + answered],
            "mine": [owner_view(q, self.item_names) for q in mine],
            "clips": clips,
            "captions": [caption_view(c) for c in board.captions],
        }

    def staff_snapshot(self, board: Board) -> dict[str, Any]:
        """The first page of the session's questions (open ones first, then newest first);
        ``next`` is the cursor of the rest ("" when there is none), fetched with the staff
        ``questions`` message (``staff_page``)."""
        return {
            "session": session_view(board.session),
            **self.staff_page(board, ""),
            "restrictions": [restriction_view(r) for r in self.restrictions.values()
                             if self.restriction_active(r)],
        }

    def staff_page(self, board: Board, after: str) -> dict[str, Any]:
        """The questions that follow cursor ``after`` ("" = from the start) in the staff
        order, at most ``STAFF_SNAPSHOT_QUESTIONS``, and the cursor of the next page.

        The order only ever moves a question later (an open question that closes), never
        earlier, and new questions arrive as events: paging while questions change may
        repeat one, which the console keeps by version, and never skips one."""
        start = _parse_cursor(after) if after else None
        ordered = sorted(board.questions.values(), key=_staff_key)
        keys = [_staff_key(q) for q in ordered]
        first = bisect_right(keys, start) if start is not None else 0
        page = ordered[first:first + STAFF_SNAPSHOT_QUESTIONS]
        more = first + len(page) < len(ordered)
        return {"questions": [staff_view(q, self.item_names) for q in page],
                "next": _cursor(page[-1]) if more and page else ""}

    # --- decline reasons --------------------------------------------------------------

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
