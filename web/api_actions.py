"""The staff actions over HTTP: ``POST /api/sessions/{session_id}/actions/{name}``.

One route per action declared in ``moderation.actions``, with the roles that action allows
(so a host asking to approve gets 403 before anything is read). The body is a JSON object
with the action's fields, checked exactly as a websocket frame's fields are; a staff login
and its CSRF token (``X-CSRF-Token``) are needed, as for every staff POST. The answer is the
websocket ack's fields; a refusal is a problem document with the websocket error's code:

- 400 the body or a field is wrong (``parameter`` names the field);
- 403 the role may not send this action; 404 no such session or question;
- 409 ``conflict`` (the question changed first; ``current`` is the question now) or the
  question's state does not allow the action;
- 422 the request is well-formed but cannot apply (an unknown category, an empty text…);
- 429 ``rate_limited`` with ``Retry-After``; 503 the store failed and nothing changed.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from live.protocol import ProtocolError, check_fields
from moderation.actions import ACTIONS, StaffAction, perform
from moderation.questions import Refused
from moderation.service import RefusedConflict, RefusedRetry
from moderation.views import staff_view
from store.base import NotFound, StoreError
from web import keys
from web.errors import Problem
from web.routing import Route

log = logging.getLogger(__name__)

PATH = "/api/sessions/{session_id}/actions/"
# Room for the largest request the document allows: a 2,000-character text of characters
# outside the BMP, each escaped as two \uXXXX (12 bytes), with every other field. A body
# past that is refused whole (413); a field past its limit inside it gets its own 400.
MAX_BODY = 64 * 1024
# Refusal codes that are not 422 (well-formed, but cannot apply).
STATUS = {
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "invalid_state": 409,
    "air_busy": 409,
    "merge_target_closed": 409,
    "bad_field": 400,
    "unavailable": 503,  # the store failed mid-action; nothing was applied (NotApplied)
}

_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def action_path(action: StaffAction) -> str:
    return PATH + action.name


async def _body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise Problem(415, "unsupported_media_type", "请求内容必须是 JSON（application/json）。")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Problem(413, "too_large", f"请求内容太大（最多 {MAX_BODY // 1024} KiB）。")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise Problem(400, "bad_json", "请求内容不是有效的 JSON。") from None


def _whole_numbers(body: dict[str, Any], action: StaffAction) -> dict[str, Any]:
    """JSON does not tell 5 from 5.0, and neither does the document's "integer": an
    integer field takes any number without a fraction."""
    return {name: int(value) if (
        isinstance(value, float) and value.is_integer() and name in action.fields
        and action.fields[name].kind is int) else value for name, value in body.items()}


def _refusal(exc: Refused, item_names: dict[str, str]) -> Problem:
    if isinstance(exc, RefusedRetry):
        seconds = max(1, round(exc.retry_after))
        return Problem(429, exc.code, exc.message, retry_after=seconds,
                       headers={"Retry-After": str(seconds)})
    if isinstance(exc, RefusedConflict):
        return Problem(409, exc.code, exc.message, current=staff_view(exc.current, item_names))
    return Problem(STATUS.get(exc.code, 422), exc.code, exc.message)


def _handler(action: StaffAction) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        moderation = request.app[keys.MODERATION]
        login = request[keys.LOGIN]  # the route's roles made sure there is one
        try:
            board = await moderation.board(request.match_info["session_id"])
        except NotFound:
            raise Problem(404, "not_found", "直播场次不存在。") from None
        body = await _body(request)
        if not isinstance(body, dict):
            raise Problem(400, "bad_message", "请求内容必须是 JSON 对象。")
        try:
            fields = check_fields(_whole_numbers(body, action), action.fields)
        except ProtocolError as exc:
            raise Problem(400, exc.code, exc.message,
                          parameter=str(exc.extra.get("field", ""))) from None
        try:
            answer = await perform(action, moderation, board.session.id, login.user, fields)
        except Refused as exc:
            raise _refusal(exc, moderation.item_names) from None
        except StoreError:
            log.exception("store failure on the %s action", action.name)
            raise Problem(503, "unavailable", "服务暂时不可用，请稍后重试。") from None
        return web.Response(text=_dumps(answer), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    handle.__name__ = f"action_{action.name}"
    return handle


ROUTES: tuple[Route, ...] = tuple(
    Route("POST", action_path(action), _handler(action), action.roles)
    for action in ACTIONS.values())
