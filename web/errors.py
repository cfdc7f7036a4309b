"""The one place errors become responses: a page in Chinese for people, JSON for APIs.

Handlers raise; nothing below this middleware renders an error itself. Unexpected exceptions
are logged with their traceback and shown as a plain 500 page — never a traceback to a user.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from store.base import NotFound, StoreUnavailable
from web.render import render

log = logging.getLogger(__name__)

TITLES = {
    400: "请求有误",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的请求方式",
    413: "内容太大",
    429: "操作太频繁",
    500: "服务器出错了",
    503: "服务暂时不可用",
}
DETAILS = {
    "csrf": "页面已过期或来源无法确认，请返回上一页刷新后重试。",
    "cross-origin request refused": "请求来源无法确认，已拒绝。",
}


def wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/healthz")) or (
        "application/json" in request.headers.get("Accept", "")
        and "text/html" not in request.headers.get("Accept", "")
    )


def error_response(request: web.Request, status: int, detail: str = "") -> web.Response:
    title = TITLES.get(status, "出错了")
    if wants_json(request):
        return web.json_response({"error": title, "detail": detail, "status": status},
                                 status=status)
    try:
        return render(request, "error.html", status=status, status_code=status, title=title,
                      detail=detail)
    except Exception:  # the error page itself failed: say so plainly, and log why
        log.exception("rendering the %s page failed", status)
        return web.Response(text=f"{status} {title}", status=status, charset="utf-8")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = DETAILS.get(exc.reason, "") if exc.status == 403 else (
            exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else "")
        response = error_response(request, exc.status, detail)
        for name in ("Retry-After", "Allow"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except NotFound:
        return error_response(request, 404)
    except StoreUnavailable:
        log.exception("store unavailable while serving %s %s", request.method, request.path)
        return error_response(request, 503, "数据存储暂时无法访问，请稍后再试。")
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return error_response(request, 500, "请稍后再试；如果问题持续，请联系管理员。")
