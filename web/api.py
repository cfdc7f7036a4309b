"""The public library's JSON API: the same data as the pages, for apps and other sites.

``GET /api/clips`` searches and browses with the parameters of ``/clips`` (plus
``per_page``), ``GET /api/clips/{id}`` is one published clip, ``GET /api/catalog`` the
categories and business items, ``POST /api/clips/{id}/view`` counts a view (once per viewer,
clip and day of the desk's zone), and ``GET /api/openapi.json`` describes all of it
(``web.openapi``; a test keeps it equal to this module's routes).

Errors are problem details (``web.errors.Problem``, RFC 9457): ``bad_parameter`` (400,
naming the ``parameter``), ``not_found`` (404). The staff actions' endpoints are
``web.api_actions``. URLs in answers are absolute (``server.public_url``, else the address
the request came to); times are ISO 8601 in the desk's time zone ([server] time_zone).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from clips.highlight import Segment
from clips.library import ClipLibrary, media_url
from clips.search import ClipRef, Hit, SearchResult
from moderation.catalog import Catalog, CatalogItem
from store.base import NotFound
from store.records import Clip
from web import keys
from web.errors import Problem
from web.library_pages import RELATED
from web.library_view import (
    API_PAGE_SIZE,
    BadParameter,
    LibraryQuery,
    ServiceAction,
    clip_action,
    clip_path,
    iso_time,
    parse_query,
    run_search,
    service_action,
)
from web.openapi import openapi_document
from web.routing import Route
from web.security import own_origin
from web.viewers import read_viewer

_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _not_found() -> Problem:
    return Problem(404, "not_found", "视频不存在或尚未发布。")


def _library(request: web.Request) -> ClipLibrary:
    return request.app[keys.LIBRARY]


# --- serialization --------------------------------------------------------------------------


def _pieces(segments: tuple[Segment, ...]) -> list[dict[str, Any]]:
    return [{"text": s.text, "match": s.match} for s in segments]


def _item(catalog: Catalog, item_id: str) -> dict[str, str] | None:
    item = catalog.get(item_id)
    return {"id": item.id, "name": item.name, "category": item.category} if item else None


def _clip_summary(clip: Clip, catalog: Catalog, origin: str, zone: dt.tzinfo
                  ) -> dict[str, Any]:
    return {
        "id": clip.id, "url": origin + clip_path(clip.id), "title": clip.title,
        "category": clip.category, "item": _item(catalog, clip.item_id),
        "published_at": iso_time(clip.published_at, zone), "views": clip.views,
        "duration": round(clip.duration, 2),
        "poster_url": _absolute(origin, media_url(clip.poster_path)),
    }


def _absolute(origin: str, path: str) -> str | None:
    return origin + path if path else None


def _hit(hit: Hit, clip: Clip, catalog: Catalog, origin: str, zone: dt.tzinfo
         ) -> dict[str, Any]:
    return {
        **_clip_summary(clip, catalog, origin, zone),
        "question": clip.question, "summary": clip.summary, "score": round(hit.score, 4),
        "highlights": {name: _pieces(tuple(pieces)) for name, pieces in hit.highlights.items()},
    }


def _ref(ref: ClipRef, origin: str) -> dict[str, Any]:
    return {"id": ref.clip_id, "url": origin + clip_path(ref.clip_id), "title": ref.title,
            "views": ref.views}


def _service(action: ServiceAction | None) -> dict[str, Any] | None:
    if action is None:
        return None
    return {"kind": action.kind, "item_name": action.item_name, "channel": action.channel,
            "url": action.url or None, "opens_app": action.opens_app,
            "app": action.app or None, "portal": action.portal or None,
            "guide": action.guide or None, "guide_url": action.guide_url or None}


def _search_body(query: LibraryQuery, result: SearchResult, clips: Mapping[str, Clip],
                 catalog: Catalog, origin: str, zone: dt.tzinfo) -> dict[str, Any]:
    suggestions = None
    if result.suggestions is not None:
        suggestions = {
            "items": [{"id": s.item_id, "category": s.category, "name": s.name,
                       "url": origin + LibraryQuery(item=s.item_id).url(),
                       "clips": [_ref(c, origin) for c in s.clips]}
                      for s in result.suggestions.items],
            "popular": [_ref(c, origin) for c in result.suggestions.popular],
        }
    return {
        "query": {"q": query.q, "category": query.category or None,
                  "item": query.item or None, "sort": query.effective_sort,
                  "page": query.page, "per_page": query.per_page},
        "searched": result.query,
        "terms": list(result.terms),
        "corrections": [{"typed": typed, "searched": searched}
                        for typed, searched in result.corrections],
        "truncated": query.truncated,
        "relaxed": result.relaxed,
        "not_ours": result.not_ours,
        "where": result.where or None,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.pages,
        "hits": [_hit(hit, clips[hit.clip_id], catalog, origin, zone)
                 for hit in result.hits if hit.clip_id in clips],
        "suggestions": suggestions,
    }


def _catalog_item(item: CatalogItem) -> dict[str, Any]:
    """An item's public fields: not its keywords (search's business) nor the link notes
    (``link_status``, ``verify``) kept for the admins."""
    return {"id": item.id, "name": item.name, "description": item.description,
            "service": _service(service_action(item))}


# --- handlers -------------------------------------------------------------------------------


async def search_clips(request: web.Request) -> web.Response:
    library = _library(request)
    try:
        query = parse_query(request.query, library.catalog, per_page=API_PAGE_SIZE,
                            allow_per_page=True)
        result = await run_search(library, query)
    except BadParameter as exc:
        raise Problem(400, "bad_parameter", str(exc), parameter=exc.parameter) from None
    except ValueError as exc:  # BadSearchRequest from the index itself
        raise Problem(400, "bad_parameter", str(exc)) from None
    clips = await library.clips_by_ids(hit.clip_id for hit in result.hits)
    return _json(_search_body(query, result, clips, library.catalog, own_origin(request),
                              library.zone))


async def get_clip(request: web.Request) -> web.Response:
    library = _library(request)
    try:
        clip = library.with_item(await library.published(request.match_info["clip_id"]))
    except NotFound:
        raise _not_found() from None
    origin = own_origin(request)
    catalog = library.catalog
    body = {
        **_clip_summary(clip, catalog, origin, library.zone),
        "question": clip.question, "summary": clip.summary,
        "video_url": _absolute(origin, media_url(clip.media_path)),
        "captions_url": _absolute(origin, media_url(clip.captions_path)),
        "service": _service(clip_action(clip, catalog)),
        "related": [_clip_summary(c, catalog, origin, library.zone)
                    for c in await library.related(clip, RELATED)],
    }
    return _json(body)


async def count_view(request: web.Request) -> web.Response:
    """Count a view of a published clip by this viewer: once per viewer, clip and
    day, and only with a viewer cookie the server issued and signed (the clip page sets
    it), so a script that invents its CSRF cookie and header counts nothing. The clip
    page's script calls this when playback starts; like every POST it needs our origin and
    a CSRF token."""
    library = _library(request)
    clip_id = request.match_info["clip_id"]
    try:
        await library.published(clip_id)
    except NotFound:
        raise _not_found() from None
    response = web.Response(status=200)
    viewer_id = read_viewer(request)
    counted = viewer_id is not None and await library.record_view(clip_id, viewer_id)
    try:
        views = (await library.published(clip_id)).views
    except NotFound:  # unpublished in the meantime
        raise _not_found() from None
    response.content_type = "application/json"
    response.text = _dumps({"counted": counted, "views": views})
    return response


async def get_catalog(request: web.Request) -> web.Response:
    catalog = _library(request).catalog
    origin = own_origin(request)
    return _json({"categories": [
        {"name": category, "url": origin + LibraryQuery(category=category).url(),
         "items": [_catalog_item(item) for item in catalog.by_category(category)]}
        for category in catalog.categories
    ]})


async def get_openapi(request: web.Request) -> web.Response:
    document = openapi_document(_library(request).catalog, own_origin(request))
    return _json(document)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/clips", search_clips, None),
    Route("GET", "/api/clips/{clip_id}", get_clip, None),
    Route("POST", "/api/clips/{clip_id}/view", count_view, None),
    Route("GET", "/api/catalog", get_catalog, None),
    Route("GET", "/api/openapi.json", get_openapi, None),
)
