"""The admin-editable data files: the service catalog, the search word list and the knowledge
base.

All ship with the code (``moderation/service_catalog.toml``, ``moderation/synonyms.toml``,
``moderation/knowledge.toml``; the knowledge base is validated against the catalog, so it is
parsed by ``moderation.knowledge_edit`` and stored through ``store_text``). An
admin's edit is validated by the same parser that loads the file at start and, only if it
parses, stored as a ``DataFile`` record, so every node of a MongoDB deployment reads the same
text; without a record the shipped copy is used. ``restore`` drops the record (back to the
shipped copy). Every save commits in one transaction with its audit entry, which records
the sizes before and after (the texts themselves are kept in the record, not copied into
the audit log); a caller may add entries of its own to that transaction (``also_audit``:
the catalog page records which item an edit changed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from moderation.audit import Audit, target
from moderation.catalog import (
    CATALOG_RESOURCE,
    Catalog,
    CatalogError,
    parse_catalog,
    read_data_file,
)
from moderation.schedule import SCHEDULE_RESOURCE, Schedule, ScheduleError, parse_schedule
from moderation.segment import WORD_LIST_RESOURCE, WordList, WordListError, parse_word_list
from store.base import Conflict, NotFound, Store, VersionConflict
from store.records import DataFile

CATALOG = "service_catalog"
WORD_LIST = "synonyms"
KNOWLEDGE = "knowledge"
SCHEDULE = "schedule"
MAX_TEXT_CHARS = 400_000  # the shipped catalog is about 40,000 characters

_SHIPPED = {
    CATALOG: ("moderation", CATALOG_RESOURCE, "业务目录"),
    WORD_LIST: ("moderation", WORD_LIST_RESOURCE, "搜索词表"),
    KNOWLEDGE: ("moderation", "knowledge.toml", "知识库"),
    SCHEDULE: ("moderation", SCHEDULE_RESOURCE, "直播时间表"),
}


class DataFileError(ValueError):
    """An edit that cannot be saved; the message is for the admin."""


@dataclass(frozen=True)
class AuditNote:
    """One more audit entry to commit with a save (action, target, before, after)."""

    action: str
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class Current:
    """A data file as in use now."""

    file_id: str
    text: str
    edited: bool  # False: the shipped copy
    version: int  # of the DataFile record, 0 for the shipped copy
    updated_by: str = ""
    updated_at: float = 0.0


def shipped_text(file_id: str) -> str:
    package, resource, what = _SHIPPED[file_id]
    return read_data_file(package, resource, None, what, DataFileError)[0]


async def current(store: Store, file_id: str) -> Current:
    if file_id not in _SHIPPED:
        raise KeyError(file_id)
    try:
        record = await store.get(DataFile, file_id)
    except NotFound:
        return Current(file_id, shipped_text(file_id), edited=False, version=0)
    return Current(file_id, record.text, edited=True, version=record.version,
                   updated_by=record.updated_by, updated_at=record.updated_at)


def parse(file_id: str, text: str) -> Catalog | WordList | Schedule:
    """Validate ``text`` as the data file ``file_id``; raises ``DataFileError``."""
    if len(text) > MAX_TEXT_CHARS:
        raise DataFileError(f"内容过长（最多 {MAX_TEXT_CHARS} 字符）。")
    try:
        if file_id == CATALOG:
            catalog = parse_catalog(text, source="提交的业务目录")
            if not catalog.items:
                raise DataFileError("业务目录至少要有一个事项。")
            return catalog
        if file_id == SCHEDULE:
            return parse_schedule(text)
        return parse_word_list(text, source="提交的搜索词表")
    except (CatalogError, WordListError, ScheduleError) as exc:
        raise DataFileError(str(exc)) from exc


async def load_catalog(store: Store) -> Catalog:
    found = parse(CATALOG, (await current(store, CATALOG)).text)
    assert isinstance(found, Catalog)
    return found


async def load_word_list(store: Store) -> WordList:
    found = parse(WORD_LIST, (await current(store, WORD_LIST)).text)
    assert isinstance(found, WordList)
    return found


async def load_schedule(store: Store) -> Schedule:
    found = parse(SCHEDULE, (await current(store, SCHEDULE)).text)
    assert isinstance(found, Schedule)
    return found


async def save(store: Store, file_id: str, text: str, *, expected_version: int, actor: str,
               now: float | None = None, also_audit: Sequence[AuditNote] = (),
               audit: Audit | None = None) -> Catalog | WordList | Schedule:
    """Validate and store an edit made from version ``expected_version`` (0: from the
    shipped copy). Returns the parsed file. Raises ``DataFileError`` (invalid, or someone
    saved meanwhile) or ``StoreError`` (nothing saved)."""
    parsed = parse(file_id, text.replace("\r\n", "\n"))
    await store_text(store, file_id, text, expected_version=expected_version, actor=actor,
                     now=now, also_audit=also_audit, audit=audit)
    return parsed


async def store_text(store: Store, file_id: str, text: str, *, expected_version: int,
                     actor: str, now: float | None = None, also_audit: Sequence[AuditNote] = (),
                     audit: Audit | None = None) -> None:
    """Store ``text`` (already validated by the caller) as the edit of ``file_id`` made from
    version ``expected_version``, with its audit entries; raises ``DataFileError`` when
    someone saved meanwhile."""
    now = time.time() if now is None else now
    audit = audit or Audit()
    try:
        async with store.transaction() as tx:
            before = await current(tx, file_id)
            if before.version != expected_version:
                raise DataFileError("别人刚刚保存过这个文件，请重新打开后再改。")
            if before.edited:
                await tx.update(DataFile, file_id, {"text": text, "updated_by": actor},
                                expected_version=expected_version, now=now)
            else:
                await tx.insert(DataFile(id=file_id, text=text, updated_by=actor,
                                         created_at=now, updated_at=now))
            await audit(tx, actor, f"data.{file_id}.save", target("data", file_id),
                        before={"chars": len(before.text)}, after={"chars": len(text)}, at=now)
            for note in also_audit:
                await audit(tx, actor, note.action, note.target, before=note.before,
                            after=note.after, at=now)
    except (VersionConflict, Conflict):
        raise DataFileError("别人刚刚保存过这个文件，请重新打开后再改。") from None


async def restore(store: Store, file_id: str, *, actor: str, now: float | None = None,
                  audit: Audit | None = None) -> bool:
    """Go back to the shipped copy; True if there was an edit to drop."""
    if file_id not in _SHIPPED:
        raise KeyError(file_id)
    now = time.time() if now is None else now
    audit = audit or Audit()
    async with store.transaction() as tx:
        dropped = await tx.delete(DataFile, file_id)
        if dropped:
            await audit(tx, actor, f"data.{file_id}.restore", target("data", file_id), at=now)
    return dropped
