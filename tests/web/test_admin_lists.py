"""Blocked terms and decline reasons: admin pages, audit, and their effect on questions."""

from __future__ import annotations

from store.records import AuditEntry, TermRule
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
