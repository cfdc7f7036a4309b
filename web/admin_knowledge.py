"""Admin pages for the knowledge base (issue 12): entries listed per business item, added,
edited and deleted one at a time, and the whole base exported and imported as CSV.

Every change goes through ``moderation.knowledge_edit.save``: the whole base is validated
against the catalog, checked against the version the admin loaded (someone else's save in
between is refused), stored and audited in one transaction. It applies in this process at
once: ``/ask`` shows the published answers, and the understanding engine is rebuilt in the
background to learn the phrasings. Personal data in phrasings is masked on the way in.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from moderation import knowledge_edit
from moderation.audit import target
from moderation.data_files import AuditNote, DataFileError
from moderation.knowledge import KnowledgeBase, KnowledgeEntry, KnowledgeError
from moderation.knowledge_edit import KnowledgeImportError
from web import keys
from web.admin import actor
from web.render import render
from web.routing import ADMIN, Route

FIELD_CAP = 5000
MAX_CSV_BYTES = 2_000_000
NOTICES = {"saved": "已保存，并已立即生效。", "deleted": "已删除问答，并已立即生效。",
           "imported": "已导入，并已立即生效。"}


async def _apply(app: web.Application, knowledge: KnowledgeBase) -> None:
    """Use an edited knowledge base in this process: /ask at once, the engine rebuilt."""
    understander = app[keys.UNDERSTANDER]
    catalog = app[keys.MODERATION].catalog
    understander.set_knowledge(knowledge, catalog)
    if app[keys.SETTINGS].understanding.enabled:
        understander.rebuild(catalog, app[keys.LIBRARY].words)


def _text(form: Any, name: str, cap: int = FIELD_CAP) -> str:
    value = form.get(name, "")
    return value[:cap] if isinstance(value, str) else ""


def _version(form: Any) -> int:
    try:
        return max(0, int(_text(form, "version", 12)))
    except ValueError:
        raise web.HTTPBadRequest(text="版本号无效") from None


def _form_of(entry: KnowledgeEntry) -> dict[str, Any]:
    return {"id": entry.id, "item": entry.item_id, "questions": "\n".join(entry.questions),
            "answer": entry.answer, "bring": "\n".join(entry.bring), "link": entry.link,
            "draft": entry.draft}


def _summary(entry: KnowledgeEntry) -> dict[str, Any]:
    return {"item": entry.item_id, "questions": list(entry.questions), "answer": entry.answer,
            "draft": entry.draft}


async def knowledge_page(request: web.Request, *, error: str = "",
                         problems: list[tuple[int, str]] | None = None,
                         status: int = 200) -> web.Response:
    catalog = request.app[keys.MODERATION].catalog
    stored = await knowledge_edit.load(request.app[keys.STORE], catalog)
    chosen = request.query.get("item", "")[:64]
    groups = [(item, stored.knowledge.for_item(item.id)) for item in catalog.items
              if not chosen or item.id == chosen]
    return render(request, "admin/knowledge.html", status=status, stored=stored,
                  groups=groups, items=catalog.items, chosen=chosen, error=error,
                  problems=problems or [], notice=NOTICES.get(request.query.get("msg", ""), ""))


async def entry_form(request: web.Request) -> web.Response:
    catalog = request.app[keys.MODERATION].catalog
    stored = await knowledge_edit.load(request.app[keys.STORE], catalog)
    entry_id = request.query.get("id", "")
    if entry_id:
        entry = next((e for e in stored.knowledge.entries if e.id == entry_id), None)
        if entry is None:
            raise web.HTTPNotFound(text="没有这条问答")
        form = _form_of(entry)
    else:
        item = catalog.get(request.query.get("item", ""))
        form = {"id": "", "item": item.id if item else "", "questions": "", "answer": "",
                "bring": "", "link": item.link if item else "", "draft": bool(item and item.verify)}
    return _entry_page(request, form, editing=entry_id, version=stored.version)


def _entry_page(request: web.Request, form: dict[str, Any], *, editing: str, version: int,
                error: str = "", status: int = 200) -> web.Response:
    return render(request, "admin/knowledge_entry.html", status=status, form=form,
                  editing=editing, version=version, error=error,
                  items=request.app[keys.MODERATION].catalog.items)


async def entry_submit(request: web.Request) -> web.Response:
    data = await request.post()
    action, editing, version = _text(data, "action", 20), _text(data, "editing", 100), \
        _version(data)
    catalog = request.app[keys.MODERATION].catalog
    store = request.app[keys.STORE]
    stored = await knowledge_edit.load(store, catalog)
    before = next((e for e in stored.knowledge.entries if e.id == editing), None)
    if editing and before is None:
        raise web.HTTPNotFound(text="没有这条问答")
    fields = {name: _text(data, name) for name in ("id", "item", "questions", "answer",
                                                   "bring", "link")}
    fields["draft"] = "true" if _text(data, "draft", 10) == "yes" else "false"
    if editing:
        fields["id"] = editing  # an entry's id never changes: answers link to it
    form = {**fields, "draft": fields["draft"] == "true"}
    try:
        if action == "delete":
            assert before is not None
            if _text(data, "confirm", 10) != "yes":
                raise DataFileError("请勾选“确认删除”后再删除。")
            changed = knowledge_edit.without_entry(stored.knowledge, editing)
            note = AuditNote("knowledge.entry_delete", target("knowledge_entry", editing),
                             _summary(before), None)
        elif action == "save":
            entry = knowledge_edit.entry_from_fields(fields, catalog, "这条问答")
            if not editing and any(e.id == entry.id for e in stored.knowledge.entries):
                raise DataFileError(f"id {entry.id!r} 已被其他问答使用。")
            changed = knowledge_edit.with_entry(stored.knowledge, entry)
            note = AuditNote("knowledge.entry_edit" if before else "knowledge.entry_add",
                             target("knowledge_entry", entry.id),
                             _summary(before) if before else None, _summary(entry))
        else:
            raise web.HTTPBadRequest(text="未知操作")
        saved = await knowledge_edit.save(store, changed, catalog, expected_version=version,
                                          actor=actor(request), notes=(note,),
                                          audit=request.app[keys.MODERATION].audit)
    except (KnowledgeError, DataFileError) as exc:
        return _entry_page(request, form, editing=editing, version=version, error=str(exc),
                           status=400)
    await _apply(request.app, saved)
    raise web.HTTPSeeOther(f"/admin/knowledge?msg={'deleted' if action == 'delete' else 'saved'}")


async def export_csv(request: web.Request) -> web.Response:
    stored = await knowledge_edit.load(request.app[keys.STORE],
                                       request.app[keys.MODERATION].catalog)
    # A byte-order mark, so that spreadsheet programs read the file as UTF-8.
    body = "\ufeff" + knowledge_edit.to_csv(stored.knowledge)
    return web.Response(text=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="knowledge.csv"'})


async def import_csv(request: web.Request) -> web.Response:
    data = await request.post()
    upload = data.get("file")
    if isinstance(upload, web.FileField):
        raw = upload.file.read(MAX_CSV_BYTES + 1)
    else:
        raw = _text(data, "text", MAX_CSV_BYTES + 1).encode()
    if not raw.strip():
        return await knowledge_page(request, error="请选择要导入的 CSV 文件。", status=400)
    if len(raw) > MAX_CSV_BYTES:
        return await knowledge_page(request, error="文件过大。", status=400)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return await knowledge_page(request, error="文件必须是 UTF-8 编码的 CSV。", status=400)
    catalog = request.app[keys.MODERATION].catalog
    store = request.app[keys.STORE]
    stored = await knowledge_edit.load(store, catalog)
    try:
        changed = knowledge_edit.from_csv(text, stored.knowledge, catalog)
        note = AuditNote("knowledge.import", target("data", "knowledge"),
                         {"entries": len(stored.knowledge.entries)},
                         {"entries": len(changed.entries)})
        saved = await knowledge_edit.save(store, changed, catalog,
                                          expected_version=_version(data),
                                          actor=actor(request), notes=(note,),
                                          audit=request.app[keys.MODERATION].audit)
    except KnowledgeImportError as exc:
        return await knowledge_page(request, error="没有导入任何内容：以下各行有问题。",
                                    problems=exc.problems, status=400)
    except DataFileError as exc:
        return await knowledge_page(request, error=str(exc), status=400)
    await _apply(request.app, saved)
    raise web.HTTPSeeOther("/admin/knowledge?msg=imported")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/admin/knowledge", knowledge_page, ADMIN),
    Route("GET", "/admin/knowledge/entry", entry_form, ADMIN),
    Route("POST", "/admin/knowledge/entry", entry_submit, ADMIN),
    Route("GET", "/admin/knowledge.csv", export_csv, ADMIN),
    Route("POST", "/admin/knowledge/import", import_csv, ADMIN),
)
