"""The OpenAPI 3.1 description of the JSON API (``web.api``, ``web.api_actions``), served at
``/api/openapi.json``.

Built from the same constants the API checks (``clips.search`` limits, the catalog's
categories, the staff action declarations of ``moderation.actions``), so the limits it
states are the ones enforced. ``tests/web/test_api.py``
checks it both ways against the ``/api/`` routes in ``web.routes.ROUTES``, validates it with
``openapi-spec-validator`` and validates real answers against its schemas.
"""

from __future__ import annotations

from typing import Any

from clips.search_query import MAX_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS, SORTS
from live.protocol import Field
from moderation.action_docs import roles_text
from moderation.actions import ACTIONS, StaffAction
from moderation.catalog import Catalog
from moderation.questions import STATES
from web.answers_openapi import answers_paths, answers_schemas
from web.api_actions import action_path
from web.errors import PROBLEM_TYPE
from web.library_view import API_PAGE_SIZE
from web.openapi_desk import desk_paths, desk_schemas

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


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_TYPE: {"schema": _ref("Problem")}}}


STRING = {"type": "string"}
URL = {"type": "string", "format": "uri"}
TIME = {"type": "string", "format": "date-time",
        "description": "ISO 8601 with the offset of the desk's time zone"}
ERROR_400 = _problem("A parameter cannot be used; `parameter` names it.")
ERROR_404 = _problem("No published clip has this id (drafts are not public).")


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
        "Problem": _object({
            "type": {"type": "string", "format": "uri",
                     "description": "urn:tippocket:problem: and the code"},
            "title": {"type": "string", "description": "the status, in Chinese"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "what went wrong, for people, in "
                       "Chinese"},
            "code": {"type": "string", "description": "stable, for programs: "
                     "bad_parameter, not_found, … (docs/protocol.md lists the staff "
                     "actions' codes)"},
            "parameter": {"type": "string", "description": "the parameter or field at "
                          "fault"},
            "retry_after": {"type": "integer", "minimum": 1,
                            "description": "seconds (429)"},
            "current": {"type": "object", "description": "the question as it is now "
                        "(409 conflict), staff view"},
        }, optional=("parameter", "retry_after", "current")),
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
            "not_ours": {"type": "boolean", "description": "the query was recognised as "
                         "another topic than traffic administration: only clips with all its "
                         "words are hits"},
            "where": _nullable({"type": "string", "description": "with not_ours: whom to ask "
                                "instead"}),
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


def _search_parameters(categories: list[str], items: list[str]) -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    return [
        query("q", {"type": "string"},
              f"What to search for, as people say it. Whitespace is collapsed and the text "
              f"cut to {MAX_QUERY_CHARS} characters (`truncated` says so); operators, quotes "
              f"and punctuation are plain text. Empty: browse."),
        query("category", {"type": "string", "enum": ["", *categories]},
              "Only this category; empty: every category."),
        query("item", {"type": "string", "enum": ["", *items]},
              "Only this business item (an id from /api/catalog); its category follows. "
              "Empty: every item."),
        query("sort", {"type": "string", "enum": ["", *SORTS]},
              "Default (also when empty): relevance with a query, newest without."),
        query("page", _integer_or_empty(MAX_PAGE, 1),
              "A page past the last is empty and still carries `total`. Empty: 1."),
        query("per_page", _integer_or_empty(MAX_PER_PAGE, API_PAGE_SIZE),
              "Hits per page. Empty: the default."),
    ]


def _integer_or_empty(highest: int, default: int) -> dict[str, Any]:
    """A decimal integer without a sign or leading zeros, or empty for the default."""
    return {"anyOf": [{"type": "integer", "minimum": 1, "maximum": highest},
                      {"type": "string", "enum": [""]}], "default": default}


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
                           "counts; and the staff actions, for staff logins. Repeated "
                           "parameters are refused (400); unknown ones are ignored. Every "
                           "error is an RFC 9457 problem document (application/problem+json) "
                           "with a stable `code`.",
        },
        "servers": [{"url": origin}],
        "paths": {
            "/api/clips": {"get": {
                "operationId": "searchClips",
                "summary": "Search or browse the published clips",
                "parameters": _search_parameters(
                    categories, [item.id for item in catalog.items]),
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
                "summary": "Count a view (once per viewer, clip and day)",
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
                    "403": _problem("Another origin (`cross_origin`), or no matching CSRF "
                                    "token (`csrf`)."),
                    "404": ERROR_404,
                },
            }},
            "/api/catalog": {"get": {
                "operationId": "getCatalog",
                "summary": "The categories and business items, with each item's action",
                "responses": {"200": _json_response("The catalog.", _ref("Catalog"))},
            }},
            **_action_paths(),
            **desk_paths(),
            **answers_paths(),
            "/api/openapi.json": {"get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            }},
        },
        "components": {"schemas": {**_schemas(categories), **desk_schemas(),
                                   **answers_schemas()}},
    }


# --- the staff actions (moderation.actions) ---------------------------------------------------


def field_schema(spec: Field, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    if spec.kind is bool:
        schema: dict[str, Any] = {"type": "boolean"}
    elif spec.kind is int:
        schema = {"type": "integer", "minimum": spec.min_value, "maximum": spec.max_len}
    elif choices:
        schema = {"type": "string", "enum": list(choices)}
    else:
        schema = {"type": "string", "maxLength": spec.max_len}
    return schema if spec.required else _nullable(schema)


def _request_schema(action: StaffAction) -> dict[str, Any]:
    properties = {}
    for name, spec in action.fields.items():
        schema = field_schema(spec, action.choices.get(name, ()))
        if name in action.notes:
            schema = {**schema, "description": action.notes[name]}
        properties[name] = schema
    schema = {"type": "object", "properties": properties, "additionalProperties": False,
              "required": [name for name, spec in action.fields.items() if spec.required]}
    if action.command.rules:
        schema["allOf"] = list(action.command.rules)
    return schema


ANSWER_FIELDS: dict[str, Any] = {
    "question_id": STRING, "version": {"type": "integer", "minimum": 1},
    "state": {"type": "string", "enum": list(STATES)},
    # the caption action's ack: the stored line (masked) and its broadcast time
    "caption_id": STRING, "text": STRING, "at": {"type": "number"}}
# A bulk action's answer: the questions it changed, and those it refused (with why).
ANSWER_FIELDS["done"] = {"type": "array", "items": {"type": "object", "properties": {
    name: ANSWER_FIELDS[name] for name in ("question_id", "version", "state")}}}
ANSWER_FIELDS["refused"] = {"type": "array", "items": {"type": "object", "properties": {
    "question_id": STRING, "code": STRING, "message": STRING}}}
SESSION_ID = {"name": "session_id", "in": "path", "required": True,
              "schema": {"type": "string"}}
STAFF_PARAMETERS = [
    SESSION_ID,
    {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": STRING,
     "description": "the staff login's CSRF token (every staff page carries it)"},
    {"name": "tp_staff", "in": "cookie", "required": True, "schema": STRING,
     "description": "the staff login"},
]


def _action_operation(action: StaffAction) -> dict[str, Any]:
    answer = _object({name: ANSWER_FIELDS[name] for name in action.answer})
    return {"post": {
        "operationId": "staff_" + action.name,
        "tags": ["staff actions"],
        "summary": action.summary,
        "description": f"Roles: {roles_text(action.roles)}. The same action as the staff "
                       f"websocket's `{action.name}` frame, with the same fields and "
                       f"answer. Audited as `{action.audit}` on `{action.target}`.",
        "parameters": STAFF_PARAMETERS,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _request_schema(action)}}},
        "responses": {
            "200": _json_response("Done (stored, audited and announced).", answer),
            "400": _problem("Not a JSON object, or a field is missing, unknown, of the "
                            "wrong type or too long (`parameter` names it)."),
            "401": _problem("No staff login."),
            "403": _problem("This role may not send this action, or no matching CSRF "
                            "token, or another origin."),
            "404": _problem("No such session or question."),
            "409": _problem("`conflict`: the question changed first (`current` is the "
                            "question now); or its state does not allow this action."),
            "413": _problem("The body is too large."),
            "415": _problem("The body is not application/json."),
            "422": _problem("The request cannot apply (an unknown category, an empty "
                            "text, …)."),
            "429": _problem("Too many requests: retry after `retry_after` seconds."),
            "503": _problem("The store could not be reached: nothing was changed."),
        },
    }}


def _action_paths() -> dict[str, Any]:
    return {action_path(action): _action_operation(action) for action in ACTIONS.values()}
