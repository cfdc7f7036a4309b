"""Live captions: lines of text that follow what is said on air, kept beside the recording.

A line comes from a ``CaptionSource``. Today the only source is a person — a captioner
typing in the caption console, through the staff action ``caption`` (``moderation.actions``)
— but the track does not care who types: a speech-recognition engine could call ``submit``
the same way (none is shipped; its Chinese accuracy has not been measured, issue 16).

``CaptionTrack.submit`` cleans the line like every other text (``normalize_text``, personal
data masked with ``moderation.pii``), stores it as a ``Caption`` with the broadcast's wall
clock time together with its audit entry in one unit of work, and only then publishes it to
every viewer and to the staff (the ``caption`` event, numbered and resumable like every
other event). The clip library later reads a clip's span of captions (``captions_between``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from live.eventlog import EventLog
from live.events import CAPTION, PUBLIC, STAFF, Event
from moderation.audit import Audit, AuditTag
from moderation.board import ModerationCore
from moderation.pii import mask_pii
from moderation.questions import Refused
from moderation.text import TextRejected, normalize_text
from store.base import Store, StoreError
from store.records import Caption, new_id

log = logging.getLogger(__name__)



class CaptionSource(Protocol):
    """Anything that feeds lines of captions to a broadcast: a captioner's console now, a
    recognition engine perhaps later. ``at`` is the broadcast's wall clock of the line."""

    async def submit(self, session_id: str, text: str, at: float) -> Caption: ...


def caption_view(caption: Caption) -> dict[str, Any]:
    """What viewers and staff are sent of a line (the text is already masked)."""
    return {"id": caption.id, "text": caption.text, "at": caption.at}


def clean_caption(text: str, max_chars: int) -> str:
    """The line as stored: normalized, within ``max_chars``, personal data masked."""
    try:
        cleaned = normalize_text(text, min_len=1, max_len=max_chars)
    except TextRejected as exc:
        message = {"empty": "字幕不能为空。",
                   "too_long": f"一条字幕最多 {max_chars} 字，请分成几条发送。"}
        raise Refused(exc.code, message.get(exc.code, exc.message)) from None
    return mask_pii(cleaned)[0]


class CaptionTrack:
    """The captions of every broadcast: submit a line, read a span back."""

    def __init__(self, store: Store, eventlog: EventLog, *, max_chars: int,
                 is_live: Callable[[str], Awaitable[bool]], audit: Audit,
                 by: str = "system", tag: AuditTag | None = None,
                 stored: Callable[[Caption], None] | None = None) -> None:
        self.store = store
        self.eventlog = eventlog
        self.max_chars = max_chars
        self.is_live = is_live
        self.audit = audit
        self.by = by  # who the lines are stored and audited as
        self.tag = tag  # the audit entry's label and target; None: "caption.add" on the session
        self.stored = stored  # told of each line once committed, before it is published

    @classmethod
    def of(cls, moderation: ModerationCore, by: str, tag: AuditTag | None = None
           ) -> CaptionTrack:
        """The track of the moderation service's store, hub and clock, writing as ``by``."""

        async def is_live(session_id: str) -> bool:
            return (await moderation.board(session_id)).session.status == "live"

        def stored(caption: Caption) -> None:  # the newest lines, for viewers' snapshots
            board = moderation.boards.get(caption.session_id)
            if board is not None:
                board.captions.append(caption)

        return cls(moderation.store, moderation.eventlog,
                   max_chars=moderation.limits.caption_max_chars, is_live=is_live,
                   audit=moderation.audit, by=by, tag=tag, stored=stored)

    async def submit(self, session_id: str, text: str, at: float) -> Caption:
        """Store, audit and publish one line; raises ``Refused`` (``not_live``, ``empty``,
        ``too_long``, or ``unavailable`` when the store failed and nothing was kept)."""
        cleaned = clean_caption(text, self.max_chars)
        if not await self.is_live(session_id):
            raise Refused("not_live", "直播没有在进行，现在不能发送字幕。")
        caption = Caption(id=new_id(), session_id=session_id, text=cleaned, at=at,
                          by=self.by, created_at=at)
        try:
            async with self.store.transaction() as tx:
                await tx.insert(caption)
                tag = self.tag or AuditTag("caption.add", f"session:{session_id}")
                await self.audit(tx, self.by, tag.action, tag.target,
                                 session_id=session_id, at=at,
                                 after={"caption": caption.id, "text": cleaned})
                view = caption_view(caption)
                pending = await self.eventlog.append(tx, session_id, [
                    Event(PUBLIC, CAPTION, {"caption": view}),
                    Event(STAFF, CAPTION, {"caption": view})])
        except StoreError as exc:
            log.warning("caption for %s not stored: %s", session_id, exc)
            raise Refused("unavailable",
                          "字幕没有发出：数据暂时无法保存，请稍后重试。") from exc
        if self.stored is not None:
            self.stored(caption)
        self.eventlog.publish(pending)
        return caption


async def captions_between(store: Store, session_id: str, start: float,
                           end: float) -> list[Caption]:
    """The lines of one broadcast sent in [start, end), in order."""
    return await store.find(Caption, {"session_id": session_id, "at__gte": start,
                                      "at__lt": end}, order_by=["at", "created_at"])
