"""Editing the knowledge base (``moderation.knowledge_edit``): the TOML it writes loads back
the same, CSV export and import round-trip, a bad CSV is refused whole with every bad line
named, and personal data in phrasings is masked."""

from __future__ import annotations

import pytest

from moderation.catalog import Catalog, load_catalog
from moderation.knowledge import KnowledgeBase, load_knowledge, parse_knowledge
from moderation.knowledge_edit import (
    KnowledgeImportError,
    entry_from_fields,
    from_csv,
    knowledge_to_toml,
    to_csv,
    with_entry,
    without_entry,
)

PHONE = "13812345678"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def shipped(catalog: Catalog) -> KnowledgeBase:
    return load_knowledge(catalog=catalog)


def test_the_toml_written_loads_back_the_same(shipped: KnowledgeBase, catalog: Catalog) -> None:
    assert parse_knowledge(knowledge_to_toml(shipped), catalog) == shipped


def test_csv_export_then_import_changes_nothing(shipped: KnowledgeBase, catalog: Catalog) -> None:
    text = to_csv(shipped)
    assert text.splitlines()[0] == "id,item,questions,answer,bring,link,draft"
    assert from_csv(text, KnowledgeBase(()), catalog) == shipped
    assert from_csv(text, shipped, catalog) == shipped


def test_import_adds_new_ids_and_replaces_known_ones(shipped: KnowledgeBase,
                                                     catalog: Catalog) -> None:
    first = shipped.entries[0]
    text = ("\ufeffid,item,questions,answer,bring,link,draft\n"
            f'{first.id},{first.item_id},"新问法|另一个问法",新的回答,,{first.link},false\n'
            f"new-1,license-reissue,驾照丢了|驾照找不到了 电话{PHONE},补领即可,身份证,"
            "12123://service/license-reissue,是\n")
    result = from_csv(text, shipped, catalog)
    assert len(result.entries) == len(shipped.entries) + 1
    assert result.entries[0].questions == ("新问法", "另一个问法")
    added = next(e for e in result.entries if e.id == "new-1")
    assert added.draft and added.bring == ("身份证",)
    assert PHONE not in "".join(added.questions)  # masked on the way in
    # Placed after the item's last entry.
    ids = [e.id for e in result.entries if e.item_id == "license-reissue"]
    assert ids[-1] == "new-1"


def test_a_bad_csv_is_refused_whole_naming_each_line(shipped: KnowledgeBase,
                                                     catalog: Catalog) -> None:
    text = ("id,item,questions,answer,bring,link,draft\n"
            "ok-1,license-reissue,驾照丢了,补领即可,,12123://service/license-reissue,false\n"
            "bad-1,no-such-item,问法,回答,,12123://service/x,false\n"
            "bad-2,license-reissue,,回答,,12123://service/license-reissue,false\n"
            "ok-1,license-reissue,又一个,回答,,12123://service/license-reissue,false\n"
            "bad-3,license-reissue,问法,回答,,12123://service/license-reissue,maybe\n"
            "bad-4,license-reissue\n")
    with pytest.raises(KnowledgeImportError) as caught:
        from_csv(text, shipped, catalog)
    lines = [line for line, _ in caught.value.problems]
    assert lines == [3, 4, 5, 6, 7]
    assert "不在业务目录中" in caught.value.problems[0][1]
    assert "第 2 行" in caught.value.problems[2][1]
    with pytest.raises(KnowledgeImportError, match="表头"):
        from_csv("a,b\n1,2\n", shipped, catalog)


def test_a_verified_item_entry_must_stay_a_draft(catalog: Catalog) -> None:
    item = next(i for i in catalog.items if i.verify)
    fields = {"id": "x", "item": item.id, "questions": "问法", "answer": "回答",
              "link": item.link, "draft": "false"}
    with pytest.raises(ValueError, match="draft"):
        entry_from_fields(fields, catalog, "表单")
    assert entry_from_fields({**fields, "draft": "true"}, catalog, "表单").draft


def test_with_and_without_an_entry(shipped: KnowledgeBase) -> None:
    first = shipped.entries[0]
    assert without_entry(shipped, first.id).entries == shipped.entries[1:]
    assert with_entry(shipped, first) == shipped
