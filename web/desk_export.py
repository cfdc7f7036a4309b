"""Exports for staff: ``/api/export/{kind}.{format}`` — questions (their stored, masked text;
no viewer ids or nicknames), sessions, clips and the audit log, as CSV or XLSX, for the days
``from``–``to`` (days of the desk's time zone; the last 30 days by default; at most ``MAX_DAYS``).

Both formats stream: rows are read from the store a page at a time (``Store.page_in``,
keyset paging), so memory stays flat however long the range. CSV goes out page by page as
it is read (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese); XLSX is
written by openpyxl in write-only mode to a temporary file, then sent in chunks. Text that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``) is prefixed with
an apostrophe in both formats.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from openpyxl import Workbook

from moderation.catalog import Catalog
from moderation.periods import Period, PeriodError, parse_range
from store.aggregates import ViewerFigures, Window
from store.base import Store
from store.records import AuditEntry, Clip, LiveSession, Question
from web import keys
from web.desk_api import bad, one
from web.render import format_time
from web.routing import STAFF, Route

PAGE = 2000
CHUNK = 256 * 1024
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
Row = list[Any]


def _time(epoch: float, zone: dt.tzinfo) -> str:
    return format_time(epoch, "%Y-%m-%d %H:%M:%S", zone) if epoch else ""


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _question(catalog: Catalog, zone: dt.tzinfo) -> Callable[[Question], Row]:
    def row(q: Question) -> Row:
        item = catalog.get(q.item_id)
        return [q.id, q.session_id, _time(q.created_at, zone), q.state, q.category,
                q.item_id, item.name if item else "", q.text, q.me_too, q.merged_into,
                q.reply, q.decline_reason, q.host_id, _time(q.on_air_at, zone),
                _time(q.answered_at, zone)]
    return row


def _session(zone: dt.tzinfo, viewers: dict[str, ViewerFigures]
             ) -> Callable[[LiveSession], Row]:
    """A session's row; ``viewers`` is filled page by page with its sampled figures."""
    def row(b: LiveSession) -> Row:
        seen = viewers.get(b.id)
        return [b.id, b.title, b.status, _time(b.scheduled_start, zone),
                _time(b.scheduled_end, zone), _time(b.started_at, zone),
                _time(b.ended_at, zone), b.presenter, " ".join(b.host_ids),
                _time(b.created_at, zone), seen.peak if seen else "",
                seen.average if seen else ""]
    return row


def _clip(zone: dt.tzinfo) -> Callable[[Clip], Row]:
    def row(c: Clip) -> Row:
        return [c.id, c.session_id, c.question_id, c.state, c.title, c.category, c.item_id,
                round(c.duration, 2), c.views, _time(c.published_at, zone),
                _time(c.created_at, zone)]
    return row


def _audit(zone: dt.tzinfo) -> Callable[[AuditEntry], Row]:
    def dump(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def row(a: AuditEntry) -> Row:
        return [_time(a.at, zone), a.actor, a.action, a.target, a.session_id,
                dump(a.before), dump(a.after)]
    return row


KINDS: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "questions": (Question, ("编号", "场次", "提问时间", "状态", "分类", "业务编号", "业务",
                             "问题（已脱敏）", "同问", "合并到", "文字回复", "拒绝原因",
                             "主持人", "上播时间", "解答时间")),
    "sessions": (LiveSession, ("编号", "标题", "状态", "计划开始", "计划结束", "开始",
                             "结束", "主持人", "主播", "创建时间", "观众峰值", "平均观众")),
    "clips": (Clip, ("编号", "场次", "问题", "状态", "标题", "分类", "业务编号", "时长（秒）",
                     "播放", "发布时间", "创建时间")),
    "audit": (AuditEntry, ("时间", "操作人", "操作", "对象", "场次", "之前", "之后")),
}


async def rows_of(store: Store, cls: type[Any], window: Window,
                  keep: Callable[[Any], bool] = lambda _: True,
                  page: int = PAGE) -> AsyncIterator[list[Any]]:
    """The records of ``window`` a page at a time (each page a list of records)."""
    after: tuple[float, str] | None = None
    field = "at" if cls is AuditEntry else "created_at"
    while True:
        records = await store.page_in(cls, window, after, page)
        if not records:
            return
        after = (getattr(records[-1], field), records[-1].id)
        kept = [r for r in records if keep(r)]
        if kept:
            yield kept
        if len(records) < page:
            return


async def _with_viewers(store: Store, pages: AsyncIterator[list[Any]],
                        viewers: dict[str, ViewerFigures]) -> AsyncIterator[list[Any]]:
    """Sessions a page at a time, each page's viewer figures read into ``viewers`` first."""
    async for sessions in pages:
        viewers.clear()
        viewers.update((f.session_id, f) for f in await store.viewer_figures(
            session_ids=[s.id for s in sessions]))
        yield sessions


def _csv_bytes(rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([[_safe(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8")


def _append(sheet: Any, rows: list[Row]) -> None:
    for row in rows:
        sheet.append(row)


def _parse(request: web.Request) -> tuple[str, str, Period, str]:
    kind, fmt = request.match_info["kind"], request.match_info["format"]
    if kind not in KINDS:
        raise bad("kind", f"可以导出的只有：{'、'.join(KINDS)}。")
    if fmt not in FORMATS:
        raise bad("format", "格式只能是 csv 或 xlsx。")
    try:
        period = parse_range(one(request, "from"), one(request, "to"), time.time(),
                             request.app[keys.SETTINGS].zone, default_days=30)
    except PeriodError as exc:
        raise bad(exc.parameter, exc.detail) from None
    item = one(request, "item") or ""
    if item:
        if kind not in ("questions", "clips"):
            raise bad("item", "只有问题和片段可以按业务筛选。")
        if request.app[keys.LIBRARY].catalog.get(item) is None:
            raise bad("item", "业务目录里没有这个业务。")
    return kind, fmt, period, item


async def export(request: web.Request) -> web.StreamResponse:
    kind, fmt, period, item = _parse(request)
    cls, header = KINDS[kind]
    catalog = request.app[keys.LIBRARY].catalog
    zone = request.app[keys.SETTINGS].zone
    store = request.app[keys.STORE]
    viewers: dict[str, ViewerFigures] = {}
    writers: dict[str, Callable[[Any], Row]] = {
        "questions": _question(catalog, zone), "sessions": _session(zone, viewers),
        "clips": _clip(zone), "audit": _audit(zone)}
    to_row = writers[kind]
    keep: Callable[[Any], bool] = (lambda r: r.item_id == item) if item else (lambda _: True)
    pages = rows_of(store, cls, period.window, keep)
    if kind == "sessions":
        pages = _with_viewers(store, pages, viewers)
    name = f"{kind}-{period.first.isoformat()}-{period.last.isoformat()}.{fmt}"
    response = web.StreamResponse(headers={
        "Content-Type": FORMATS[fmt], "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="{name}"'})
    if fmt == "csv":
        await response.prepare(request)
        await response.write("\ufeff".encode() + _csv_bytes([list(header)]))
        async for records in pages:
            await response.write(_csv_bytes([to_row(r) for r in records]))
        await response.write_eof()
        return response
    with tempfile.TemporaryDirectory(prefix="tp-export-") as tmp:
        path = Path(tmp) / name
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(kind)
        sheet.append(list(header))
        async for records in pages:
            rows = [[_safe(v) for v in to_row(r)] for r in records]
            await asyncio.to_thread(_append, sheet, rows)
        await asyncio.to_thread(workbook.save, path)
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                await response.write(chunk)
    await response.write_eof()
    return response


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/export/{kind}.{format}", export, STAFF),
)
