"""The OpenAPI 3.1 description of the public JSON API (``web.api``), served at
``/api/openapi.json``.

Built from the same constants the API checks (``clips.search`` limits, the catalog's
categories), so the limits it states are the ones enforced. ``tests/web/test_api.py``
checks it both ways against the ``/api/`` routes in ``web.routes.ROUTES``, validates it with
``openapi-spec-validator`` and validates real answers against its schemas.
"""

from __future__ import annotations

from typing import Any

from clips.search import MAX_FILTER_CHARS, MAX_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS, SORTS
from moderation.catalog import Catalog
from web.library_view import API_PAGE_SIZE

VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


STRING = {"type": "string"}
URL = {"type": "string", "format": "uri"}
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601, Beijing time"}
ERROR_400 = _json_response("A parameter cannot be used; `parameter` names it.", _ref("Error"))
ERROR_404 = _json_response("No published clip has this id (drafts are not public).",
                           _ref("Error"))


def _schemas(categories: list[str]) -> dict[str, Any]:
    piece = _object({"text": STRING, "match": {"type": "boolean"}})
    pieces = {"type": "array", "items": _ref("Piece")}
    summary_props = {
        "id": STRING, "url": URL, "title": STRING,
        "category": {"type": "string", "description": "one of the catalog's categories, "
                     "or empty for a clip filed under none"},
        "item": _nullable(_ref("ItemRef")),
        "published_at": TIME,
        "views": {"type": "integer", "minimum": 0,
                  "description": "counted once per viewer, clip and day"},
        "duration": {"type": "number", "minimum": 0, "description": "seconds"},
        "poster_url": _nullable(URL),
    }
    return {
        "Error": _object({"error": _object({
            "code": {"type": "string", "enum": ["bad_parameter", "not_found"]},
            "message": {"type": "string", "description": "for people, in Chinese"},
            "parameter": {"type": "string", "description": "the parameter at fault (400)"},
        }, optional=("parameter",))}),
        "Piece": piece,
        "ItemRef": _object({"id": STRING, "name": STRING, "category": STRING}),
        "ClipSummary": _object(summary_props),
        "Hit": _object({
            **summary_props, "question": STRING, "summary": STRING,
            "score": {"type": "number", "description": "BM25, higher is better; 0 unless "
                      "sorted by relevance"},
            "highlights": {
                "type": "object",
                "description": "The fields' text in pieces; `match` pieces are what the "
                               "query found. Title, question and summary whole; captions an "
                               "excerpt around the first match (empty if none).",
                "properties": {name: pieces for name in
                               ("title", "question", "summary", "captions")},
                "required": ["title", "question", "summary", "captions"],
            },
        }),
        "ClipRef": _object({"id": STRING, "url": URL, "title": STRING,
                            "views": {"type": "integer", "minimum": 0}}),
        "Suggestions": _object({
            "items": {"type": "array", "description": "the business items closest to the "
                      "query, each with its most watched clips",
                      "items": _object({"id": STRING, "category": STRING, "name": STRING,
                                        "url": URL,
                                        "clips": {"type": "array", "items": _ref("ClipRef")}})},
            "popular": {"type": "array", "items": _ref("ClipRef"),
                        "description": "most watched clips, when no item is close"},
        }),
        "SearchPage": _object({
            "query": _object({
                "q": STRING, "category": _nullable({"type": "string", "enum": categories}),
                "item": _nullable(STRING), "sort": {"type": "string", "enum": list(SORTS)},
                "page": {"type": "integer"}, "per_page": {"type": "integer"},
            }),
            "searched": {"type": "string", "description": "the query as searched: "
                         "normalized, cut, typos corrected"},
            "terms": {"type": "array", "items": STRING},
            "corrections": {"type": "array", "items": _object({"typed": STRING,
                                                               "searched": STRING})},
            "truncated": {"type": "boolean", "description": f"q was longer than "
                          f"{MAX_QUERY_CHARS} characters and was cut"},
            "relaxed": {"type": "boolean", "description": "no clip has every word; these "
                        "have some"},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "hits": {"type": "array", "items": _ref("Hit")},
            "suggestions": _nullable(_ref("Suggestions")),
        }),
        "Service": _object({
            "kind": {"type": "string", "enum": ["online", "window"],
                     "description": "online: open `url`; window: only at a counter, see "
                                    "`guide`"},
            "item_name": STRING,
            "channel": {"type": "string", "description": "交管12123, 浙里办, 网上办理 or 窗口"},
            "url": _nullable({"type": "string", "description": "what 一键办理 opens: an "
                              "https:// page, or an app link (zlb://) when `opens_app`"}),
            "opens_app": {"type": "boolean"},
            "app": _nullable({"type": "string", "description": "the phone app that handles "
                              "the item (交管12123, 浙里办)"}),
            "portal": _nullable(URL),
            "guide": _nullable(STRING),
            "guide_url": _nullable(URL),
        }),
        "ClipDetail": _object({
            **summary_props, "question": STRING, "summary": STRING,
            "video_url": _nullable(URL), "captions_url": _nullable(URL),
            "service": _nullable(_ref("Service")),
            "related": {"type": "array", "items": _ref("ClipSummary")},
        }),
        "ViewCount": _object({
            "counted": {"type": "boolean", "description": "false when this viewer's view of "
                        "this clip was already counted today"},
            "views": {"type": "integer", "minimum": 0},
        }),
        "Catalog": _object({"categories": {"type": "array", "items": _object({
            "name": STRING, "url": URL,
            "items": {"type": "array", "items": _object({
                "id": STRING, "name": STRING, "description": STRING,
                "service": _nullable(_ref("Service"))})},
        })}}),
    }


def _search_parameters(categories: list[str]) -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    return [
        query("q", {"type": "string"},
              f"What to search for, as people say it. Whitespace is collapsed and the text "
              f"cut to {MAX_QUERY_CHARS} characters (`truncated` says so); operators, quotes "
              f"and punctuation are plain text. Empty: browse."),
        query("category", {"type": "string", "enum": categories}, "Only this category."),
        query("item", {"type": "string", "maxLength": MAX_FILTER_CHARS},
              "Only this business item (an id from /api/catalog); its category follows."),
        query("sort", {"type": "string", "enum": list(SORTS)},
              "Default: relevance with a query, newest without."),
        query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
              "A page past the last is empty and still carries `total`."),
        query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                           "default": API_PAGE_SIZE}, "Hits per page."),
    ]


CLIP_ID = {"name": "clip_id", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document(catalog: Catalog, origin: str) -> dict[str, Any]:
    categories = list(catalog.categories)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tip Pocket clip library API",
            "version": VERSION,
            "description": "The published answer clips of the traffic-police video help "
                           "desk (交警视频帮): search, one clip, the service catalog, view "
                           "counts. Repeated parameters are refused (400); unknown ones are "
                           "ignored.",
        },
        "servers": [{"url": origin}],
        "paths": {
            "/api/clips": {"get": {
                "operationId": "searchClips",
                "summary": "Search or browse the published clips",
                "parameters": _search_parameters(categories),
                "responses": {
                    "200": _json_response("One page of hits; `suggestions` when nothing "
                                          "was found.", _ref("SearchPage")),
                    "400": ERROR_400,
                },
            }},
            "/api/clips/{clip_id}": {"get": {
                "operationId": "getClip",
                "summary": "One published clip, its 一键办理 action and related clips",
                "parameters": [CLIP_ID],
                "responses": {"200": _json_response("The clip.", _ref("ClipDetail")),
                              "404": ERROR_404},
            }},
            "/api/clips/{clip_id}/view": {"post": {
                "operationId": "countView",
                "summary": "Count a view (once per viewer, clip and Beijing day)",
                "description": "Same-origin only: a browser's `Origin` must be this site, and "
                               "the `X-CSRF-Token` header must equal the `tp_csrf` cookie "
                               "(the clip page provides both) or the staff login's token. "
                               "The viewer is the signed `tp_viewer` cookie, issued here if "
                               "missing.",
                "parameters": [
                    CLIP_ID,
                    {"name": "X-CSRF-Token", "in": "header", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "tp_csrf", "in": "cookie", "required": False,
                     "schema": {"type": "string"}},
                    {"name": "tp_viewer", "in": "cookie", "required": False,
                     "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json_response("Whether this view counted, and the clip's views.",
                                          _ref("ViewCount")),
                    "403": {"description": "Another origin, or no matching CSRF token."},
                    "404": ERROR_404,
                },
            }},
            "/api/catalog": {"get": {
                "operationId": "getCatalog",
                "summary": "The categories and business items, with each item's action",
                "responses": {"200": _json_response("The catalog.", _ref("Catalog"))},
            }},
            "/api/openapi.json": {"get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            }},
        },
        "components": {"schemas": _schemas(categories)},
    }
