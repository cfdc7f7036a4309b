"""What a fresh install starts with besides the decline reasons: blocked terms and canned
replies, so that the first broadcast is screened and answered from day one. Admins edit
both at /admin/lists; seeding does nothing once a list has anything in it.

The blocked terms are general patterns, not one-offs: abuse, advertising and contact
touting, and the ticket-scalper offers seen on help-desk broadcasts (paid 代办, 包过/保过,
buying off penalty points). ``reject`` refuses the question outright; ``hold`` flags it
for a moderator, for words that also occur in honest questions ("能代办吗？").
"""

from __future__ import annotations

from moderation.service import Moderation
from store.records import ReasonTemplate, TermRule, new_id

DEFAULT_TERMS: tuple[tuple[str, str], ...] = (
    # abuse
    ("傻逼", "reject"), ("操你妈", "reject"), ("草泥马", "reject"), ("他妈的", "reject"),
    ("去死", "reject"), ("狗官", "reject"), ("废物", "hold"), ("垃圾", "hold"),
    # advertising and touting contacts
    ("加微信", "reject"), ("加VX", "reject"), ("加V信", "reject"), ("加我微信", "reject"),
    ("扫码", "hold"), ("私聊我", "reject"), ("私信我", "reject"), ("QQ群", "reject"),
    ("优惠", "hold"), ("微信", "hold"),
    # ticket scalpers: paid errands, guaranteed passes, points bought off
    ("包过", "reject"), ("保过", "reject"), ("花钱消分", "reject"), ("有偿消分", "reject"),
    ("代消分", "reject"), ("买分", "reject"), ("卖分", "reject"), ("代考", "reject"),
    ("替考", "reject"), ("办假证", "reject"), ("内部渠道", "reject"), ("黄牛", "hold"),
    ("代办", "hold"), ("中介", "hold"), ("找关系", "hold"),
)

DEFAULT_REPLIES = (
    "您好，这项业务可以在网上办理：{item_name}，办理入口：{item_link}",
    "您好，{item_name}需要本人携带身份证件到车管所窗口办理，具体材料请见：{item_link}",
    "感谢提问！这个问题在本场已经解答过，可以在已解答列表中查看。",
    "您好，您的问题涉及个人具体情况，请拨打 122 或到窗口核实办理。",
)


async def seed_lists(moderation: Moderation) -> tuple[int, int]:
    """Seed the blocked terms and the canned replies on a fresh install; returns how many of
    each were added (0 for a list that already has entries)."""
    store, now = moderation.store, moderation.clock()
    terms = 0
    if not await store.count(TermRule):
        for term, action in DEFAULT_TERMS:
            await store.insert(TermRule(id=new_id(), term=term, action=action,
                                        created_by="system", created_at=now, updated_at=now))
            terms += 1
        await moderation.reload_terms()
    replies = 0
    if not await store.find(ReasonTemplate, {"kind": "reply"}):
        for i, text in enumerate(DEFAULT_REPLIES):
            await store.insert(ReasonTemplate(id=new_id(), text=text, kind="reply",
                                              position=float(i), created_at=now,
                                              updated_at=now))
            replies += 1
    return terms, replies
