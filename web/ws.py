"""The websocket endpoints: ``/ws/live/{session}`` for viewers, ``/ws/staff/{session}``
for moderators, hosts and admins. The protocol is ``docs/protocol.md``.

Each socket gets a ``live.hub.Connection``; a writer task drains its bounded queue into the
socket, so the hub never waits on a slow client. Every incoming frame is parsed by
``live.protocol`` (the staff vocabulary is ``moderation.actions.STAFF_MESSAGES``);
anything invalid becomes a typed error frame to that client alone. Staff frames are
authorized when they arrive: the login is looked up again, so a logout, a disabled account or
a role change stops the next action (and the hub closes the socket); the action itself is
looked up in ``moderation.actions.ACTIONS`` and performed there, role check included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from live.hub import Connection
from live.protocol import VIEWER_MESSAGES, Field, Message, ProtocolError, dumps, parse
from moderation.actions import ACTIONS, STAFF_MESSAGES, perform
from moderation.logins import ActiveLogin
from moderation.questions import Refused
from moderation.service import Board, RefusedConflict, RefusedRetry
from moderation.views import staff_view
from store.base import NotFound, StoreError
from web import keys
from web.auth import LOGIN_COOKIE, refuse_until_password_changed
from web.security import own_origin
from web.viewers import read_viewer

log = logging.getLogger(__name__)

# Close codes (4000–4999 are ours; docs/protocol.md lists them).
CLOSE_SLOW = 4008
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_ERRORS = 4400
CLOSE_REASONS = {
    "slow_consumer": (CLOSE_SLOW, "too slow, resume"),
    "logged_out": (CLOSE_UNAUTHORIZED, "login ended"),
    "server_shutdown": (WSCloseCode.GOING_AWAY, "server restarting, resume"),
}
MAX_ERRORS_PER_MINUTE = 20
MAX_FRAME_HARD = 64 * 1024  # past this aiohttp closes with 1009; below it we answer "too_large"


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != own_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request refused")


async def _board(request: web.Request) -> Board:
    try:
        return await request.app[keys.MODERATION].board(request.match_info["session_id"])
    except NotFound:
        raise web.HTTPNotFound() from None


def _socket(request: web.Request) -> web.WebSocketResponse:
    live = request.app[keys.SETTINGS].live
    return web.WebSocketResponse(heartbeat=float(live.heartbeat_seconds), compress=False,
                                 max_msg_size=MAX_FRAME_HARD)


async def _pump(ws: web.WebSocketResponse, conn: Connection, busy: list[bool]) -> None:
    """Drain the connection's queue into the socket, in order."""
    while True:
        frame = await conn.queue.get()
        busy[0] = True
        try:
            await ws.send_str(frame)
        except (ConnectionError, RuntimeError):
            return
        finally:
            busy[0] = False
            conn.queue.task_done()


async def _flush(conn: Connection) -> None:
    """Give queued frames (an error explaining a close, say) a moment to go out."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(conn.queue.join(), timeout=2.0)


class ErrorBudget:
    """Protocol errors allowed per minute before the connection is closed."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def spend(self) -> bool:
        now = time.monotonic()
        self.times = [t for t in self.times if now - t < 60] + [now]
        return len(self.times) <= MAX_ERRORS_PER_MINUTE


Vocabulary = Mapping[str, Mapping[str, Field]]


async def _serve(ws: web.WebSocketResponse, conn: Connection,
                 handle: Callable[[Message], Any], vocabulary: Vocabulary,
                 elsewhere: Vocabulary) -> None:
    """The receive loop shared by both endpoints."""
    budget = ErrorBudget()
    async for msg in ws:
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            break
        try:
            message = parse(msg.data, vocabulary, elsewhere)
            reply = await handle(message)
        except ProtocolError as exc:
            conn.offer(dumps(exc.frame()))
            if exc.fatal:
                await _flush(conn)
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=exc.code.encode())
                break
            if not budget.spend():
                await _flush(conn)
                await ws.close(code=CLOSE_TOO_MANY_ERRORS, message=b"too many errors")
                break
            continue
        except StoreError:
            log.exception("store failure on a websocket message")
            conn.offer(dumps({"type": "error", "code": "unavailable", "re": message.id,
                              "message": "服务暂时不可用，请稍后重试。"}))
            continue
        except Exception:  # a bug: log it, tell this client, keep serving everyone
            log.exception("unexpected error handling a websocket frame")
            conn.offer(dumps({"type": "error", "code": "internal",
                              "message": "服务器出错了，请稍后重试。"}))
            continue
        if reply is not None:
            conn.offer(dumps({"type": "ack", "re": message.id, **reply}))


async def _run(request: web.Request, ws: web.WebSocketResponse, conn: Connection,
               snapshot: Callable[[], dict[str, Any]], handle: Callable[[Message], Any],
               vocabulary: Vocabulary, elsewhere: Vocabulary) -> web.WebSocketResponse:
    hub = request.app[keys.HUB]
    busy = [False]
    transport = request.transport

    def direct(data: bytes) -> bool:
        if busy[0] or transport is None or transport.is_closing() or (
                transport.get_write_buffer_size() > 65536):
            return False
        transport.write(data)
        return True

    conn.write = direct
    writer = asyncio.create_task(_pump(ws, conn, busy))
    serving = asyncio.create_task(_serve(ws, conn, handle, vocabulary, elsewhere))
    # The hub drops a connection (too slow, logged out, shutting down) by stopping its
    # receive loop; the close itself happens below, in this task, never concurrently.
    def stop(reason: str) -> None:
        serving.cancel()

    conn.on_drop = stop
    hub.connect(conn, request.query.get("since"), snapshot)
    try:
        await serving
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not conn.dropped or (current is not None and current.cancelling()):
            raise
    finally:
        hub.disconnect(conn)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    if conn.dropped and not ws.closed:
        code, text = CLOSE_REASONS.get(conn.dropped, (CLOSE_FORBIDDEN, conn.dropped))
        await ws.close(code=code, message=text.encode())
    return ws


def _refusal(message: Message, exc: Refused, item_names: dict[str, str]) -> ProtocolError:
    if isinstance(exc, RefusedRetry):
        return ProtocolError(exc.code, exc.message, re=message.id, retry_after=exc.retry_after)
    if isinstance(exc, RefusedConflict):
        return ProtocolError(exc.code, exc.message, re=message.id,
                             current=staff_view(exc.current, item_names))
    return ProtocolError(exc.code, exc.message, re=message.id)


async def viewer_socket(request: web.Request) -> web.StreamResponse:
    _check_origin(request)
    board = await _board(request)
    moderation = request.app[keys.MODERATION]
    ws = _socket(request)
    await ws.prepare(request)
    viewer_id = read_viewer(request)
    if viewer_id is None:
        await ws.send_str(dumps({"type": "error", "code": "no_viewer",
                                 "message": "请刷新直播页面后再连接。"}))
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"no viewer cookie")
        return ws
    if not await request.app[keys.CAPS].admit(request, ws, viewer_id):
        return ws  # closed as busy (web.caps)
    session_id = board.session.id
    client = request.remote or "unknown"
    conn = Connection("viewer", session_id, viewer_id=viewer_id,
                      queue_size=request.app[keys.SETTINGS].live.send_queue_frames)

    async def handle(message: Message) -> dict[str, Any] | None:
        try:
            if message.type == "ask":
                request.app[keys.CAPS].question_room(session_id)  # busy: web.caps
                question, created = await moderation.ask(
                    session_id, viewer_id, client, message.get("client_id"),
                    message.get("text"), message.get("nickname", ""))
                request.app[keys.CAPS].question_taken(session_id, created)
                # The asker sees their question as stored: personal data masked.
                return {"question_id": question.id, "client_id": question.client_id,
                        "created": created, "state": question.state, "text": question.text,
                        "masked": list(question.flags.get("pii", []))}
            if message.type == "me_too":
                q = await moderation.me_too(session_id, viewer_id, message.get("question_id"))
                return {"question_id": q.id, "me_too": q.me_too}
        except Refused as exc:
            raise _refusal(message, exc, moderation.item_names) from None
        return {"pong": True}

    return await _run(request, ws, conn, lambda: moderation.viewer_snapshot(board, viewer_id),
                      handle, VIEWER_MESSAGES, STAFF_MESSAGES)


async def _staff_login(request: web.Request) -> ActiveLogin | None:
    token = request.cookies.get(LOGIN_COOKIE, "")
    return await request.app[keys.LOGINS].resolve(token) if token else None


async def staff_socket(request: web.Request) -> web.StreamResponse:
    _check_origin(request)
    login = await _staff_login(request)
    board = await _board(request)
    moderation = request.app[keys.MODERATION]
    ws = _socket(request)
    await ws.prepare(request)
    if login is None:
        # Accept, then close with a code the page understands ("log in again"); a refused
        # handshake looks to a browser exactly like a network failure.
        await ws.send_str(dumps({"type": "error", "code": "unauthorized",
                                 "message": "登录已失效，请重新登录。"}))
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"login required")
        return ws
    if await refuse_until_password_changed(ws, login):
        return ws
    if not await request.app[keys.CAPS].admit(request, ws, None):
        return ws  # closed as busy (web.caps)
    user = login.user
    session_id = board.session.id
    conn = Connection("staff", session_id, user_id=user.id, login_id=login.session.id,
                      queue_size=request.app[keys.SETTINGS].live.send_queue_frames)

    async def handle(message: Message) -> dict[str, Any] | None:
        current = await _staff_login(request)
        acting = current.user if current else None
        if acting is None or acting.id != user.id:
            conn.drop("logged_out")
            raise ProtocolError("unauthorized", "登录已失效，请重新登录。", re=message.id,
                                fatal=False)
        action = ACTIONS.get(message.type)
        if action is None:  # ping: the vocabulary's only other message
            return {"pong": True}
        try:
            return await perform(action, moderation, session_id, acting, message.fields)
        except Refused as exc:
            raise _refusal(message, exc, moderation.item_names) from None

    recordings = request.app[keys.RECORDINGS]
    return await _run(request, ws, conn, lambda: {**moderation.staff_snapshot(board),
                                                  "ingest": recordings.view(session_id)},
                      handle, STAFF_MESSAGES, VIEWER_MESSAGES)
