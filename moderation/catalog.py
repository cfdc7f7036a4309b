"""The service catalog: the vehicle- and driver-administration business items a question can be
filed under, each with the colloquial keywords citizens use and the link behind 一键办理.

The catalog is data the project ships (``service_catalog.toml`` next to this module, a copy of
the shared source) and that admins may replace, so loading validates everything and names the
offending item in the error. Parsing is pure: ``parse_catalog`` takes TOML text, so an edited
catalog can be checked before it is saved.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

CATEGORIES = ("机动车", "驾驶证", "电动自行车", "线上办")
LINK_STATUSES = ("documented", "placeholder")
CATALOG_RESOURCE = "service_catalog.toml"

_REQUIRED = ("id", "category", "name", "description", "keywords", "channel", "link", "link_status")
_OPTIONAL = ("portal", "verify")

# Lengths an item's fields may have (characters), and how many keywords; generous next to the
# shipped file (names up to 23, descriptions up to 87, 11 keywords), small enough for a page.
MAX_LENGTHS = {"id": 64, "name": 60, "description": 500, "channel": 20, "link": 500,
               "portal": 500, "verify": 1000}
MAX_KEYWORDS = 50
MAX_KEYWORD = 30
# The id is an English short name: it appears in URLs, placeholder links and stored questions.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
# What the 一键办理 button can open: a web page, or a placeholder for a service in the 12123
# app, in 浙里办, or the counter guide of an item handled only at a window. A web page's path
# is printable ASCII without spaces, quotes or angle brackets.
LINK_PATTERN = re.compile(
    r"https://[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?(?:/[!#-;=?-~]*)?"
    r"|(?:12123://service|zlb://service|window://guide)/[A-Za-z0-9][A-Za-z0-9._-]*"
)
LINK_FORMS = "https://…、12123://service/…、zlb://service/…、window://guide/…"


class CatalogError(ValueError):
    """The catalog file cannot be used; the message names the file position or the item."""


@dataclass(frozen=True)
class CatalogItem:
    id: str
    category: str
    name: str
    description: str
    keywords: tuple[str, ...]
    channel: str
    link: str
    link_status: str
    portal: str = ""
    verify: str = ""


@dataclass(frozen=True)
class Catalog:
    items: tuple[CatalogItem, ...]
    categories: tuple[str, ...] = field(init=False)
    _by_id: dict[str, CatalogItem] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        categories: list[str] = []
        for item in self.items:
            if item.category not in categories:
                categories.append(item.category)
        # Frozen dataclass: derived fields are set once here, through object.__setattr__.
        object.__setattr__(self, "categories", tuple(categories))
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    def get(self, item_id: str) -> CatalogItem | None:
        return self._by_id.get(item_id)

    def by_category(self, category: str) -> tuple[CatalogItem, ...]:
        return tuple(item for item in self.items if item.category == category)


def read_data_file(package: str, resource: str, path: Path | None, what: str,
                   error: type[ValueError]) -> tuple[str, str]:
    """The text of an editable data file and a name for it in messages: ``path`` if given,
    else the copy shipped in ``package``. Unreadable or non-UTF-8 files raise ``error``
    with a message that names ``what`` the file is."""
    if path is None:
        source = f"{package}/{resource}"
        data = resources.files(package).joinpath(resource).read_bytes()
    else:
        source = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise error(f"无法读取{what} {source}：{exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8"), source
    except UnicodeDecodeError as exc:
        raise error(f"{what} {source} 不是 UTF-8 编码") from exc


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; without a path, the copy shipped with this package."""
    text, source = read_data_file("moderation", CATALOG_RESOURCE, path, "业务目录", CatalogError)
    return parse_catalog(text, source=source)


def parse_catalog(text: str, *, source: str = "<catalog>") -> Catalog:
    """Validate TOML text of the form ``[[item]] ...`` and build a ``Catalog``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"业务目录 {source} 不是有效的 TOML：{exc}") from exc
    unknown_top = sorted(set(document) - {"item"})
    if unknown_top:
        raise CatalogError(f"业务目录 {source} 含未知的顶层键：{', '.join(unknown_top)}")
    raw_items = document.get("item", [])
    if not isinstance(raw_items, list) or not raw_items:
        raise CatalogError(f"业务目录 {source} 没有任何 [[item]]")

    items: list[CatalogItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_items, start=1):
        item = _parse_item(raw, f"{source} 第 {index} 项")
        if item.id in seen:
            raise CatalogError(f"业务目录 {source} 中业务 {item.id!r} 的 id 重复")
        seen.add(item.id)
        items.append(item)
    return Catalog(tuple(items))


def _parse_item(raw: Any, where: str) -> CatalogItem:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where} 不是表（table）")
    item_id = raw.get("id")
    # Once the id is known, name the item by it: that is what an admin searches the file for.
    label = f"{where}（{item_id}）" if isinstance(item_id, str) and item_id else where

    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CatalogError(f"{label} 含未知字段：{', '.join(unknown)}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise CatalogError(f"{label} 缺少字段：{', '.join(missing)}")

    values: dict[str, str] = {}
    for key in (*_REQUIRED, *_OPTIONAL):
        if key == "keywords" or key not in raw:
            continue
        value = raw[key]
        if not isinstance(value, str):
            raise CatalogError(f"{label} 的 {key} 必须是字符串")
        values[key] = value.strip()

    keywords = raw["keywords"]
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise CatalogError(f"{label} 的 keywords 必须是字符串列表")
    cleaned = tuple(k.strip() for k in keywords)
    if any(not k for k in cleaned):
        raise CatalogError(f"{label} 的 keywords 含空字符串")

    if not values["id"]:
        raise CatalogError(f"{label} 的 id 不能为空")
    if not values["name"]:
        raise CatalogError(f"{label} 的 name 不能为空")
    if values["category"] not in CATEGORIES:
        raise CatalogError(
            f"{label} 的 category {values['category']!r} 未知（可用：{'、'.join(CATEGORIES)}）"
        )
    if values["link_status"] not in LINK_STATUSES:
        raise CatalogError(
            f"{label} 的 link_status {values['link_status']!r} 未知"
            f"（可用：{'、'.join(LINK_STATUSES)}）"
        )
    for key, limit in MAX_LENGTHS.items():
        if len(values.get(key, "")) > limit:
            raise CatalogError(f"{label} 的 {key} 过长（最多 {limit} 字符）")
    if not ID_PATTERN.fullmatch(values["id"]):
        raise CatalogError(f"{label} 的 id 只能用小写英文字母、数字和连字符（-）")
    if len(cleaned) > MAX_KEYWORDS:
        raise CatalogError(f"{label} 的 keywords 过多（最多 {MAX_KEYWORDS} 个）")
    if any(len(k) > MAX_KEYWORD for k in cleaned):
        raise CatalogError(f"{label} 的 keywords 含过长的词（每个最多 {MAX_KEYWORD} 字符）")
    if not LINK_PATTERN.fullmatch(values["link"]):
        raise CatalogError(f"{label} 的 link {values['link']!r} 无效（可用：{LINK_FORMS}）")
    portal = values.get("portal", "")
    if portal and not (portal.startswith("https://") and LINK_PATTERN.fullmatch(portal)):
        raise CatalogError(f"{label} 的 portal {portal!r} 无效（须以 https:// 开头）")
    return CatalogItem(
        id=values["id"],
        category=values["category"],
        name=values["name"],
        description=values["description"],
        keywords=cleaned,
        channel=values["channel"],
        link=values["link"],
        link_status=values["link_status"],
        portal=values.get("portal", ""),
        verify=values.get("verify", ""),
    )
