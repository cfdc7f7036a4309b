"""Graceful drain before a node stops.

On SIGTERM ``run.py serve`` calls ``drain``: the node first answers ``/healthz`` with 503
``draining`` so that the load balancer (HAProxy's health check) stops sending it new
connections, keeps serving what it has for ``[server] drain_seconds`` (a second SIGTERM or
Ctrl-C cuts the wait short), and only then shuts down: websockets close with 1001 ("going
away", ``web.app._close_sockets``), so their clients reconnect through the load balancer to
another node and resume from their cursor. With ``drain_seconds = 0`` (the default: one
process, no load balancer) SIGTERM stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Drain:
    """Whether this node is draining (``/healthz`` says so), and since when."""

    since: float = 0.0

    @property
    def draining(self) -> bool:
        return self.since > 0.0

    def start(self) -> None:
        self.since = self.since or time.time()


async def drain(state: Drain, seconds: float, interrupt: asyncio.Event) -> None:
    """Mark the node draining and keep serving for ``seconds``, or until ``interrupt`` is set.
    Requests (and new connections the load balancer still sends) are answered meanwhile."""
    state.start()
    if seconds <= 0:
        return
    log.info("draining: /healthz answers 503 for %.1f s, then websockets close with 1001",
             seconds)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await interrupt.wait()
