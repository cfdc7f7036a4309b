"""The staff actions, each declared once, as a typed command.

A staff action is one frozen dataclass, registered with ``@declare``: the class's fields are
the request's fields (each with its ``live.protocol`` spec: type and length or range, and
notes for people), ``validate`` holds the rules the specs cannot say, ``run`` (or, for an
action on a question, ``build``) carries it out, and the declaration adds its name, the
roles that may send it, a summary, and how it is audited (label and target, filled in from
the request). From ``ACTIONS`` derive:

- the staff websocket vocabulary (``STAFF_MESSAGES``, handed to ``live.protocol.parse``) and
  its dispatcher (``web.ws``: a lookup, then ``perform``);
- the HTTP API ``POST /api/sessions/{session_id}/actions/{name}`` (``web.api_actions``) and
  its OpenAPI entries (``web.openapi``);
- the role checks (``perform``; the role sets themselves live in ``store.records``);
- the audit entry's label and target (``StaffAction.tag``);
- the staff table in docs/protocol.md (``moderation.action_docs.markdown_table``; a test keeps
  the two equal).

Adding an action is one class here (the declaration and its handler) and, for an action on a
question, its ``moderation.questions`` action and transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from live.protocol import STAFF_PING, B, Field, I, S
from moderation.action_base import ACTIONS as ACTIONS
from moderation.action_base import FORBIDDEN, Answer, Command, Context, declare, spec
from moderation.action_base import StaffAction as StaffAction
from moderation.action_base import allowed as allowed
from moderation.captions import CaptionTrack
from moderation.filters import TextRejected, normalize_text
from moderation.pii import mask_pii
from moderation.questions import (
    MAX_BULK,
    MAX_REASON,
    MAX_REPLY,
    TARGETS_PATTERN,
    Action,
    Answered,
    Approve,
    Decline,
    Edit,
    Merge,
    Move,
    Note,
    OnAir,
    Pin,
    Refused,
    Reply,
    Requeue,
    Skip,
    ToHost,
    host_queue,
    on_air_host,
    parse_targets,
    position_before,
)
from moderation.service import AuditTag, Board, Moderation
from store.records import CAPTIONERS, HOSTS, MODERATORS, NOTERS, Question, StaffUser


async def perform(action: StaffAction, moderation: Moderation, session_id: str,
                  user: StaffUser, fields: Mapping[str, Any]) -> Answer:
    """Check the sender's role and the request, then run the action; fields have already
    been checked against ``action.fields`` (``live.protocol.check_fields``). Raises
    ``Refused`` (``RefusedConflict`` with the current question on a stale version)."""
    if not allowed(action, user):
        raise Refused(*FORBIDDEN)
    command = action.parse(fields)
    context = Context(moderation, session_id, user, action.tag(session_id, command))
    return await command.run(context)


# --- actions on one question ----------------------------------------------------------------

TEXT = S(2000)  # in the request; the domain's own limits apply after trimming


@dataclass(frozen=True, kw_only=True)
class OnQuestion(Command):
    """An action on one question, quoting the version the client last saw (a stale version
    is refused with ``conflict`` and the question as it is now)."""

    answer: ClassVar[tuple[str, ...]] = ("question_id", "version", "state")
    question_id: str = spec(S())
    version: int = spec(I(1_000_000_000, min_value=1))

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        """The question's action, made under the session's lock."""
        raise NotImplementedError

    async def run(self, ctx: Context) -> Answer:
        q = await ctx.moderation.act(
            ctx.session_id, ctx.user, self.question_id, self.version,
            lambda board, question: self.build(ctx, board, question), ctx.audit)
        return {"question_id": q.id, "version": q.version, "state": q.state}


@declare("approve", MODERATORS, "Approve a pending question into the queue")
@dataclass(frozen=True, kw_only=True)
class ApproveCommand(OnQuestion):
    category: str = spec(S(20), "one of the catalog's categories")
    item_id: str | None = spec(S(required=False), "a business item of the catalog")
    host_id: str | None = spec(S(required=False))

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        catalog = ctx.moderation.catalog
        item = catalog.get(self.item_id or "")
        if self.item_id and item is None:
            raise Refused("unknown_item", "业务事项不存在。")
        if self.category not in catalog.categories:
            raise Refused("unknown_category", "问题分类不存在。")
        return Approve(self.category, item.id if item else "", item.link if item else "",
                       self.host_id or "", position_before(board.queue(), None, q,
                                                           board.raises))


@declare("edit", MODERATORS, "Correct a question's text")
@dataclass(frozen=True, kw_only=True)
class EditCommand(OnQuestion):
    text: str = spec(TEXT, "the question, within [live] question_min_chars–"
                           "question_max_chars characters after trimming")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        limits = ctx.moderation.limits
        try:
            text = normalize_text(self.text, min_len=limits.min_chars,
                                  max_len=limits.max_chars)
        except TextRejected as exc:
            raise Refused(exc.code, exc.message) from None
        return Edit(mask_pii(text)[0])


@declare("merge", MODERATORS, "Merge a question into the same question asked before")
@dataclass(frozen=True, kw_only=True)
class MergeCommand(OnQuestion):
    into: str = spec(S(), "the surviving question's id")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        target = board.questions.get(self.into)
        if target is None:
            raise Refused("not_found", "找不到要合并到的问题。")
        return Merge(target)


@declare("reply", MODERATORS, "Answer a question in text instead of on air")
@dataclass(frozen=True, kw_only=True)
class ReplyCommand(OnQuestion):
    text: str = spec(TEXT, f"≤ {MAX_REPLY} characters after trimming")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Reply(mask_pii(self.text)[0])


@declare("decline", MODERATORS, "Decline a question, with a reason the asker sees")
@dataclass(frozen=True, kw_only=True)
class DeclineCommand(OnQuestion):
    reason: str = spec(S(400), f"≤ {MAX_REASON} characters after trimming")
    off_topic: bool | None = spec(Field(bool, required=False),
                                  "not the desk's business: the engine learns it as such")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Decline(self.reason, bool(self.off_topic))


@declare("pin", MODERATORS, "Pin a queued question to the top, or unpin it")
@dataclass(frozen=True, kw_only=True)
class PinCommand(OnQuestion):
    pinned: bool = spec(B)

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Pin(self.pinned)


@declare("move", MODERATORS, "Move a queued question")
@dataclass(frozen=True, kw_only=True)
class MoveCommand(OnQuestion):
    before: str | None = spec(S(required=False),
                              "the id of the question to go above; absent: last")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        others = [x for x in board.queue() if x.id != q.id]
        return Move(position_before(others, self.before, q, board.raises))


@declare("on_air", HOSTS, "Put a queued question on air (one question on air per host)")
@dataclass(frozen=True, kw_only=True)
class OnAirCommand(OnQuestion):
    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return OnAir(on_air_host(board.session, q, ctx.user.id, ctx.user.role))


@declare("answered", HOSTS, "Mark the question on air answered")
@dataclass(frozen=True, kw_only=True)
class AnsweredCommand(OnQuestion):
    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Answered()


@declare("requeue", HOSTS, "Take the question on air back to the queue")
@dataclass(frozen=True, kw_only=True)
class RequeueCommand(OnQuestion):
    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Requeue()


@declare("skip", HOSTS, "Send a queued question to the end of the queue")
@dataclass(frozen=True, kw_only=True)
class SkipCommand(OnQuestion):
    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        others = [x for x in board.queue() if x.id != q.id]
        return Skip(position_before(others, None, q, board.raises))


@declare("note", NOTERS, "Pass the host a note beside a question (staff only, never public)")
@dataclass(frozen=True, kw_only=True)
class NoteCommand(OnQuestion):
    text: str = spec(S(1000), "≤ 500 characters after trimming")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Note(self.text, ctx.user.display_name or ctx.user.name, ctx.moderation.clock())


@declare("move_to_host", MODERATORS, "Move a question to another host's queue")
@dataclass(frozen=True, kw_only=True)
class MoveToHostCommand(OnQuestion):
    host_id: str = spec(S(), "one of the session's hosts; empty: any host")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        if self.host_id and self.host_id not in board.session.host_ids:
            raise Refused("unknown_host", "这位主持人不在本场直播中。")
        others = [x for x in host_queue(list(board.questions.values()), self.host_id,
                                        board.raises) if x.id != q.id]
        return ToHost(self.host_id, position_before(others, None, q, board.raises))


@dataclass(frozen=True, kw_only=True)
class OnQuestions(Command):
    """One action on several questions, each quoting its version. Each question is its own
    unit of work (and audit entry): a stale or closed one is refused alone, listed in the
    ack with its reason, and the others go through."""

    answer: ClassVar[tuple[str, ...]] = ("done", "refused")
    rules = ({"properties": {"questions": {"pattern": TARGETS_PATTERN}}},)
    questions: str = spec(S(MAX_BULK * 80), f"`id:version` pairs, comma-separated, ≤ {MAX_BULK}")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        raise NotImplementedError

    async def run(self, ctx: Context) -> Answer:
        done: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        for question_id, version in parse_targets(self.questions):
            try:
                q = await ctx.moderation.act(
                    ctx.session_id, ctx.user, question_id, version,
                    lambda board, question: self.build(ctx, board, question),
                    AuditTag(ctx.audit.action, f"question:{question_id}"))
            except Refused as exc:
                refused.append({"question_id": question_id, "code": exc.code,
                                "message": exc.message})
            else:
                done.append({"question_id": q.id, "version": q.version, "state": q.state})
        return {"done": done, "refused": refused}


@declare("bulk_approve", MODERATORS, "Approve several pending questions (each its own unit)",
         audit="question.approve", target="question:{{each of questions}}")
@dataclass(frozen=True, kw_only=True)
class BulkApproveCommand(OnQuestions):
    category: str | None = spec(S(20, required=False),
                                "for all; absent: each question's suggested category")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        category = self.category or q.category or str(q.flags.get("suggested_category", ""))
        if category not in ctx.moderation.catalog.categories:
            raise Refused("missing_category", "请先选择问题分类。")
        item = ctx.moderation.catalog.get(str(q.flags.get("suggested_item", "")))
        if item is not None and item.category != category:
            item = None
        return Approve(category, item.id if item else "", item.link if item else "",
                       q.host_id, position_before(board.queue(), None, q, board.raises))


@declare("bulk_decline", MODERATORS, "Decline several questions with one reason",
         audit="question.decline", target="question:{{each of questions}}")
@dataclass(frozen=True, kw_only=True)
class BulkDeclineCommand(OnQuestions):
    reason: str = spec(S(400), f"≤ {MAX_REASON} characters after trimming")
    off_topic: bool | None = spec(Field(bool, required=False),
                                  "not the desk's business: the engine learns them as such")

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Decline(self.reason, bool(self.off_topic))


# --- the session and its viewers -------------------------------------------------------------


@declare("slow_mode", MODERATORS, "Set the session's slow mode", audit="session.slow_mode",
         target="session:{session_id}")
@dataclass(frozen=True, kw_only=True)
class SlowModeCommand(Command):
    seconds: int = spec(I(3600), "between two questions of one viewer; 0 is off")

    async def run(self, ctx: Context) -> Answer:
        await ctx.moderation.set_slow_mode(ctx.session_id, ctx.user, self.seconds, ctx.audit)
        return {}


@declare("me_too_order", MODERATORS, "Let \"me too\" counts raise questions in the queues, "
         "or not", audit="session.me_too_order", target="session:{session_id}")
@dataclass(frozen=True, kw_only=True)
class MeTooOrderCommand(Command):
    raises: bool = spec(B, "true: each \"me too\" lifts a question one place from where the "
                           "moderators put it (pinned stay first); false: the moderators' order")

    async def run(self, ctx: Context) -> Answer:
        await ctx.moderation.set_session_setting(ctx.session_id, ctx.user, "me_too_raises",
                                                 self.raises, False, ctx.audit)
        return {}


@declare("restrict", MODERATORS, "Time out or ban a viewer", audit="viewer.{kind}",
         target="viewer:{viewer_id}")
@dataclass(frozen=True, kw_only=True)
class RestrictCommand(Command):
    viewer_id: str = spec(S())
    kind: str = spec(S(10), choices=("timeout", "ban"))
    minutes: int | None = spec(I(60 * 24 * 365, required=False), "required for a timeout")
    reason: str | None = spec(S(200, required=False))
    rules = ({"if": {"properties": {"kind": {"const": "timeout"}}, "required": ["kind"]},
              "then": {"properties": {"minutes": {"type": "integer", "minimum": 1}},
                       "required": ["minutes"]}},)

    def validate(self) -> None:
        if self.kind == "timeout" and not self.minutes:
            raise Refused("bad_field", "请填写禁言时长（分钟）。")

    async def run(self, ctx: Context) -> Answer:
        await ctx.moderation.restrict(ctx.session_id, ctx.user, self.viewer_id, self.kind,
                                      self.minutes or 0, self.reason or "", ctx.audit)
        return {}


@declare("unrestrict", MODERATORS, "Release a viewer's timeout or ban",
         audit="viewer.unrestrict", target="viewer:{viewer_id}")
@dataclass(frozen=True, kw_only=True)
class UnrestrictCommand(Command):
    viewer_id: str = spec(S())

    async def run(self, ctx: Context) -> Answer:
        await ctx.moderation.unrestrict(ctx.session_id, ctx.user, self.viewer_id, ctx.audit)
        return {}


@declare("caption", CAPTIONERS, "Send a line of live captions to every viewer",
         audit="caption.add", target="session:{session_id}")
@dataclass(frozen=True, kw_only=True)
class CaptionCommand(Command):
    answer: ClassVar[tuple[str, ...]] = ("caption_id", "text", "at")
    text: str = spec(S(1000), "≤ [live] caption_max_chars characters after trimming; "
                              "personal data masked")

    async def run(self, ctx: Context) -> Answer:
        track = CaptionTrack.of(ctx.moderation, ctx.user.name, ctx.audit)
        caption = await track.submit(ctx.session_id, self.text, ctx.moderation.clock())
        return {"caption_id": caption.id, "text": caption.text, "at": caption.at}


# Requests that change nothing (not actions: no role check beyond being staff, no audit, not
# in the HTTP API): the next page of questions after a snapshot whose "next" is not empty
# (``Moderation.staff_page``; the ack carries "questions" and "next").
STAFF_READS: dict[str, Mapping[str, Field]] = {"questions": {"after": S(100)}}

# The staff websocket's vocabulary: every action, the reads, and ping.
STAFF_MESSAGES: dict[str, Mapping[str, Field]] = {
    **{action.name: action.fields for action in ACTIONS.values()}, **STAFF_READS,
    **STAFF_PING}
