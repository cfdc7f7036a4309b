"""Editing the service catalog one item at a time: an item from a form, the catalog with an
item added, changed or removed, and the catalog written back as TOML text.

Pure: the admin pages build the new text here and hand it to ``moderation.data_files.save``,
which validates it with the same parser that loads the file at start (``parse_catalog``), so
a form and the raw editor cannot disagree about what a valid catalog is. What is checked
here is only what the parser cannot see: which item the form meant, and the keyword text.

``catalog_to_toml`` writes the layout of the shipped file (one ``[[item]]`` table per item,
fields in a fixed order, optional fields only when set), after the comment block that opens
the text it replaces, so the explanation at the top of the file survives an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moderation.catalog import Catalog, CatalogItem

# Keywords may be typed one per line or separated by commas (either width), 、 or ；.
_KEYWORD_SPLIT = re.compile(r"[\n\r,，、;；]+")
MAX_KEYWORD_TEXT = 2000  # characters of the keywords box; the parser limits count and length


class CatalogEditError(ValueError):
    """An item edit that cannot be applied; the message is for the admin."""


@dataclass(frozen=True)
class ItemForm:
    """An item as typed into the edit form: every field a string."""

    id: str = ""
    category: str = ""
    name: str = ""
    description: str = ""
    keywords: str = ""
    channel: str = ""
    link: str = ""
    link_status: str = "placeholder"
    portal: str = ""
    verify: str = ""

    @classmethod
    def of(cls, item: CatalogItem) -> ItemForm:
        return cls(id=item.id, category=item.category, name=item.name,
                   description=item.description, keywords="\n".join(item.keywords),
                   channel=item.channel, link=item.link, link_status=item.link_status,
                   portal=item.portal, verify=item.verify)


def split_keywords(text: str) -> tuple[str, ...]:
    """Keywords typed one per line or comma/、-separated; blanks dropped, repeats kept once."""
    words = (" ".join(part.split()) for part in _KEYWORD_SPLIT.split(text))
    return tuple(dict.fromkeys(word for word in words if word))


def item_from_form(form: ItemForm) -> CatalogItem:
    """The item the form describes: whitespace trimmed, keywords split. Field values are
    validated later, with the whole catalog, by ``parse_catalog``."""
    if len(form.keywords) > MAX_KEYWORD_TEXT:
        raise CatalogEditError(f"关键词一栏最多 {MAX_KEYWORD_TEXT} 字符。")
    return CatalogItem(
        id=form.id.strip(), category=form.category.strip(),
        name=" ".join(form.name.split()), description=form.description.strip(),
        keywords=split_keywords(form.keywords), channel=form.channel.strip(),
        link=form.link.strip(), link_status=form.link_status.strip(),
        portal=form.portal.strip(), verify=form.verify.strip())


def with_item(catalog: Catalog, item: CatalogItem, *, replacing: str = "") -> Catalog:
    """The catalog with ``item`` in place of the item ``replacing`` (same position; its id
    cannot change), or added after the last item of its category when ``replacing`` is empty
    (so the file stays grouped by category)."""
    items = list(catalog.items)
    if replacing:
        if catalog.get(replacing) is None:
            raise CatalogEditError("这个事项已不在目录里（可能刚被别人删除），请重新打开。")
        if item.id != replacing:
            raise CatalogEditError("已有事项的 id 不能修改；如需改名，请新增事项后删除旧事项。")
        return Catalog(tuple(item if i.id == replacing else i for i in items))
    taken = catalog.get(item.id)
    if taken is not None:
        raise CatalogEditError(f"id “{item.id}” 已被事项“{taken.name}”使用，请换一个。")
    last = max((n for n, i in enumerate(items) if i.category == item.category), default=None)
    at = len(items) if last is None else last + 1
    return Catalog((*items[:at], item, *items[at:]))


def without_item(catalog: Catalog, item_id: str) -> Catalog:
    if catalog.get(item_id) is None:
        raise CatalogEditError("这个事项已不在目录里（可能刚被别人删除），请重新打开。")
    return Catalog(tuple(i for i in catalog.items if i.id != item_id))


def changed_fields(before: CatalogItem, after: CatalogItem) -> tuple[dict[str, object],
                                                                      dict[str, object]]:
    """The fields that differ, before and after (keywords as lists), for the audit log."""
    old: dict[str, object] = {}
    new: dict[str, object] = {}
    for name in _FIELDS:
        a, b = getattr(before, name), getattr(after, name)
        if a != b:
            old[name] = list(a) if isinstance(a, tuple) else a
            new[name] = list(b) if isinstance(b, tuple) else b
    return old, new


# ---------------------------------------------------------------------------------------------
# Writing TOML

_FIELDS = ("id", "category", "name", "description", "keywords", "channel", "link",
           "link_status", "portal", "verify")
_OPTIONAL = ("portal", "verify")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, everything
    else (Chinese included) as it is."""
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def leading_comments(text: str) -> str:
    """The comment block (and blank lines) that opens a TOML text, up to its first table."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines).strip("\n")


def catalog_to_toml(catalog: Catalog, header: str = "") -> str:
    """The catalog as TOML text that ``parse_catalog`` reads back to an equal catalog;
    ``header`` (comment lines) goes first."""
    blocks = [header.strip("\n")] if header.strip() else []
    for item in catalog.items:
        lines = ["[[item]]"]
        for name in _FIELDS:
            value = getattr(item, name)
            if name in _OPTIONAL and not value:
                continue
            if isinstance(value, tuple):
                lines.append(f"{name} = [{', '.join(toml_string(v) for v in value)}]")
            else:
                lines.append(f"{name} = {toml_string(value)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
