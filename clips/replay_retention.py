"""Retention of recordings and replays: ``[replays] retention_days`` after a session ends,
its recording is deleted, and with it the replay.

``RecordingRetention.sweep`` finds the ended sessions past the limit whose recording is not
yet deleted, deletes the recording's objects through the media store (``delete_prefix`` of
``sessions/<id>/hls/``: files under ``media_dir``, or objects in the S3 bucket — and with S3
the recorder's local spool folder, should one have been left behind), then marks the session
(``settings["recording_deleted_at"]``) with an audit entry ``replay.expire`` in one
transaction. Clips cut from the recording are files of their own (``clips/<id>/``) and stay.

The order matters: the files go first, the mark after. A sweep interrupted in between finds
the session again next time and deletes what is left (deleting a missing object is not an
error), so no recording is ever marked deleted while its files remain.

It runs from the app's once-a-minute tick (the viewer sampler's loop, ``web/app.py``) at
most once every ``SWEEP_SECONDS``; several nodes may sweep at once: deletions are idempotent
and a mark that lost a race (``VersionConflict``) is simply skipped.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from clips.replays import DELETED
from live.media_store import MediaStore, MediaStoreError, hls_key
from moderation.audit import Audit
from store.base import Store, StoreError, VersionConflict
from store.records import LiveSession

log = logging.getLogger(__name__)

DAY = 86_400.0
SWEEP_SECONDS = 3600.0  # at most one sweep an hour per node


class RecordingRetention:
    def __init__(self, store: Store, media: MediaStore, *, days: int, audit: Audit,
                 spool: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.media = media
        self.days = days
        self.audit = audit
        self.spool = spool  # media_dir, where an S3 store's recorder spools (None: local)
        self.clock = clock
        self.last_sweep: float | None = None

    @property
    def enabled(self) -> bool:
        return self.days > 0

    async def expired(self) -> list[LiveSession]:
        """Ended sessions past the limit whose recording has not been deleted yet."""
        if not self.enabled:
            return []
        cutoff = self.clock() - self.days * DAY
        ended = await self.store.find(LiveSession, {"status": "ended", "ended_at__lt": cutoff},
                                      order_by=["ended_at"])
        return [s for s in ended if not s.settings.get(DELETED)]

    async def sweep(self) -> list[str]:
        """Delete every expired recording; the ids of the sessions done."""
        self.last_sweep = self.clock()
        done = []
        for session in await self.expired():
            try:
                objects = await self.media.delete_prefix(hls_key(session.id))
                if self.spool is not None:
                    await asyncio.to_thread(
                        shutil.rmtree, self.spool / hls_key(session.id).rstrip("/"), True)
                await self._mark(session, objects)
            except (MediaStoreError, OSError, StoreError) as exc:
                log.warning("retention: the recording of session %s was not deleted this "
                            "time: %s", session.id, exc)
                continue
            done.append(session.id)
            log.info("retention: deleted the recording of session %s (%d objects), ended "
                     "more than %d days ago", session.id, objects, self.days)
        return done

    async def _mark(self, session: LiveSession, objects: int) -> None:
        now = self.clock()
        try:
            async with self.store.transaction() as tx:
                current = await tx.get(LiveSession, session.id)
                if current.settings.get(DELETED):
                    return
                await tx.update(LiveSession, session.id,
                                {"settings": {**current.settings, DELETED: now}},
                                expected_version=current.version, now=now)
                await self.audit(tx, "system", "replay.expire", f"session:{session.id}",
                                 session_id=session.id, at=now,
                                 after={"deleted_objects": objects,
                                        "retention_days": self.days})
        except VersionConflict:
            return  # another node marked it (or the session changed): the next sweep sees

    async def tick(self, now: float | None = None) -> None:
        """Called every minute or so: sweep when ``SWEEP_SECONDS`` have passed."""
        if not self.enabled:
            return
        now = self.clock() if now is None else now
        if self.last_sweep is not None and now - self.last_sweep < SWEEP_SECONDS:
            return
        try:
            await self.sweep()
        except StoreError as exc:
            log.warning("retention: sweep skipped: %s", exc)
