"""The public self-service page (事事有回音): ``/ask`` answers a typed question from the
knowledge base and the clips (``clips.answers``), each with its 一键办理 button; when nothing
fits, or the citizen wants a person's answer, "留给下一场直播" leaves the question for the live
broadcast, or else the next scheduled one, through the same intake as a question typed on the
live page (``Moderation.ask``: screening, personal data masked, the viewer's and the
address's rate limits, the moderation queue). The citizen is sent to a page of their own,
``/ask/q/{token}``, whose token is the question id signed with the server's key (question ids
are public on the live page; the signature is not), showing the question's outcome.

``/ask/faq/{id}`` is one published knowledge-base answer (the ``url`` of ``faq`` answers in
``GET /api/answers``). No inline script: the pages are plain forms and links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

from aiohttp import web

from clips.answers import MAX_QUESTION_CHARS, find_answers
from moderation.questions import STATE_LABELS, Refused
from store.base import NotFound
from store.records import Clip, LiveSession, Question
from web import keys
from web.answers import faq_path
from web.auth import client_address
from web.desk_schedule import broadcast_text, next_broadcast
from web.library_view import clean_text, clip_path, service_action
from web.render import render
from web.routing import Route
from web.security import login_csrf_token, set_login_csrf_cookie
from web.viewers import ensure_viewer

REFRESH_SECONDS = 30  # the citizen's page reloads itself while the question is open


def _sign(key: bytes, question_id: str) -> str:
    digest = hmac.new(key, f"ask:{question_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def follow_path(key: bytes, question_id: str) -> str:
    return f"/ask/q/{question_id}.{_sign(key, question_id)}"


async def next_session(request: web.Request) -> LiveSession | None:
    """The live broadcast, or else the next scheduled one (the soonest to start)."""
    store = request.app[keys.STORE]
    live = await store.find(LiveSession, {"status": "live"}, order_by=["started_at"], limit=1)
    if live:
        return live[0]
    now = time.time()
    scheduled = await store.find(LiveSession, {"status": "scheduled"},
                                 order_by=["scheduled_start"])
    upcoming = [b for b in scheduled if b.scheduled_start >= now - 3600] or scheduled
    return upcoming[0] if upcoming else None


def _page(request: web.Request, **context: Any) -> web.Response:
    login_csrf_token(request)
    response = render(request, "ask/index.html", max_chars=MAX_QUESTION_CHARS, **context)
    set_login_csrf_cookie(request, response)
    ensure_viewer(request, response)
    return response


async def ask_page(request: web.Request) -> web.Response:
    q = clean_text(request.query.get("q", ""))[:MAX_QUESTION_CHARS]
    found = None
    cards = []
    if q:
        library = request.app[keys.LIBRARY]
        found = await find_answers(request.app[keys.UNDERSTANDER], library, q)
        catalog = library.catalog
        for answer in found.answers:
            item = catalog.get(answer.item_id)
            link = answer.entry.link if answer.entry is not None else ""
            cards.append({
                "kind": answer.kind, "title": answer.title, "text": answer.text,
                "url": faq_path(answer.id) if answer.kind == "faq" else clip_path(answer.id),
                "bring": answer.entry.bring if answer.entry is not None else (),
                "item_name": item.name if item else "",
                "service": service_action(item, link) if answer.kind == "faq" else None,
            })
    session = await next_session(request)
    return _page(request, q=q, found=found, cards=cards, session=session, error="")


async def leave_question(request: web.Request) -> web.Response:
    form = await request.post()
    text = form.get("q", "")
    client_id = form.get("client_id", "")
    if not isinstance(text, str) or not isinstance(client_id, str):
        raise web.HTTPBadRequest(text="表单无效。")
    client_id = client_id[:64] or secrets.token_urlsafe(12)
    session = await next_session(request)
    if session is None:
        return _page(request, q=text[:MAX_QUESTION_CHARS], found=None, cards=[],
                     session=None, error="目前没有安排直播，请稍后再来，或拨打 122 咨询。")
    response = web.Response(status=303)
    viewer_id = ensure_viewer(request, response)
    try:
        question, _ = await request.app[keys.MODERATION].ask(
            session.id, viewer_id, client_address(request), client_id, text)
    except Refused as exc:
        return _page(request, q=text[:MAX_QUESTION_CHARS], found=None, cards=[],
                     session=session, error=exc.message)
    response.headers["Location"] = follow_path(request.app[keys.SECRET_KEY], question.id)
    return response


async def follow_page(request: web.Request) -> web.Response:
    question_id, _, signature = request.match_info["token"].partition(".")
    expected = _sign(request.app[keys.SECRET_KEY], question_id)
    if not question_id or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise web.HTTPNotFound()
    store = request.app[keys.STORE]
    question = await store.get(Question, question_id)
    session = await store.get(LiveSession, question.session_id)
    clips = await store.find(Clip, {"question_id": question.id, "state": "published"})
    merged_into = None
    if question.merged_into:
        try:
            merged_into = await store.get(Question, question.merged_into)
        except NotFound:
            merged_into = None
    item = request.app[keys.LIBRARY].catalog.get(question.item_id)
    # A question that awaits an answer on air: when the next broadcast is (the schedule).
    waiting = question.state in ("pending", "queued") and session.status != "live"
    upcoming = await next_broadcast(request) if waiting else None
    return render(request, "ask/follow.html", question=question, session=session,
                  next_broadcast=broadcast_text(upcoming, request.app[keys.SETTINGS].zone)
                  if upcoming else "",
                  state_label=STATE_LABELS[question.state], merged_into=merged_into,
                  clip_url=clip_path(clips[0].id) if clips else "",
                  item_name=item.name if item else "",
                  action=service_action(item, question.service_link) if item else None,
                  refresh=REFRESH_SECONDS if question.state in ("pending", "queued", "on_air")
                  else 0)


async def faq_page(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    entry = next((e for e in request.app[keys.UNDERSTANDER].knowledge.published()
                  if e.id == entry_id), None)
    if entry is None:
        raise web.HTTPNotFound()
    item = request.app[keys.LIBRARY].catalog.get(entry.item_id)
    return render(request, "ask/faq.html", entry=entry, item_name=item.name if item else "",
                  action=service_action(item, entry.link))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/ask", ask_page, None),
    Route("POST", "/ask", leave_question, None),
    Route("GET", "/ask/q/{token}", follow_page, None),
    Route("GET", "/ask/faq/{entry_id}", faq_page, None),
)
