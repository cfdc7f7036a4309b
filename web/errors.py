"""The one place errors become responses: a page in Chinese for people, problem details
(RFC 9457, ``application/problem+json``) for the JSON API.

Handlers raise (``Problem`` for an API error with its code, or aiohttp's HTTP errors);
nothing below this middleware renders an error itself. Every error under ``/api/`` — the
router's own 404 and 405 included — is a problem document::

    {"type": "urn:tippocket:problem:bad_parameter", "title": "请求有误", "status": 400,
     "detail": "…", "code": "bad_parameter", "parameter": "page"}

``code`` is the stable, machine-readable part (``type`` is the same code as a URI);
``title`` is the status in Chinese and ``detail`` says what went wrong, for people.
``parameter`` names the parameter or field at fault when there is one; an API may add more
members (``current`` on a conflict, ``retry_after``). Unexpected exceptions are logged with
their traceback and answered with a plain 500 — never a traceback to a user.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from store.base import NotFound, StoreUnavailable
from web.render import render

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tippocket:problem:"
TITLES = {
    400: "请求有误",
    401: "需要登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的请求方式",
    409: "操作冲突",
    413: "内容太大",
    415: "不支持的内容类型",
    422: "无法执行",
    429: "操作太频繁",
    500: "服务器出错了",
    503: "服务暂时不可用",
}
# The code of an error that names none: one per status.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}
# 403 reasons (``HTTPForbidden(reason=...)``) → code, detail.
FORBIDDEN = {
    "csrf": ("csrf", "页面已过期或来源无法确认，请返回上一页刷新后重试。"),
    "cross-origin request refused": ("cross_origin", "请求来源无法确认，已拒绝。"),
    "role": ("forbidden", "你的角色不能执行这个操作。"),
    "password_change_required": ("password_change_required", "请先修改密码，再继续操作。"),
}
# Texts raised in English below this middleware, as people read them.
TEXTS = {"login required": "请先登录。"}
API_DETAILS = {
    401: "请先登录。",
    404: "找不到这个地址。",
    405: "这个地址不支持这种请求方式。",
}

_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


class Problem(Exception):
    """An API error: the status, a stable code, a detail for people, optional members."""

    def __init__(self, status: int, code: str, detail: str, *, parameter: str = "",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.parameter = parameter
        self.headers = headers or {}
        self.extra = extra


def wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/healthz")) or (
        "application/json" in request.headers.get("Accept", "")
        and "text/html" not in request.headers.get("Accept", "")
    )


def problem_response(status: int, code: str, detail: str, *, parameter: str = "",
                     **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": TYPE_PREFIX + code, "title": TITLES.get(status, "出错了"),
                            "status": status, "detail": detail, "code": code}
    if parameter:
        body["parameter"] = parameter
    body.update(extra)
    return web.Response(text=_dumps(body), status=status, content_type=PROBLEM_TYPE)


def error_response(request: web.Request, status: int, detail: str = "",
                   code: str = "") -> web.Response:
    if wants_json(request):
        return problem_response(status, code or CODES.get(status, "error"),
                                detail or API_DETAILS.get(status, TITLES.get(status, "出错了")))
    title = TITLES.get(status, "出错了")
    try:
        return render(request, "error.html", status=status, status_code=status, title=title,
                      detail=detail)
    except Exception:  # the error page itself failed: say so plainly, and log why
        log.exception("rendering the %s page failed", status)
        return web.Response(text=f"{status} {title}", status=status, charset="utf-8")


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = ""
    if exc.status == 403:
        code, detail = FORBIDDEN.get(exc.reason, ("forbidden", ""))
    else:
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        detail = TEXTS.get(detail, detail)
    response = error_response(request, exc.status, detail, code)
    for name in ("Retry-After", "Allow"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


Guard = Callable[[web.Request], Awaitable[None]]


def edge_middleware(*guards: Guard) -> Middleware:
    """The application's one middleware: each guard in turn (authentication, the request
    checks), then the handler, with every error answered in one shape. Guards are plain
    functions rather than middlewares of their own because a middleware's coroutine lives as
    long as its request, and a websocket's request lives for hours: one frame held per
    socket instead of three."""

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            for guard in guards:
                await guard(request)
            return await handler(request)
        except Problem as exc:
            response = problem_response(exc.status, exc.code, exc.detail,
                                        parameter=exc.parameter, **exc.extra)
            response.headers.update(exc.headers)
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_error(request, exc)
        except NotFound:
            return error_response(request, 404)
        except StoreUnavailable:
            log.exception("store unavailable while serving %s %s", request.method,
                          request.path)
            return error_response(request, 503, "数据存储暂时无法访问，请稍后再试。")
        except Exception:
            log.exception("unhandled error serving %s %s", request.method, request.path)
            return error_response(request, 500, "请稍后再试；如果问题持续，请联系管理员。")

    return edge
