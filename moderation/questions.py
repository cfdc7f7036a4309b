"""A question's life, as a pure state machine.

    pending ──approve──▶ queued ──on_air──▶ on_air ──answered──▶ answered
       │                  │  ▲                │
       │                  │  └──requeue───────┘
       ├──reply───────────┼──▶ replied      (answered in text)
       ├──merge───────────┼──▶ merged       (into another question)
       └──decline─────────┴──▶ declined     (with a reason)

    When its session ends, every open question (pending, queued, on air) gets an outcome:
    ``Carry`` (to the next scheduled session: the question ends here as ``carried``, telling
    where, and a pending copy waits there — ``carried_copy``) or, with none scheduled,
    ``Close`` (declined with ``SESSION_ENDED_REASON``).

``transition`` takes a question, an action and who acts, and returns the field changes to
store — or raises ``Refused`` with a message for the person who tried. No I/O happens here;
``moderation.service`` reads, calls this, writes and publishes.

Who may do what (moderators and admins triage; hosts and admins run the air) is declared
with the staff actions in ``moderation.actions``. Every question ends in one of the final
states, each of which the asker can see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from store.records import LiveSession, Question

PENDING, QUEUED, ON_AIR = "pending", "queued", "on_air"
ANSWERED, REPLIED, MERGED, DECLINED = "answered", "replied", "merged", "declined"
CARRIED = "carried"
STATES = (PENDING, QUEUED, ON_AIR, ANSWERED, REPLIED, MERGED, DECLINED, CARRIED)
FINAL = frozenset({ANSWERED, REPLIED, MERGED, DECLINED, CARRIED})
OPEN = frozenset({PENDING, QUEUED, ON_AIR})
# States everyone watching the session may see (the queue, the air, the answers).
PUBLIC = frozenset({QUEUED, ON_AIR, ANSWERED})

STATE_LABELS = {
    PENDING: "等待审核",
    QUEUED: "已进入队列",
    ON_AIR: "正在直播解答",
    ANSWERED: "已在直播中解答",
    REPLIED: "已文字回复",
    MERGED: "已合并到相同问题",
    DECLINED: "未采用",
    CARRIED: "已转到下一场直播",
}

# The reason an open question is closed with when its session ends and none is scheduled.
SESSION_ENDED_REASON = ("本场直播已结束，这个问题没能在直播中解答。欢迎在下一场直播再次提问，"
                        "或拨打 122、到车管所窗口咨询。")

MAX_REPLY = 1000
MAX_REASON = 200
# The flag a question declined as not the desk's business carries (the engine learns it as an
# off-topic example, ``moderation.understander``).
OFF_TOPIC = "off_topic"
MAX_NOTE = 500
MAX_NOTES = 20  # notes on one question; the oldest go first


class Refused(Exception):
    """An action that cannot apply; ``code`` is for programs, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Approve:
    category: str
    item_id: str = ""
    service_link: str = ""
    host_id: str = ""
    position: float = 0.0  # where it joins the queue: the end, normally


@dataclass(frozen=True)
class Edit:
    text: str


@dataclass(frozen=True)
class Merge:
    into: Question  # the surviving question, as read with this one


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class Decline:
    reason: str
    off_topic: bool = False  # not the desk's business (flags["off_topic"]; the engine learns it)


@dataclass(frozen=True)
class Pin:
    pinned: bool


@dataclass(frozen=True)
class Move:
    position: float


@dataclass(frozen=True)
class OnAir:
    """On air for ``host_id`` (``on_air_host`` decides whose air it is; "" for no host)."""

    host_id: str = ""


@dataclass(frozen=True)
class Answered:
    pass


@dataclass(frozen=True)
class Requeue:
    pass


@dataclass(frozen=True)
class Skip:
    position: float  # the end of the queue


@dataclass(frozen=True)
class Note:
    """A note for the host beside the question (the backchannel): staff only, never public."""

    text: str
    by: str
    at: float


@dataclass(frozen=True)
class ToHost:
    """Route the question to another host's queue (``""``: any host), at its end."""

    host_id: str
    position: float


@dataclass(frozen=True)
class Carry:
    """The session ended: the question moves to ``to``, the next scheduled session, where
    its pending copy has the id ``copy_id``."""

    to: LiveSession
    copy_id: str


@dataclass(frozen=True)
class Close:
    """The session ended and none is scheduled: declined with the standard reason."""


Action = (Approve | Edit | Merge | Reply | Decline | Pin | Move | OnAir | Answered | Requeue
          | Skip | Note | ToHost | Carry | Close)

# The states each action applies in. Who may send which action is declared with the staff
# actions themselves (``moderation.actions``) and checked before an action gets here.
STATES_FOR: dict[type[Any], frozenset[str]] = {
    Approve: frozenset({PENDING}),
    Edit: OPEN,
    Merge: frozenset({PENDING, QUEUED}),
    Reply: frozenset({PENDING, QUEUED}),
    Decline: frozenset({PENDING, QUEUED}),
    Pin: frozenset({QUEUED}),
    Move: frozenset({QUEUED}),
    OnAir: frozenset({QUEUED}),
    Answered: frozenset({ON_AIR}),
    Requeue: frozenset({ON_AIR}),
    Skip: frozenset({QUEUED}),
    Note: OPEN,
    ToHost: frozenset({PENDING, QUEUED}),
    Carry: OPEN,
    Close: OPEN,
}

ACTION_NAMES = {
    Approve: "approve", Edit: "edit", Merge: "merge", Reply: "reply", Decline: "decline",
    Pin: "pin", Move: "move", OnAir: "on_air", Answered: "answered", Requeue: "requeue",
    Skip: "skip", Note: "note", ToHost: "move_to_host", Carry: "carry", Close: "close",
}


def action_name(action: Action) -> str:
    return ACTION_NAMES[type(action)]


def _clean(text: str, limit: int | None, what: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise Refused("empty", f"{what}不能为空。")
    if limit is not None and len(text) > limit:
        raise Refused("too_long", f"{what}最多 {limit} 字。")
    return text


def transition(question: Question, action: Action, *, now: float,
               on_air: dict[str, str] | None = None) -> dict[str, Any]:
    """The field changes ``action`` makes to ``question``, or Refused.

    ``on_air`` is what each host has on air now (``on_air_slots``): one question per host."""
    if question.state not in STATES_FOR[type(action)]:
        raise Refused(
            "invalid_state",
            f"这个问题现在是“{STATE_LABELS[question.state]}”，不能{_verb(action)}。",
        )
    match action:
        case Approve(category=category, item_id=item_id, service_link=link, host_id=host,
                     position=position):
            if not category:
                raise Refused("missing_category", "请先选择问题分类。")
            return {"state": QUEUED, "category": category, "item_id": item_id,
                    "service_link": link, "host_id": host, "position": position}
        case Edit(text=text):
            # Normalized and held to the settings' length limit by the edit action.
            return {"text": _clean(text, None, "问题")}
        case Merge(into=target):
            if target.id == question.id:
                raise Refused("merge_self", "不能合并到它自己。")
            if target.session_id != question.session_id:
                raise Refused("merge_other_session", "只能合并到本场直播的问题。")
            if target.state in (MERGED, DECLINED, REPLIED):
                raise Refused("merge_target_closed", "目标问题已关闭，请选择其他问题。")
            return {"state": MERGED, "merged_into": target.id}
        case Reply(text=text):
            return {"state": REPLIED, "reply": _clean(text, MAX_REPLY, "回复")}
        case Decline(reason=reason, off_topic=off_topic):
            changes: dict[str, Any] = {"state": DECLINED,
                                       "decline_reason": _clean(reason, MAX_REASON, "原因")}
            if off_topic:
                changes["flags"] = {**question.flags, OFF_TOPIC: True}
            return changes
        case Pin(pinned=pinned):
            return {"pinned": pinned}
        case Move(position=position):
            return {"position": position}
        case OnAir(host_id=host_id):
            busy = (on_air or {}).get(host_id, "")
            if busy and busy != question.id:
                raise Refused("air_busy", "这位主持人已有问题正在直播（每位主持人同时只有一个），"
                                          "请先标记“已解答”或退回队列。")
            taken = {"host_id": host_id} if host_id != question.host_id else {}
            return {"state": ON_AIR, "on_air_at": now, **taken}
        case Answered():
            return {"state": ANSWERED, "answered_at": now}
        case Requeue():
            return {"state": QUEUED, "on_air_at": 0.0}
        case Skip(position=position):
            return {"position": position, "pinned": False}
        case Note(text=text, by=by, at=at):
            notes = list(question.flags.get("notes", []))
            notes.append({"text": _clean(text, MAX_NOTE, "备注"), "by": by, "at": at})
            return {"flags": {**question.flags, "notes": notes[-MAX_NOTES:]}}
        case ToHost(host_id=host_id, position=position):
            if host_id == question.host_id:
                raise Refused("same_host", "这个问题已在这位主持人的队列中。")
            return {"host_id": host_id, "position": position, "pinned": False}
        case Carry(to=to, copy_id=copy_id):
            where = {"session_id": to.id, "question_id": copy_id, "title": to.title,
                     "scheduled_start": to.scheduled_start}
            return {"state": CARRIED, "pinned": False,
                    "flags": {**question.flags, "carried_to": where}}
        case Close():
            return {"state": DECLINED, "pinned": False, "decline_reason": SESSION_ENDED_REASON,
                    "flags": {**question.flags, "closed": "session_ended"}}
    raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover


def _verb(action: Action) -> str:
    return {
        Approve: "通过", Edit: "修改", Merge: "合并", Reply: "回复", Decline: "拒绝",
        Pin: "置顶", Move: "调整顺序", OnAir: "上直播", Answered: "标记已解答",
        Requeue: "退回队列", Skip: "跳过", Note: "添加备注", ToHost: "转给其他主持人",
        Carry: "转到下一场", Close: "关闭",
    }[type(action)]


def session_end_action(next_session: LiveSession | None, copy_id: str) -> Carry | Close:
    """What an open question becomes when its session ends."""
    return Close() if next_session is None else Carry(next_session, copy_id)


def carried_copy(q: Question, carry: Carry, now: float) -> Question:
    """The pending question that waits in the next session for a carried one: the same
    asker and (masked) text, moderated afresh there. Its client id names the original, so
    it can never collide with a retry key the asker's browser makes."""
    flags = {k: v for k, v in q.flags.items() if k in ("pii", "suggested_item",
                                                      "suggested_category")}
    flags["carried_from"] = {"session_id": q.session_id, "question_id": q.id}
    return Question(id=carry.copy_id, session_id=carry.to.id, viewer_id=q.viewer_id,
                    client_id=f"carried:{q.id}", text=q.text, nickname=q.nickname,
                    category=q.category, item_id=q.item_id, service_link=q.service_link,
                    flags=flags, created_at=now, updated_at=now)


MAX_BULK = 100  # questions in one bulk action


# What a bulk action's ``questions`` field accepts, exactly: ``id:version`` pairs joined by
# commas (ids as the store makes them, versions from 1), at most MAX_BULK of them. The API
# document publishes the same pattern, so what it calls valid the server accepts.
TARGET = r"[A-Za-z0-9_-]{1,64}:[1-9][0-9]{0,8}"
TARGETS_PATTERN = rf"^{TARGET}(,{TARGET}){{0,{MAX_BULK - 1}}}$"


def parse_targets(text: str) -> list[tuple[str, int]]:
    """``"id:version,id:version"`` as (id, version) pairs; refuses anything else."""
    if re.fullmatch(TARGETS_PATTERN, text) is None:
        raise Refused("bad_field", f"questions 应为“问题id:版本”，以逗号分隔，最多 {MAX_BULK} 个。")
    pairs = (part.split(":") for part in text.split(","))
    return [(question_id, int(version)) for question_id, version in pairs]


# --- the queue's order ---------------------------------------------------------------------
#
# The order is the moderators': pinned questions first, then by position (set when a question
# is approved — the end —, moved, skipped or routed to another host). With the session's
# ``me_too_raises`` setting on, each "me too" lifts a question by ME_TOO_STEP positions
# (one approval's place at the end of the queue) from where the moderators put it: the rank
# is ``position − me_too × ME_TOO_STEP``. A move places a question at the rank it is
# dropped at (its position takes its own "me too" count into account), so a move always
# lands where it was made; later "me too"s raise it from there. Pinned questions stay first
# whatever the counts. docs/live.md and web/static/questions.js follow the same rule.

ME_TOO_STEP = 1.0


def me_too_raises(session: LiveSession) -> bool:
    """Whether "me too" counts raise questions in this session's queues."""
    return bool(session.settings.get("me_too_raises", False))


def rank(q: Question, raises: bool = False) -> float:
    """Where a queued question stands among the unpinned (lower is sooner)."""
    return q.position - q.me_too * ME_TOO_STEP if raises else q.position


def queue_order(questions: list[Question], raises: bool = False) -> list[Question]:
    """The queue: pinned first, then by rank (then age, for equal ranks)."""
    queued = [q for q in questions if q.state == QUEUED]
    return sorted(queued, key=lambda q: (not q.pinned, rank(q, raises), q.created_at, q.id))


def host_queue(questions: list[Question], host_id: str, raises: bool = False) -> list[Question]:
    """One host's queue: the questions routed to them and those routed to no host."""
    return [q for q in queue_order(questions, raises) if q.host_id in ("", host_id)]


def position_before(ordered: list[Question], before_id: str | None, moving: Question | None = None,
                    raises: bool = False) -> float:
    """The position that puts ``moving`` just above ``before_id`` in ``ordered`` (the queue
    without it, in order), or last when None."""
    ranks = [rank(q, raises) for q in ordered]
    own = moving.me_too * ME_TOO_STEP if (raises and moving is not None) else 0.0
    if before_id is None:
        return ((max(ranks) + 1.0) if ranks else 1.0) + own
    index = next((i for i, q in enumerate(ordered) if q.id == before_id), None)
    if index is None:
        raise Refused("not_found", "找不到要插在前面的问题。")
    after = ranks[index]
    previous = ranks[index - 1] if index > 0 else after - 2.0
    return (previous + after) / 2.0 + own


# --- the air: one question per host -------------------------------------------------------------


def on_air_slots(session: LiveSession, host_of: dict[str, str] | None = None) -> dict[str, str]:
    """What each host has on air (host id → question id; "" for no host). A session stored
    before the per-host air has only ``on_air_id``: its question counts under its own host
    (``host_of``: question id → host id)."""
    if session.on_air_ids or not session.on_air_id:
        return dict(session.on_air_ids)
    return {(host_of or {}).get(session.on_air_id, ""): session.on_air_id}


def on_air_host(session: LiveSession, q: Question, user_id: str, user_role: str) -> str:
    """Whose air ``q`` goes on: the host it was routed to; a question routed to no host goes
    on the air of the session's host who takes it (an admin's or a host's from outside the
    session's list: nobody's, ""). A host may not take another host's question."""
    if q.host_id:
        if user_role == "host" and user_id in session.host_ids and user_id != q.host_id:
            raise Refused("other_host", "这个问题在其他主持人的队列中，请让审核员转给你。")
        return q.host_id
    return user_id if user_id in session.host_ids else ""


def on_air_after(slots: dict[str, str], q: Question) -> dict[str, str]:
    """The hosts' air once ``q`` is as given: on air under its host, or off everyone's."""
    after = {host: qid for host, qid in slots.items() if qid != q.id}
    if q.state == ON_AIR:
        after[q.host_id] = q.id
    return after


def latest_on_air(slots: dict[str, str]) -> str:
    """The question put on air last of those on air (``LiveSession.on_air_id``), or ""."""
    return next(reversed(slots.values()), "")
