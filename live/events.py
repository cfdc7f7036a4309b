"""The event vocabulary: every kind of event the hub fans out, who may receive it, and what
it carries, declared once.

Producers (the moderation service and its views, the clip library, the recorder) build
``Event``s with these constants; the hub numbers and serializes them; consumers (the pages'
scripts, tests, docs/protocol.md) read the same names. An event names an audience: the
public (every viewer of the session), the staff, or one viewer (the asker). A kind that is
not declared here, or sent to an audience it is not declared for, is refused when the event
is built, so a typo fails in the test of its producer rather than on a page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Audiences. A single viewer's audience is ``viewer_audience(viewer_id)``.
PUBLIC = "public"
STAFF = "staff"
VIEWER = "viewer"  # the audience class of ``viewer_audience(...)``: one asker
_VIEWER_PREFIX = VIEWER + ":"


def viewer_audience(viewer_id: str) -> str:
    return _VIEWER_PREFIX + viewer_id


def viewer_of(audience: str) -> str:
    """The viewer id of a one-viewer audience ("" for PUBLIC and STAFF)."""
    return audience[len(_VIEWER_PREFIX):] if audience.startswith(_VIEWER_PREFIX) else ""


def audience_class(audience: str) -> str:
    """PUBLIC, STAFF or VIEWER for any audience string."""
    return VIEWER if audience.startswith(_VIEWER_PREFIX) else audience


# Event kinds.
QUESTION = "question"
QUESTION_REMOVED = "question_removed"
SESSION = "session"
RESTRICTION = "restriction"
INGEST = "ingest"
CLIP = "clip"
CLIP_REMOVED = "clip_removed"
CAPTION = "caption"
SIMULCAST = "simulcast"


@dataclass(frozen=True)
class Kind:
    """One event kind: the audiences it may go to and the fields each one carries."""

    name: str
    fields: dict[str, tuple[str, ...]]  # audience class -> the event's fields for it
    meaning: str


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind(QUESTION, {STAFF: ("question",), PUBLIC: ("question",), VIEWER: ("question",)},
         "a question changed: the staff, public or owner view of it"),
    Kind(QUESTION_REMOVED, {PUBLIC: ("id",)},
         "a question left the public states (merged, replied or declined after queueing)"),
    Kind(SESSION, {PUBLIC: ("session",), STAFF: ("session",)},
         "the broadcast changed (started, ended, slow mode, the question on air)"),
    Kind(RESTRICTION, {STAFF: ("restriction",)},
         "a viewer was timed out, banned or released"),
    Kind(INGEST, {STAFF: ("ingest",)}, "the recording's health changed"),
    Kind(CLIP, {STAFF: ("clip",), PUBLIC: ("question_id", "clip_id", "url", "title"),
                VIEWER: ("question_id", "clip_id", "url", "title")},
         "staff: a clip was created or changed; public: an answer's clip was (un)published; "
         "viewer: the same, for the asker of a question merged into the answered one"),
    Kind(CLIP_REMOVED, {STAFF: ("id",)}, "a clip was deleted"),
    Kind(CAPTION, {PUBLIC: ("caption",), STAFF: ("caption",)},
         "a line of live captions: its id, text (masked) and broadcast time"),
    Kind(SIMULCAST, {STAFF: ("simulcast",)},
         "the health of the session's simulcast destinations changed (no stream keys)"),
)}


class UnknownEvent(ValueError):
    """An event of an undeclared kind, or for an audience its kind does not go to."""


@dataclass(frozen=True, slots=True)
class Event:
    audience: str  # PUBLIC, STAFF or viewer_audience(id)
    kind: str  # one of KINDS
    data: dict[str, Any]

    def __post_init__(self) -> None:
        declared = KINDS.get(self.kind)
        if declared is None:
            raise UnknownEvent(f"undeclared event kind {self.kind!r}")
        fields = declared.fields.get(audience_class(self.audience))
        if fields is None:
            raise UnknownEvent(f"{self.kind!r} events do not go to {self.audience!r}")
        if set(self.data) != set(fields):
            raise UnknownEvent(f"{self.kind!r} for {audience_class(self.audience)!r} carries "
                               f"{sorted(fields)}, not {sorted(self.data)}")


# How producers hand events to the hub: ``Hub.publish(session_id, events)``.
Publish = Callable[[str, Iterable[Event]], None]
