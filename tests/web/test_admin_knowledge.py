"""The knowledge-base admin pages (``web.admin_knowledge``): an admin adds, edits and deletes
an entry (audited, personal data masked, shown on /ask at once), exports the base as CSV and
imports it back unchanged, and a CSV with bad rows is refused whole with each line named."""

from __future__ import annotations

from aiohttp import FormData

from moderation import knowledge_edit
from store.records import AuditEntry
from tests.support import Site
from tests.web.test_admin_catalog import admin, open_form
from web import keys

PHONE = "13812345678"


async def stored_version(site: Site) -> int:
    return (await knowledge_edit.load(site.app[keys.STORE],
                                      site.app[keys.MODERATION].catalog)).version


async def test_an_admin_adds_edits_and_deletes_an_entry(site: Site) -> None:
    client = await admin(site)
    html, token, version = await open_form(client, "/admin/knowledge/entry?item=license-reissue")
    assert "12123://service/license-reissue" in html  # the item's link filled in
    fields = {"_csrf": token, "action": "save", "editing": "", "version": str(version),
              "id": "reissue-new", "item": "license-reissue",
              "questions": f"驾驶证丢了在手机上怎么补\n我的电话{PHONE}能帮我补证吗",
              "answer": "在交管12123申请补领，邮寄到家。", "bring": "身份证",
              "link": "12123://service/license-reissue"}
    refused = await client.post("/admin/knowledge/entry", data={**fields, "_csrf": "x"},
                                allow_redirects=False)
    assert refused.status == 403
    added = await client.post("/admin/knowledge/entry", data=fields, allow_redirects=False)
    assert added.status == 303, await added.text()
    entry = next(e for e in site.app[keys.UNDERSTANDER].knowledge.entries
                 if e.id == "reissue-new")
    assert PHONE not in " ".join(entry.questions) and not entry.draft
    faq = await (await site.new_client()).get("/ask/faq/reissue-new")
    assert faq.status == 200 and "邮寄到家" in await faq.text()

    # Someone else's save in between is refused; the same id cannot be added twice.
    stale = await client.post("/admin/knowledge/entry", data=fields, allow_redirects=False)
    assert stale.status == 400
    _, token, version = await open_form(client, "/admin/knowledge/entry?id=reissue-new")
    edited = await client.post("/admin/knowledge/entry", allow_redirects=False, data={
        **fields, "_csrf": token, "version": str(version), "editing": "reissue-new",
        "answer": "改为：在交管12123申请补领。", "draft": "yes"})
    assert edited.status == 303
    assert (await (await site.new_client()).get("/ask/faq/reissue-new")).status == 404  # draft
    _, token, version = await open_form(client, "/admin/knowledge/entry?id=reissue-new")
    deleted = await client.post("/admin/knowledge/entry", allow_redirects=False, data={
        "_csrf": token, "action": "delete", "editing": "reissue-new", "version": str(version),
        "confirm": "yes"})
    assert deleted.status == 303
    assert all(e.id != "reissue-new" for e in site.app[keys.UNDERSTANDER].knowledge.entries)
    actions = [a.action for a in await site.app[keys.STORE].find(AuditEntry, order_by=("at",))]
    for action in ("knowledge.entry_add", "knowledge.entry_edit", "knowledge.entry_delete"):
        assert action in actions
    log = await (await client.get("/admin/audit")).text()
    assert "添加知识库问答" in log and PHONE not in log


async def test_csv_export_and_import_round_trip_and_bad_rows_change_nothing(
        site: Site) -> None:
    client = await admin(site)
    exported = await client.get("/admin/knowledge.csv")
    assert exported.status == 200 and exported.content_type == "text/csv"
    text = await exported.text()
    before = site.app[keys.UNDERSTANDER].knowledge

    async def upload(body: str) -> tuple[int, str]:
        _, token, version = await open_form(client, "/admin/knowledge")
        form = FormData()
        form.add_field("_csrf", token)
        form.add_field("version", str(version))
        form.add_field("file", body.encode(), filename="knowledge.csv",
                       content_type="text/csv")
        response = await client.post("/admin/knowledge/import", data=form,
                                     allow_redirects=False)
        return response.status, await response.text()

    status, _ = await upload(text)
    assert status == 303
    assert site.app[keys.UNDERSTANDER].knowledge == before
    version = await stored_version(site)

    lines = text.lstrip("\ufeff").splitlines()
    bad = "\n".join([lines[0], lines[1].replace("false", "maybe"), lines[2],
                     "x-1,no-such-item,问法,回答,,12123://service/x,false"]) + "\n"
    status, html = await upload(bad)
    assert status == 400
    assert "第 2 行" in html and "第 4 行" in html and "第 3 行" not in html
    assert await stored_version(site) == version  # nothing imported
    assert site.app[keys.UNDERSTANDER].knowledge == before
