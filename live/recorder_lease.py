"""One recorder per live session across nodes: a lease in the store.

Several ``run.py serve`` nodes share one store; each watches the live sessions, and exactly
one of them records each session: the holder of the session's recorder lease. The lease is a
``Job`` record of kind ``recorder`` (id ``recorder-<session id>``; clip workers claim only
``clip`` jobs) so no table of its own is needed: ``lease_owner`` is the node, ``lease_expires``
the wall-clock expiry, ``attempts`` the fencing counter (the lease's *term*: every
acquisition adds one), and every change is a compare-and-set on the record's version.

* ``acquire``: take the lease when nobody holds it, when its holder let it expire, or when
  the holder is this node itself (a restart: its previous life is gone). The term goes up.
* ``renew`` (every third of ``[media] recorder_lease_seconds``): extends the expiry, only
  while the owner and the term are still this node's. False: the lease is lost (another node
  took over after an expiry), and the recorder must stop writing at once.
* ``release``: on a clean stop the expiry is set to now, so another node takes over at its
  next look instead of waiting out the lease; when the session ended the lease is closed.

A node that cannot renew (the store unreachable, a partition) stops its own recorder once
half the lease has passed since its last renewal, before any other node may take over.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from store.base import Conflict, NotFound, Store, VersionConflict
from store.records import Job

KIND = "recorder"


def lease_id(session_id: str) -> str:
    return f"recorder-{session_id}"


class RecorderLeases:
    def __init__(self, store: Store, node: str, lease_seconds: float, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.node = node
        self.lease_seconds = max(1.0, float(lease_seconds))
        self.clock = clock

    @property
    def renew_every(self) -> float:
        return self.lease_seconds / 3

    async def holder(self, session_id: str) -> Job | None:
        with contextlib.suppress(NotFound):
            return await self.store.get(Job, lease_id(session_id))
        return None

    async def acquire(self, session_id: str) -> int | None:
        """This node's term of the session's lease, or None while another node holds it."""
        now = self.clock()
        current = await self.holder(session_id)
        if current is None:
            try:
                await self.store.insert(Job(
                    id=lease_id(session_id), kind=KIND, payload={"session_id": session_id},
                    state="running", attempts=1, max_attempts=0, lease_owner=self.node,
                    lease_expires=now + self.lease_seconds, created_at=now, updated_at=now))
            except Conflict:
                return None  # another node inserted it first
            return 1
        held = (current.state == "running" and current.lease_owner
                and current.lease_owner != self.node and current.lease_expires >= now)
        if held:
            return None
        term = current.attempts + 1
        try:
            await self.store.update(
                Job, current.id, {"state": "running", "lease_owner": self.node,
                                  "lease_expires": now + self.lease_seconds,
                                  "attempts": term},
                expected_version=current.version, now=now)
        except (VersionConflict, NotFound):
            return None  # another node moved first
        return term

    async def renew(self, session_id: str, term: int) -> bool:
        """Extend this node's lease; False when it is no longer this node's term."""
        now = self.clock()
        current = await self.holder(session_id)
        if not self._mine(current, term):
            return False
        assert current is not None
        try:
            await self.store.update(Job, current.id, {"lease_expires": now + self.lease_seconds},
                                    expected_version=current.version, now=now)
        except (VersionConflict, NotFound):
            return False
        return True

    async def release(self, session_id: str, term: int, *, ended: bool) -> None:
        """Give the lease up: at once to another node (``ended`` False), or for good."""
        now = self.clock()
        current = await self.holder(session_id)
        if not self._mine(current, term):
            return
        assert current is not None
        changes = {"lease_expires": now - 1.0, "lease_owner": "" if ended else self.node,
                   "state": "done" if ended else "running"}
        with contextlib.suppress(VersionConflict, NotFound):
            await self.store.update(Job, current.id, changes, expected_version=current.version,
                                    now=now)

    def _mine(self, current: Job | None, term: int) -> bool:
        return (current is not None and current.state == "running"
                and current.lease_owner == self.node and current.attempts == term)
