"""WebVTT captions for clips: the viewer's question and, if any, the reply.

Captions are text written by users, so they never go near an ffmpeg command line: this module
turns them into the text of a ``.vtt`` file (pure functions), and the cutter writes that file
next to the clip. Cue text is escaped as WebVTT requires — ``&``, ``<`` and ``>`` become
character references, which also defuses a ``-->`` inside a question — and blank lines are
removed from it, because a blank line ends a cue and whatever follows would be parsed as a new
block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from store.records import Clip

_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the start of the clip
    end: float
    text: str


def escape_cue_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _BLANK_LINES.sub("\n", text.strip())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` as WebVTT wants it."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def webvtt(cues: Iterable[Cue]) -> str:
    """The text of a WebVTT file with ``cues`` (empty cues are left out)."""
    blocks = ["WEBVTT"]
    for cue in cues:
        text = escape_cue_text(cue.text)
        if not text or cue.end <= cue.start:
            continue
        blocks.append(f"{timestamp(cue.start)} --> {timestamp(cue.end)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def question_cues(question: str, reply: str, duration: float) -> list[Cue]:
    """The question over the whole clip; with a reply, the question over the first half and
    the reply over the second (the clip is the answer being given)."""
    if not reply.strip():
        return [Cue(0.0, duration, question)]
    half = duration / 2
    return [Cue(0.0, half, question), Cue(half, duration, reply)]


def clip_captions(clip: Clip) -> list[tuple[float, float, str]]:
    """A clip's captions as ``(start, end, text)``: its question and reply (none without
    either). The cutter writes them as WebVTT; the search index reads their text."""
    duration = clip.end_at - clip.start_at
    if not clip.question and not clip.reply:
        return []
    return [(c.start, c.end, c.text)
            for c in question_cues(clip.question or clip.title, clip.reply, duration)]
