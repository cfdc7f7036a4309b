"""Caps that keep one client, one address or one busy session from taking the server:
websockets open at once per viewer cookie and per client address, and the questions a whole
session accepts per minute. Each is a setting (``[live]``); each refusal says ``busy``.

A socket over a cap is accepted and then closed at once with an error frame
``{"type": "error", "code": "busy"}`` and close code ``CLOSE_BUSY`` (4429): a refused
handshake looks to a browser exactly like a network failure, a close code it can read.
Its slot is held until the handler that owns the socket has finished, so the counts cannot
drift whatever way a socket ends. A question over the session's rate is refused with the
same ``busy`` code and a ``retry_after``; the socket stays open.

The session's question rate is a ``moderation.ratelimit.WindowLimit``: in memory on one
process, shared by every node through Redis on a cluster (``use_shared_rate``); if Redis
does not answer, a question is refused with ``unavailable`` (fail closed, like the other
asking limits). Socket counts stay per node: they bound what one process holds; behind N
nodes a client may hold N times the cap (docs/architecture.md, "Known gaps").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

from live.protocol import dumps
from moderation.intake import UNAVAILABLE, UNAVAILABLE_RETRY
from moderation.ratelimit import LimitsUnavailable, LocalWindow, WindowLimit
from moderation.service import RefusedRetry
from settings import LiveSettings

CLOSE_BUSY = 4429
SOCKETS_BUSY = "打开的直播页面太多，请关闭其他页面后再试。"
SESSION_BUSY = "现在提问的人太多了，请 {seconds} 秒后再试。"
SOCKET_RETRY_SECONDS = 30


class Caps:
    def __init__(self, live: LiveSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_viewer = live.viewer_sockets_max
        self.per_address = live.address_sockets_max
        self.viewers: Counter[str] = Counter()
        self.addresses: Counter[str] = Counter()
        self.session_questions: WindowLimit = LocalWindow(
            max(live.session_questions_per_minute, 1), 60.0, clock=clock)
        self.session_rate_on = live.session_questions_per_minute > 0

    def take_socket(self, viewer_id: str | None, address: str
                    ) -> Callable[[object], None] | None:
        """A slot for one more socket (the callable gives it back), or None when a cap is
        reached. A cap of 0 means no cap."""
        if self.per_address and self.addresses[address] >= self.per_address:
            return None
        if viewer_id is not None and self.per_viewer and (
                self.viewers[viewer_id] >= self.per_viewer):
            return None
        self.addresses[address] += 1
        if viewer_id is not None:
            self.viewers[viewer_id] += 1

        def give_back(_: object = None) -> None:  # also a done callback (admit)
            for counts, key in ((self.addresses, address), (self.viewers, viewer_id)):
                if key is None:
                    continue
                counts[key] -= 1
                if counts[key] <= 0:
                    del counts[key]

        return give_back

    async def admit(self, ws: web.WebSocketResponse, viewer_id: str | None,
                    address: str) -> bool:
        """Count this prepared socket from ``address`` (``web.auth.client_address``), or
        refuse it (``busy``, then closed with 4429)."""
        give_back = self.take_socket(viewer_id, address)
        if give_back is None:
            await ws.send_str(dumps({"type": "error", "code": "busy", "message": SOCKETS_BUSY,
                                     "retry_after": SOCKET_RETRY_SECONDS}))
            await ws.close(code=CLOSE_BUSY, message=b"busy")
            return False
        task = asyncio.current_task()  # the task serving this request, socket and all
        assert task is not None
        task.add_done_callback(give_back)
        return True

    def use_shared_rate(self, window: WindowLimit) -> None:
        """Count the session's questions in ``window`` (a cluster's, in Redis)."""
        self.session_questions = window

    async def question_room(self, session_id: str) -> None:
        """Refuse (``busy``) when the session has taken its questions for this minute."""
        if not self.session_rate_on:
            return
        try:
            wait = await self.session_questions.wait(session_id)
        except LimitsUnavailable:
            raise RefusedRetry("unavailable", UNAVAILABLE, UNAVAILABLE_RETRY) from None
        if wait:
            raise RefusedRetry("busy", SESSION_BUSY.format(seconds=max(1, round(wait))), wait)

    async def question_taken(self, session_id: str, created: bool) -> None:
        """Count a question the session stored (a retry of a stored one is not counted).
        The question is stored whatever happens here: a count Redis misses is not retried."""
        if self.session_rate_on and created:
            # Logged by moderation.redis_limits; the question itself is stored.
            with contextlib.suppress(LimitsUnavailable):
                await self.session_questions.record(session_id)
