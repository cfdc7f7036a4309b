"""The knowledge base loader: the shipped seed covers the catalog, and bad files are refused
with a message naming the entry."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from moderation.catalog import Catalog, load_catalog
from moderation.knowledge import KnowledgeError, load_knowledge, parse_knowledge


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


GOOD = """
[[entry]]
id = "license-reissue-1"
item = "license-reissue"
questions = ["驾驶证丢了怎么补", "驾照遗失怎么办"]
answer = "驾驶证遗失的，申请补领。"
bring = []
link = "12123://service/license-reissue"
draft = false
"""


def test_the_seed_has_at_least_four_entries_for_every_item(catalog: Catalog) -> None:
    knowledge = load_knowledge(catalog=catalog)
    per_item = Counter(entry.item_id for entry in knowledge.entries)
    assert {item.id for item in catalog.items} == set(per_item)
    assert min(per_item.values()) >= 4


def test_seed_entries_are_drafts_exactly_where_the_catalog_asks_for_checking(
    catalog: Catalog,
) -> None:
    for entry in load_knowledge(catalog=catalog).entries:
        item = catalog.get(entry.item_id)
        assert item is not None
        assert entry.draft == bool(item.verify), entry.id
        assert entry.link == item.link, entry.id
        assert len(entry.questions) >= 2, entry.id


def test_published_leaves_out_drafts(catalog: Catalog) -> None:
    knowledge = load_knowledge(catalog=catalog)
    assert knowledge.published()
    assert not any(entry.draft for entry in knowledge.published())
    assert len(knowledge.for_item("license-reissue")) >= 4


def test_a_good_entry_parses(catalog: Catalog) -> None:
    (entry,) = parse_knowledge(GOOD, catalog).entries
    assert entry.item_id == "license-reissue"
    assert entry.questions == ("驾驶证丢了怎么补", "驾照遗失怎么办")
    assert not entry.draft


@pytest.mark.parametrize(("change", "message"), [
    (('item = "license-reissue"', 'item = "no-such-item"'), "不在业务目录中"),
    (('draft = false', 'draft = "no"'), "draft 必须是 true 或 false"),
    (('link = "12123://service/license-reissue"', 'link = "javascript:alert(1)"'), "link"),
    (('questions = ["驾驶证丢了怎么补", "驾照遗失怎么办"]', 'questions = []'), "至少要有一项"),
    (('answer = "驾驶证遗失的，申请补领。"\n', ''), "缺少字段：answer"),
    (('draft = false', 'draft = false\ncolour = "red"'), "未知字段：colour"),
])
def test_a_bad_entry_is_refused_naming_it(
    catalog: Catalog, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(KnowledgeError, match=message) as caught:
        parse_knowledge(GOOD.replace(*change), catalog)
    assert "license-reissue-1" in str(caught.value)


def test_an_item_awaiting_verification_cannot_publish_an_entry(catalog: Catalog) -> None:
    text = GOOD.replace("license-reissue", "inspection-exempt-sticker")
    with pytest.raises(KnowledgeError, match="draft = true"):
        parse_knowledge(text, catalog)
    assert parse_knowledge(text.replace("draft = false", "draft = true"), catalog).entries


def test_duplicate_ids_and_broken_files_are_refused(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="重复"):
        parse_knowledge(GOOD + GOOD, catalog)
    broken = tmp_path / "knowledge.toml"
    broken.write_text("[[entry]\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="不是有效的 TOML"):
        load_knowledge(broken, catalog=catalog)
    with pytest.raises(KnowledgeError, match="无法读取"):
        load_knowledge(tmp_path / "missing.toml", catalog=catalog)
