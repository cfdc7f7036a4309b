"""The service catalog: the shipped copy, lookups, and validation of an edited file."""

from __future__ import annotations

from pathlib import Path

import pytest

import moderation
from moderation.catalog import (
    CATEGORIES,
    Catalog,
    CatalogError,
    CatalogItem,
    load_catalog,
    parse_catalog,
)

ITEM = """
[[item]]
id = "{id}"
category = "{category}"
name = "{name}"
description = "说明"
keywords = ["关键词"]
channel = "12123"
link = "12123://service/{id}"
link_status = "placeholder"
"""


def item_toml(item_id: str = "a", category: str = "机动车", name: str = "名称") -> str:
    return ITEM.format(id=item_id, category=category, name=name)


# --- the shipped catalog -------------------------------------------------------------------


def test_shipped_catalog_loads_with_four_categories_in_order() -> None:
    catalog = load_catalog()
    assert catalog.categories == ("机动车", "驾驶证", "电动自行车", "线上办")
    assert len(catalog.items) == 101


def test_shipped_catalog_is_the_file_next_to_the_module() -> None:
    path = Path(moderation.__file__).parent / "service_catalog.toml"
    assert load_catalog(path) == load_catalog()


def test_shipped_items_are_complete_and_consistent() -> None:
    catalog = load_catalog()
    ids = [item.id for item in catalog.items]
    assert len(ids) == len(set(ids))
    schemes = {"12123": "12123://service/", "浙里办": "zlb://service/", "窗口": "window://guide/"}
    for item in catalog.items:
        assert item.name and item.description and item.keywords, item.id
        assert item.category in CATEGORIES
        if item.link_status == "placeholder":
            assert item.link == schemes[item.channel] + item.id
        else:
            assert item.link.startswith("https://"), item.id


def test_get_and_by_category() -> None:
    catalog = load_catalog()
    renewal = catalog.get("license-renewal")
    assert renewal is not None
    assert renewal.category == "驾驶证"
    assert "驾照到期" in renewal.keywords
    assert catalog.get("no-such-item") is None
    ebike = catalog.by_category("电动自行车")
    assert ebike and all(item.category == "电动自行车" for item in ebike)
    assert sum(len(catalog.by_category(c)) for c in catalog.categories) == len(catalog.items)
    assert catalog.by_category("不存在") == ()


def test_optional_fields_default_to_empty() -> None:
    item = parse_catalog(item_toml()).items[0]
    assert item == CatalogItem(
        id="a",
        category="机动车",
        name="名称",
        description="说明",
        keywords=("关键词",),
        channel="12123",
        link="12123://service/a",
        link_status="placeholder",
    )
    assert (item.portal, item.verify) == ("", "")


def test_categories_follow_first_appearance() -> None:
    text = item_toml("a", "线上办") + item_toml("b", "机动车") + item_toml("c", "线上办")
    assert parse_catalog(text).categories == ("线上办", "机动车")


def test_catalog_is_hashable_and_comparable() -> None:
    assert hash(load_catalog()) == hash(load_catalog())
    assert isinstance(load_catalog(), Catalog)


# --- validation ----------------------------------------------------------------------------


def test_duplicate_id_names_the_item() -> None:
    with pytest.raises(CatalogError, match="'dup'"):
        parse_catalog(item_toml("dup") + item_toml("dup"))


def test_unknown_category_names_the_item() -> None:
    with pytest.raises(CatalogError, match=r"bad-cat.*出租车"):
        parse_catalog(item_toml("bad-cat", category="出租车"))


def test_empty_name_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"no-name.*name"):
        parse_catalog(item_toml("no-name", name="  "))


def test_missing_and_unknown_fields_are_refused() -> None:
    with pytest.raises(CatalogError, match=r"x.*缺少字段：link_status"):
        parse_catalog(item_toml("x").replace('link_status = "placeholder"\n', ""))
    with pytest.raises(CatalogError, match=r"y.*未知字段：colour"):
        parse_catalog(item_toml("y") + 'colour = "red"\n')


def test_wrong_types_are_refused() -> None:
    with pytest.raises(CatalogError, match="keywords"):
        parse_catalog(item_toml("k").replace('["关键词"]', '"关键词"'))
    with pytest.raises(CatalogError, match="keywords"):
        parse_catalog(item_toml("k").replace('["关键词"]', '["", "b"]'))
    with pytest.raises(CatalogError, match="channel"):
        parse_catalog(item_toml("c").replace('channel = "12123"', "channel = 12123"))
    with pytest.raises(CatalogError, match="link_status"):
        parse_catalog(item_toml("l").replace('"placeholder"', '"maybe"'))


def test_item_without_id_is_named_by_position() -> None:
    text = item_toml("first") + item_toml("")
    with pytest.raises(CatalogError, match=r"第 2 项 的 id 不能为空"):
        parse_catalog(text)


def test_broken_or_empty_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="TOML"):
        parse_catalog("[[item]\n")
    with pytest.raises(CatalogError, match=r"\[\[item\]\]"):
        parse_catalog("")
    with pytest.raises(CatalogError, match="顶层键"):
        parse_catalog('title = "x"\n' + item_toml())
    with pytest.raises(CatalogError, match="无法读取"):
        load_catalog(tmp_path / "missing.toml")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(item_toml().encode("utf-8").replace("名称".encode(), b"\xe9"))
    with pytest.raises(CatalogError, match="UTF-8"):
        load_catalog(latin1)


def test_catalog_error_is_a_value_error() -> None:
    assert issubclass(CatalogError, ValueError)
