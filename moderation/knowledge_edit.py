"""Editing the knowledge base (issue 12): entry by entry on the admin page, and as CSV.

The knowledge base in use is the stored edit (``moderation.data_files``, file ``knowledge``)
or, without one, the shipped ``knowledge.toml``. Every change is written back as the whole
TOML file (``knowledge_to_toml``), validated by the same parser that loads it, and stored with
its audit entries in one transaction (``data_files.store_text``).

Phrasings of a question are often copied from citizens' questions, so personal data in them
is masked on the way in (``moderation.pii``), from the form and from CSV alike. Answers are
staff text and kept as written (they name hotlines and addresses on purpose).

CSV (UTF-8, with a header row ``id,item,questions,answer,bring,link,draft``): ``questions`` and
``bring`` hold several values separated by ``|``; ``draft`` is ``true``/``false`` (or 是/否).
Importing adds the rows whose id is new and replaces the entries whose id exists; every row
is checked first, and one bad row refuses the whole file, each error named by its line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from moderation import data_files
from moderation.audit import Audit
from moderation.catalog import Catalog
from moderation.data_files import KNOWLEDGE, AuditNote, DataFileError
from moderation.knowledge import (
    KnowledgeBase,
    KnowledgeEntry,
    KnowledgeError,
    parse_entry,
    parse_knowledge,
)
from moderation.pii import mask_pii
from store.base import Store

COLUMNS = ("id", "item", "questions", "answer", "bring", "link", "draft")
SEPARATOR = "|"
MAX_ROWS = 5000
HEADER = """\
# 知识库（issue 12）：管理员在“知识库”页面编辑或用 CSV 导入后保存的版本。
# 字段：id 唯一标识；item 业务 id；questions 同一问题的几种问法；answer 简短回答；
# bring 需携带/准备的材料；link 一键办理链接；draft = true 表示草稿（不向群众展示）。
"""
_TRUE = {"true": True, "是": True, "1": True, "false": False, "否": False, "0": False, "": False}


class KnowledgeImportError(ValueError):
    """A CSV that cannot be imported; ``problems`` lists (line, message), nothing applied."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("；".join(f"第 {line} 行：{message}" for line, message in problems))
        self.problems = problems


@dataclass(frozen=True)
class Stored:
    """The knowledge base in use, with the version an edit must quote."""

    knowledge: KnowledgeBase
    version: int  # of the stored edit; 0 for the shipped copy
    edited: bool


def masked(entry: KnowledgeEntry) -> KnowledgeEntry:
    """The entry with personal data masked in its phrasings."""
    return replace(entry, questions=tuple(mask_pii(q)[0] for q in entry.questions))


def _toml_value(value: str | bool | tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def knowledge_to_toml(knowledge: KnowledgeBase) -> str:
    blocks = [HEADER]
    for e in knowledge.entries:
        fields = (("id", e.id), ("item", e.item_id), ("questions", e.questions),
                  ("answer", e.answer), ("bring", e.bring), ("link", e.link),
                  ("draft", e.draft))
        blocks.append("[[entry]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in fields))
    return "\n".join(blocks)


def with_entry(knowledge: KnowledgeBase, entry: KnowledgeEntry) -> KnowledgeBase:
    """``entry`` in place of the one with its id, or added after its item's last entry."""
    entries = list(knowledge.entries)
    for n, old in enumerate(entries):
        if old.id == entry.id:
            entries[n] = entry
            return KnowledgeBase(tuple(entries))
    last = max((n for n, e in enumerate(entries) if e.item_id == entry.item_id), default=None)
    entries.insert(len(entries) if last is None else last + 1, entry)
    return KnowledgeBase(tuple(entries))


def without_entry(knowledge: KnowledgeBase, entry_id: str) -> KnowledgeBase:
    return KnowledgeBase(tuple(e for e in knowledge.entries if e.id != entry_id))


def split(value: str) -> list[str]:
    """Values of a multi-valued field: separated by ``|`` or by lines."""
    return [v.strip() for v in value.replace("\r", "").replace("\n", SEPARATOR).split(SEPARATOR)
            if v.strip()]


def entry_from_fields(fields: Mapping[str, str], catalog: Catalog, where: str) -> KnowledgeEntry:
    """An entry from text fields (the form's or a CSV row's); raises ``KnowledgeError``."""
    draft = _TRUE.get(fields.get("draft", "").strip().lower())
    if draft is None:
        raise KnowledgeError(f"{where} 的 draft 只能是 true/false 或 是/否")
    raw = {"id": fields.get("id", "").strip(), "item": fields.get("item", "").strip(),
           "questions": split(fields.get("questions", "")),
           "answer": fields.get("answer", ""), "bring": split(fields.get("bring", "")),
           "link": fields.get("link", "").strip(), "draft": draft}
    return masked(parse_entry(raw, where, catalog))


def to_csv(knowledge: KnowledgeBase) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in knowledge.entries:
        writer.writerow((e.id, e.item_id, SEPARATOR.join(e.questions), e.answer,
                         SEPARATOR.join(e.bring), e.link, "true" if e.draft else "false"))
    return out.getvalue()


def from_csv(text: str, knowledge: KnowledgeBase, catalog: Catalog) -> KnowledgeBase:
    """``knowledge`` with the CSV's rows added or replacing entries of the same id; raises
    ``KnowledgeImportError`` naming every bad line (and then nothing is changed)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    problems: list[tuple[int, str]] = []
    try:
        header = reader.fieldnames or []
        if sorted(header) != sorted(COLUMNS):
            raise KnowledgeImportError([(1, f"表头必须是 {','.join(COLUMNS)}")])
        rows = list(_rows(reader))
    except csv.Error as exc:
        raise KnowledgeImportError([(reader.line_num, f"CSV 格式错误：{exc}")]) from exc
    if len(rows) > MAX_ROWS:
        raise KnowledgeImportError([(1, f"一次最多导入 {MAX_ROWS} 行")])
    if not rows:
        raise KnowledgeImportError([(1, "文件里没有数据行")])
    seen: dict[str, int] = {}
    result = knowledge
    for line, row in rows:
        if row is None:
            problems.append((line, f"列数不对（应为 {len(COLUMNS)} 列）"))
            continue
        try:
            entry = entry_from_fields(row, catalog, "这一行")
        except KnowledgeError as exc:
            problems.append((line, str(exc)))
            continue
        if entry.id in seen:
            problems.append((line, f"id {entry.id!r} 与第 {seen[entry.id]} 行重复"))
            continue
        seen[entry.id] = line
        result = with_entry(result, entry)
    if problems:
        raise KnowledgeImportError(problems)
    return result


def _rows(reader: csv.DictReader[str]) -> Iterable[tuple[int, dict[str, str] | None]]:
    """(line, row) of each data row; None for a row with too many or too few columns."""
    for row in reader:
        if None in row or any(value is None for value in row.values()):
            yield reader.line_num, None
            continue
        if not any(value.strip() for value in row.values()):
            continue  # a blank line
        yield reader.line_num, row


# --- stored ---------------------------------------------------------------------------------


async def load(store: Store, catalog: Catalog) -> Stored:
    """The knowledge base in use (entries of items no longer in the catalog left out)."""
    current = await data_files.current(store, KNOWLEDGE)
    try:
        knowledge = parse_knowledge(current.text, catalog, source="知识库",
                                    skip_unknown_items=True)
    except KnowledgeError as exc:
        raise DataFileError(str(exc)) from exc
    return Stored(knowledge, current.version, current.edited)


async def save(store: Store, knowledge: KnowledgeBase, catalog: Catalog, *,
               expected_version: int, actor: str, notes: Iterable[AuditNote] = (),
               audit: Audit | None = None) -> KnowledgeBase:
    """Validate and store ``knowledge`` as the edit made from ``expected_version``; raises
    ``DataFileError`` (invalid, or someone saved meanwhile)."""
    text = knowledge_to_toml(knowledge)
    try:
        parsed = parse_knowledge(text, catalog, source="提交的知识库")
    except KnowledgeError as exc:
        raise DataFileError(str(exc)) from exc
    await data_files.store_text(store, KNOWLEDGE, text, expected_version=expected_version,
                                actor=actor, also_audit=tuple(notes), audit=audit)
    return parsed
