"""Replays of ended sessions: the whole recording, a chapter per answered question, captions.

A session that has ended keeps its HLS recording (``sessions/<id>/hls/`` in the media store).
Its replay is that recording played as video on demand, with:

* **chapters**: one per question answered on air, at the moment it went on air
  (``Question.on_air_at``), with its text (masked before it was ever stored), its business
  item and, where the clip cut for it is published, that clip;
* **captions**: the lines a captioner typed (``Caption``, wall-clock ``at``), plus each
  chapter's question as a cue where it starts, as WebVTT; and the chapters as a WebVTT
  ``chapters`` track.

Everything in the recording is wall-clock time; the player counts seconds from the start of
the playlist, laid end to end (a gap where the recorder was down takes no time in the
replay). ``media_offset`` maps one to the other through the playlist's program-date-time
tags (``clips.timeline``), so a caption typed at 10:03:12 appears at the picture of 10:03:12.

**Who may watch** (``replay_state``): staff always; the public only once the replay is
published. ``[replays] publish`` decides what publishes it: ``"staff"`` (the default — an
admin presses 公开回放 on the session's page, as clips are reviewed before they go to the
library) or ``"on_end"`` (public as soon as the session ends). Either way staff can publish or
withdraw it; their choice is kept in the session's ``settings["replay"]`` and audited. Once
the retention job (``clips.replay_retention``) has deleted the recording there is no replay
for anyone (``settings["recording_deleted_at"]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clips.captions import Cue, webvtt
from clips.timeline import Timeline, parse_playlist
from live.media_store import MediaNotFound, MediaStore, hls_key
from live.recorder_commands import PLAYLIST_NAME
from moderation.audit import Audit
from store.base import Store
from store.records import Caption, Clip, LiveSession, Question

REPLAY = "replay"  # the key of staff's choice in LiveSession.settings
DELETED = "recording_deleted_at"  # set by the retention job when the recording is gone
PUBLISH_CHOICES = ("staff", "on_end")
CAPTION_SECONDS = 6.0  # longest a caption line stays up when no next line replaces it
QUESTION_SECONDS = 8.0  # how long a chapter's question is shown as a caption

# The states of a replay (replay_state) and how staff pages name them.
NOT_ENDED, PUBLISHED, UNPUBLISHED, EXPIRED = "not_ended", "published", "unpublished", "expired"
STATE_LABELS = {NOT_ENDED: "直播未结束", PUBLISHED: "已公开", UNPUBLISHED: "未公开",
                EXPIRED: "录像已过保存期限"}


class ReplayError(Exception):
    """A change to a replay that cannot be made; the message is for staff (Chinese)."""


def replay_state(session: LiveSession, publish: str) -> str:
    """``published``, ``unpublished``, ``expired`` or ``not_ended`` (see the module doc)."""
    if session.status != "ended":
        return NOT_ENDED
    if session.settings.get(DELETED):
        return EXPIRED
    chosen = (session.settings.get(REPLAY) or {}).get("state", "")
    if chosen in (PUBLISHED, UNPUBLISHED):
        return str(chosen)
    return PUBLISHED if publish == "on_end" else UNPUBLISHED


def may_watch(session: LiveSession, publish: str, *, staff: bool) -> bool:
    """Whether a viewer (or a member of staff) may open the replay of ``session``."""
    state = replay_state(session, publish)
    return state == PUBLISHED or (staff and state == UNPUBLISHED)


# --- time: wall clock → seconds into the replay -------------------------------------------


def media_offset(timeline: Timeline, at: float) -> float | None:
    """Seconds from the start of the replay at which wall-clock ``at`` is shown, or None
    after the recording's end. A moment before the start, or in a gap between runs, maps to
    where the recording resumes (the next thing the viewer can see)."""
    position = 0.0
    for segment in timeline.segments:
        if at < segment.end:
            return position + max(0.0, at - segment.start)
        position += segment.duration
    return None


def duration(timeline: Timeline) -> float:
    return sum(s.duration for s in timeline.segments)


def vod_playlist(text: str) -> str:
    """The recording's playlist as video on demand: ``EXT-X-PLAYLIST-TYPE:VOD`` and
    ``#EXT-X-ENDLIST`` (a recorder that died with its node never wrote the end tag)."""
    lines = [line for line in text.splitlines() if line.strip()]
    typed = False
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            lines[i] = "#EXT-X-PLAYLIST-TYPE:VOD"
            typed = True
    if not typed and lines and lines[0] == "#EXTM3U":
        lines.insert(1, "#EXT-X-PLAYLIST-TYPE:VOD")
    if "#EXT-X-ENDLIST" not in lines:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


# --- the replay -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chapter:
    question_id: str
    text: str  # masked before it was stored
    item_id: str
    at: float  # wall clock: when the question went on air
    offset: float | None  # seconds into the replay; None: the recording does not reach it
    clip_id: str = ""  # its published clip, if any


@dataclass(frozen=True)
class Replay:
    session: LiveSession
    timeline: Timeline
    chapters: tuple[Chapter, ...]
    captions: tuple[Caption, ...]

    @property
    def duration(self) -> float:
        return duration(self.timeline)

    def caption_cues(self) -> list[Cue]:
        """The captioner's lines, each up until the next (at most ``CAPTION_SECONDS``), and
        each chapter's question where the chapter starts, in replay time."""
        end = self.duration
        placed = [(offset, c.text) for c in self.captions
                  if (offset := media_offset(self.timeline, c.at)) is not None]
        cues = []
        for i, (start, text) in enumerate(placed):
            stop = min(end, start + CAPTION_SECONDS)
            if i + 1 < len(placed) and placed[i + 1][0] > start:
                stop = min(stop, placed[i + 1][0])
            cues.append(Cue(start, stop, text))
        for chapter, start, until in self.chapter_spans():
            cues.append(Cue(start, min(until, start + QUESTION_SECONDS), f"问：{chapter.text}"))
        return sorted(cues, key=lambda cue: (cue.start, cue.end))

    def chapter_cues(self) -> list[Cue]:
        """The chapters as WebVTT ``chapters`` cues: each until the next one starts."""
        return [Cue(start, until, chapter.text)
                for chapter, start, until in self.chapter_spans()]

    def chapter_spans(self) -> list[tuple[Chapter, float, float]]:
        """Each chapter the recording reaches, with where it starts and where the next one
        does (the end of the recording for the last); chapters at one moment share a span."""
        placed: dict[float, Chapter] = {}
        for chapter in self.chapters:
            if chapter.offset is not None:
                placed.setdefault(chapter.offset, chapter)
        starts = sorted(placed)
        ends = [*starts[1:], self.duration][:len(starts)]
        return [(placed[start], start, until) for start, until in zip(starts, ends, strict=True)
                if until > start]

    def captions_vtt(self) -> str:
        return webvtt(self.caption_cues())

    def chapters_vtt(self) -> str:
        return webvtt(self.chapter_cues())


class Replays:
    """Reads replays, and lets staff publish or withdraw them (audited)."""

    def __init__(self, store: Store, media: MediaStore, *, publish: str, audit: Audit,
                 clock: Callable[[], float] = time.time) -> None:
        if publish not in PUBLISH_CHOICES:
            raise ValueError(f"[replays] publish must be one of {PUBLISH_CHOICES}")
        self.store = store
        self.media = media
        self.publish = publish
        self.audit = audit
        self.clock = clock

    def state(self, session: LiveSession) -> str:
        return replay_state(session, self.publish)

    def may_watch(self, session: LiveSession, *, staff: bool) -> bool:
        return may_watch(session, self.publish, staff=staff)

    async def playlist(self, session_id: str) -> str | None:
        """The recording's playlist text, or None when there is none."""
        try:
            data = await self.media.get(hls_key(session_id, PLAYLIST_NAME))
        except (MediaNotFound, ValueError):
            return None
        return data.decode("utf-8")

    async def load(self, session: LiveSession) -> Replay | None:
        """The replay of an ended session, or None when it has no recording."""
        text = await self.playlist(session.id)
        if text is None:
            return None
        timeline = parse_playlist(text)
        if not timeline.segments:
            return None
        questions = await self.store.find(
            Question, {"session_id": session.id, "state": "answered"},
            order_by=["on_air_at", "answered_at"])
        clips = await self.store.find(Clip, {"session_id": session.id, "state": "published"},
                                      order_by=["start_at"])
        clip_of = {c.question_id: c.id for c in clips if c.question_id}
        chapters = tuple(
            Chapter(question_id=q.id, text=q.text, item_id=q.item_id, at=at,
                    offset=media_offset(timeline, at), clip_id=clip_of.get(q.id, ""))
            for q in questions if (at := q.on_air_at or q.answered_at))
        captions = await self.store.find(Caption, {"session_id": session.id},
                                         order_by=["at", "created_at"])
        return Replay(session=session, timeline=timeline, chapters=chapters,
                      captions=tuple(captions))

    async def set_published(self, session_id: str, published: bool, *, actor: str
                            ) -> LiveSession:
        """Publish or withdraw a session's replay, audited in the same transaction."""
        now = self.clock()
        async with self.store.transaction() as tx:
            current = await tx.get(LiveSession, session_id)
            state = self.state(current)
            if state == NOT_ENDED:
                raise ReplayError("直播结束后才有回放。")
            if state == EXPIRED:
                raise ReplayError("这场直播的录像已按保存期限删除，没有回放可以公开。")
            chosen = PUBLISHED if published else UNPUBLISHED
            settings: dict[str, Any] = {**current.settings,
                                        REPLAY: {"state": chosen, "by": actor, "at": now}}
            updated = await tx.update(LiveSession, session_id, {"settings": settings},
                                      expected_version=current.version, now=now)
            await self.audit(tx, actor, "replay.publish" if published else "replay.unpublish",
                             f"session:{session_id}", session_id=session_id,
                             before={"replay": state}, after={"replay": chosen}, at=now)
        return updated

    async def published(self, limit: int = 20) -> list[LiveSession]:
        """Ended sessions whose replay the public may watch, the newest first."""
        ended = await self.store.find(LiveSession, {"status": "ended"},
                                      order_by=["-ended_at"], limit=limit * 5)
        return [s for s in ended if self.state(s) == PUBLISHED][:limit]
