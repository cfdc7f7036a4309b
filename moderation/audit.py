"""The audit service: the one place an ``AuditEntry`` is built.

Every change a person (or the system) makes is recorded as who did what to which target,
with the fields before and after. Callers hand ``record`` the store handle their change is
written through — normally the open transaction (``Store.transaction()``), so that the
entry commits together with the change or not at all.

Targets are named ``"<kind>:<id>"`` (``question:…``, ``staff:alice``, ``session:…``,
``viewer:…``, ``clip:…``, ``data:service_catalog``, ``catalog_item:…``, ``term:…``);
``target`` builds them. ``live.sessions`` sits below this package and cannot import it: it
takes this service as its ``audit`` callable (``live.sessions.AuditWriter``), wired in
``web.app``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from store.base import Store
from store.records import AuditEntry, new_id

SYSTEM = "system"


def target(kind: str, ident: str) -> str:
    return f"{kind}:{ident}"


class AuditTag(NamedTuple):
    """How a staff action is written to the audit log: its label and target, as declared
    with the action (``moderation.actions``)."""

    action: str
    target: str


class Audit:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    async def __call__(
        self, store: Store, actor: str, action: str, target: str, *,
        session_id: str = "", before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None, at: float | None = None,
    ) -> AuditEntry:
        """Write one entry through ``store`` (the transaction of the change it records)."""
        entry = AuditEntry(
            id=new_id(), at=self.clock() if at is None else at, actor=actor or SYSTEM,
            action=action, target=target, session_id=session_id,
            before=None if before is None else dict(before),
            after=None if after is None else dict(after))
        return await store.audit(entry)
