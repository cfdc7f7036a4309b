"""Records of the desk (issue 14), declared like ``store.records`` and mapped by both backends
generically: a 车管资讯 notice made from a high-frequency question in the daily review, and the
viewer counts sampled while a session is live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Notice:
    """A 车管资讯 notice on the library's front page, made from a cluster of questions."""

    collection: ClassVar[str] = "notices"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ("title", "body", "published")

    id: str
    title: str
    body: str = ""
    category: str = ""
    item_id: str = ""
    source_text: str = ""  # the cluster's leading (masked) question
    asked: int = 0  # how often it was asked in the reviewed period
    period: str = ""  # the reviewed period, "2026-05-04..2026-05-10"
    created_by: str = ""
    published: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1


@dataclass(frozen=True)
class ViewerSample:
    """How many viewers had a live session open at one moment: ``live.viewer_samples``
    takes one a minute while the session is live; the desk's figures read them."""

    collection: ClassVar[str] = "viewer_samples"
    json_fields: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ()

    id: str  # "<session>:<minute>": one sample per session and minute, whichever node takes it
    session_id: str
    at: float
    viewers: int
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1
