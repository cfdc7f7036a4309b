"""车管资讯 notices: staff mark a cluster of questions in the daily review as a high-frequency
question and publish it as a short notice on the library's front page; they can withdraw it.
Every change is audited (``notice.create``, ``notice.withdraw``) in the same transaction as
the change."""

from __future__ import annotations

from moderation.audit import Audit, target
from store.base import Store
from store.desk_records import Notice
from store.records import new_id, to_dict

MAX_TITLE = 60
MAX_BODY = 500
FRONT_PAGE = 5


class NoticeError(ValueError):
    """A notice that cannot be saved; the message is for people (Chinese)."""


def _clean(text: str, limit: int, what: str, *, required: bool) -> str:
    text = " ".join(text.split())
    if required and not text:
        raise NoticeError(f"{what}不能为空。")
    if len(text) > limit:
        raise NoticeError(f"{what}最多 {limit} 字。")
    return text


async def create_notice(store: Store, *, title: str, body: str, category: str, item_id: str,
                        source_text: str, asked: int, period: str, actor: str,
                        now: float) -> Notice:
    notice = Notice(
        id=new_id(), title=_clean(title, MAX_TITLE, "标题", required=True),
        body=_clean(body, MAX_BODY, "正文", required=False), category=category[:40],
        item_id=item_id[:80], source_text=source_text[:200], asked=max(0, asked),
        period=period[:40], created_by=actor, created_at=now, updated_at=now)
    async with store.transaction() as tx:
        await tx.insert(notice)
        await Audit()(tx, actor, "notice.create", target("notice", notice.id),
                      after=to_dict(notice), at=now)
    return notice


async def withdraw_notice(store: Store, notice_id: str, *, actor: str, now: float) -> Notice:
    async with store.transaction() as tx:
        notice = await tx.update(Notice, notice_id, {"published": False}, now=now)
        await Audit()(tx, actor, "notice.withdraw", target("notice", notice_id),
                      before={"published": True}, after={"published": False}, at=now)
    return notice


async def front_notices(store: Store, limit: int = FRONT_PAGE) -> list[Notice]:
    """The newest published notices, for the library's front page."""
    return await store.find(Notice, {"published": True}, order_by=("-created_at",),
                            limit=limit)
