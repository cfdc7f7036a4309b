"""Persistence: one interface (``store.base.Store``), two backends (SQLite, MongoDB)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.base import (
    Conflict,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from store.events import StoredEvent

if TYPE_CHECKING:
    from settings import Settings

__all__ = [
    "Conflict",
    "NotFound",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredEvent",
    "VersionConflict",
    "make_store",
]


def make_store(settings: Settings) -> Store:
    """The backend the settings choose, not yet opened."""
    if settings.store.backend == "mongodb":
        from store.mongo import MongoStore

        return MongoStore(
            settings.store.mongodb_uri.reveal(),
            database=settings.store.mongodb_database,
            write_concern=settings.store.mongodb_write_concern,
            journal=settings.store.mongodb_journal,
            timeout_ms=settings.store.mongodb_timeout_ms,
        )
    from store.sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path, busy_timeout_ms=settings.store.sqlite_busy_timeout_ms)
