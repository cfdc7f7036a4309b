"""Admin pages for the search vocabulary: the service catalog (item by item, or the whole
TOML file), the search word list (synonyms, typos, stopwords) with a box to try a query, and
the library searches that found nothing.

Every save goes through ``moderation.data_files.save``: the text is validated by the parser
that loads it at start, checked against the version the admin loaded (someone else's save in
between is refused), stored and audited. It is then applied in this process at once: the
moderation service's item suggestions and duplicate hints, the clip library's analyzer (its
index is rebuilt with the new words) and the catalog the pages show. Other processes of a
multi-node deployment read it at their next start.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import web

from clips.search_query import MAX_QUERY_CHARS
from moderation import data_files
from moderation.audit import target
from moderation.catalog import CATEGORIES, LINK_FORMS, LINK_STATUSES, Catalog, CatalogItem
from moderation.catalog_edit import (
    CatalogEditError,
    ItemForm,
    catalog_to_toml,
    changed_fields,
    item_from_form,
    leading_comments,
    with_item,
    without_item,
)
from moderation.confusions import desk_agreement
from moderation.data_files import (
    CATALOG,
    MAX_TEXT_CHARS,
    WORD_LIST,
    AuditNote,
    DataFileError,
)
from moderation.segment import AnalyzedQuery, Segmenter, WordList
from moderation.vocabulary import Vocabulary
from store.records import Clip, Question
from web import keys
from web.admin import actor
from web.render import render
from web.routing import ADMIN, Route

MISSES_SHOWN = 200
FIELD_CAP = 5000  # characters kept of one form field; the catalog parser sets the real limits
CHANNELS = ("12123", "浙里办", "窗口")  # suggestions in the form; the field is free text
LINK_STATUS_LABELS = {"documented": "公开地址", "placeholder": "占位链接"}
NOTICES = {
    "saved": "已保存，并已立即生效。",
    "added": "已添加事项，并已立即生效。",
    "deleted": "已删除事项，并已立即生效。",
    "restored": "已恢复为系统内置版本，并已立即生效。",
}


# --- applying an edit ---------------------------------------------------------------------


async def apply_catalog(app: web.Application, catalog: Catalog) -> None:
    """Use an edited catalog in this process: pages, item suggestions, the search analyzer."""
    app[keys.MODERATION].set_catalog(catalog)
    library = app[keys.LIBRARY]
    await library.set_vocabulary(catalog, library.words)
    _rebuild_understanding(app, catalog, library.words)


async def apply_words(app: web.Application, words: WordList) -> None:
    """Use an edited word list in this process: item suggestions, duplicate hints, search."""
    app[keys.MODERATION].set_vocabulary(Vocabulary(words))
    await app[keys.LIBRARY].set_vocabulary(app[keys.MODERATION].catalog, words)
    _rebuild_understanding(app, app[keys.MODERATION].catalog, words)


def _rebuild_understanding(app: web.Application, catalog: Catalog, words: WordList) -> None:
    """The understanding engine is rebuilt in the background; the old one answers meanwhile."""
    if app[keys.SETTINGS].understanding.enabled:
        app[keys.UNDERSTANDER].rebuild(catalog, words)


# --- form helpers -------------------------------------------------------------------------


def _text(form: Any, name: str, cap: int = FIELD_CAP) -> str:
    value = form.get(name, "")
    return value[:cap] if isinstance(value, str) else ""


def _version(form: Any) -> int:
    try:
        return max(0, int(_text(form, "version", 12)))
    except ValueError:
        raise web.HTTPBadRequest(text="版本号无效") from None


def _notice(request: web.Request) -> str:
    return NOTICES.get(request.query.get("msg", ""), "")


def _raw_text(form: Any) -> str:
    # Not cut: a text over the limit is refused by data_files with a message; the request
    # size limit (server.max_request_kib) bounds what arrives at all.
    return _text(form, "text", MAX_TEXT_CHARS + 1).replace("\r\n", "\n")


def _item_note(catalog: Catalog, before: CatalogItem | None, item_id: str) -> AuditNote | None:
    """The catalog-item audit entry an edit adds to the save's transaction (None: no
    change to the item itself)."""
    after = catalog.get(item_id)
    where = target("catalog_item", item_id)
    if after is None:
        assert before is not None
        return AuditNote("catalog.item_delete", where, {"name": before.name}, None)
    if before is None:
        return AuditNote("catalog.item_add", where, None, {"name": after.name})
    old, new = changed_fields(before, after)
    return AuditNote("catalog.item_edit", where, old, new) if new else None


# --- the catalog, item by item ---------------------------------------------------------


async def _current_catalog(request: web.Request) -> tuple[data_files.Current, Catalog]:
    current = await data_files.current(request.app[keys.STORE], CATALOG)
    catalog = data_files.parse(CATALOG, current.text)
    assert isinstance(catalog, Catalog)
    return current, catalog


async def catalog_page(request: web.Request) -> web.Response:
    current, catalog = await _current_catalog(request)
    groups = [(c, catalog.by_category(c)) for c in CATEGORIES if catalog.by_category(c)]
    return render(request, "admin/catalog.html", current=current, groups=groups,
                  total=len(catalog.items), notice=_notice(request),
                  link_status_labels=LINK_STATUS_LABELS)


async def _usage(request: web.Request, item_id: str) -> tuple[int, int]:
    """How many clips and questions are filed under an item."""
    store = request.app[keys.STORE]
    return (await store.count(Clip, {"item_id": item_id}),
            await store.count(Question, {"item_id": item_id}))


async def _item_page(request: web.Request, form: ItemForm, *, editing: str, version: int,
                     error: str = "", status: int = 200) -> web.Response:
    clips, questions = await _usage(request, editing) if editing else (0, 0)
    return render(request, "admin/catalog_item.html", status=status, form=form,
                  editing=editing, version=version, error=error, categories=CATEGORIES,
                  channels=CHANNELS, link_statuses=LINK_STATUSES,
                  link_status_labels=LINK_STATUS_LABELS, link_forms=LINK_FORMS,
                  clip_count=clips, question_count=questions)


async def item_form(request: web.Request) -> web.Response:
    """The edit form of an item (``?id=``), or an empty one to add an item."""
    current, catalog = await _current_catalog(request)
    item_id = request.query.get("id", "")[:100]
    if not item_id:
        category = request.query.get("category", "")
        form = ItemForm(category=category if category in CATEGORIES else CATEGORIES[0])
        return await _item_page(request, form, editing="", version=current.version)
    item = catalog.get(item_id)
    if item is None:
        raise web.HTTPNotFound(text="没有这个事项")
    return await _item_page(request, ItemForm.of(item), editing=item.id,
                            version=current.version)


async def item_submit(request: web.Request) -> web.Response:
    data = await request.post()
    action = _text(data, "action", 20)
    editing = _text(data, "editing", 100)
    version = _version(data)
    form = ItemForm(**{name: _text(data, name) for name in (
        "id", "category", "name", "description", "keywords", "channel", "link",
        "link_status", "portal", "verify")})
    if editing:
        form = dataclasses.replace(form, id=editing)  # an item's id is fixed
    if action not in ("save", "delete"):
        raise web.HTTPBadRequest(text="未知操作")
    if action == "delete" and not editing:
        raise web.HTTPBadRequest(text="没有指定要删除的事项")

    store = request.app[keys.STORE]
    current, catalog = await _current_catalog(request)
    before = catalog.get(editing) if editing else None
    try:
        if current.version != version:
            raise DataFileError("别人刚刚保存过业务目录，请重新打开这个页面后再改。")
        if action == "delete":
            clips, _ = await _usage(request, editing)
            if clips:
                raise CatalogEditError(f"有 {clips} 个片段归在这个事项下，"
                                       "请先把它们改到其他事项，再删除。")
            if _text(data, "confirm", 10) != "yes":
                raise CatalogEditError("请勾选“确认删除”后再删除。")
            edited = without_item(catalog, editing)
        else:
            item = item_from_form(form)
            if item == before:  # nothing changed: no new version, no index rebuild
                raise web.HTTPSeeOther(f"/admin/catalog?msg=saved#item-{item.id}")
            edited = with_item(catalog, item, replacing=editing)
        text = catalog_to_toml(edited, leading_comments(current.text))
        # The item's own audit entry commits in the save's transaction.
        item_id = editing if action == "delete" else form.id.strip()
        parsed = data_files.parse(CATALOG, text)
        assert isinstance(parsed, Catalog)
        note = _item_note(parsed, before, item_id)
        saved = await data_files.save(store, CATALOG, text, expected_version=version,
                                      actor=actor(request), also_audit=[note] if note else [],
                                      audit=request.app[keys.MODERATION].audit)
    except (DataFileError, CatalogEditError) as exc:
        return await _item_page(request, form, editing=editing, version=version,
                                error=str(exc), status=400)
    assert isinstance(saved, Catalog)
    await apply_catalog(request.app, saved)
    if action == "delete":
        raise web.HTTPSeeOther("/admin/catalog?msg=deleted")
    after = saved.get(item_id)
    assert after is not None
    if before is None:
        raise web.HTTPSeeOther(f"/admin/catalog?msg=added#item-{after.id}")
    raise web.HTTPSeeOther(f"/admin/catalog?msg=saved#item-{after.id}")


# --- the catalog as one file -----------------------------------------------------------


async def _raw_page(request: web.Request, *, text: str, version: int, error: str = "",
                    status: int = 200) -> web.Response:
    current = await data_files.current(request.app[keys.STORE], CATALOG)
    return render(request, "admin/catalog_raw.html", status=status, current=current,
                  text=text, version=version, error=error, max_chars=MAX_TEXT_CHARS,
                  notice=_notice(request))


async def catalog_raw(request: web.Request) -> web.Response:
    current = await data_files.current(request.app[keys.STORE], CATALOG)
    return await _raw_page(request, text=current.text, version=current.version)


async def catalog_raw_submit(request: web.Request) -> web.Response:
    data = await request.post()
    action = _text(data, "action", 20)
    store = request.app[keys.STORE]
    if action == "restore":
        if _text(data, "confirm", 10) != "yes":
            current = await data_files.current(store, CATALOG)
            return await _raw_page(request, text=current.text, version=current.version,
                                   error="请勾选“确认恢复”后再恢复。", status=400)
        await data_files.restore(store, CATALOG, actor=actor(request),
                                 audit=request.app[keys.MODERATION].audit)
        await apply_catalog(request.app, await data_files.load_catalog(store))
        raise web.HTTPSeeOther("/admin/catalog?msg=restored")
    if action != "save":
        raise web.HTTPBadRequest(text="未知操作")
    text, version = _raw_text(data), _version(data)
    try:
        saved = await data_files.save(store, CATALOG, text, expected_version=version,
                                      actor=actor(request),
                                      audit=request.app[keys.MODERATION].audit)
    except DataFileError as exc:
        return await _raw_page(request, text=text, version=version, error=str(exc),
                               status=400)
    assert isinstance(saved, Catalog)
    await apply_catalog(request.app, saved)
    raise web.HTTPSeeOther("/admin/catalog?msg=saved")


# --- the search word list --------------------------------------------------------------


def _format_help() -> str:
    """The shipped word list's opening comments, without the comment marks: the format,
    explained in Chinese, for the top of the editor."""
    header = leading_comments(data_files.shipped_text(WORD_LIST))
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                     for line in header.split("\n"))


def _analysis(analyzed: AnalyzedQuery) -> dict[str, Any]:
    """How a query is searched, for the try box."""
    def term(t: Any) -> dict[str, Any]:
        return {"text": t.text, "alternatives": list(t.alternatives[1:]), "strong": t.strong,
                "domain": t.domain, "parts": [term(p) for p in t.parts]}
    return {"text": analyzed.text, "corrections": list(analyzed.corrections),
            "terms": [term(t) for t in analyzed.terms]}


async def _try(request: web.Request, words: WordList, query: str) -> dict[str, Any] | None:
    query = " ".join(query.split())[:MAX_QUERY_CHARS]
    if not query:
        return None
    library = request.app[keys.LIBRARY]
    if words == library.words and request.app[keys.MODERATION].catalog == library.catalog:
        segmenter = library.index.segmenter  # the one in use: no need to build another
    else:
        # Loads jieba's dictionary with the unsaved words: about 0.2 s, off the event loop.
        segmenter = await asyncio.to_thread(Segmenter.for_catalog,
                                            request.app[keys.MODERATION].catalog, words)
    return {"query": query, **_analysis(segmenter.analyze(query))}


async def _synonyms_page(request: web.Request, *, text: str, version: int, error: str = "",
                         tried: dict[str, Any] | None = None, query: str = "",
                         status: int = 200) -> web.Response:
    current = await data_files.current(request.app[keys.STORE], WORD_LIST)
    return render(request, "admin/synonyms.html", status=status, current=current, text=text,
                  version=version, error=error, tried=tried, query=query,
                  max_chars=MAX_TEXT_CHARS, max_query=MAX_QUERY_CHARS,
                  format_help=_format_help(), notice=_notice(request))


async def synonyms_page(request: web.Request) -> web.Response:
    current = await data_files.current(request.app[keys.STORE], WORD_LIST)
    query = request.query.get("q", "")[:MAX_QUERY_CHARS]
    tried = await _try(request, request.app[keys.LIBRARY].words, query)
    return await _synonyms_page(request, text=current.text, version=current.version,
                                tried=tried, query=query)


async def synonyms_submit(request: web.Request) -> web.Response:
    data = await request.post()
    action = _text(data, "action", 20)
    store = request.app[keys.STORE]
    if action == "restore":
        current = await data_files.current(store, WORD_LIST)
        if _text(data, "confirm", 10) != "yes":
            return await _synonyms_page(request, text=current.text, version=current.version,
                                        error="请勾选“确认恢复”后再恢复。", status=400)
        await data_files.restore(store, WORD_LIST, actor=actor(request),
                                 audit=request.app[keys.MODERATION].audit)
        await apply_words(request.app, await data_files.load_word_list(store))
        raise web.HTTPSeeOther("/admin/synonyms?msg=restored")
    if action not in ("save", "try"):
        raise web.HTTPBadRequest(text="未知操作")
    text, version = _raw_text(data), _version(data)
    query = _text(data, "q", MAX_QUERY_CHARS)
    try:
        if action == "try":
            words = data_files.parse(WORD_LIST, text)
            assert isinstance(words, WordList)
            return await _synonyms_page(request, text=text, version=version, query=query,
                                        tried=await _try(request, words, query))
        saved = await data_files.save(store, WORD_LIST, text, expected_version=version,
                                      actor=actor(request),
                                      audit=request.app[keys.MODERATION].audit)
    except DataFileError as exc:
        return await _synonyms_page(request, text=text, version=version, query=query,
                                    error=str(exc), status=400)
    assert isinstance(saved, WordList)
    await apply_words(request.app, saved)
    raise web.HTTPSeeOther("/admin/synonyms?msg=saved")


# --- searches that found nothing -------------------------------------------------------


async def misses_page(request: web.Request) -> web.Response:
    misses = await request.app[keys.LIBRARY].misses(MISSES_SHOWN)
    return render(request, "admin/misses.html", misses=misses, limit=MISSES_SHOWN)


# --- the understanding engine's confusions ----------------------------------------------


async def understanding_page(request: web.Request) -> web.Response:
    """Which items the engine confuses, from moderators' corrections (moderation.confusions)."""
    found = await desk_agreement(request.app[keys.STORE])
    names = {item.id: item.name for item in request.app[keys.MODERATION].catalog.items}
    return render(request, "admin/understanding.html", agreement=found, names=names)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/admin/catalog", catalog_page, ADMIN),
    Route("GET", "/admin/catalog/item", item_form, ADMIN),
    Route("POST", "/admin/catalog/item", item_submit, ADMIN),
    Route("GET", "/admin/catalog/raw", catalog_raw, ADMIN),
    Route("POST", "/admin/catalog/raw", catalog_raw_submit, ADMIN),
    Route("GET", "/admin/synonyms", synonyms_page, ADMIN),
    Route("POST", "/admin/synonyms", synonyms_submit, ADMIN),
    Route("GET", "/admin/search-misses", misses_page, ADMIN),
    Route("GET", "/admin/understanding", understanding_page, ADMIN),
)
