"""The runner that serves the app: aiohttp's own, with its low-level errors brought in line.

When a request cannot even be parsed (a request line over 8,190 bytes, bytes a header may
not hold, a method that is not HTTP), aiohttp answers 400 itself, before any route,
middleware or ``on_response_prepare`` hook runs, and logs the parser's traceback (aiohttp
issues #3287, #6463). ``EdgeRunner`` answers those with the same security headers as every
other response and a plain body that does not echo the request, and logs one line without
a traceback; a genuine server error (500) keeps aiohttp's handling and its traceback.

``run.py serve`` and the tests of this behaviour serve through ``EdgeRunner``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from web import keys
from web.security import security_headers

log = logging.getLogger(__name__)


def _reason(exc: BaseException) -> str:
    """The parser's complaint, first line only, escaped and short: the rest of its message
    quotes the offending bytes."""
    text = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    first = (text or type(exc).__name__).strip().splitlines()[0] if text.strip() else ""
    return ascii(first[:120])[1:-1] or type(exc).__name__


class EdgeRequestHandler(RequestHandler):
    """aiohttp's connection handler with ``handle_error`` answering client errors quietly
    and putting our headers on every error it makes."""

    __slots__ = ("_headers",)

    def __init__(self, manager: web.Server, *, headers: Mapping[str, str],
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._headers = dict(headers)

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if 400 <= status < 500:
            log.warning("refused a malformed request from %s: %d %s (%s)", request.remote,
                        status, HTTPStatus(status).phrase, _reason(exc) if exc else "")
            if request.writer.output_size > 0:  # the same rule as aiohttp's own
                raise ConnectionError("a response was already sent on this connection")
            response: web.StreamResponse = web.Response(
                status=status, text=f"{status} {HTTPStatus(status).phrase}\n")
            response.force_close()
        else:
            response = super().handle_error(request, status, exc, message)
        for name, value in self._headers.items():
            response.headers.setdefault(name, value)
        return response


class EdgeServer(web.Server):
    """The app's low-level server, building ``EdgeRequestHandler`` connections."""

    def __init__(self, base: web.Server, headers: Mapping[str, str]) -> None:
        # aiohttp offers no public way to choose the connection class; its Server keeps the
        # handler arguments (keep-alive, limits, access log) in ``_kwargs``.
        super().__init__(base.request_handler, request_factory=base.request_factory,
                         handler_cancellation=base.handler_cancellation,
                         loop=asyncio.get_running_loop(), **base._kwargs)
        self._headers = dict(headers)

    def __call__(self) -> RequestHandler:
        return EdgeRequestHandler(self, loop=self._loop, headers=self._headers,
                                  **self._kwargs)


# aiohttp rounds every timer of 5 s or more up to a whole second, so that timers close in
# time share a loop pass. For websocket heartbeats that is harmful: every socket opened within
# one second pings in the same pass — 5,000 viewers who joined together (a broadcast starting,
# a node's viewers reconnecting) cost one stall of a couple of hundred milliseconds every
# heartbeat, and every ask waits through it. Timers shorter than this are left exact.
TIMER_CEILING_FROM_SECONDS = 3600.0


class EdgeRunner(web.AppRunner):
    """``web.AppRunner`` whose server is an ``EdgeServer``, with exact timers."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("timeout_ceil_threshold", TIMER_CEILING_FROM_SECONDS)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return EdgeServer(base, security_headers(self.app[keys.SETTINGS]))
