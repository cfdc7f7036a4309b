"""The admin-editable data files in the store: the shipped copy until an edit is saved, saves
checked against the version the admin loaded, restore, audit — on both store backends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moderation import data_files
from moderation.catalog import Catalog, load_catalog
from moderation.catalog_edit import catalog_to_toml, leading_comments, with_item
from moderation.data_files import CATALOG, WORD_LIST, DataFileError
from moderation.segment import WordList
from store.base import Store
from store.records import AuditEntry, DataFile

NOW = 1_760_000_000.0


def edited_catalog_text(name: str) -> str:
    shipped = load_catalog()
    first = shipped.items[0]
    changed = with_item(shipped, replace(first, name=name), replacing=first.id)
    return catalog_to_toml(changed, leading_comments(data_files.shipped_text(CATALOG)))


async def test_without_an_edit_the_shipped_copy_is_current(store: Store) -> None:
    current = await data_files.current(store, CATALOG)
    assert (current.edited, current.version) == (False, 0)
    assert current.text == data_files.shipped_text(CATALOG)
    assert await data_files.load_catalog(store) == load_catalog()
    assert isinstance(await data_files.load_word_list(store), WordList)


async def test_save_then_save_again_then_restore(store: Store) -> None:
    first = await data_files.save(store, CATALOG, edited_catalog_text("第一次"),
                                  expected_version=0, actor="boss", now=NOW)
    assert isinstance(first, Catalog) and first.items[0].name == "第一次"
    current = await data_files.current(store, CATALOG)
    assert (current.edited, current.version, current.updated_by) == (True, 1, "boss")
    assert (await data_files.load_catalog(store)).items[0].name == "第一次"

    await data_files.save(store, CATALOG, edited_catalog_text("第二次"), expected_version=1,
                          actor="chief", now=NOW + 1)
    current = await data_files.current(store, CATALOG)
    assert (current.version, current.updated_by) == (2, "chief")
    assert (await data_files.load_catalog(store)).items[0].name == "第二次"

    assert await data_files.restore(store, CATALOG, actor="boss", now=NOW + 2) is True
    assert await data_files.restore(store, CATALOG, actor="boss", now=NOW + 3) is False
    assert not (await data_files.current(store, CATALOG)).edited
    assert await data_files.load_catalog(store) == load_catalog()
    actions = [e.action for e in await store.find(AuditEntry, order_by=["at"])]
    assert actions == ["data.service_catalog.save", "data.service_catalog.save",
                       "data.service_catalog.restore"]


async def test_a_save_from_a_stale_version_is_refused(store: Store) -> None:
    await data_files.save(store, CATALOG, edited_catalog_text("先到"), expected_version=0,
                          actor="a", now=NOW)
    for stale in (0, 2):
        with pytest.raises(DataFileError, match="别人刚刚保存过"):
            await data_files.save(store, CATALOG, edited_catalog_text("后到"),
                                  expected_version=stale, actor="b", now=NOW + 1)
    assert (await data_files.load_catalog(store)).items[0].name == "先到"


@pytest.mark.parametrize(("file_id", "text", "message"), [
    (CATALOG, "[[item]\n", "TOML"),
    (CATALOG, "", r"\[\[item\]\]"),
    (WORD_LIST, "[equivalent]\n驾驶证 = \"驾照\"\n", "TOML"),
    (WORD_LIST, '[equivalent]\n"驾驶证" = "驾照"\n', "非空的词列表"),
    (WORD_LIST, "[colours]\n", "未知"),
], ids=["catalog-syntax", "catalog-empty", "words-syntax", "words-not-a-list", "words-section"])
async def test_an_invalid_text_is_refused_and_nothing_is_stored(
        store: Store, file_id: str, text: str, message: str) -> None:
    with pytest.raises(DataFileError, match=message):
        await data_files.save(store, file_id, text, expected_version=0, actor="a", now=NOW)
    assert await store.find(DataFile) == []
    assert await store.find(AuditEntry, order_by=["at"]) == []


async def test_an_overlong_text_is_refused(store: Store) -> None:
    text = "# x\n" * (data_files.MAX_TEXT_CHARS // 4 + 1)
    with pytest.raises(DataFileError, match="过长"):
        await data_files.save(store, WORD_LIST, text, expected_version=0, actor="a")


async def test_the_word_list_is_kept_apart_from_the_catalog(store: Store) -> None:
    text = '[equivalent]\n"驾驶证" = ["驾照"]\n\n[typos]\n"蓝精灵" = "驾驶证"\n'
    words = await data_files.save(store, WORD_LIST, text, expected_version=0, actor="a")
    assert isinstance(words, WordList) and ("蓝精灵", "驾驶证") in words.typos
    assert (await data_files.current(store, WORD_LIST)).edited
    assert not (await data_files.current(store, CATALOG)).edited
    assert ("蓝精灵", "驾驶证") in (await data_files.load_word_list(store)).typos
