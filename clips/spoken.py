"""A clip's captions with what was said: the question (``clips.captions.question_cues``)
followed by the lines the captioner typed during the clip's span (``moderation.captions``).

The lines are placed by the time they were sent (the broadcast's wall clock, the same clock as
the clip's span): a line shows from then until the next line, for at most ``LINE_SECONDS``
and never past the clip's end. The question shows until the first line. The cutter writes the
result as the clip's WebVTT file, and the search index reads its text, so the officer's words
are searchable in the library.
"""

from __future__ import annotations

from clips.captions import Cue, question_cues
from moderation.captions import captions_between
from store.base import Store
from store.records import Caption, Clip

LINE_SECONDS = 6.0  # how long a line stays up when no next line replaces it


def spoken_cues(lines: list[Caption], start_at: float, duration: float) -> list[Cue]:
    """The lines (sent within the clip's span, in order) as cues in clip seconds."""
    cues = []
    for i, line in enumerate(lines):
        begin = max(0.0, line.at - start_at)
        end = min(begin + LINE_SECONDS, duration)
        if i + 1 < len(lines):
            end = min(end, lines[i + 1].at - start_at)
        if end > begin:
            cues.append(Cue(begin, end, line.text))
    return cues


def combined_cues(clip: Clip, lines: list[Caption]) -> list[Cue]:
    duration = clip.end_at - clip.start_at
    spoken = spoken_cues(lines, clip.start_at, duration)
    asked: list[Cue] = []
    if clip.question or clip.reply:
        asked = question_cues(clip.question or clip.title, clip.reply, duration)
    if spoken:
        first = spoken[0].start
        asked = [Cue(c.start, min(c.end, first), c.text) for c in asked if c.start < first]
    return asked + spoken


async def clip_cues(store: Store, clip: Clip) -> list[tuple[float, float, str]]:
    """The clip's captions as ``(start, end, text)``: its question (and reply), then the
    lines typed while it was on air."""
    lines = await captions_between(store, clip.session_id, clip.start_at, clip.end_at)
    return [(c.start, c.end, c.text) for c in combined_cues(clip, lines)]
