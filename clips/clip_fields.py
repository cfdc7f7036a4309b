"""What a reviewer may write into a clip: the edit form, its validation against the
catalog, and a draft's title made from the question. Pure: no store, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moderation.catalog import Catalog

MAX_TITLE = 60
MAX_SUMMARY = 1000
MAX_LINK = 500
LINK_SCHEMES = ("https://", "http://", "12123://", "zlb://", "window://")


class ClipError(Exception):
    """A request about a clip that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class ClipEdit:
    title: str
    summary: str = ""
    category: str = ""
    item_id: str = ""
    service_link: str = ""


def validate_edit(form: ClipEdit, catalog: Catalog) -> dict[str, Any]:
    """The clip fields an edit sets; raises ``ClipError`` with a message for the reviewer."""
    title = clean_line(form.title, 10_000)
    if not title:
        raise ClipError("请填写标题。")
    if len(title) > MAX_TITLE:
        raise ClipError(f"标题最多 {MAX_TITLE} 字。")
    summary = form.summary.replace("\r\n", "\n").strip()
    if len(summary) > MAX_SUMMARY:
        raise ClipError(f"摘要最多 {MAX_SUMMARY} 字。")
    item = catalog.get(form.item_id) if form.item_id else None
    if form.item_id and item is None:
        raise ClipError("业务事项不存在。")
    category = item.category if item else form.category
    if category and category not in catalog.categories:
        raise ClipError("分类不存在。")
    link = form.service_link.strip()
    if len(link) > MAX_LINK:
        raise ClipError("办理链接过长。")
    if link and not link.startswith(LINK_SCHEMES):
        raise ClipError("办理链接须以 https:// 开头（或使用目录中的办理入口）。")
    if not link and item is not None:
        link = item.link
    return {"title": title, "summary": summary, "category": category,
            "item_id": item.id if item else "", "service_link": link}


def clean_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def title_from(question: str) -> str:
    """A draft's title: the (masked) question, cut at a sentence end within the limit."""
    text = clean_line(question, 10_000)
    if len(text) <= MAX_TITLE:
        return text
    cut = text[:MAX_TITLE]
    for mark in "？?。！!；;，,":
        at = cut.rfind(mark)
        if at >= MAX_TITLE // 2:
            return cut[: at + 1]
    return cut[: MAX_TITLE - 1] + "…"
