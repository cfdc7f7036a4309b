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
- the staff table in docs/protocol.md (``markdown_table``; a test keeps the two equal).

Adding an action is one class here (the declaration and its handler) and, for an action on a
question, its ``moderation.questions`` action and transition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from live.protocol import STAFF_PING, B, Field, I, S
from moderation.captions import CaptionTrack
from moderation.filters import TextRejected, normalize_text
from moderation.pii import mask_pii
from moderation.questions import (
    MAX_REASON,
    MAX_REPLY,
    Action,
    Answered,
    Approve,
    Decline,
    Edit,
    Merge,
    Move,
    OnAir,
    Pin,
    Refused,
    Reply,
    Requeue,
    Skip,
    position_before,
)
from moderation.service import AuditTag, Board, Moderation
from store.records import CAPTIONERS, HOSTS, MODERATORS, ROLES, Question, StaffUser

Answer = dict[str, Any]
FORBIDDEN = ("forbidden", "你的角色不能执行这个操作。")


def spec(wire: Field, note: str = "", choices: tuple[str, ...] = ()) -> Any:
    """A command field: its wire spec, a note for people, the values allowed (if listed).
    An optional field defaults to None (absent)."""
    metadata = {"spec": wire, "note": note, "choices": choices}
    if wire.required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=None, metadata=metadata)


@dataclass(frozen=True)
class Context:
    """Who sent a command, where, and how it is audited."""

    moderation: Moderation
    session_id: str
    user: StaffUser
    audit: AuditTag


@dataclass(frozen=True, kw_only=True)
class Command:
    """A staff action's request, its fields checked against their specs."""

    answer: ClassVar[tuple[str, ...]] = ()  # the fields of the ack (besides "re")
    # ``validate``'s rules as JSON Schema, for the API document (web.openapi): what a client
    # may send is described exactly, rules across fields included.
    rules: ClassVar[tuple[dict[str, Any], ...]] = ()

    def validate(self) -> None:
        """What the field specs cannot say (rules across fields); raises ``Refused``."""

    async def run(self, ctx: Context) -> Answer:
        raise NotImplementedError


@dataclass(frozen=True)
class StaffAction:
    name: str
    summary: str  # English, one line: the docs table and the OpenAPI operation
    command: type[Command]
    roles: frozenset[str]
    audit: str  # the audit entry's action; "{field}" is filled in from the request
    target: str  # the audit entry's target, e.g. "question:{question_id}"

    @property
    def fields(self) -> dict[str, Field]:
        return {f.name: f.metadata["spec"] for f in dataclasses.fields(self.command)}

    @property
    def notes(self) -> dict[str, str]:
        return {f.name: f.metadata["note"] for f in dataclasses.fields(self.command)
                if f.metadata["note"]}

    @property
    def choices(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.metadata["choices"] for f in dataclasses.fields(self.command)
                if f.metadata["choices"]}

    @property
    def answer(self) -> tuple[str, ...]:
        return self.command.answer

    def tag(self, session_id: str, command: Command) -> AuditTag:
        values = {**dataclasses.asdict(command), "session_id": session_id}
        return AuditTag(self.audit.format(**values), self.target.format(**values))

    def parse(self, fields: Mapping[str, Any]) -> Command:
        """The command for fields already checked against ``fields`` (by
        ``live.protocol.check_fields``); refuses values outside the listed choices."""
        for name, allowed_values in self.choices.items():
            if fields.get(name) is not None and fields[name] not in allowed_values:
                raise Refused("bad_field", f"{name} 只能是 {' 或 '.join(allowed_values)}。")
        command = self.command(**fields)
        command.validate()
        return command


ACTIONS: dict[str, StaffAction] = {}
C = TypeVar("C", bound=type[Command])


def declare(name: str, roles: frozenset[str], summary: str, *, audit: str = "",
            target: str = "") -> Callable[[C], C]:
    """Register a command class as the staff action ``name``."""

    def register(command: C) -> C:
        assert name not in ACTIONS, f"two staff actions are called {name}"
        assert dataclasses.is_dataclass(command)
        label = audit or f"question.{name}"
        ACTIONS[name] = StaffAction(name, summary, command, roles, label,
                                    target or "question:{question_id}")
        return command

    return register


def allowed(action: StaffAction, user: StaffUser) -> bool:
    return user.role in action.roles


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
                       self.host_id or "", position_before(board.queue(), None))


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

    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return Decline(self.reason)


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
        return Move(position_before(others, self.before))


@declare("on_air", HOSTS, "Put a queued question on air")
@dataclass(frozen=True, kw_only=True)
class OnAirCommand(OnQuestion):
    def build(self, ctx: Context, board: Board, q: Question) -> Action:
        return OnAir()


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
        return Skip(position_before(board.queue(), None))


# --- the session and its viewers -------------------------------------------------------------


@declare("slow_mode", MODERATORS, "Set the session's slow mode", audit="session.slow_mode",
         target="session:{session_id}")
@dataclass(frozen=True, kw_only=True)
class SlowModeCommand(Command):
    seconds: int = spec(I(3600), "between two questions of one viewer; 0 is off")

    async def run(self, ctx: Context) -> Answer:
        await ctx.moderation.set_slow_mode(ctx.session_id, ctx.user, self.seconds, ctx.audit)
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


# --- for people -----------------------------------------------------------------------------

ROLE_ORDER = ("moderator", "host", "captioner", "admin")
assert set(ROLE_ORDER) == set(ROLES)


def roles_text(roles: frozenset[str]) -> str:
    return ", ".join(role for role in ROLE_ORDER if role in roles)


def field_text(name: str, wire: Field, action: StaffAction) -> str:
    """One field as docs/protocol.md lists it: `name` (kind, limits; note), ? if optional."""
    if wire.kind is bool:
        kind = "bool"
    elif wire.kind is int:
        kind = f"integer {wire.min_value}–{wire.max_len}"
    else:
        kind = f"string ≤ {wire.max_len}"
    if name in action.choices:
        kind = " or ".join(f"`{value}`" for value in action.choices[name])
    note = action.notes.get(name)
    return f"`{name}`{'' if wire.required else '?'} ({kind}{'; ' + note if note else ''})"


def markdown_table() -> str:
    """The staff actions as docs/protocol.md shows them (a test keeps them equal)."""
    rows = ["| type | fields | role | audited as | ack |", "| --- | --- | --- | --- | --- |"]
    for action in ACTIONS.values():
        fields = ", ".join(field_text(name, wire, action) for name, wire in action.fields.items())
        answer = ", ".join(f"`{name}`" for name in action.answer) or "—"
        rows.append(f"| `{action.name}` | {fields} | {roles_text(action.roles)} | "
                    f"`{action.audit}` on `{action.target}` | {answer} |")
    rows.append("| `questions` | `after` (string ≤ 100; the snapshot's or the last page's "
                "`next`) | any | — (changes nothing) | `questions`, `next` |")
    rows.append("| `ping` | — | any | — | `pong: true` |")
    return "\n".join(rows) + "\n"
