"""The staff actions, each declared once.

A ``StaffAction`` is everything the system knows about one thing a moderator, host or admin
may ask of a live session: its name, its fields (``live.protocol`` field specs: type and
length or range), further validation (allowed values, rules across fields), the roles that
may send it, how it is audited (label and target), what its answer holds, and the handler
that carries it out. From ``ACTIONS`` derive:

- the staff websocket vocabulary (``STAFF_MESSAGES``, handed to ``live.protocol.parse``) and
  its dispatcher (``web.ws``: a lookup, then ``perform``);
- the HTTP API ``POST /api/sessions/{session_id}/actions/{name}`` (``web.api_actions``) and
  its OpenAPI entries (``web.openapi``);
- the role checks (``perform``; the role sets themselves live in ``store.records``);
- the audit entry's label and target (``StaffAction.tag``);
- the staff table in docs/protocol.md (``markdown_table``; a test keeps the two equal).

Adding an action is one declaration below and one handler (for an action on a question, a
``build`` that turns the request into a ``moderation.questions`` action).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from live.protocol import STAFF_PING, B, Field, I, S
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
from store.records import HOSTS, MODERATORS, ROLES, Question, StaffUser

Answer = dict[str, Any]

# The fields naming a question and the version the client last saw (a stale version is
# refused with ``conflict`` and the question as it is now).
QUESTION_REF: dict[str, Field] = {"question_id": S(), "version": I(1_000_000_000, min_value=1)}
QUESTION_ANSWER = ("question_id", "version", "state")
FORBIDDEN = ("forbidden", "你的角色不能执行这个操作。")


@dataclass(frozen=True)
class Call:
    """One accepted request, as a handler sees it."""

    moderation: Moderation
    session_id: str
    user: StaffUser
    fields: Mapping[str, Any]
    audit: AuditTag


Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True)
class StaffAction:
    name: str
    summary: str  # English, one line: the docs table and the OpenAPI operation
    fields: Mapping[str, Field]
    roles: frozenset[str]
    audit: str  # the audit entry's action; "{field}" is filled in from the request
    target: str  # the audit entry's target, e.g. "question:{question_id}"
    handler: Handler
    answer: tuple[str, ...] = ()  # the fields of the ack (besides "re")
    notes: Mapping[str, str] = field(default_factory=dict)  # per field, for people
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any]], None] | None = None  # rules across fields

    def tag(self, session_id: str, fields: Mapping[str, Any]) -> AuditTag:
        values = {**fields, "session_id": session_id}
        return AuditTag(self.audit.format(**values), self.target.format(**values))

    def validate(self, fields: Mapping[str, Any]) -> None:
        """What the field specs cannot say: allowed values, rules across fields."""
        for name, allowed in self.choices.items():
            if name in fields and fields[name] not in allowed:
                raise Refused("bad_field", f"{name} 只能是 {' 或 '.join(allowed)}。")
        if self.check is not None:
            self.check(fields)


def allowed(action: StaffAction, user: StaffUser) -> bool:
    return user.role in action.roles


async def perform(action: StaffAction, moderation: Moderation, session_id: str,
                  user: StaffUser, fields: Mapping[str, Any]) -> Answer:
    """Check the sender's role and the request, then run the action; fields have already
    been checked against ``action.fields`` (``live.protocol.check_fields``). Raises
    ``Refused`` (``RefusedConflict`` with the current question on a stale version)."""
    if not allowed(action, user):
        raise Refused(*FORBIDDEN)
    action.validate(fields)
    return await action.handler(Call(moderation, session_id, user, fields,
                                     action.tag(session_id, fields)))


# --- handlers -------------------------------------------------------------------------------

Build = Callable[[Call, Board, Question], Action]


def on_question(build: Build) -> Handler:
    """The handler of an action on one question: ``build`` makes the question's action
    under the session's lock; the service checks the version, applies, audits, publishes."""

    async def handle(call: Call) -> Answer:
        q = await call.moderation.act(
            call.session_id, call.user, call.fields["question_id"], call.fields["version"],
            lambda board, question: build(call, board, question), call.audit)
        return {"question_id": q.id, "version": q.version, "state": q.state}

    return handle


def _approve(call: Call, board: Board, q: Question) -> Action:
    catalog = call.moderation.catalog
    item_id = call.fields.get("item_id") or ""
    item = catalog.get(item_id)
    if item_id and item is None:
        raise Refused("unknown_item", "业务事项不存在。")
    if call.fields["category"] not in catalog.categories:
        raise Refused("unknown_category", "问题分类不存在。")
    return Approve(call.fields["category"], item.id if item else "", item.link if item else "",
                   call.fields.get("host_id") or "", position_before(board.queue(), None))


def _edit(call: Call, board: Board, q: Question) -> Action:
    limits = call.moderation.limits
    try:
        text = normalize_text(call.fields["text"], min_len=limits.min_chars,
                              max_len=limits.max_chars)
    except TextRejected as exc:
        raise Refused(exc.code, exc.message) from None
    return Edit(mask_pii(text)[0])


def _merge(call: Call, board: Board, q: Question) -> Action:
    target = board.questions.get(call.fields["into"])
    if target is None:
        raise Refused("not_found", "找不到要合并到的问题。")
    return Merge(target)


def _move(call: Call, board: Board, q: Question) -> Action:
    others = [x for x in board.queue() if x.id != q.id]
    return Move(position_before(others, call.fields.get("before")))


async def _slow_mode(call: Call) -> Answer:
    await call.moderation.set_slow_mode(call.session_id, call.user, call.fields["seconds"],
                                        call.audit)
    return {}


def _timeout_needs_minutes(fields: Mapping[str, Any]) -> None:
    if fields["kind"] == "timeout" and not fields.get("minutes"):
        raise Refused("bad_field", "请填写禁言时长（分钟）。")


async def _restrict(call: Call) -> Answer:
    f = call.fields
    await call.moderation.restrict(call.session_id, call.user, f["viewer_id"], f["kind"],
                                   f.get("minutes", 0), f.get("reason", ""), call.audit)
    return {}


async def _unrestrict(call: Call) -> Answer:
    await call.moderation.unrestrict(call.session_id, call.user, call.fields["viewer_id"],
                                     call.audit)
    return {}


# --- the declarations -----------------------------------------------------------------------

QUESTION = "question:{question_id}"
TEXT = S(2000)  # in the request; the domain's own limits apply after trimming


def _question(name: str, summary: str, roles: frozenset[str], build: Build,
              extra: Mapping[str, Field] | None = None, **more: Any) -> StaffAction:
    return StaffAction(name, summary, {**QUESTION_REF, **(extra or {})}, roles,
                       f"question.{name}", QUESTION, on_question(build), QUESTION_ANSWER,
                       **more)


def _declare(*actions: StaffAction) -> dict[str, StaffAction]:
    declared = {action.name: action for action in actions}
    assert len(declared) == len(actions), "two staff actions share a name"
    return declared


ACTIONS: dict[str, StaffAction] = _declare(
    _question("approve", "Approve a pending question into the queue", MODERATORS, _approve,
              {"category": S(20), "item_id": S(required=False), "host_id": S(required=False)},
              notes={"category": "one of the catalog's categories",
                     "item_id": "a business item of the catalog"}),
    _question("edit", "Correct a question's text", MODERATORS, _edit, {"text": TEXT},
              notes={"text": "the question, within [live] question_min_chars–"
                             "question_max_chars characters after trimming"}),
    _question("merge", "Merge a question into the same question asked before", MODERATORS,
              _merge, {"into": S()}, notes={"into": "the surviving question's id"}),
    _question("reply", "Answer a question in text instead of on air", MODERATORS,
              lambda call, board, q: Reply(mask_pii(call.fields["text"])[0]), {"text": TEXT},
              notes={"text": f"≤ {MAX_REPLY} characters after trimming"}),
    _question("decline", "Decline a question, with a reason the asker sees", MODERATORS,
              lambda call, board, q: Decline(call.fields["reason"]), {"reason": S(400)},
              notes={"reason": f"≤ {MAX_REASON} characters after trimming"}),
    _question("pin", "Pin a queued question to the top, or unpin it", MODERATORS,
              lambda call, board, q: Pin(call.fields["pinned"]), {"pinned": B}),
    _question("move", "Move a queued question", MODERATORS, _move,
              {"before": S(required=False)},
              notes={"before": "the id of the question to go above; absent: last"}),
    _question("on_air", "Put a queued question on air", HOSTS,
              lambda call, board, q: OnAir()),
    _question("answered", "Mark the question on air answered", HOSTS,
              lambda call, board, q: Answered()),
    _question("requeue", "Take the question on air back to the queue", HOSTS,
              lambda call, board, q: Requeue()),
    _question("skip", "Send a queued question to the end of the queue", HOSTS,
              lambda call, board, q: Skip(position_before(board.queue(), None))),
    StaffAction("slow_mode", "Set the session's slow mode", {"seconds": I(3600)}, MODERATORS,
                "session.slow_mode", "session:{session_id}", _slow_mode,
                notes={"seconds": "between two questions of one viewer; 0 is off"}),
    StaffAction("restrict", "Time out or ban a viewer",
                {"viewer_id": S(), "kind": S(10), "minutes": I(60 * 24 * 365, required=False),
                 "reason": S(200, required=False)}, MODERATORS,
                "viewer.{kind}", "viewer:{viewer_id}", _restrict,
                notes={"minutes": "required for a timeout"},
                choices={"kind": ("timeout", "ban")}, check=_timeout_needs_minutes),
    StaffAction("unrestrict", "Release a viewer's timeout or ban", {"viewer_id": S()},
                MODERATORS, "viewer.unrestrict", "viewer:{viewer_id}", _unrestrict),
)

# The staff websocket's vocabulary: every action, and ping.
STAFF_MESSAGES: dict[str, Mapping[str, Field]] = {
    **{action.name: action.fields for action in ACTIONS.values()}, **STAFF_PING}


# --- for people -----------------------------------------------------------------------------

ROLE_ORDER = ("moderator", "host", "admin")
assert set(ROLE_ORDER) == set(ROLES)


def roles_text(roles: frozenset[str]) -> str:
    return ", ".join(role for role in ROLE_ORDER if role in roles)


def field_text(name: str, spec: Field, action: StaffAction) -> str:
    """One field as docs/protocol.md lists it: `name` (kind, limits; notes), ? if optional."""
    if spec.kind is bool:
        kind = "bool"
    elif spec.kind is int:
        kind = f"integer {spec.min_value}–{spec.max_len}"
    else:
        kind = f"string ≤ {spec.max_len}"
    if name in action.choices:
        kind = " or ".join(f"`{value}`" for value in action.choices[name])
    note = action.notes.get(name)
    return f"`{name}`{'' if spec.required else '?'} ({kind}{'; ' + note if note else ''})"


def markdown_table() -> str:
    """The staff actions as docs/protocol.md shows them (a test keeps them equal)."""
    rows = ["| type | fields | role | audited as | ack |", "| --- | --- | --- | --- | --- |"]
    for action in ACTIONS.values():
        fields = ", ".join(field_text(name, spec, action) for name, spec in action.fields.items())
        answer = ", ".join(f"`{name}`" for name in action.answer) or "—"
        rows.append(f"| `{action.name}` | {fields} | {roles_text(action.roles)} | "
                    f"`{action.audit}` on `{action.target}` | {answer} |")
    rows.append("| `ping` | — | any | — | `pong: true` |")
    return "\n".join(rows) + "\n"
