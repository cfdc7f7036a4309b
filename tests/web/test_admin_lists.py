"""Blocked terms and decline reasons: admin pages, audit, and their effect on questions."""

from __future__ import annotations

from moderation.filters import match_terms
from moderation.seeds import seed_lists
from store.records import AuditEntry, ReasonTemplate, TermRule
from tests.support import Site, staff_csrf
from web import keys


async def test_terms_and_reasons_are_managed_audited_and_applied(site: Site) -> None:
    await site.add_user("boss", "admin")
    client = await site.login("boss")
    token = await staff_csrf(client, "/admin/lists")
    for data in ({"action": "add_term", "term": "骗子", "rule": "reject"},
                 {"action": "add_term", "term": "投诉", "rule": "hold"},
                 {"action": "add_reason", "text": "请拨打 122 咨询"}):
        response = await client.post("/admin/lists", data={"_csrf": token, **data})
        assert response.status == 200 and "已保存" in await response.text()
    duplicate = await client.post("/admin/lists", data={"_csrf": token, "action": "add_term",
                                                        "term": "骗子", "rule": "hold"})
    assert duplicate.status == 400 and "已在列表中" in await duplicate.text()
    page = await (await client.get("/admin/lists")).text()
    assert "骗子" in page and "直接拒绝" in page and "请拨打 122 咨询" in page

    moderation = site.app[keys.MODERATION]
    assert {(t.term, t.action) for t in moderation.terms} == {("骗子", "reject"),
                                                             ("投诉", "hold")}
    rule = (await site.app[keys.STORE].find(TermRule, {"term": "投诉"}))[0]
    await client.post("/admin/lists", data={"_csrf": token, "action": "delete_term",
                                            "id": rule.id})
    assert [t.term for t in moderation.terms] == ["骗子"]
    actions = [e.action for e in await site.app[keys.STORE].find(
        AuditEntry, {"actor": "boss"}, order_by=["at"])]
    assert actions == ["terms.add", "terms.add", "reasons.add", "terms.delete"]


async def test_lists_are_admin_only(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.login("mod")
    assert (await client.get("/admin/lists")).status == 403


async def test_reply_templates_are_managed_apart_from_decline_reasons(site: Site) -> None:
    await site.add_user("boss", "admin")
    client = await site.login("boss")
    token = await staff_csrf(client, "/admin/lists")
    for data in ({"action": "add_reason", "kind": "reply",
                  "text": "您好，{item_name}可以网上办理：{item_link}"},
                 {"action": "add_reason", "text": "与本场主题无关"}):
        response = await client.post("/admin/lists", data={"_csrf": token, **data})
        assert response.status == 200
    templates = await site.app[keys.STORE].find(ReasonTemplate, order_by=["position"])
    assert [(t.kind, t.text) for t in templates] == [
        ("reply", "您好，{item_name}可以网上办理：{item_link}"), ("decline", "与本场主题无关")]
    page = await (await client.get("/admin/lists")).text()
    replies = page[page.index('id="reply-templates"'):]
    assert "{item_name}可以网上办理" in replies and "与本场主题无关" not in replies
    await client.post("/admin/lists", data={"_csrf": token, "action": "delete_reason",
                                            "id": templates[0].id})
    actions = [e.action for e in await site.app[keys.STORE].find(
        AuditEntry, {"actor": "boss"}, order_by=["at"])]
    assert actions == ["replies.add", "reasons.add", "replies.delete"]


async def test_a_fresh_install_blocks_abuse_ads_and_scalper_offers(site: Site) -> None:
    moderation = site.app[keys.MODERATION]
    terms, replies = await seed_lists(moderation)
    assert terms >= 30 and replies == 4
    assert await seed_lists(moderation) == (0, 0)  # once only
    cases = {
        "花钱消分，包过，加微信联系": "reject",
        "驾照保过班靠谱吗，有人私信我": "reject",
        "有人说可以代办年审，能代办吗": "hold",
        "驾驶证到期了怎么换证": "pass",
    }
    for text, verdict in cases.items():
        found = {t.action for t in match_terms(text, moderation.terms)}
        got = "reject" if "reject" in found else "hold" if found else "pass"
        assert got == verdict, text
