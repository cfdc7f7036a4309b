"""The records Tip Pocket keeps, as plain frozen dataclasses shared by every backend.

Each record type declares the collection (table) it lives in, which of its fields are JSON
values (lists, dicts) and which fields a caller may change through ``update``. Backends map
records to rows or documents generically from these declarations, so adding a field means
adding it here and in a migration, not in every query.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

ROLES = ("admin", "moderator", "host", "expert", "captioner")
# Who may do what, in one place: routes (``web.routing``) and staff actions
# (``moderation.actions``) name these sets; admins may do everything.
STAFF = frozenset(ROLES)
ADMIN = frozenset({"admin"})
MODERATORS = frozenset({"moderator", "admin"})
HOSTS = frozenset({"host", "admin"})
# Who may pass notes to the host (the backchannel): moderators and the expert group.
NOTERS = frozenset({"moderator", "expert", "admin"})
CAPTIONERS = frozenset({"captioner", "admin"})
# Who may watch a session's staff console (the staff websocket).
CONSOLE = frozenset({"moderator", "host", "expert", "captioner", "admin"})


class _RandomPool:
    """Bytes from the operating system's CSPRNG, read 4 KiB at a time: one ``getrandom``
    system call per 341 identifiers instead of one each (a system call gives up the GIL, and
    on the ask path getting it back can wait for the store's writer thread). A forked child
    starts with an empty pool, so parent and child never hand out the same bytes."""

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = b""
        self._at = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._at + n > len(self._buf):
                self._buf, self._at = os.urandom(self.SIZE), 0
            chunk = self._buf[self._at:self._at + n]
            self._at += n
            return chunk

    def forget(self) -> None:
        self._buf, self._at = b"", 0


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL.forget)


def new_id() -> str:
    """A random, URL-safe identifier: 96 bits from the OS's CSPRNG, 16 characters."""
    return base64.urlsafe_b64encode(_POOL.take(12)).decode("ascii")


@dataclass(frozen=True)
class StaffUser:
    collection: ClassVar[str] = "staff_users"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("role", "disabled", "password_hash", "display_name",
                                          "must_change_password")

    id: str
    name: str
    role: str
    password_hash: str
    display_name: str = ""
    disabled: bool = False
    # Set when an admin chose the password (a new account, a reset): the next sign-in must
    # choose a new one before any staff page opens.
    must_change_password: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class LoginSession:
    """A server-side staff login. Only a hash of the cookie's token is stored."""

    collection: ClassVar[str] = "login_sessions"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("last_seen", "expires_at")

    id: str  # sha256 of the cookie token
    user_id: str
    csrf_token: str
    created_at: float
    last_seen: float
    expires_at: float
    client: str = ""
    version: int = 1


@dataclass(frozen=True)
class AuditEntry:
    collection: ClassVar[str] = "audit_log"
    json_fields: ClassVar[tuple[str, ...]] = ("before", "after")
    mutable: ClassVar[tuple[str, ...]] = ()

    id: str
    at: float
    actor: str  # staff user name, or "system"
    action: str  # e.g. "staff.create", "question.approve"
    target: str  # e.g. "staff:alice", "question:<id>"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    session_id: str = ""  # the broadcast session the action belongs to, if any
    version: int = 1


@dataclass(frozen=True)
class LiveSession:
    """One live help-desk session (直播场次): a scheduled broadcast, its hosts, its video
    source and its state. The product calls it a session everywhere; the storage name
    ``broadcasts`` is kept so that existing databases open unchanged."""

    collection: ClassVar[str] = "broadcasts"
    json_fields: ClassVar[tuple[str, ...]] = ("host_ids", "settings", "on_air_ids")
    mutable: ClassVar[tuple[str, ...]] = (
        "title", "description", "scheduled_start", "scheduled_end", "host_ids", "presenter",
        "status", "started_at", "ended_at", "source", "settings", "on_air_id", "on_air_ids",
    )

    id: str
    title: str
    description: str = ""
    scheduled_start: float = 0.0
    scheduled_end: float = 0.0
    host_ids: list[str] = field(default_factory=list)
    presenter: str = ""
    status: str = "scheduled"  # scheduled | live | ended
    started_at: float = 0.0
    ended_at: float = 0.0
    source: str = ""  # ffmpeg input URL; empty = generated test picture
    settings: dict[str, Any] = field(default_factory=dict)  # slow mode and the like
    # The question on air most recently put there (of those still on air), or "".
    on_air_id: str = ""
    # What each host has on air: host id ("" for a question on air for no host) → question
    # id, in the order they went on air; one question per host (moderation.questions).
    on_air_ids: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class Question:
    collection: ClassVar[str] = "questions"
    json_fields: ClassVar[tuple[str, ...]] = ("flags",)
    mutable: ClassVar[tuple[str, ...]] = (
        "text", "state", "category", "item_id", "service_link", "flags", "me_too",
        "merged_into", "merged_count", "reply", "decline_reason", "position", "pinned",
        "host_id", "on_air_at", "answered_at", "nickname",
    )

    id: str
    session_id: str
    viewer_id: str
    client_id: str  # generated by the asking client; a retry with it is not stored twice
    text: str  # personal data already masked; the raw text is never stored (docs/privacy.md)
    nickname: str = ""
    state: str = "pending"
    category: str = ""
    item_id: str = ""
    service_link: str = ""
    flags: dict[str, Any] = field(default_factory=dict)
    me_too: int = 0
    merged_into: str = ""
    merged_count: int = 0
    reply: str = ""
    decline_reason: str = ""
    position: float = 0.0
    pinned: bool = False
    host_id: str = ""
    on_air_at: float = 0.0
    answered_at: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class Clip:
    collection: ClassVar[str] = "clips"
    json_fields: ClassVar[tuple[str, ...]] = ("tags",)
    mutable: ClassVar[tuple[str, ...]] = (
        "state", "title", "summary", "category", "item_id", "service_link", "tags",
        "start_at", "end_at", "media_path", "poster_path", "captions_path", "duration",
        "size_bytes", "error", "published_at", "views", "question", "reply", "cut_mode",
        "generation", "job_id", "width", "height", "created_by", "note",
    )

    id: str
    session_id: str
    question_id: str = ""  # empty for a clip made by hand from a span of the recording
    # pending (waiting for its cut) | draft | published | failed | unpublished
    state: str = "pending"
    title: str = ""
    summary: str = ""
    category: str = ""
    item_id: str = ""
    service_link: str = ""
    tags: list[str] = field(default_factory=list)
    start_at: float = 0.0
    end_at: float = 0.0
    media_path: str = ""
    poster_path: str = ""
    captions_path: str = ""
    duration: float = 0.0
    size_bytes: int = 0
    error: str = ""
    published_at: float = 0.0
    views: int = 0
    question: str = ""  # the question as asked (masked), kept with the clip
    reply: str = ""  # the text reply, if the question had one
    cut_mode: str = "copy"  # how the next (or last) cut is made: copy | accurate | reencode
    generation: int = 0  # bumped by every cut asked for; names the files, so no stale cache
    job_id: str = ""  # the cut job in progress or last run
    width: int = 0
    height: int = 0
    created_by: str = ""  # staff name for a hand-made clip; "system" for an answer's clip
    note: str = ""  # what the reviewer must know of the cut (e.g. the recording ended short)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class ClipView:
    """One viewer watched one clip on one day: views count once per viewer, clip and day."""

    collection: ClassVar[str] = "clip_views"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ()

    id: str  # f"{clip_id}:{viewer_id}:{YYYYMMDD}"
    clip_id: str
    viewer_id: str
    day: str
    created_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class SearchMiss:
    """A library search that found nothing, counted per normalized query, for admins."""

    collection: ClassVar[str] = "search_misses"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("count", "last_at")

    id: str  # sha256 of the normalized query
    query: str
    count: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class DataFile:
    """An admin-edited copy of a shipped data file (the service catalog, the search word
    list), kept in the store so every node reads the same; absent: the shipped copy."""

    collection: ClassVar[str] = "data_files"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("text", "updated_by")

    id: str  # "service_catalog" | "synonyms"
    text: str
    updated_by: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class Job:
    """A unit of background work (a clip cut, say), claimed by a worker under a lease."""

    collection: ClassVar[str] = "jobs"
    json_fields: ClassVar[tuple[str, ...]] = ("payload",)
    # Workers change jobs through claim_job/finish_job; these are for renewing a lease,
    # requeueing what a restarted worker held, and an admin's retry of a failed job.
    mutable: ClassVar[tuple[str, ...]] = (
        "state", "attempts", "run_after", "lease_owner", "lease_expires", "last_error",
    )

    id: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"  # queued | running | done | failed
    attempts: int = 0
    max_attempts: int = 5
    run_after: float = 0.0
    lease_owner: str = ""
    lease_expires: float = 0.0
    last_error: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class MeToo:
    """One viewer's "me too" on one question; the id makes it unique per pair."""

    collection: ClassVar[str] = "me_too"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ()

    id: str  # f"{question_id}:{viewer_id}"
    question_id: str
    viewer_id: str
    created_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class ViewerRestriction:
    """A viewer timed out or banned from asking (``until`` 0 means for good)."""

    collection: ClassVar[str] = "viewer_restrictions"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("kind", "until", "reason", "by")

    id: str  # the viewer id
    kind: str  # timeout | ban
    until: float = 0.0
    reason: str = ""
    by: str = ""
    session_id: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class TermRule:
    """An admin-managed blocked term: hold the question for review, or reject it."""

    collection: ClassVar[str] = "term_rules"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("action",)

    id: str
    term: str
    action: str  # hold | reject
    created_by: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class ReasonTemplate:
    """A reusable text the moderators pick from: a decline reason or a canned reply
    (``kind``); ``{item_name}`` and ``{item_link}`` are filled in for the question."""

    collection: ClassVar[str] = "reason_templates"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("text", "position")

    id: str
    text: str
    kind: str = "decline"  # decline | reply
    position: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class Caption:
    """One line of live captions typed during a broadcast, kept beside its recording.

    ``at`` is the wall clock of the broadcast when the line was sent (the recording's
    timeline is wall-clock time too, so a clip's span selects its captions by ``at``)."""

    collection: ClassVar[str] = "captions"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ()

    id: str
    session_id: str
    text: str  # personal data already masked, as every stored text
    at: float
    by: str = ""  # the captioner's staff name, or the engine that fed the line
    created_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class SimulcastTarget:
    """One RTMP destination a live session's programme is pushed to (``live.simulcast``).

    ``stream_key`` is a secret, stored sealed (``live.simulcast_keys``: AES-GCM; rows from
    before that hold it as given): opened only to build the push command and the mask, and
    shown nowhere in full (pages show ``live.simulcast.mask_key``, the audit log a
    fingerprint)."""

    collection: ClassVar[str] = "simulcast_targets"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("name", "url", "stream_key", "enabled")

    id: str
    session_id: str
    name: str
    url: str  # rtmp:// or rtmps://, without the key
    stream_key: str = ""
    enabled: bool = True
    created_by: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


def field_names(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def to_dict(record: Any) -> dict[str, Any]:
    """A shallow dict of a record's fields (JSON fields stay Python values)."""
    return {name: getattr(record, name) for name in field_names(type(record))}
