"""The OpenAPI description of ``GET /api/answers`` (``web.answers``), joined into the
document by ``web.openapi``; built from the limits the handler enforces."""

from __future__ import annotations

from typing import Any

from clips.answers import MAX_ITEMS, MAX_QUESTION_CHARS
from web.errors import PROBLEM_TYPE


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def answers_schemas() -> dict[str, Any]:
    item = {"type": "object", "required": ["id", "name", "confidence"], "properties": {
        "id": {"type": "string", "description": "a business item id from /api/catalog"},
        "name": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                       "description": "calibrated: about this share of items given this "
                                      "confidence are right"},
    }}
    answer = {"type": "object", "required": ["kind", "id", "title", "url", "item", "text"],
              "properties": {
                  "kind": {"type": "string", "enum": ["faq", "clip"]},
                  "id": {"type": "string"},
                  "title": {"type": "string"},
                  "url": {"type": "string", "format": "uri",
                          "description": "the answer's page (a clip, or a knowledge-base "
                                         "answer with its 一键办理 button)"},
                  "item": {"type": "string", "description": "the business item it answers"},
                  "text": {"type": "string",
                           "description": "faq: the short answer; clip: its summary"},
              }}
    return {
        "Answers": {"type": "object", "required": ["understood", "items", "answers"],
                    "properties": {
                        "understood": {"type": "boolean",
                                       "description": "false: not a traffic-administration "
                                                      "question (no answers)"},
                        "items": {"type": "array", "maxItems": MAX_ITEMS,
                                  "items": item, "description": "best first"},
                        "answers": {"type": "array", "items": answer},
                    }},
    }


def answers_paths() -> dict[str, Any]:
    return {"/api/answers": {"get": {
        "operationId": "getAnswers",
        "summary": "Self-service answers to a question (knowledge base and clips)",
        "description": "The business items the question is about, ranked with confidences, "
                       "and the published knowledge-base answers and clips of the items it "
                       "asks about. Personal data in `q` is masked before it is read; "
                       "nothing of it is stored.",
        "parameters": [{
            "name": "q", "in": "query", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS},
            "description": "The question as people say it (UTF-8; whitespace collapsed).",
        }],
        "responses": {
            "200": {"description": "What the question is about and its answers.",
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Answers"}}}},
            "400": _problem("`q` missing, repeated, empty, too long or not UTF-8 "
                            "(`bad_parameter`)."),
            "503": _problem("The understanding engine is not ready yet (`not_ready`; "
                            "`Retry-After`)."),
        },
    }}}
