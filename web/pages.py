"""Pages and endpoints that are not about one feature: home, staff home, health, own password."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from clips.replays import STATE_LABELS as REPLAY_LABELS
from live.sessions import STATUS_LABELS
from moderation.staff import LoginFailed, StaffError
from web import keys
from web.auth import client_address
from web.render import render

STARTED = time.time()


async def home(request: web.Request) -> web.Response:
    groups = await request.app[keys.SESSIONS].listing()
    return render(request, "home.html", live=groups["live"], upcoming=groups["upcoming"][:5],
                  status_labels=STATUS_LABELS)


RECENT_ENDED = 5  # ended sessions the staff home lists, with their replays


async def staff_home(request: web.Request) -> web.Response:
    groups = await request.app[keys.SESSIONS].listing()
    me = request[keys.LOGIN].user
    sessions = groups["live"] + groups["upcoming"]
    if me.role == "host":  # a host sees the broadcasts they are on first
        sessions.sort(key=lambda b: me.id not in b.host_ids)
    replays = request.app[keys.REPLAYS]
    ended = [(s, replays.state(s)) for s in groups["past"][:RECENT_ENDED]]
    return render(request, "staff_home.html", sessions=sessions, status_labels=STATUS_LABELS,
                  ended=ended, replay_labels=REPLAY_LABELS)


HEALTH_STORE_SECONDS = 1.5


async def healthz(request: web.Request) -> web.Response:
    """200 when this node can serve; 503 when its store is unreachable or when it is
    draining before a stop (the load balancer then sends new connections elsewhere)."""
    draining = request.app[keys.DRAIN].draining
    try:
        # A load balancer's check gives up after a couple of seconds (deploy/haproxy.cfg's
        # `timeout check`): answer within that, whatever the store's own timeout.
        async with asyncio.timeout(HEALTH_STORE_SECONDS):
            status = await request.app[keys.STORE].status()
    except TimeoutError:
        status = {"ok": False, "error": f"store did not answer within {HEALTH_STORE_SECONDS} s"}
    body = {"ok": bool(status.get("ok")) and not draining,
            "state": "draining" if draining else "serving", "store": status,
            "node": request.app.get(keys.NODE_ID, ""),
            "uptime_s": round(time.time() - STARTED, 1)}
    return web.json_response(body, status=200 if body["ok"] else 503)


MUST_CHANGE_NOTICE = "请先设置自己的新密码：管理员设置或重置的密码只用于这一次登录。"


async def password_form(request: web.Request, *, error: str = "",
                        status: int = 200) -> web.Response:
    extra = {"notice": MUST_CHANGE_NOTICE} if request[keys.LOGIN].user.must_change_password \
        else {}
    return render(request, "account_password.html", status=status, error=error, **extra)


async def password_submit(request: web.Request) -> web.Response:
    form = await request.post()
    current, new, repeat = (str(form.get(k, ""))[:512] for k in ("current", "new", "repeat"))
    me = request[keys.LOGIN].user
    accounts = request.app[keys.ACCOUNTS]
    if new != repeat:
        return await password_form(request, error="两次输入的新密码不一致。", status=400)
    if new == current:
        return await password_form(request, error="新密码不能与当前密码相同。", status=400)
    try:
        await accounts.authenticate(me.name, current, client_address(request))
        await accounts.set_password(me.id, new, actor=me.name)
    except LoginFailed:
        return await password_form(request, error="当前密码不正确。", status=400)
    except StaffError as exc:
        return await password_form(request, error=str(exc), status=400)
    raise web.HTTPSeeOther("/login?msg=password")
