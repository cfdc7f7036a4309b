"""The moderation service: questions in, staff actions, events out.

``Moderation`` is the one object the web layer talks to. It is composed of the viewer
intake (``moderation.intake``: questions and "me too"), the staff actions
(``moderation.staff_actions``: each one a single unit of work with its audit entry) and the
boards they share (``moderation.board``); here are the snapshots clients start from, the
broadcast and clip changes other parts report, and the lists the service reads at start.
"""

from __future__ import annotations

from typing import Any

from live.events import CLIP, PUBLIC, Event
from moderation.audit import AuditTag
from moderation.board import Board, Limits, restriction_view
from moderation.catalog import Catalog
from moderation.filters import BlockedTerm
from moderation.intake import RefusedRetry, ViewerIntake, clean_nickname
from moderation.questions import FINAL, ON_AIR, QUEUED
from moderation.staff_actions import NotApplied, RefusedConflict, StaffActions
from moderation.views import (
    owner_view,
    public_view,
    session_events,
    session_view,
    staff_view,
)
from moderation.vocabulary import Vocabulary
from store.records import Broadcast, Clip, ReasonTemplate, TermRule, ViewerRestriction, new_id

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
        self.publish(clip.session_id, [Event(PUBLIC, CLIP, {
            "question_id": clip.question_id, "clip_id": clip.id if published else "",
            "url": f"/clips/{clip.id}" if published else "",
            "title": clip.title if published else ""})])

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
            "questions": [staff_view(q, self.item_names)
                          for q in open_first[:STAFF_SNAPSHOT_QUESTIONS]],
            "restrictions": [restriction_view(r) for r in self.restrictions.values()
                             if self.restriction_active(r)],
        }

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
