"""Broadcasting from a phone: the host's camera page and the websocket its chunks arrive on.

``/staff/sessions/{id}/camera`` is a phone-sized page for a host (or an admin): camera
preview, start and stop, switch camera, mute, the connection's state and what is on air. It
records the camera and microphone with MediaRecorder (``web/static/phone.js``) and sends the
chunks, as binary frames, to ``/ws/camera/{id}``; this module hands them to the session's
``live.browser_ingest.PhoneFeed``, which the recorder's ffmpeg reads on its stdin.

The socket checks, in order (docs/security.md): the Origin header must be present and ours
(403 before the upgrade: another site cannot drive a logged-in host's browser into it); the
session must exist (404); then, after the upgrade so that the page can tell the reasons
apart, a staff login (``unauthorized``, 4401), no pending password change (4403), the host
or admin role and, for a host, being one of the session's hosts (``forbidden``, 4403), the
session live (``not_live``) with the ``browser:`` source (``wrong_source``), recording on
(``recording_off``), this node recording it (``elsewhere``, 1013, with the node that does),
and no other phone sending (``busy``, unless ``?takeover=1``), each refusal an ``error``
frame and then a close. Frames: binary only (a text frame closes with 1003), at most
``MAX_CHUNK`` bytes each (aiohttp closes a bigger one with 1009), and a budget of
``MAX_KBPS`` on average and ``MAX_MESSAGES`` a second over ``BURST_SECONDS`` (``too_fast``,
4429). Every ``STATE_SECONDS`` the socket rechecks the login and the session and sends the
phone a ``state`` frame: the recording's health and the question on air.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from live.browser_ingest import ByteBudget, PhoneBusy, PhoneFeed, PhoneSender
from live.recorder_commands import BROWSER_SOURCE
from live.sessions import STATUS_LABELS
from moderation.logins import ActiveLogin
from store.base import NotFound, StoreError
from store.records import LiveSession
from web import keys
from web.auth import LOGIN_COOKIE, refuse_until_password_changed
from web.live_pages import session_or_404
from web.render import render
from web.routing import HOSTS, Route
from web.security import own_origin

log = logging.getLogger(__name__)

MAX_CHUNK = 1024 * 1024  # one MediaRecorder chunk (1 s at up to ~8 Mbit/s)
MAX_KBPS = 8000  # a phone's average over BURST_SECONDS
MAX_MESSAGES = 20  # chunks a second, on average (the page sends one a second)
BURST_SECONDS = 10.0
STATE_SECONDS = 2.0
CLOSE_REFUSED = 4409  # a reason in the error frame: not_live, wrong_source, busy, ...
CLOSE_RESTART = 4000  # start a new MediaRecorder stream and connect again
CLOSE_TOO_FAST = 4429
KICKS = {  # why live.browser_ingest ended a phone's stream, as the phone is told
    "taken_over": (CLOSE_REFUSED, "taken_over", "另一台设备接管了本场直播的画面。"),
    "ended": (WSCloseCode.OK, "not_live", "直播已结束。"),
    "restart": (CLOSE_RESTART, "restart", "录制重新开始，正在重新连接……"),
    "overloaded": (CLOSE_RESTART, "restart", "服务器来不及接收，正在重新连接……"),
}
PERMISSIONS = "camera=(self), microphone=(self), geolocation=()"


def may_broadcast(login: ActiveLogin | None, session: LiveSession) -> bool:
    """An admin, or a host of this session (any host when the session names none)."""
    if login is None or login.user.role not in HOSTS:
        return False
    return login.user.role == "admin" or not session.host_ids \
        or login.user.id in session.host_ids


async def camera_page(request: web.Request) -> web.StreamResponse:
    session = await session_or_404(request)
    if not may_broadcast(request.get(keys.LOGIN), session):
        raise web.HTTPForbidden(reason="not a host of this session")
    response = render(request, "phone.html", session=session, status_labels=STATUS_LABELS,
                      browser=session.source == BROWSER_SOURCE)
    response.headers["Permissions-Policy"] = PERMISSIONS  # the one page that may film
    return response


async def _refuse(ws: web.WebSocketResponse, code: str, message: str, close: int,
                  **extra: Any) -> web.WebSocketResponse:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json({"type": "error", "code": code, "message": message, **extra})
        await ws.close(code=close, message=code.encode())
    return ws


async def _login(request: web.Request) -> ActiveLogin | None:
    token = request.cookies.get(LOGIN_COOKIE, "")
    return await request.app[keys.LOGINS].resolve(token) if token else None


async def _why_not(request: web.Request, session: LiveSession,
                   login: ActiveLogin) -> tuple[str, str, int, dict[str, Any]] | None:
    """Why this phone may not send this session's picture now, or None."""
    if not may_broadcast(login, session):
        return "forbidden", "只有本场直播的主持人或管理员可以用手机直播。", 4403, {}
    if session.status != "live":
        return "not_live", "直播尚未开始或已经结束。", CLOSE_REFUSED, {}
    if session.source != BROWSER_SOURCE:
        return ("wrong_source", "本场直播的视频源不是“手机直播”，请管理员在场次设置中选择。",
                CLOSE_REFUSED, {})
    recordings = request.app[keys.RECORDINGS]
    if recordings.factory is None:
        return "recording_off", "服务器没有开启视频录制。", CLOSE_REFUSED, {}
    if session.id not in recordings.recording():
        node = ""
        if recordings.leases is not None:
            with contextlib.suppress(StoreError):
                holder = await recordings.leases.holder(session.id)
                node = holder.lease_owner if holder is not None else ""
        return ("elsewhere", "本场直播的录制还没有在这台服务器上就绪，正在重试……",
                WSCloseCode.TRY_AGAIN_LATER, {"node": node})
    return None


async def camera_socket(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Origin") != own_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request refused")
    session = await session_or_404(request)
    ws = web.WebSocketResponse(heartbeat=float(request.app[keys.SETTINGS].live.heartbeat_seconds),
                               compress=False, max_msg_size=MAX_CHUNK)
    try:
        await ws.prepare(request)
    except ConnectionError:
        return ws
    login = await _login(request)
    if login is None:
        return await _refuse(ws, "unauthorized", "登录已失效，请重新登录。", 4401)
    if await refuse_until_password_changed(ws, login):
        return ws
    refusal = await _why_not(request, session, login)
    if refusal is not None:
        code, message, close, extra = refusal
        return await _refuse(ws, code, message, close, **extra)
    feed = request.app[keys.PHONES].feed(session.id)
    kicked: list[str] = []

    def kick(reason: str) -> None:
        kicked.append(reason)
        close, code, message = KICKS.get(reason, (CLOSE_RESTART, "restart", reason))
        asyncio.get_running_loop().create_task(_refuse(ws, code, message, close))

    try:
        sender = feed.attach(login.user.id, kick, take_over=request.query.get("takeover") == "1")
    except PhoneBusy:
        return await _refuse(ws, "busy", "另一台设备正在为本场直播推流。确认要接管吗？",
                             CLOSE_REFUSED)
    log.info("phone broadcast: %s sends session %s", login.user.name, session.id)
    reporter = asyncio.create_task(_report(request, ws, session.id, login, sender, feed))
    try:
        await ws.send_json({"type": "ready"})
        await _receive(ws, feed, sender)
    finally:
        feed.detach(sender)
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        log.info("phone broadcast: %s stopped sending session %s (%s, %d bytes)",
                 login.user.name, session.id, kicked[0] if kicked else "disconnected",
                 sender.received)
    return ws


async def _receive(ws: web.WebSocketResponse, feed: PhoneFeed, sender: PhoneSender) -> None:
    budget = ByteBudget(MAX_KBPS * 1000 / 8, MAX_MESSAGES, BURST_SECONDS)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await _refuse(ws, "binary_only", "只接受视频数据。", WSCloseCode.UNSUPPORTED_DATA)
            return
        if msg.type is not WSMsgType.BINARY:
            return
        if not budget.take(len(msg.data)):
            await _refuse(ws, "too_fast", "发送速度超过限制。", CLOSE_TOO_FAST)
            return
        if not feed.push(sender, msg.data):
            return  # ended by the feed; kick() is closing the socket


async def _report(request: web.Request, ws: web.WebSocketResponse, session_id: str,
                  login: ActiveLogin, sender: PhoneSender, feed: PhoneFeed) -> None:
    """Every STATE_SECONDS: the login and the session checked again, and the phone told the
    recording's health and the question on air."""
    moderation = request.app[keys.MODERATION]
    recordings = request.app[keys.RECORDINGS]
    while not ws.closed:
        try:
            current = await _login(request)
            board = await moderation.synced_board(session_id, staff=False)
        except (StoreError, NotFound):
            current, board = login, None
        if current is None or current.user.id != login.user.id:
            feed.detach(sender, "logged_out")
            await _refuse(ws, "unauthorized", "登录已失效，请重新登录。", 4401)
            return
        if board is not None and board.session.status != "live":
            feed.detach(sender, "ended")
            await _refuse(ws, "not_live", "直播已结束。", WSCloseCode.OK)
            return
        on_air = None
        if board is not None and board.session.on_air_id:
            question = board.questions.get(board.session.on_air_id)
            on_air = question.text if question is not None else None
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json({"type": "state", "ingest": recordings.view(session_id),
                                "on_air": on_air, "received": sender.received})
        await asyncio.sleep(STATE_SECONDS)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/staff/sessions/{session_id}/camera", camera_page, HOSTS),
    # Authenticates itself (the staff login, checked again every STATE_SECONDS).
    Route("GET", "/ws/camera/{session_id}", camera_socket, None),
)
