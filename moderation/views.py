"""What each audience may see of a question, and the events one change produces.

Three views, each a subset of the next: the public (every viewer of the session, only for
questions in the queue, on air or answered), the asker (adds the outcome addressed to them:
the text reply, the decline reason, the question it was merged into), and staff (adds flags,
the viewer id for moderation, and the version that every staff action must quote).
Text is always the masked text: nobody, staff included, is shown what was masked.
"""

from __future__ import annotations

from typing import Any

from live.events import PUBLIC, QUESTION, QUESTION_REMOVED, SESSION, STAFF, Event, viewer_audience
from moderation.questions import PUBLIC as PUBLIC_STATES
from moderation.questions import STATE_LABELS
from store.records import LiveSession, Question


def public_view(q: Question, item_names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": q.id, "text": q.text, "nickname": q.nickname, "state": q.state,
        "state_label": STATE_LABELS[q.state], "category": q.category, "item_id": q.item_id,
        "item_name": item_names.get(q.item_id, ""), "service_link": q.service_link,
        "me_too": q.me_too, "merged_count": q.merged_count, "pinned": q.pinned,
        "position": q.position, "on_air_at": q.on_air_at, "answered_at": q.answered_at,
        "created_at": q.created_at,
    }


def owner_view(q: Question, item_names: dict[str, str]) -> dict[str, Any]:
    view = public_view(q, item_names)
    view.update({
        "mine": True, "client_id": q.client_id, "reply": q.reply,
        "decline_reason": q.decline_reason, "merged_into": q.merged_into,
        "masked": list(q.flags.get("pii", [])),
        # Where a question went when its session ended (moderation.session_end), or None.
        "carried_to": q.flags.get("carried_to"),
    })
    return view


def staff_view(q: Question, item_names: dict[str, str]) -> dict[str, Any]:
    view = owner_view(q, item_names)
    del view["mine"]
    view.update({"viewer_id": q.viewer_id, "flags": q.flags, "host_id": q.host_id,
                 "version": q.version, "updated_at": q.updated_at})
    return view


def session_view(b: LiveSession) -> dict[str, Any]:
    return {
        "id": b.id, "title": b.title, "description": b.description, "status": b.status,
        "scheduled_start": b.scheduled_start, "scheduled_end": b.scheduled_end,
        "started_at": b.started_at, "ended_at": b.ended_at, "presenter": b.presenter,
        "on_air_id": b.on_air_id,
        # What each host has on air (host id → question id; "" for no host), oldest first.
        "on_air_ids": dict(b.on_air_ids) or ({"": b.on_air_id} if b.on_air_id else {}),
        "slow_mode_seconds": int(b.settings.get("slow_mode_seconds", 0)),
        "me_too_raises": bool(b.settings.get("me_too_raises", False)),
    }


def question_events(before: Question | None, after: Question,
                    item_names: dict[str, str]) -> list[Event]:
    """The events one change of a question produces, for each audience entitled to it."""
    events = [
        Event(STAFF, QUESTION, {"question": staff_view(after, item_names)}),
    ]
    if after.state in PUBLIC_STATES:
        events.append(Event(PUBLIC, QUESTION, {"question": public_view(after, item_names)}))
    elif before is not None and before.state in PUBLIC_STATES:
        events.append(Event(PUBLIC, QUESTION_REMOVED, {"id": after.id}))
    events.append(Event(viewer_audience(after.viewer_id), QUESTION,
                        {"question": owner_view(after, item_names)}))
    return events


def session_events(b: LiveSession) -> list[Event]:
    view = session_view(b)
    return [Event(PUBLIC, SESSION, {"session": view}), Event(STAFF, SESSION, {"session": view})]
