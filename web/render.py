"""Jinja2 templates (autoescaped) and the helpers every page uses."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from moderation.staff import ROLE_LABELS
from web import audit_view, keys

# Notices a redirect may ask a page to show (by code, so a link cannot inject text).
NOTICES = {
    "expired": "登录已过期，请重新登录。",
    "login": "请先登录。",
    "loggedout": "已退出登录。",
    "password": "密码已修改，请用新密码重新登录。",
    "saved": "已保存。",
    "started": "直播已开始：观众页、审核台和主持台都已切换到直播状态。",
    "ended": "直播已结束：观众不能再提问。",
    "clip_save": "已保存。",
    "clip_trim": "已按新的出入点重新剪辑，完成后本页自动刷新。",
    "clip_publish": "已发布到小贴士视频库。",
    "clip_unpublish": "已下架：公开页面和搜索中不再出现。",
    "clip_retry": "已重新排队剪辑。",
    "clip_created": "片段已创建，正在剪辑…",
    "replay_published": "回放已公开：观众可以在回放页观看整场录像。",
    "replay_unpublished": "回放已撤回：只有工作人员能看到。",
}

# The default of ``[server] time_zone``; the app passes the configured zone everywhere.
CHINA_TZ = ZoneInfo("Asia/Shanghai")
ZONE_LABELS = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间",
               "Asia/Urumqi": "乌鲁木齐时间", "Asia/Hong_Kong": "香港时间",
               "Asia/Macau": "澳门时间", "Asia/Taipei": "台北时间"}


def format_time(epoch: float, fmt: str = "%Y-%m-%d %H:%M",
                zone: dt.tzinfo = CHINA_TZ) -> str:
    if not epoch:
        return "—"
    return dt.datetime.fromtimestamp(epoch, zone).strftime(fmt)


def clock_seconds(epoch: float, zone: dt.tzinfo) -> float:
    """Seconds since midnight on ``zone``'s wall clock (the trim form's wall-clock times)."""
    moment = dt.datetime.fromtimestamp(epoch, zone)
    return round(moment.hour * 3600 + moment.minute * 60 + moment.second
                 + moment.microsecond / 1e6, 3)


def zone_label(zone: dt.tzinfo) -> str:
    """How the pages name the desk's time zone: "北京时间", else the IANA name."""
    name = getattr(zone, "key", str(zone))
    return ZONE_LABELS.get(name, f"{name} 时间")


def make_templates(zone: dt.tzinfo = CHINA_TZ) -> jinja2.Environment:
    """The page templates, with times shown in ``zone`` (the desk's time zone)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    shown = functools.partial(format_time, zone=zone)
    env.filters["time"] = shown
    env.filters["action_label"] = audit_view.action_label
    env.filters["target_label"] = audit_view.target_label
    env.filters["describe"] = lambda values: audit_view.describe(values, shown)
    env.filters["clock_seconds"] = functools.partial(clock_seconds, zone=zone)
    env.globals["time_zone"] = getattr(zone, "key", "")
    env.globals["zone_label"] = zone_label(zone)
    env.globals["role_labels"] = ROLE_LABELS
    env.globals["audit_actions"] = audit_view.ACTIONS
    # Chinese stays readable in JSON blocks (still HTML-safe: <, >, & and ' are escaped).
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    login = request.get(keys.LOGIN)
    context.setdefault("notice", NOTICES.get(request.query.get("msg", ""), ""))
    base = {
        "request": request,
        "me": login.user if login else None,
        "csrf_token": request.get(keys.CSRF_TOKEN, ""),
        "path": request.path,
    }
    html = request.app[keys.TEMPLATES].get_template(template).render(**base, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
