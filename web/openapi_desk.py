"""The desk's part of the OpenAPI document (``web.openapi``): the statistics, the review and
the exports (``web.desk_api``, ``web.desk_export``), all for staff logins."""

from __future__ import annotations

from typing import Any

from moderation.periods import KINDS, MAX_DAYS
from store.aggregates import DIMENSIONS
from web.desk_export import KINDS as EXPORTS

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
STRING = {"type": "string"}
COUNT = {"type": "integer", "minimum": 0}
DATE = {"type": "string", "format": "date"}
SECONDS = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}
STAFF_NOTE = ("Staff logins only (the `tp_staff` cookie). Days are days of the desk's time "
              f"zone ([server] time_zone); a range is at most {MAX_DAYS} days.")


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


RANGE = [
    _query("from", DATE, "First day (default: six days before `to`)."),
    _query("to", DATE, "Last day, included (default: today)."),
]
ERRORS = {
    "400": {"description": "A bad parameter (an unreadable date, `to` before `from`, a range "
            "too long, an unknown value); `parameter` names it.", "content": PROBLEM},
    "401": {"description": "No staff login.", "content": PROBLEM},
}
OUTCOMES = {name: COUNT for name in ("asked", "answered", "replied", "declined", "open",
                                     "merged")}
CHANGE = {"previous": COUNT, "change": {"type": "integer"},
          "change_pct": {"anyOf": [{"type": "number"}, {"type": "null"}]}}
CLIP = _object({"id": STRING, "title": STRING, "url": STRING, "item_id": STRING,
                "question_id": STRING})


def desk_schemas() -> dict[str, Any]:
    percentiles = _object({"median": SECONDS, "p90": SECONDS})
    return {
        "QuestionFigures": _object({
            "key": {"type": "string", "description": "the session id, host id, item id, "
                    "category or day (YYYY-MM-DD)"},
            "asked": COUNT, "approved": COUNT, "answered": COUNT, "replied": COUNT,
            "declined": COUNT, "merged": COUNT, "open": COUNT,
            "triage_seconds": percentiles, "answer_seconds": percentiles,
        }),
        "QuestionStats": _object({
            "from": DATE, "to": DATE, "by": {"type": "string", "enum": list(DIMENSIONS)},
            "groups": {"type": "array", "items": {"$ref": "#/components/schemas/"
                                                  "QuestionFigures"}}}),
        "ClipViewStats": _object({"from": DATE, "to": DATE, "days": {
            "type": "array", "items": _object({"day": DATE, "views": COUNT})}}),
        "ViewerStats": _object({"from": DATE, "to": DATE, "sessions": {
            "type": "array", "items": _object({
                "session_id": STRING, "title": STRING, "peak": COUNT,
                "average": {"type": "number", "minimum": 0}, "samples": COUNT})}}),
        "SearchMissStats": _object({"from": DATE, "to": DATE, "misses": {
            "type": "array", "items": _object({"query": STRING, "count": COUNT})}}),
        "Review": _object({
            "period": _object({"from": DATE, "to": DATE, "days": COUNT}),
            "previous": _object({"from": DATE, "to": DATE}),
            "totals": _object({**OUTCOMES, **CHANGE}),
            "days": {"type": "array", "items": _object({"day": DATE, **OUTCOMES})},
            "categories": {"type": "array", "items": _object(
                {"key": STRING, "name": STRING, **OUTCOMES, **CHANGE})},
            "items": {"type": "array", "items": _object(
                {"key": STRING, "name": STRING, **OUTCOMES, **CHANGE,
                 "clips": {"type": "array", "items": CLIP}})},
            "clusters": {"type": "array", "items": _object({
                "text": STRING, "category": STRING, "item_id": STRING, "item_name": STRING,
                "variants": {"type": "array", "items": STRING},
                **{k: COUNT for k in ("asked", "answered", "replied", "declined", "open")},
                "clips": {"type": "array", "items": CLIP}})},
        }),
    }


def _get(operation_id: str, summary: str, parameters: list[dict[str, Any]],
         schema: str) -> dict[str, Any]:
    return {"get": {
        "operationId": operation_id, "tags": ["desk"], "summary": summary,
        "description": STAFF_NOTE, "parameters": parameters,
        "responses": {"200": {"description": "The figures.", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema}"}}}}, **ERRORS},
    }}


def desk_paths() -> dict[str, Any]:
    return {
        "/api/stats/questions": _get(
            "questionStats", "Questions asked and their outcomes, grouped",
            [_query("by", {"type": "string", "enum": list(DIMENSIONS), "default": "day"},
                    "What to group by."), *RANGE], "QuestionStats"),
        "/api/stats/clip-views": _get(
            "clipViewStats", "Counted clip views per day", RANGE, "ClipViewStats"),
        "/api/stats/search-misses": _get(
            "searchMissStats", "Library searches that found nothing, last seen in the range",
            [*RANGE, _query("limit", {"type": "integer", "minimum": 1, "maximum": 200,
                                      "default": 50}, "How many, most frequent first.")],
            "SearchMissStats"),
        "/api/stats/viewers": _get(
            "viewerStats", "Peak and average concurrent viewers of the sessions live in the "
            "range (sampled once a minute while live)", RANGE, "ViewerStats"),
        "/api/review": _get(
            "review", "The daily review (每日复盘) of a day, a week or a range", [
                _query("period", {"type": "string", "enum": list(KINDS), "default": "day"},
                       "day: `date`; week: Monday to Sunday around `date`; range: `date` "
                       "to `to`."),
                _query("date", DATE, "Default: today."),
                _query("to", DATE, "Last day of a range (period=range only)."),
            ], "Review"),
        "/api/export/{kind}.{format}": {"get": {
            "operationId": "export", "tags": ["desk"],
            "summary": "Export questions (masked text), sessions, clips or the audit log",
            "description": STAFF_NOTE + " Streamed; the default range is the last 30 days.",
            "parameters": [
                {"name": "kind", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": list(EXPORTS)}},
                {"name": "format", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": ["csv", "xlsx"]}},
                _query("from", DATE, "First day (default: 29 days before `to`)."),
                _query("to", DATE, "Last day, included (default: today)."),
                _query("item", STRING, "Only this business item (questions and clips)."),
            ],
            "responses": {"200": {"description": "A CSV (UTF-8 with a byte-order mark) or an "
                                  "XLSX workbook, as an attachment.", "content": {
                                      "text/csv": {"schema": STRING},
                                      "application/vnd.openxmlformats-officedocument."
                                      "spreadsheetml.sheet": {"schema": {
                                          "type": "string", "format": "binary"}}}},
                          **ERRORS},
        }},
    }
