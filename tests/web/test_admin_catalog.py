"""Admin pages for the service catalog, the search word list and the searches that found
nothing: validation, versions, restore, and edits taking effect at once and after a restart."""

from __future__ import annotations

import re

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

from live.sessions import SessionForm
from moderation import data_files
from moderation.catalog import CatalogItem, load_catalog
from moderation.catalog_edit import ItemForm
from moderation.data_files import CATALOG, WORD_LIST
from settings import Settings
from store.records import AuditEntry, Clip, DataFile
from tests.support import ClientFactory, Site, staff_csrf
from web import keys
from web.admin_catalog import ROUTES
from web.app import create_app

Client = TestClient[web.Request, web.Application]
ITEM = "license-renewal"  # 驾驶证有效期满换证
MADE_UP = "蓝精灵卡"  # a keyword no catalog or dictionary has
VERSION_RE = re.compile(r'name="version" value="(\d+)"')


async def admin(site: Site) -> Client:
    await site.add_user("boss", "admin")
    return await site.login("boss")


async def open_form(client: Client, path: str) -> tuple[str, str, int]:
    """Load a page as the admin would: its HTML, its CSRF token and the version it shows."""
    response = await client.get(path)
    assert response.status == 200, path
    html = await response.text()
    match = VERSION_RE.search(html)
    assert match, f"{path} has no version field"
    return html, await staff_csrf(client, path), int(match.group(1))


def item_fields(item_id: str = ITEM, **changes: str) -> dict[str, str]:
    """The edit form of a shipped item as the browser would post it, with ``changes``."""
    item = load_catalog().get(item_id)
    assert item is not None
    form = ItemForm.of(item)
    return {**{k: str(v) for k, v in form.__dict__.items()}, **changes}


async def post_item(client: Client, token: str, version: int, *, editing: str = ITEM,
                    action: str = "save", **fields: str) -> web.StreamResponse:
    data = {"_csrf": token, "action": action, "editing": editing, "version": str(version),
            **fields}
    return await client.post("/admin/catalog/item", data=data, allow_redirects=False)


async def post_text(client: Client, path: str, token: str, version: int, text: str,
                    action: str = "save", **extra: str) -> web.StreamResponse:
    """A raw editor's form, sent as the page sends it (multipart)."""
    form = FormData()
    for name, value in {"_csrf": token, "action": action, "version": str(version),
                        "text": text, **extra}.items():
        form.add_field(name, value)
    return await client.post(path, data=form, allow_redirects=False)


async def stored(site: Site, file_id: str = CATALOG) -> list[DataFile]:
    return await site.app[keys.STORE].find(DataFile, {"id": file_id})


def item_of(app: web.Application, item_id: str = ITEM) -> CatalogItem:
    found = app[keys.MODERATION].catalog.get(item_id)
    assert found is not None, item_id
    return found


# --- pages -------------------------------------------------------------------------------


async def test_catalog_page_lists_every_item_by_category(site: Site) -> None:
    client = await admin(site)
    html = await (await client.get("/admin/catalog")).text()
    catalog = load_catalog()
    assert html.count('data-item="') == len(catalog.items) == 101
    for category in catalog.categories:
        assert f"<h2>{category}（{len(catalog.by_category(category))}）</h2>" in html
    assert "待核实" in html and "系统内置版本" in html
    assert 'href="/admin/catalog/item?id=license-renewal"' in html
    staff_home = await (await client.get("/staff")).text()
    for link in ("/admin/catalog", "/admin/synonyms", "/admin/search-misses"):
        assert f'href="{link}"' in staff_home


async def test_item_form_shows_the_item_and_unknown_items_are_404(site: Site) -> None:
    client = await admin(site)
    html, _, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    assert version == 0 and "驾驶证有效期满换证" in html and "驾照到期" in html
    assert (await client.get("/admin/catalog/item?id=no-such-item")).status == 404
    html, _, _ = await open_form(client, "/admin/catalog/item?category=电动自行车")
    assert "添加事项" in html and '<option value="电动自行车" selected>' in html


# --- an item edit takes effect at once ----------------------------------------------------


async def test_a_new_keyword_is_used_by_suggestions_and_search_at_once(site: Site) -> None:
    client = await admin(site)
    app = site.app
    before = app[keys.LIBRARY].index.segmenter.analyze(MADE_UP)
    assert not any(t.domain and t.text == MADE_UP for t in before.terms)

    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    keywords = item_fields()["keywords"] + f"，{MADE_UP}"
    response = await post_item(client, token, version, **item_fields(keywords=keywords))
    assert response.status == 303
    assert response.headers["Location"] == f"/admin/catalog?msg=saved#item-{ITEM}"

    # The catalog the pages use, the moderation service and the search analyzer all have it.
    for catalog in (app[keys.MODERATION].catalog, app[keys.LIBRARY].catalog):
        found = catalog.get(ITEM)
        assert found is not None and MADE_UP in found.keywords
    analyzed = app[keys.LIBRARY].index.segmenter.analyze(f"我的{MADE_UP}怎么换")
    assert any(t.domain and t.text == MADE_UP for t in analyzed.terms)

    broadcast = await app[keys.SESSIONS].create(SessionForm("测试场", scheduled_start=1.8e9),
                                                actor="test")
    question, _ = await app[keys.MODERATION].ask(broadcast.id, "viewer-1", "127.0.0.1", "c1",
                                                 f"请问{MADE_UP}在哪里办理")
    assert question.flags.get("suggested_item") == ITEM

    current = await data_files.current(app[keys.STORE], CATALOG)
    assert (current.edited, current.version, current.updated_by) == (True, 1, "boss")
    entries = await app[keys.STORE].find(AuditEntry, {"actor": "boss"}, order_by=["at"])
    assert [e.action for e in entries] == ["data.service_catalog.save", "catalog.item_edit"]
    shipped = load_catalog().get(ITEM)
    assert shipped is not None
    assert entries[1].after == {"keywords": [*shipped.keywords, MADE_UP]}
    page = await (await client.get("/admin/catalog?msg=saved")).text()
    assert "已保存" in page and "boss" in page
    audit = await (await client.get("/admin/audit")).text()
    assert "保存业务目录" in audit and "修改目录事项" in audit and MADE_UP in audit


async def test_saving_an_unchanged_item_stores_nothing(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    response = await post_item(client, token, version, **item_fields())
    assert response.status == 303
    assert await stored(site) == []
    assert await site.app[keys.STORE].find(AuditEntry, {"actor": "boss"}, order_by=["at"]) == []


async def test_an_item_is_added_and_deleted(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, "/admin/catalog/item")
    fields = {"id": "ebike-test", "category": "电动自行车", "name": "测试事项",
              "description": "说明", "keywords": "测一测\n试一试", "channel": "窗口",
              "link": "window://guide/ebike-test", "link_status": "placeholder",
              "portal": "", "verify": "需要核对"}
    response = await post_item(client, token, version, editing="", **fields)
    assert response.status == 303, await response.text()
    catalog = site.app[keys.MODERATION].catalog
    added = catalog.get("ebike-test")
    assert added is not None and added.keywords == ("测一测", "试一试")
    ebikes = [i.id for i in catalog.items if i.category == "电动自行车"]
    assert ebikes[-1] == "ebike-test"

    _, token, version = await open_form(client, "/admin/catalog/item?id=ebike-test")
    refused = await post_item(client, token, version, editing="ebike-test", action="delete")
    assert refused.status == 400 and "确认删除" in await refused.text()
    response = await post_item(client, token, version, editing="ebike-test", action="delete",
                               confirm="yes")
    assert response.status == 303
    assert site.app[keys.MODERATION].catalog.get("ebike-test") is None
    assert site.app[keys.MODERATION].catalog.get("ebike-test") is None


async def test_an_item_with_clips_cannot_be_deleted(site: Site) -> None:
    client = await admin(site)
    await site.app[keys.STORE].insert(Clip(id="c1", session_id="s1", item_id=ITEM,
                                           state="draft", created_at=1.0, updated_at=1.0))
    html, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    assert "有 1 个片段归在这个事项下" in html and 'id="delete-item"' not in html
    response = await post_item(client, token, version, action="delete", confirm="yes")
    assert response.status == 400 and "有 1 个片段" in await response.text()
    assert site.app[keys.MODERATION].catalog.get(ITEM) is not None
    assert await stored(site) == []


# --- validation ------------------------------------------------------------------------------


async def test_invalid_items_are_refused_with_the_input_kept(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    cases = [
        (item_fields(category="出租车", name="保留我的输入"), "未知（可用：机动车、驾驶证"),
        (item_fields(link="javascript:alert(1)"), "link"),
        (item_fields(link="http://zj.122.gov.cn/"), "https://…"),
        (item_fields(portal="zj.122.gov.cn"), "portal"),
        (item_fields(name=""), "name 不能为空"),
        (item_fields(keywords="、".join(f"词{n}" for n in range(51))), "最多 50 个"),
        (item_fields(keywords="长" * 31), "过长的词"),
    ]
    for fields, message in cases:
        response = await post_item(client, token, version, **fields)
        text = await response.text()
        assert response.status == 400, fields
        assert message in text, (message, fields)
        assert 'role="alert"' in text
    kept = await post_item(client, token, version, **cases[0][0])
    assert 'value="保留我的输入"' in await kept.text()
    assert await stored(site) == []
    assert site.app[keys.MODERATION].catalog == load_catalog()


async def test_adding_a_taken_or_malformed_id_is_refused(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, "/admin/catalog/item")
    taken = await post_item(client, token, version, editing="", **item_fields())
    assert taken.status == 400 and "已被事项" in await taken.text()
    bad = await post_item(client, token, version, editing="",
                          **item_fields(id="驾照 换证", link="12123://service/x"))
    assert bad.status == 400 and "小写英文字母" in await bad.text()
    assert await stored(site) == []


async def test_an_items_id_cannot_be_changed_through_the_form(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    response = await post_item(client, token, version, **item_fields(id="renamed", name="新名"))
    assert response.status == 303
    catalog = site.app[keys.MODERATION].catalog
    assert catalog.get("renamed") is None and item_of(site.app).name == "新名"


async def test_raw_editor_validates_the_whole_file(site: Site) -> None:
    client = await admin(site)
    html, token, version = await open_form(client, "/admin/catalog/raw")
    shipped = data_files.shipped_text(CATALOG)
    assert "[[item]]" in html and 'enctype="multipart/form-data"' in html
    duplicate = shipped + shipped[shipped.index("[[item]]"):]
    for text, message in (("[[item]\n", "不是有效的 TOML"), (duplicate, "id 重复"),
                          (shipped.replace('category = "驾驶证"', 'category = "出租车"', 1),
                           "未知"),
                          (shipped.replace("12123://service/license-renewal",
                                           "javascript:alert(1)"), "link")):
        response = await post_text(client, "/admin/catalog/raw", token, version, text)
        assert response.status == 400, message
        assert message in await response.text()
    assert await stored(site) == []

    edited = shipped.replace("name = \"驾驶证有效期满换证\"", "name = \"到期换驾照\"")
    response = await post_text(client, "/admin/catalog/raw", token, version,
                               edited.replace("\n", "\r\n"))
    assert response.status == 303
    assert item_of(site.app).name == "到期换驾照"
    current = await data_files.current(site.app[keys.STORE], CATALOG)
    assert current.text == edited  # the browser's CRLF line ends are not stored


# --- versions, restore, restart ---------------------------------------------------------------


async def test_a_save_from_a_page_loaded_before_another_save_is_refused(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    _, raw_token, raw_version = await open_form(client, "/admin/catalog/raw")
    first = await post_item(client, token, version, **item_fields(name="先保存的"))
    assert first.status == 303
    late = await post_item(client, token, version, **item_fields(name="后保存的"))
    assert late.status == 400 and "别人刚刚保存过" in await late.text()
    late_raw = await post_text(client, "/admin/catalog/raw", raw_token, raw_version,
                               data_files.shipped_text(CATALOG))
    assert late_raw.status == 400 and "别人刚刚保存过" in await late_raw.text()
    assert item_of(site.app).name == "先保存的"


async def test_restore_goes_back_to_the_shipped_catalog(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    keywords = item_fields()["keywords"] + f"\n{MADE_UP}"
    assert (await post_item(client, token, version, **item_fields(keywords=keywords))
            ).status == 303
    _, token, _ = await open_form(client, "/admin/catalog/raw")
    unconfirmed = await client.post("/admin/catalog/raw",
                                    data={"_csrf": token, "action": "restore"})
    assert unconfirmed.status == 400 and "确认恢复" in await unconfirmed.text()
    assert site.app[keys.MODERATION].catalog != load_catalog()

    response = await client.post("/admin/catalog/raw", data={
        "_csrf": token, "action": "restore", "confirm": "yes"}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].endswith("msg=restored")
    app = site.app
    assert app[keys.MODERATION].catalog == app[keys.LIBRARY].catalog == load_catalog()
    analyzed = app[keys.LIBRARY].index.segmenter.analyze(MADE_UP)
    assert not any(t.domain and t.text == MADE_UP for t in analyzed.terms)
    assert await stored(site) == []
    assert "系统内置版本" in await (await client.get("/admin/catalog?msg=restored")).text()


async def test_edits_survive_a_restart(site: Site, settings: Settings,
                                       aiohttp_client: ClientFactory) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, f"/admin/catalog/item?id={ITEM}")
    keywords = item_fields()["keywords"] + f"\n{MADE_UP}"
    assert (await post_item(client, token, version, **item_fields(keywords=keywords))
            ).status == 303
    _, token, version = await open_form(client, "/admin/synonyms")
    words = data_files.shipped_text(WORD_LIST).replace(
        '"驾驶证" = ["驾照",', '"驾驶证" = ["小蓝本本", "驾照",', 1)
    assert (await post_text(client, "/admin/synonyms", token, version, words)).status == 303
    await site.first.close()  # one process at a time on the data directory

    again = create_app(settings)
    await aiohttp_client(again)
    assert MADE_UP in item_of(again).keywords
    assert again[keys.MODERATION].catalog == again[keys.LIBRARY].catalog
    segmenter = again[keys.LIBRARY].index.segmenter
    assert any(t.domain and t.text == MADE_UP for t in segmenter.analyze(MADE_UP).terms)
    assert "驾驶证" in segmenter.alternatives("小蓝本本")


# --- the search word list ------------------------------------------------------------------


async def test_word_list_is_edited_tried_and_restored(site: Site) -> None:
    client = await admin(site)
    library = site.app[keys.LIBRARY]
    html, token, version = await open_form(client, "/admin/synonyms")
    assert "[equivalent]" in html and "同义词组" in html  # the format, explained
    assert library.index.segmenter.alternatives("小蓝本本") == ("小蓝本本",)
    words = data_files.shipped_text(WORD_LIST).replace(
        '"驾驶证" = ["驾照",', '"驾驶证" = ["小蓝本本", "驾照",', 1)

    tried = await post_text(client, "/admin/synonyms", token, version, words, action="try",
                            q="小蓝本本丢了怎么补")
    page = await tried.text()
    assert tried.status == 200 and "“小蓝本本丢了怎么补”会这样搜索" in page
    assert re.search(r"<strong>小蓝本本</strong>.*也找：驾驶证", page, re.S)
    assert await stored(site, WORD_LIST) == []
    assert library.index.segmenter.alternatives("小蓝本本") == ("小蓝本本",)

    saved = await post_text(client, "/admin/synonyms", token, version, words)
    assert saved.status == 303 and saved.headers["Location"] == "/admin/synonyms?msg=saved"
    assert "驾驶证" in library.index.segmenter.alternatives("小蓝本本")
    assert library.words == data_files.parse(WORD_LIST, words)
    stale = await post_text(client, "/admin/synonyms", token, version, words)
    assert stale.status == 400 and "别人刚刚保存过" in await stale.text()

    response = await client.post("/admin/synonyms", data={
        "_csrf": token, "action": "restore", "confirm": "yes"}, allow_redirects=False)
    assert response.status == 303
    assert library.index.segmenter.alternatives("小蓝本本") == ("小蓝本本",)
    assert not (await data_files.current(site.app[keys.STORE], WORD_LIST)).edited


async def test_a_new_synonym_is_used_by_suggestions_and_search_at_once(site: Site) -> None:
    """One word list: a word added to a group reaches item suggestions, duplicate hints and
    search by the same save."""
    client = await admin(site)
    app = site.app
    broadcast = await app[keys.SESSIONS].create(SessionForm("测试场", scheduled_start=1.8e9),
                                                actor="test")
    asked, _ = await app[keys.MODERATION].ask(broadcast.id, "viewer-1", "127.0.0.1", "c1",
                                              "我的小蓝本本快到期了")
    assert asked.flags.get("suggested_item") != ITEM

    _, token, version = await open_form(client, "/admin/synonyms")
    words = data_files.shipped_text(WORD_LIST).replace(
        '"驾驶证" = ["驾照",', '"驾驶证" = ["小蓝本本", "驾照",', 1)
    saved = await post_text(client, "/admin/synonyms", token, version, words)
    assert saved.status == 303

    question, _ = await app[keys.MODERATION].ask(broadcast.id, "viewer-2", "127.0.0.2", "c2",
                                                 "我的小蓝本本快到期了怎么换")
    assert question.flags.get("suggested_item") == ITEM
    same, _ = await app[keys.MODERATION].ask(broadcast.id, "viewer-3", "127.0.0.3", "c3",
                                             "驾照快到期了怎么换")
    assert same.flags.get("duplicate_of") == question.id
    assert "驾驶证" in app[keys.LIBRARY].index.segmenter.alternatives("小蓝本本")


async def test_invalid_word_lists_are_refused(site: Site) -> None:
    client = await admin(site)
    _, token, version = await open_form(client, "/admin/synonyms")
    for text, message in (("[equivalent\n", "不是有效的 TOML"),
                          ('[equivalent]\n"驾驶证" = ["驾照"]\n"驾驶本" = ["驾照"]\n', "同时出现"),
                          ('[homophones]\n"审核" = "肾"\n', "必须是一个字"),
                          ("[colours]\n", "未知的部分")):
        for action in ("save", "try"):
            response = await post_text(client, "/admin/synonyms", token, version, text,
                                       action=action, q="驾照")
            assert response.status == 400, (text, action)
            body = await response.text()
            assert message in body and 'role="alert"' in body
            assert text.split("\n")[0] in body  # the admin's text is shown again
    assert await stored(site, WORD_LIST) == []


async def test_try_box_from_the_address_uses_the_current_list(site: Site) -> None:
    client = await admin(site)
    page = await (await client.get("/admin/synonyms?q=电瓶车上牌")).text()
    assert "“电瓶车上牌”会这样搜索" in page and "电动自行车" in page


# --- searches that found nothing -----------------------------------------------------------


async def test_misses_page_lists_searches_that_found_nothing(site: Site) -> None:
    client = await admin(site)
    library = site.app[keys.LIBRARY]
    for _ in range(2):
        result = await library.search("完全无关的查询词xyz")
        assert result.total == 0
    html = await (await client.get("/admin/search-misses")).text()
    assert "完全无关的查询词xyz" in html
    assert re.search(r'<td data-label="次数">2</td>', html)
    assert 'href="/clips?q=%E5%AE%8C%E5%85%A8' in html  # the public search, same query
    assert "/admin/synonyms?q=" in html


async def test_misses_page_is_empty_at_first(site: Site) -> None:
    client = await admin(site)
    assert "还没有没有结果的搜索" in await (await client.get("/admin/search-misses")).text()


# --- who may use these pages ----------------------------------------------------------------


async def test_only_admins_reach_these_pages(site: Site) -> None:
    await site.add_user("mod", "moderator")
    moderator = await site.login("mod")
    token = await staff_csrf(moderator)
    anonymous = await site.new_client()
    boss = await admin(site)
    boss_token = await staff_csrf(boss)
    for route in ROUTES:
        assert route.path.startswith("/admin/")
        response = await moderator.request(route.method, route.path, data={"_csrf": token},
                                           allow_redirects=False)
        assert response.status == 403, route
        response = await anonymous.request(route.method, route.path, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"].startswith("/login")
        response = await boss.request(route.method, route.path, data={"_csrf": boss_token},
                                      allow_redirects=False)
        assert response.status in (200, 400), route  # a bare POST is a bad request
    for path in ("/admin/catalog/item", "/admin/catalog/raw", "/admin/synonyms"):
        response = await boss.post(path, data={"action": "save"}, allow_redirects=False)
        assert response.status == 403, path  # no CSRF token
    assert await stored(site) == []
