"""The websocket endpoints: ``/ws/live/{session}`` for viewers, ``/ws/staff/{session}``
for moderators, hosts and admins. The protocol is ``docs/protocol.md``.

Each socket gets a ``live.hub.Connection`` whose outlet is a ``web.wsframes.FrameSender``:
frames go straight to a socket that keeps up, and through a bounded backlog to one that
does not, so the hub never waits on a slow client. Every incoming frame is parsed by
``live.protocol`` (the staff vocabulary is ``moderation.actions.STAFF_MESSAGES``);
anything invalid becomes a typed error frame to that client alone. Staff frames are
authorized when they arrive: the login is looked up again, so a logout, a disabled account or
a role change stops the next action (and the hub closes the socket); the action itself is
looked up in ``moderation.actions.ACTIONS`` and performed there, role check included.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from live.hub import Connection, Frame, Unavailable
from live.protocol import VIEWER_MESSAGES, Field, Message, ProtocolError, decode_text, parse
from moderation.actions import ACTIONS, STAFF_MESSAGES, perform
from moderation.logins import ActiveLogin
from moderation.questions import Refused
from moderation.ratelimit import RateLimiter
from moderation.service import Board, RefusedConflict, RefusedRetry
from moderation.views import staff_view
from store.base import NotFound, StoreError
from web import keys
from web.auth import LOGIN_COOKIE, client_address, refuse_until_password_changed
from web.security import own_origin
from web.viewers import read_viewer
from web.wsframes import CLOSE_TIMEOUT, FrameSender

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
    "resync": (CLOSE_SLOW, "missed events, resume"),
    "unavailable": (WSCloseCode.TRY_AGAIN_LATER, "unavailable, retry"),
}
# A stopping server gives each close handshake this long (SIGTERM must be done in 3 s).
SHUTDOWN_CLOSE_TIMEOUT = 1.0
# Protocol errors that end the connection, and the close code each one sends.
CLOSE_FATAL = {"binary_frame": WSCloseCode.UNSUPPORTED_DATA, "bad_text": WSCloseCode.INVALID_TEXT}
MAX_ERRORS_PER_MINUTE = 20
HEARTBEAT_JITTER = 0.1  # a socket's heartbeat: [live] heartbeat_seconds ± 10 %
MAX_FRAME_HARD = 64 * 1024  # past this aiohttp closes with 1009; below it we answer "too_large"


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != own_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request refused")


async def _board(request: web.Request, *, staff: bool) -> Board:
    # On a cluster the board is reread from the store first (moderation.board_sync).
    try:
        return await request.app[keys.MODERATION].synced_board(
            request.match_info["session_id"], staff=staff)
    except NotFound:
        raise web.HTTPNotFound() from None


def _socket(request: web.Request) -> web.WebSocketResponse:
    live = request.app[keys.SETTINGS].live
    # Each socket's heartbeat is the setting ± 10 %, so that sockets opened together (a
    # reconnecting crowd) drift apart rather than ping in the same instant every time.
    spread = random.uniform(1 - HEARTBEAT_JITTER, 1 + HEARTBEAT_JITTER)  # noqa: S311 - timing
    heartbeat = live.heartbeat_seconds * spread
    # Text frames arrive undecoded, so that invalid UTF-8 gets a typed error (bad_text)
    # before the close (1007) rather than a bare close.
    return web.WebSocketResponse(heartbeat=heartbeat, compress=False,
                                 max_msg_size=MAX_FRAME_HARD, timeout=CLOSE_TIMEOUT,
                                 decode_text=False)


async def _open(request: web.Request, ws: web.WebSocketResponse, *, staff: bool = False
                ) -> FrameSender | None:
    """Send the 101 and make the socket's sender; None (and one log line, no traceback)
    when the client left before the handshake completed."""
    try:
        await ws.prepare(request)
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
    except ConnectionError as exc:
        log.info("websocket handshake on %s from %s aborted before 101 (%s)", request.path,
                 request.remote, exc or type(exc).__name__)
        return None
    # A staff console's stream of small events is coalesced per pass of the loop (wsframes).
    return FrameSender(ws, transport, request.app[keys.SETTINGS].live.send_queue_frames,
                       coalesce=staff)


async def _refuse(sender: FrameSender, code: str, message: str, reason: str) -> None:
    """Accept, explain in one error frame, and close with 4401."""
    sender.send((Frame({"type": "error", "code": code, "message": message}),))
    await sender.close(CLOSE_UNAUTHORIZED, reason)


Vocabulary = Mapping[str, Mapping[str, Field]]


async def _serve(ws: web.WebSocketResponse, conn: Connection, sender: FrameSender,
                 handle: Callable[[Message], Any], vocabulary: Vocabulary,
                 elsewhere: Vocabulary, receiving: list[bool]) -> None:
    """The receive loop shared by both endpoints. Returns when the client has gone, the hub
    has dropped the connection, or a protocol error has closed it."""
    task = asyncio.current_task()
    budget: RateLimiter | None = None  # made on the first error: idle sockets hold nothing
    while conn.alive:
        receiving[0] = True
        try:
            msg = await ws.receive()
        except asyncio.CancelledError:
            # A drop cancels the wait for the next frame (see _run); any other cancellation
            # (the server stopping its handlers) goes on up.
            if conn.dropped and task is not None and task.uncancel() == 0:
                return
            raise
        finally:
            receiving[0] = False
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return
        message: Message | None = None
        try:
            if msg.type is WSMsgType.BINARY:
                raise ProtocolError("binary_frame", "只接受文本消息。", fatal=True)
            message = parse(decode_text(msg.data), vocabulary, elsewhere)
            sender.hold()  # the frames this message causes here, and its ack: one write
            try:
                reply = await handle(message)
                if reply is not None:
                    conn.say({"type": "ack", "re": message.id, **reply})
            finally:
                if not sender.release():
                    conn.drop("slow_consumer")
        except ProtocolError as exc:
            conn.say(exc.frame())
            if exc.fatal:
                await sender.flush(CLOSE_TIMEOUT)
                await sender.close(CLOSE_FATAL.get(exc.code, WSCloseCode.UNSUPPORTED_DATA),
                                   exc.code)
                return
            budget = budget or RateLimiter(MAX_ERRORS_PER_MINUTE, 60, clock=time.monotonic,
                                           max_keys=1)
            if budget.check("errors"):
                await sender.flush(CLOSE_TIMEOUT)
                await sender.close(CLOSE_TOO_MANY_ERRORS, "too many errors")
                return
            continue
        except StoreError:
            log.exception("store failure on a websocket message")
            conn.say({"type": "error", "code": "unavailable",
                      "re": message.id if message else "",
                      "message": "服务暂时不可用，请稍后重试。"})
            continue
        except Exception:  # a bug: log it, tell this client, keep serving everyone
            log.exception("unexpected error handling a websocket frame")
            conn.say({"type": "error", "code": "internal", "message": "服务器出错了，请稍后重试。"})
            continue


async def _run(request: web.Request, ws: web.WebSocketResponse, conn: Connection,
               sender: FrameSender, snapshot: Callable[[], dict[str, Any]],
               handle: Callable[[Message], Any], vocabulary: Vocabulary,
               elsewhere: Vocabulary) -> web.WebSocketResponse:
    """Attach the connection to the hub, serve it, and close it with the right code.

    The receive loop runs in this (the handler's) task: no other task per socket. The hub
    drops a connection (too slow, logged out, shutting down) through ``on_drop``: if the
    loop is waiting for a frame, that wait is cancelled; otherwise the loop sees the drop
    when the current frame is handled. Either way the close happens here, in this task.
    """
    hub = request.app[keys.HUB]
    task = asyncio.current_task()
    receiving = [False]

    def stop(reason: str) -> None:
        if receiving[0] and task is not None:
            task.cancel()

    conn.on_drop = stop
    try:
        try:
            await hub.attach(conn, request.query.get("since"), snapshot)
        except Unavailable as exc:
            log.warning("websocket on %s refused: %s", request.path, exc)
            conn.say({"type": "error", "code": "unavailable",
                      "message": "服务暂时不可用，请稍后重试。"})
            conn.dropped = "unavailable"
        else:
            await _serve(ws, conn, sender, handle, vocabulary, elsewhere, receiving)
    except BaseException:
        sender.abort()  # cancelled from outside (handlers stopped): no time for a handshake
        raise
    finally:
        hub.disconnect(conn)
    code, text = CLOSE_REASONS.get(conn.dropped, (CLOSE_FORBIDDEN, conn.dropped)) \
        if conn.dropped else (WSCloseCode.OK, "")
    await sender.close(code, text, SHUTDOWN_CLOSE_TIMEOUT if conn.dropped == "server_shutdown"
                       else CLOSE_TIMEOUT)
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
    board = await _board(request, staff=False)
    moderation = request.app[keys.MODERATION]
    ws = _socket(request)
    sender = await _open(request, ws)
    if sender is None:
        return ws
    viewer_id = read_viewer(request)
    if viewer_id is None:
        await _refuse(sender, "no_viewer", "请刷新直播页面后再连接。", "no viewer cookie")
        return ws
    if not await request.app[keys.CAPS].admit(ws, viewer_id, client_address(request)):
        return ws  # closed as busy (web.caps)
    session_id = board.session.id
    client = client_address(request)
    conn = Connection("viewer", session_id, sender, viewer_id=viewer_id)

    async def handle(message: Message) -> dict[str, Any] | None:
        try:
            if message.type == "ask":
                await request.app[keys.CAPS].question_room(session_id)  # busy: web.caps
                question, created = await moderation.ask(
                    session_id, viewer_id, client, message.get("client_id"),
                    message.get("text"), message.get("nickname", ""))
                await request.app[keys.CAPS].question_taken(session_id, created)
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

    return await _run(request, ws, conn, sender,
                      lambda: moderation.viewer_snapshot(board, viewer_id), handle,
                      VIEWER_MESSAGES, STAFF_MESSAGES)


async def _staff_login(request: web.Request) -> ActiveLogin | None:
    token = request.cookies.get(LOGIN_COOKIE, "")
    return await request.app[keys.LOGINS].resolve(token) if token else None


async def staff_socket(request: web.Request) -> web.StreamResponse:
    _check_origin(request)
    login = await _staff_login(request)
    board = await _board(request, staff=login is not None)
    moderation = request.app[keys.MODERATION]
    ws = _socket(request)
    sender = await _open(request, ws, staff=True)
    if sender is None:
        return ws
    if login is None:
        # Accept, then close with a code the page understands ("log in again"); a refused
        # handshake looks to a browser exactly like a network failure.
        await _refuse(sender, "unauthorized", "登录已失效，请重新登录。", "login required")
        return ws
    if await refuse_until_password_changed(ws, login):
        return ws
    if not await request.app[keys.CAPS].admit(ws, None, client_address(request)):
        return ws  # closed as busy (web.caps)
    user = login.user
    session_id = board.session.id
    conn = Connection("staff", session_id, sender, user_id=user.id, login_id=login.session.id)

    async def handle(message: Message) -> dict[str, Any] | None:
        current = await _staff_login(request)
        acting = current.user if current else None
        if acting is None or acting.id != user.id:
            conn.drop("logged_out")
            raise ProtocolError("unauthorized", "登录已失效，请重新登录。", re=message.id,
                                fatal=False)
        if message.type == "questions":  # the next page after the snapshot
            try:
                return moderation.staff_page(board, message.get("after"))
            except Refused as exc:
                raise _refusal(message, exc, moderation.item_names) from None
        action = ACTIONS.get(message.type)
        if action is None:  # ping: the vocabulary's only other message
            return {"pong": True}
        try:
            return await perform(action, moderation, session_id, acting, message.fields)
        except Refused as exc:
            raise _refusal(message, exc, moderation.item_names) from None

    recordings, simulcasts = request.app[keys.RECORDINGS], request.app[keys.SIMULCASTS]
    return await _run(request, ws, conn, sender, lambda: {**moderation.staff_snapshot(board),
                                                  "ingest": recordings.view(session_id),
                                                  "simulcast": simulcasts.view(session_id)},
                      handle, STAFF_MESSAGES, VIEWER_MESSAGES)
