"""The admin's staff pages and audit log."""

from __future__ import annotations

import re

from store.records import AuditEntry, StaffUser
from tests.support import Site, staff_csrf
from web import keys


async def admin_client(site: Site):  # type: ignore[no-untyped-def]
    await site.add_user("boss", "admin")
    client = await site.login("boss")
    return client, await staff_csrf(client, "/admin/staff")


async def test_add_moderator_with_generated_password(site: Site) -> None:
    client, token = await admin_client(site)
    response = await client.post("/admin/staff", data={
        "_csrf": token, "name": "Wang.Li", "display_name": "王丽", "role": "moderator"})
    html = await response.text()
    assert response.status == 200
    match = re.search(r'<code class="password">([^<]+)</code>', html)
    assert match, html
    await site.login("wang.li", match.group(1))
    stored = await site.app[keys.STORE].user_by_name("wang.li")
    assert stored is not None and stored.role == "moderator" and stored.display_name == "王丽"
    assert match.group(1) not in stored.password_hash


async def test_bad_names_roles_and_duplicates_are_explained(site: Site) -> None:
    client, token = await admin_client(site)
    for form, text in [
        ({"name": "1abc", "role": "host"}, "账号名"),
        ({"name": "abc", "role": "superuser"}, "未知角色"),
        ({"name": "boss", "role": "host"}, "已存在"),
        ({"name": "short", "role": "host", "password": "short"}, "密码长度"),
    ]:
        response = await client.post("/admin/staff", data={"_csrf": token, **form})
        assert response.status == 400
        assert text in await response.text()


async def test_html_in_names_is_escaped(site: Site) -> None:
    client, token = await admin_client(site)
    await client.post("/admin/staff", data={"_csrf": token, "name": "xss",
                                            "display_name": "<script>alert(1)</script>",
                                            "role": "host"})
    html = await (await client.get("/admin/staff")).text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_last_admin_cannot_be_disabled_or_demoted(site: Site) -> None:
    client, token = await admin_client(site)
    boss = await site.app[keys.STORE].user_by_name("boss")
    assert boss is not None
    for data in ({"action": "disable"}, {"action": "role", "role": "host"}):
        response = await client.post(f"/admin/staff/{boss.id}", data={"_csrf": token, **data})
        assert response.status == 400
        assert "最后一个管理员" in await response.text()


async def test_reset_password_shows_a_new_one_and_ends_old_logins(site: Site) -> None:
    client, token = await admin_client(site)
    host = await site.add_user("host1", "host")
    host_client = await site.login("host1")
    response = await client.post(f"/admin/staff/{host.id}",
                                 data={"_csrf": token, "action": "reset_password"})
    match = re.search(r'<code class="password">([^<]+)</code>', await response.text())
    assert match
    assert (await host_client.get("/staff", allow_redirects=False)).status == 302
    await site.login("host1", match.group(1))


async def test_unknown_account_and_action(site: Site) -> None:
    client, token = await admin_client(site)
    missing = await client.post("/admin/staff/nope", data={"_csrf": token, "action": "disable"})
    assert missing.status == 404
    boss = await site.app[keys.STORE].user_by_name("boss")
    assert boss is not None
    odd = await client.post(f"/admin/staff/{boss.id}", data={"_csrf": token, "action": "zap"})
    assert odd.status == 400


async def test_audit_log_records_and_filters_staff_changes(site: Site) -> None:
    client, token = await admin_client(site)
    await client.post("/admin/staff", data={"_csrf": token, "name": "mod1", "role": "moderator"})
    mod = await site.app[keys.STORE].user_by_name("mod1")
    assert mod is not None
    await client.post(f"/admin/staff/{mod.id}", data={"_csrf": token, "action": "role",
                                                       "role": "host"})
    entries = await site.app[keys.STORE].find(AuditEntry, {"actor": "boss"}, order_by=["at"])
    assert [(e.action, e.target) for e in entries] == [
        ("staff.create", "staff:mod1"), ("staff.role", "staff:mod1")]
    assert (entries[1].before, entries[1].after) == ({"role": "moderator"}, {"role": "host"})
    page = await client.get("/admin/audit", params={"action": "staff.role"})
    html = await page.text()
    assert 'data-action="staff.role"' in html and "账号 mod1" in html
    assert 'data-action="staff.create"' not in html
    assert "修改角色" in html and "审核员" in html and "主持人" in html  # labelled, in Chinese
    assert "\\u" not in html
    bad = await client.get("/admin/audit", params={"page": "x"})
    assert bad.status == 400
    assert await site.app[keys.STORE].count(StaffUser) == 2
