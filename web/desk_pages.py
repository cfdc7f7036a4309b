"""The desk's pages for staff: the daily review (每日复盘, ``/staff/review``) and the
statistics (``/staff/stats``). The tables are rendered here from the same data the JSON
endpoints serve (``web.desk_api``); the charts are drawn in the browser by Chart.js
(``/vendor/chart.js``, from ``node_modules``, like hls.js) from those endpoints."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from aiohttp import web

from moderation.notices import NoticeError, create_notice, front_notices, withdraw_notice
from moderation.periods import KINDS
from moderation.review import review
from store.aggregates import DIMENSIONS
from web import keys
from web.desk_api import one, period_of, review_period, session_viewers
from web.desk_export import KINDS as EXPORTS
from web.render import render
from web.routing import STAFF, Route

log = logging.getLogger(__name__)
CHART_JS = (Path(__file__).resolve().parent.parent
            / "node_modules/chart.js/dist/chart.umd.min.js")
KIND_LABELS = {"day": "一天", "week": "一周", "range": "日期范围"}
DIMENSION_LABELS = {"session": "按场次", "host": "按主持人", "item": "按业务",
                    "category": "按分类", "day": "按天"}


async def review_page(request: web.Request) -> web.Response:
    period = review_period(request)
    store = request.app[keys.STORE]
    data = await review(store, request.app[keys.LIBRARY].catalog, period)
    made = {"notice": "已发布到小贴士视频首页的“车管资讯”。",
            "withdrawn": "已撤下这条车管资讯。"}.get(request.query.get("made", ""), "")
    return render(request, "desk/review.html", data=data, notices=await front_notices(store),
                  notice=made, back=request.path_qs.split("&made=")[0].split("?made=")[0],
                  kinds=KINDS, kind_labels=KIND_LABELS,
                  kind=one(request, "period") or "day", date=one(request, "date") or
                  period.first.isoformat(), to=one(request, "to") or period.last.isoformat(),
                  query=request.query_string)


async def make_notice(request: web.Request) -> web.Response:
    """Turn a review cluster into a 车管资讯 notice, then back to the review."""
    form = await request.post()

    def field(name: str) -> str:
        return str(form.get(name, ""))

    back = field("back") if field("back").startswith("/staff/review") else "/staff/review"
    try:
        await create_notice(
            request.app[keys.STORE], title=field("title"), body=field("body"),
            category=field("category"), item_id=field("item_id"),
            source_text=field("source_text"),
            asked=int(field("asked")) if field("asked").isdigit() else 0,
            period=field("period"), actor=request[keys.LOGIN].user.name, now=time.time())
    except NoticeError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    separator = "&" if "?" in back else "?"
    raise web.HTTPSeeOther(f"{back}{separator}made=notice#notices")


async def withdraw(request: web.Request) -> web.Response:
    await withdraw_notice(request.app[keys.STORE], request.match_info["notice_id"],
                          actor=request[keys.LOGIN].user.name, now=time.time())
    raise web.HTTPSeeOther("/staff/review?made=withdrawn#notices")


async def stats_page(request: web.Request) -> web.Response:
    period = period_of(request)
    by = one(request, "by") or "day"
    if by not in DIMENSIONS:
        by = "day"
    figures = await request.app[keys.STORE].question_figures(by, period.window)
    viewers = await session_viewers(request.app[keys.STORE], period)
    return render(request, "desk/stats.html", figures=figures, by=by, viewers=viewers,
                  dimensions=DIMENSION_LABELS, first=period.first.isoformat(),
                  last=period.last.isoformat(), exports=EXPORTS)


async def chart_js(request: web.Request) -> web.StreamResponse:
    if not CHART_JS.is_file():
        log.warning("chart.js is not installed (%s is missing): run `make install` (needs "
                    "npm); until then the desk pages show tables without charts", CHART_JS)
        raise web.HTTPNotFound()
    return web.FileResponse(CHART_JS, headers={"Content-Type": "application/javascript",
                                               "Cache-Control": "public, max-age=86400"})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/staff/review", review_page, STAFF),
    Route("POST", "/staff/review/notices", make_notice, STAFF),
    Route("POST", "/staff/notices/{notice_id}/withdraw", withdraw, STAFF),
    Route("GET", "/staff/stats", stats_page, STAFF),
    Route("GET", "/vendor/chart.js", chart_js, None),
)
