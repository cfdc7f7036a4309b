"""The knowledge base: staff-curated question–answer entries per business item (several
phrasings of the question, a short answer, what to bring, the 一键办理 link).

The seed (``knowledge.toml`` next to this module) is written from the service catalog's own
descriptions; entries of items whose catalog entry carries a ``verify`` note are drafts, to be
checked before they are published. Like the catalog, the file is data an admin may replace, so
loading validates every entry against the catalog and names the offending entry in the error.
Parsing is pure: ``parse_knowledge`` takes TOML text.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moderation.catalog import LINK_PATTERN, Catalog, load_catalog, read_data_file

KNOWLEDGE_RESOURCE = "knowledge.toml"

_FIELDS = ("id", "item", "questions", "answer", "bring", "link", "draft")
MAX_QUESTIONS = 20
MAX_QUESTION = 100  # characters of one phrasing
MAX_ANSWER = 1000
MAX_BRING = 20


class KnowledgeError(ValueError):
    """The knowledge base cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class KnowledgeEntry:
    id: str
    item_id: str
    questions: tuple[str, ...]  # phrasings of one question, the first is the title
    answer: str
    bring: tuple[str, ...]
    link: str
    draft: bool  # not checked yet: never shown to citizens as a published answer


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[KnowledgeEntry, ...]

    def for_item(self, item_id: str) -> tuple[KnowledgeEntry, ...]:
        return tuple(entry for entry in self.entries if entry.item_id == item_id)

    def published(self) -> tuple[KnowledgeEntry, ...]:
        return tuple(entry for entry in self.entries if not entry.draft)


def load_knowledge(path: Path | None = None, *, catalog: Catalog | None = None) -> KnowledgeBase:
    """Load and validate a knowledge-base file (default: the shipped seed) against the catalog
    (default: the shipped catalog)."""
    text, source = read_data_file("moderation", KNOWLEDGE_RESOURCE, path, "知识库", KnowledgeError)
    return parse_knowledge(text, catalog if catalog is not None else load_catalog(),
                           source=source)


def parse_knowledge(text: str, catalog: Catalog, *, source: str = "<knowledge>",
                    skip_unknown_items: bool = False) -> KnowledgeBase:
    """Validate TOML text of the form ``[[entry]] ...`` and build a ``KnowledgeBase``.

    Every entry names a catalog item; an entry of an item whose catalog entry has a
    ``verify`` note must be a draft, since its facts are not confirmed yet. With
    ``skip_unknown_items`` the entries of items not in ``catalog`` are left out instead (a
    stored knowledge base read after an admin removed an item from the catalog).
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"知识库 {source} 不是有效的 TOML：{exc}") from exc
    unknown = sorted(set(document) - {"entry"})
    if unknown:
        raise KnowledgeError(f"知识库 {source} 含未知的顶层键：{', '.join(unknown)}")
    raw_entries = document.get("entry", [])
    if not isinstance(raw_entries, list):
        raise KnowledgeError(f"知识库 {source} 的 entry 必须是 [[entry]] 列表")
    entries: list[KnowledgeEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_entries, start=1):
        if (skip_unknown_items and isinstance(raw, dict) and isinstance(raw.get("item"), str)
                and catalog.get(raw["item"].strip()) is None):
            continue
        entry = _parse_entry(raw, f"知识库 {source} 第 {index} 条", catalog)
        if entry.id in seen:
            raise KnowledgeError(f"知识库 {source} 中条目 {entry.id!r} 的 id 重复")
        seen.add(entry.id)
        entries.append(entry)
    return KnowledgeBase(tuple(entries))


def _text(raw: dict[str, Any], key: str, label: str, limit: int) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{label} 的 {key} 必须是非空字符串")
    if len(value.strip()) > limit:
        raise KnowledgeError(f"{label} 的 {key} 过长（最多 {limit} 字符）")
    return value.strip()


def _texts(
    raw: dict[str, Any], key: str, label: str, most: int, *, empty_ok: bool
) -> tuple[str, ...]:
    value = raw[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(f"{label} 的 {key} 必须是非空字符串的列表")
    if not value and not empty_ok:
        raise KnowledgeError(f"{label} 的 {key} 至少要有一项")
    if len(value) > most:
        raise KnowledgeError(f"{label} 的 {key} 过多（最多 {most} 项）")
    return tuple(v.strip() for v in value)


def parse_entry(raw: Any, where: str, catalog: Catalog) -> KnowledgeEntry:
    """One entry from its fields (``id``, ``item``, ``questions``, ``answer``, ``bring``,
    ``link``, ``draft``); errors name it by ``where``."""
    return _parse_entry(raw, where, catalog)


def _parse_entry(raw: Any, where: str, catalog: Catalog) -> KnowledgeEntry:
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{where} 不是表（table）")
    entry_id = raw.get("id")
    label = f"{where}（{entry_id}）" if isinstance(entry_id, str) and entry_id else where
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise KnowledgeError(f"{label} 含未知字段：{', '.join(unknown)}")
    missing = [key for key in _FIELDS if key not in raw]
    if missing:
        raise KnowledgeError(f"{label} 缺少字段：{', '.join(missing)}")

    ident = _text(raw, "id", label, 100)
    item = catalog.get(_text(raw, "item", label, 64))
    if item is None:
        raise KnowledgeError(f"{label} 的 item {raw['item']!r} 不在业务目录中")
    questions = _texts(raw, "questions", label, MAX_QUESTIONS, empty_ok=False)
    if any(len(question) > MAX_QUESTION for question in questions):
        raise KnowledgeError(f"{label} 的 questions 含过长的问法（每个最多 {MAX_QUESTION} 字符）")
    answer = _text(raw, "answer", label, MAX_ANSWER)
    bring = _texts(raw, "bring", label, MAX_BRING, empty_ok=True)
    link = _text(raw, "link", label, 500)
    if not LINK_PATTERN.fullmatch(link):
        raise KnowledgeError(f"{label} 的 link {link!r} 无效")
    draft = raw["draft"]
    if not isinstance(draft, bool):
        raise KnowledgeError(f"{label} 的 draft 必须是 true 或 false")
    if item.verify and not draft:
        raise KnowledgeError(
            f"{label} 所属业务 {item.id} 在目录中有待核实说明（verify），须标为 draft = true"
        )
    return KnowledgeEntry(ident, item.id, questions, answer, bring, link, draft)
