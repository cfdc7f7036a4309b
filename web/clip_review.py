"""Staff pages for clips: the list, the review page (play the draft, edit its text and item,
trim with a preview, publish / unpublish / delete, see a failed cut's error and retry) and
clips made by hand from a span of a session's recording.

Moderators and admins use these pages. Every change goes through ``clips.review`` with the
version the reviewer saw, so two reviewers cannot overwrite each other unknowingly.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from clips.library import media_url
from clips.review import STATE_LABELS, ClipConflict, ClipEdit, ClipError
from clips.trim_points import PointError, parse_point
from store.base import NotFound
from store.records import Clip, LiveSession
from web import keys
from web.admin import actor
from web.render import render
from web.routing import MODERATORS, Route

LIST_STATES = ("draft", "pending", "failed", "published", "unpublished")


def _int(value: object, default: int = -1) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else default


def _point(request: web.Request, value: object, what: str,
           recorded: tuple[float, float]) -> float:
    """An in or out point as typed (an offset or a wall-clock time, ``clips.trim_points``)."""
    try:
        return parse_point(value, what, recorded[0], recorded[1],
                           request.app[keys.SETTINGS].zone)
    except PointError as exc:
        raise ClipError(str(exc)) from None


async def clip_list(request: web.Request) -> web.Response:
    review = request.app[keys.REVIEW]
    state = request.query.get("state", "draft")
    if state not in (*LIST_STATES, "all"):
        state = "draft"
    session_id = request.query.get("session", "")[:64]
    clips = await review.listing(state=None if state == "all" else state,
                                  session_id=session_id or None)
    counts = {s: await request.app[keys.STORE].count(Clip, {"state": s}) for s in LIST_STATES}
    session = None
    if session_id:
        try:
            session = await request.app[keys.STORE].get(LiveSession, session_id)
        except NotFound:
            raise web.HTTPNotFound(text="找不到这场直播。") from None
    return render(request, "staff/clips.html", clips=clips, state=state, counts=counts,
                  states=LIST_STATES, labels=STATE_LABELS, session=session,
                  media_url=media_url)


async def _review(request: web.Request, clip: Clip, *, error: str = "",
                  status: int = 200, form: dict[str, Any] | None = None) -> web.Response:
    review = request.app[keys.REVIEW]
    session = await request.app[keys.STORE].get(LiveSession, clip.session_id)
    recorded = await review.recording_range(clip.session_id)
    origin = recorded[0] if recorded else clip.start_at
    catalog = review.catalog
    return render(
        request, "staff/clip.html", status=status, clip=clip, session=session, error=error,
        labels=STATE_LABELS, catalog=catalog, item=catalog.get(clip.item_id),
        media_url=media_url, recorded=recorded, origin=origin,
        in_offset=round(clip.start_at - origin, 2), out_offset=round(clip.end_at - origin, 2),
        form=form or {})


async def clip_page(request: web.Request) -> web.Response:
    clip = await request.app[keys.REVIEW].get(request.match_info["clip_id"])
    return await _review(request, clip)


async def clip_update(request: web.Request) -> web.Response:
    review = request.app[keys.REVIEW]
    clip = await review.get(request.match_info["clip_id"])
    data = await request.post()
    action = str(data.get("action", ""))
    version = _int(data.get("version"))
    who = actor(request)
    form = {k: str(data.get(k, ""))[:2000] for k in
            ("title", "summary", "category", "item_id", "service_link", "in", "out")}
    try:
        if action == "save":
            await review.edit(clip.id, ClipEdit(
                title=form["title"], summary=form["summary"], category=form["category"],
                item_id=form["item_id"], service_link=form["service_link"]),
                expected_version=version, actor=who)
        elif action == "trim":
            recorded = await review.recording_range(clip.session_id)
            if recorded is None:
                raise ClipError("这场直播没有录像，无法调整出入点。")
            start = _point(request, form["in"], "入点", recorded)
            end = _point(request, form["out"], "出点", recorded)
            await review.trim(clip.id, start, end, expected_version=version, actor=who)
        elif action == "publish":
            await review.publish_clip(clip.id, expected_version=version, actor=who)
        elif action == "unpublish":
            await review.unpublish(clip.id, expected_version=version, actor=who)
        elif action == "retry":
            await review.retry(clip.id, expected_version=version, actor=who)
        elif action == "delete":
            await review.delete(clip.id, expected_version=version, actor=who)
            raise web.HTTPSeeOther(f"/staff/clips?session={clip.session_id}&state=all")
        else:
            raise web.HTTPBadRequest(text="未知操作")
    except ClipConflict as exc:
        return await _review(request, exc.current, error=str(exc), status=409)
    except ClipError as exc:
        return await _review(request, await review.get(clip.id), error=str(exc),
                             status=400, form=form)
    raise web.HTTPSeeOther(f"/staff/clips/{clip.id}?msg=clip_{action}")


async def manual_form(request: web.Request, *, error: str = "", status: int = 200,
                      form: dict[str, str] | None = None) -> web.Response:
    session = await request.app[keys.STORE].get(LiveSession, request.match_info["session_id"])
    recorded = await request.app[keys.REVIEW].recording_range(session.id)
    return render(request, "staff/clip_new.html", status=status, session=session,
                  recorded=recorded, error=error, form=form or {})


async def manual_create(request: web.Request) -> web.Response:
    review = request.app[keys.REVIEW]
    session = await request.app[keys.STORE].get(LiveSession, request.match_info["session_id"])
    data = await request.post()
    form = {k: str(data.get(k, ""))[:200] for k in ("title", "in", "out")}
    try:
        recorded = await review.recording_range(session.id)
        if recorded is None:
            raise ClipError("这场直播没有录像。")
        start = _point(request, form["in"], "入点", recorded)
        end = _point(request, form["out"], "出点", recorded)
        clip = await review.create_manual(session.id, start, end, actor=actor(request),
                                           title=form["title"])
    except ClipError as exc:
        return await manual_form(request, error=str(exc), status=400, form=form)
    raise web.HTTPSeeOther(f"/staff/clips/{clip.id}?msg=clip_created")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/staff/clips", clip_list, MODERATORS),
    Route("GET", "/staff/clips/{clip_id}", clip_page, MODERATORS),
    Route("POST", "/staff/clips/{clip_id}", clip_update, MODERATORS),
    Route("GET", "/staff/sessions/{session_id}/clips/new", manual_form, MODERATORS),
    Route("POST", "/staff/sessions/{session_id}/clips/new", manual_create, MODERATORS),
)
