"""A phone broadcasting through HAProxy, as the camera page does (``web/static/phone.js`` and
``phone_state.js``): a staff login, then ``/ws/camera/<session>`` — without ``?node=`` at
first; on ``elsewhere`` again after ``retryDelay(attempt)`` with ``?node=<the holder named in
the error frame>``; after any other end (a node killed under it) again after
``retryDelay(attempt)`` with the ``node`` it had; ``restart`` (close 4000) at once. Once
``ready``, it sends a WebM made by ffmpeg from its start (a new MediaRecorder stream), one
second's worth of bytes a second, as MediaRecorder's one chunk a second would, reading the
``state`` frames meanwhile. Every try is kept: the node asked for, the node that answered
(HAProxy's ``X-Tippocket-Node`` on the 101) and the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import aiohttp

from live.ffmpeg import find_ffmpeg
from tests.cluster.clients import NODE_HEADER
from tests.support import sign_in

# phone_state.js afterClose: the refusals the page gives up on.
STOPS = {"busy", "unauthorized", "forbidden", "wrong_source", "recording_off", "taken_over",
         "binary_only"}


def retry_delay(attempt: int) -> float:
    """phone_state.js retryDelay: 1 s doubling to 10 s."""
    return float(min(10, 2 ** max(0, attempt)))


def phone_webm(path: Path, seconds: int) -> bytes:
    """What MediaRecorder sends: WebM, VP8 video and Opus audio (as tests/web's phone test)."""
    subprocess.run([find_ffmpeg(""), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                    "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                    "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k",
                    "-c:a", "libopus", "-f", "webm", "-y", str(path)], check=True)
    return path.read_bytes()


@dataclass
class Try:
    asked: str  # the ?node= sent ("" for none)
    served: str  # the node HAProxy sent it to ("" when no connection was made)
    outcome: str  # "ready", an error code (elsewhere, ...), or "lost: ..."
    holder: str = ""  # the node named by an `elsewhere` refusal
    at: float = field(default_factory=time.monotonic)


@dataclass
class Phone:
    base: str
    session_id: str
    clip: bytes
    seconds: int  # the clip's length: it is sent over this many seconds
    http: aiohttp.ClientSession
    last_node: list[str]
    node: str = ""
    attempt: int = 0
    tries: list[Try] = field(default_factory=list)
    sent: int = 0
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def login(cls, base: str, session_id: str, name: str, clip: bytes,
                    seconds: int) -> Phone:
        node = [""]
        trace = aiohttp.TraceConfig()

        async def on_end(_s: aiohttp.ClientSession, _c: SimpleNamespace,
                         params: aiohttp.TraceRequestEndParams) -> None:
            node[0] = params.response.headers.get(NODE_HEADER, "")

        trace.on_request_end.append(on_end)
        http = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     trace_configs=[trace])
        await sign_in(http, name)
        return cls(base, session_id, clip, seconds, http, node)

    @property
    def accepted(self) -> list[Try]:
        return [t for t in self.tries if t.outcome == "ready"]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="phone")

    async def wait_ready(self, after: int, timeout: float) -> Try:
        """The first accepted try after the first ``after`` tries."""
        deadline = time.monotonic() + timeout
        while not any(t.outcome == "ready" for t in self.tries[after:]):
            assert time.monotonic() < deadline, f"the phone was not accepted: {self.tries}"
            assert self._task is not None and not self._task.done(), self._task
            await asyncio.sleep(0.1)
        return next(t for t in self.tries[after:] if t.outcome == "ready")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.http.close()

    async def _run(self) -> None:
        while True:
            code, error = await self.connect_once()
            reason = str(error.get("code", "")) if error else ""
            assert reason not in STOPS, (reason, self.tries)
            if reason == "elsewhere":
                self.node = str(error.get("node") or "") if error else ""
                wait = retry_delay(self.attempt)
            elif reason == "restart" or code == 4000:
                wait = 0.0
            elif reason == "not_live":
                assert code != 1000, "the session ended"
                wait = 5.0
            else:
                wait = retry_delay(self.attempt)
            self.attempt += 1
            await asyncio.sleep(wait)

    async def connect_once(self, query: str | None = None
                           ) -> tuple[int | None, dict[str, Any] | None]:
        """One try: (the close code, the error frame received, if any). ``query`` replaces
        the ``?node=`` the page would send."""
        asked = self.node
        if query is None:
            query = f"?node={quote(asked, safe='')}" if asked else ""
        self.last_node[0] = ""
        try:
            ws = await self.http.ws_connect(
                f"/ws/camera/{self.session_id}{query}", origin=self.base, heartbeat=None,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2))
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            self.tries.append(Try(asked, "", f"lost: {type(exc).__name__}"))
            return None, None
        served = self.last_node[0]
        error: dict[str, Any] | None = None
        sender: asyncio.Task[None] | None = None
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if frame.get("type") == "ready":
                    self.tries.append(Try(asked, served, "ready"))
                    self.attempt = 0  # phone.js: a started recorder resets the back-off
                    sender = asyncio.create_task(self._send(ws))
                elif frame.get("type") == "error":
                    error = frame
            if sender is None:
                self.tries.append(Try(asked, served, error["code"] if error else "lost: closed",
                                      str(error.get("node", "")) if error else ""))
            return ws.close_code, error
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            if sender is None:
                self.tries.append(Try(asked, served, f"lost: {type(exc).__name__}"))
            return None, error
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError,
                                         aiohttp.ClientError):
                    await sender
            await ws.close()

    async def _send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """The clip from its start, one second's worth a second (a new MediaRecorder)."""
        step = -(-len(self.clip) // self.seconds)
        for start in range(0, len(self.clip), step):
            await ws.send_bytes(self.clip[start:start + step])
            self.sent += 1
            await asyncio.sleep(1.0)


def segment_count(playlist: Path) -> int:
    if not playlist.exists():
        return 0
    return len(re.findall(r"^[^#\s].*$", playlist.read_text(), flags=re.MULTILINE))
