"""Self-service answers: ``GET /api/answers?q=…`` and the understanding engine's lifetime.

``understanding`` is the app's cleanup context for the engine (``moderation.understander``):
it is built in a worker thread at start from the catalog and the word list as stored (the
admins' edits) and the knowledge base, rebuilt when an admin edits either
(``web.admin_catalog``), suggests items on new questions and learns from approvals (those of
earlier runs too, read back from the store at start). Until it
is built, or with ``[understanding] enabled = false``, the API answers 503 (``not_ready``)
and suggestions come from the keyword suggester.

The answer's shape is ``{"understood", "items": [{"id", "name", "confidence"}…],
"answers": [{"kind": "faq" | "clip", "id", "title", "url", "item", "text"}…]}``
(``web.answers_openapi``). ``q`` is checked strictly: missing, empty, longer than
``MAX_QUESTION_CHARS`` or not UTF-8 is a 400 problem. Personal data in it is masked before
anything reads it (``clips.answers``); nothing here logs it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, quote

from aiohttp import web

from clips.answers import MAX_QUESTION_CHARS, Answer, Answers, find_answers
from moderation import data_files, knowledge_edit
from moderation.data_files import DataFileError
from moderation.understander import Understander, stored_examples
from web import keys
from web.errors import Problem
from web.library_view import clean_text, clip_path
from web.routing import Route
from web.security import own_origin

log = logging.getLogger(__name__)
RETRY_SECONDS = 5
_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


async def understanding(app: web.Application) -> AsyncIterator[None]:
    """The cleanup context: after the moderation service and the clip library."""
    understander = app.get(keys.UNDERSTANDER) or Understander()
    app[keys.UNDERSTANDER] = understander
    moderation = app[keys.MODERATION]
    # The published answers are shown (/ask/faq) whether or not the engine is built.
    try:
        stored = await knowledge_edit.load(app[keys.STORE], moderation.catalog)
        understander.set_knowledge(stored.knowledge, moderation.catalog)
    except DataFileError:  # e.g. a catalog edit made an entry invalid: the shipped one serves
        log.exception("the edited knowledge base cannot be used; using the shipped one")
        understander.knowledge = understander.knowledge_for(moderation.catalog)
    if app[keys.SETTINGS].understanding.enabled:
        words = await data_files.load_word_list(app[keys.STORE])
        understander.restore(await stored_examples(app[keys.STORE]))
        understander.rebuild(moderation.catalog, words)
        moderation.item_hints = understander.item_hints
        moderation.on_changed.append(understander.question_changed)
        app[keys.LIBRARY].index.understand = understander.understand
    try:
        yield
    finally:
        moderation.item_hints = None
        moderation.stop_hints()
        app[keys.LIBRARY].index.understand = None
        if understander.question_changed in moderation.on_changed:
            moderation.on_changed.remove(understander.question_changed)
        await understander.close()


def faq_path(entry_id: str) -> str:
    return f"/ask/faq/{quote(entry_id, safe='')}"


def question_param(request: web.Request) -> str:
    """``q`` from the raw query string: exactly once, UTF-8, 1 to MAX_QUESTION_CHARS
    characters after whitespace is collapsed; else a 400 problem naming it."""
    try:
        pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True,
                          encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Problem(400, "bad_parameter", "参数 q 不是有效的 UTF-8 文本。",
                      parameter="q") from None
    values = [value for name, value in pairs if name == "q"]
    if len(values) != 1:
        raise Problem(400, "bad_parameter", "参数 q 必须出现且只能出现一次。", parameter="q")
    text = clean_text(values[0])
    if not text:
        raise Problem(400, "bad_parameter", "请输入问题。", parameter="q")
    if len(text) > MAX_QUESTION_CHARS:
        raise Problem(400, "bad_parameter",
                      f"问题最多 {MAX_QUESTION_CHARS} 个字。", parameter="q")
    return text


def answer_url(answer: Answer, origin: str) -> str:
    return origin + (faq_path(answer.id) if answer.kind == "faq" else clip_path(answer.id))


def answers_body(found: Answers, origin: str) -> dict[str, Any]:
    return {
        "understood": found.understood,
        "items": [{"id": item.id, "name": item.name, "confidence": confidence}
                  for item, confidence in found.items],
        "answers": [{"kind": a.kind, "id": a.id, "title": a.title,
                     "url": answer_url(a, origin), "item": a.item_id, "text": a.text}
                    for a in found.answers],
    }


def not_ready() -> Problem:
    return Problem(503, "not_ready", "自助答复正在准备中，请稍后再试。",
                   headers={"Retry-After": str(RETRY_SECONDS)}, retry_after=RETRY_SECONDS)


async def get_answers(request: web.Request) -> web.Response:
    text = question_param(request)
    found = await find_answers(request.app[keys.UNDERSTANDER], request.app[keys.LIBRARY], text)
    if not found.ready:
        raise not_ready()
    return web.json_response(answers_body(found, own_origin(request)), dumps=_dumps)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/answers", get_answers, None),
)
