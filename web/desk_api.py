"""The desk's figures as JSON, for staff: ``/api/stats/questions`` (grouped by session, host,
item, category or day), ``/api/stats/clip-views``, ``/api/stats/search-misses``,
``/api/stats/viewers`` (peak and average concurrent viewers per session, from the samples of
``live.viewer_samples``) and ``/api/review`` (the daily review's data). All computed by the store
(``store.aggregates``); documented in ``web.openapi_desk``. A bad parameter is a 400
problem naming it."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from aiohttp import web

from moderation.periods import Period, PeriodError, parse_period, parse_range
from moderation.review import review
from store.aggregates import DIMENSIONS, QuestionFigures
from store.base import Store
from store.records import LiveSession
from web import keys
from web.errors import Problem
from web.routing import STAFF, Route

_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
MAX_MISSES = 200


def json_response(body: Any) -> web.Response:
    return web.json_response(body, dumps=_dumps, headers={"Cache-Control": "no-store"})


def bad(parameter: str, detail: str) -> Problem:
    return Problem(400, "bad_parameter", detail, parameter=parameter)


def one(request: web.Request, name: str) -> str | None:
    """A query parameter given at most once."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise bad(name, f"参数 {name} 只能给一次。")
    return values[0] if values else None


def period_of(request: web.Request) -> Period:
    try:
        return parse_range(one(request, "from"), one(request, "to"), time.time(),
                           request.app[keys.SETTINGS].zone)
    except PeriodError as exc:
        raise bad(exc.parameter, exc.detail) from None


def _figures(f: QuestionFigures) -> dict[str, Any]:
    return {"key": f.key, "asked": f.asked, "approved": f.approved, "answered": f.answered,
            "replied": f.replied, "declined": f.declined, "merged": f.merged, "open": f.open,
            "triage_seconds": {"median": f.triage_median, "p90": f.triage_p90},
            "answer_seconds": {"median": f.answer_median, "p90": f.answer_p90}}


def _range(period: Period) -> dict[str, str]:
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


async def question_stats(request: web.Request) -> web.Response:
    by = one(request, "by") or "day"
    if by not in DIMENSIONS:
        raise bad("by", f"by 只能是 {'、'.join(DIMENSIONS)}。")
    period = period_of(request)
    figures = await request.app[keys.STORE].question_figures(by, period.window)
    return json_response({**_range(period), "by": by, "groups": [_figures(f) for f in figures]})


async def clip_view_stats(request: web.Request) -> web.Response:
    period = period_of(request)
    first, last = (d.strftime("%Y%m%d") for d in (period.first, period.last))
    counted = dict(await request.app[keys.STORE].clip_views_by_day(first, last))
    days = [{"day": day, "views": counted.get(day.replace("-", ""), 0)}
            for day in period.day_keys()]
    return json_response({**_range(period), "days": days})


async def search_miss_stats(request: web.Request) -> web.Response:
    period = period_of(request)
    raw = one(request, "limit") or "50"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MISSES:
        raise bad("limit", f"limit 应为 1–{MAX_MISSES} 的整数。")
    misses = await request.app[keys.STORE].search_misses_in(period.window, int(raw))
    return json_response({**_range(period),
                          "misses": [{"query": q, "count": n} for q, n in misses]})


async def session_viewers(store: Store, period: Period) -> list[dict[str, Any]]:
    """The sampled viewer figures of the sessions live in ``period``, with their titles."""
    figures = await store.viewer_figures(period.window)
    sessions = await store.find(LiveSession, {"id__in": [f.session_id for f in figures]})
    titles = {s.id: s.title for s in sessions}
    return [{"session_id": f.session_id, "title": titles.get(f.session_id, ""),
             "peak": f.peak, "average": f.average, "samples": f.samples} for f in figures]


async def viewer_stats(request: web.Request) -> web.Response:
    period = period_of(request)
    return json_response({**_range(period), "sessions": await session_viewers(
        request.app[keys.STORE], period)})


def review_period(request: web.Request) -> Period:
    try:
        return parse_period(one(request, "period"), one(request, "date"), one(request, "to"),
                            time.time(), request.app[keys.SETTINGS].zone)
    except PeriodError as exc:
        raise bad(exc.parameter, exc.detail) from None


async def review_data(request: web.Request) -> web.Response:
    period = review_period(request)
    library = request.app[keys.LIBRARY]
    return json_response(await review(request.app[keys.STORE], library.catalog, period))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/stats/questions", question_stats, STAFF),
    Route("GET", "/api/stats/clip-views", clip_view_stats, STAFF),
    Route("GET", "/api/stats/search-misses", search_miss_stats, STAFF),
    Route("GET", "/api/stats/viewers", viewer_stats, STAFF),
    Route("GET", "/api/review", review_data, STAFF),
)
