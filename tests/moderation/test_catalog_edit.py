"""Item edits of the service catalog and the TOML writer behind them."""

from __future__ import annotations

import pytest

from moderation.catalog import Catalog, CatalogError, CatalogItem, load_catalog, parse_catalog
from moderation.catalog_edit import (
    CatalogEditError,
    ItemForm,
    catalog_to_toml,
    changed_fields,
    item_from_form,
    leading_comments,
    split_keywords,
    toml_string,
    with_item,
    without_item,
)
from moderation.data_files import CATALOG, shipped_text


def item(item_id: str = "new-item", category: str = "驾驶证", **extra: object) -> CatalogItem:
    fields: dict[str, object] = {
        "id": item_id, "category": category, "name": "新事项", "description": "说明",
        "keywords": ("甲", "乙"), "channel": "12123", "link": f"12123://service/{item_id}",
        "link_status": "placeholder", **extra}
    return CatalogItem(**fields)  # type: ignore[arg-type]


def test_shipped_catalog_is_written_back_byte_for_byte() -> None:
    text = shipped_text(CATALOG)
    catalog = load_catalog()
    written = catalog_to_toml(catalog, leading_comments(text))
    assert written == text
    assert parse_catalog(written) == catalog


def test_awkward_strings_round_trip() -> None:
    odd = item(name='引号"和\\反斜杠', description="换行\n制表\t控制\x01删除\x7f，中文；emoji 🚗",
               keywords=("a'b", "#不是注释", "[[item]]"), verify="多行\r\n说明")
    catalog = Catalog((odd,))
    assert parse_catalog(catalog_to_toml(catalog)) == catalog
    assert toml_string("\x01") == '"\\u0001"'


def test_optional_fields_are_written_only_when_set() -> None:
    text = catalog_to_toml(Catalog((item(),)))
    assert "portal" not in text and "verify" not in text
    text = catalog_to_toml(Catalog((item(portal="https://zj.122.gov.cn/"),)))
    assert 'portal = "https://zj.122.gov.cn/"' in text


def test_leading_comments_stop_at_the_first_table() -> None:
    assert leading_comments("# a\n#b\n\n[[item]]\n# inside\n") == "# a\n#b"
    assert leading_comments("[[item]]\n") == ""
    assert leading_comments("# a\r\n\r\nid = 1") == "# a"


def test_keywords_split_on_lines_commas_and_enumeration_commas() -> None:
    assert split_keywords("驾照到期\n换驾照, 换证，期满换证、 驾照  过期 ；年审\n\n换证") == (
        "驾照到期", "换驾照", "换证", "期满换证", "驾照 过期", "年审")
    assert split_keywords(" \n ,、") == ()


def test_item_from_form_trims_fields() -> None:
    built = item_from_form(ItemForm(id=" x ", category="机动车", name=" 名  称 ",
                                    keywords="a\nb", link=" zlb://service/x ",
                                    link_status="placeholder"))
    assert (built.id, built.name, built.keywords, built.link) == (
        "x", "名 称", ("a", "b"), "zlb://service/x")
    with pytest.raises(CatalogEditError, match="关键词"):
        item_from_form(ItemForm(keywords="词," * 1001))


def test_form_of_an_item_reads_back_to_the_same_item() -> None:
    shipped = load_catalog().items[1]
    assert item_from_form(ItemForm.of(shipped)) == shipped


def test_a_new_item_goes_after_the_last_of_its_category() -> None:
    catalog = load_catalog()
    added = with_item(catalog, item("zz-new", "机动车"))
    cars = [i.id for i in added.items if i.category == "机动车"]
    assert cars[-1] == "zz-new"
    assert added.categories == catalog.categories
    assert len(added.items) == len(catalog.items) + 1
    assert [i.category for i in added.items] == sorted(
        (i.category for i in added.items), key=catalog.categories.index)


def test_an_edited_item_keeps_its_place_and_its_id() -> None:
    catalog = load_catalog()
    first = catalog.items[0]
    changed = with_item(catalog, item(first.id, first.category, name="改名"), replacing=first.id)
    assert changed.items[0].name == "改名" and changed.items[1:] == catalog.items[1:]
    with pytest.raises(CatalogEditError, match="id 不能修改"):
        with_item(catalog, item("other-id"), replacing=first.id)
    with pytest.raises(CatalogEditError, match="已不在目录"):
        with_item(catalog, item("gone"), replacing="gone")


def test_adding_a_taken_id_is_refused() -> None:
    catalog = load_catalog()
    with pytest.raises(CatalogEditError, match="license-renewal"):
        with_item(catalog, item("license-renewal"))


def test_removing_an_item() -> None:
    catalog = load_catalog()
    smaller = without_item(catalog, "license-renewal")
    assert smaller.get("license-renewal") is None
    assert len(smaller.items) == len(catalog.items) - 1
    with pytest.raises(CatalogEditError):
        without_item(smaller, "license-renewal")


def test_changed_fields_lists_only_the_differences() -> None:
    before = item()
    after = item(keywords=("甲", "丙"), link="https://zj.122.gov.cn/")
    assert changed_fields(before, after) == (
        {"keywords": ["甲", "乙"], "link": "12123://service/new-item"},
        {"keywords": ["甲", "丙"], "link": "https://zj.122.gov.cn/"})


@pytest.mark.parametrize("link", [
    "https://zj.122.gov.cn/veh1/netxh/main?x=1&y=%20#top", "12123://service/a-b",
    "zlb://service/x.y", "window://guide/license-renewal", "https://example.cn"])
def test_links_the_button_can_open_are_accepted(link: str) -> None:
    assert parse_catalog(catalog_to_toml(Catalog((item(link=link),)))).items[0].link == link


@pytest.mark.parametrize("link", [
    "javascript:alert(1)", "http://zj.122.gov.cn/", "https://", "https://a b",
    'https://a/"onmouseover="x', "https://a/<script>", "12123://service/", "12123://other/x",
    "zlb://service/a b", "window://guide/中文", "ftp://x/y", "", "/relative"])
def test_other_links_are_refused(link: str) -> None:
    with pytest.raises(CatalogError, match="link"):
        parse_catalog(catalog_to_toml(Catalog((item(link=link),))))


def test_portal_must_be_https() -> None:
    with pytest.raises(CatalogError, match="portal"):
        parse_catalog(catalog_to_toml(Catalog((item(portal="12123://service/x"),))))


@pytest.mark.parametrize(("bad", "message"), [
    (item(name="长" * 61), "name 过长"),
    (item(keywords=tuple(f"词{n}" for n in range(51))), "过多"),
    (item(keywords=("长" * 31,)), "过长的词"),
    (item("Bad_ID"), "小写英文"),
])
def test_field_limits_are_enforced_by_the_parser(bad: CatalogItem, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(catalog_to_toml(Catalog((bad,))))
