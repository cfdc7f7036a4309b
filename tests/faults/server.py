"""A real ``run.py serve`` process for the fault suite, and what the tests do around it.

The server is this worktree's run.py under the test's Python, on a free loopback port, with a
settings file written for the test; its output goes to a log file (a pipe nobody reads would
stall it). ``seed`` prepares the store the way an admin would (a live session, a staff
account) through the real services, before the server starts. Websocket clients are plain
aiohttp clients, one cookie jar each, as 200 browsers would be.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from live.sessions import SessionForm, Sessions
from moderation.audit import Audit
from moderation.staff import LoginThrottle, StaffAccounts
from settings import Settings, load_settings
from store import make_store
from store.records import LiveSession
from tests.support import PASSWORD, sign_in

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_settings(path: Path, data_dir: Path, port: int, live: dict[str, int]) -> Settings:
    lines = ["[server]", f'data_dir = "{data_dir}"', f"port = {port}", "",
             "[security]", 'secret_key = "fault-suite-secret-key-0123456789"', "",
             "[media]", "record = false", "", "[live]"]
    lines += [f"{key} = {value}" for key, value in live.items()]
    path.write_text("\n".join(lines) + "\n")
    return load_settings(path, env={})


async def seed(settings: Settings, staff: str = "") -> LiveSession:
    """A live session (and a moderator called ``staff``), stored before the server starts."""
    store = make_store(settings)
    await store.open()
    try:
        audit = Audit()
        sessions = Sessions(store, lambda b: None, audit=audit)
        session = await sessions.create(SessionForm("交警视频帮 故障演练", scheduled_start=1.8e9),
                                        actor="test")
        if staff:
            await StaffAccounts(store, LoginThrottle(0, 0)).create(staff, "moderator",
                                                                   PASSWORD, actor="test")
        return await sessions.start(session.id, actor="test")
    finally:
        await store.close()


@dataclass
class Server:
    settings_file: Path
    port: int
    log: Path
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30) -> None:
        self.starts += 1
        mark = f"serving at {self.url}/"
        out = self.log.open("a")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "run.py"), "serve", "--settings",
                str(self.settings_file), stdout=out, stderr=out, cwd=str(ROOT))
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while self.log.read_text().count(mark) < self.starts:
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{self.log.read_text()}")
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """kill -9: no shutdown, no flush, nothing but what the store had committed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@dataclass
class Viewer:
    """One browser: its own cookie jar (its viewer cookie) and its websocket."""

    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def open(cls, server: Server, session_id: str) -> Viewer:
        http = aiohttp.ClientSession(server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.get(f"/live/{session_id}") as page:
            assert page.status == 200
        return cls(http)

    async def connect(self, server: Server, path: str) -> list[dict[str, Any]]:
        """Open the websocket; returns the first frames (hello, snapshot)."""
        self.ws = await self.http.ws_connect(path, origin=server.url, heartbeat=None)
        first = [await self.receive()]
        if first[0].get("resume") == "snapshot":
            first.append(await self.receive())
        return first

    async def receive(self, timeout: float = 30) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type!r}")
        frame: dict[str, Any] = json.loads(msg.data)
        return frame

    async def request(self, kind: str, rid: str, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its ack or error (events in between are kept)."""
        assert self.ws is not None
        await self.ws.send_str(json.dumps({"type": kind, "id": rid, **fields}))
        while True:
            frame = await self.receive()
            if frame.get("re") == rid:
                return frame
            self.frames.append(frame)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


async def staff_login(server: Server, name: str) -> Viewer:
    """A staff browser, logged in through the login form."""
    http = aiohttp.ClientSession(server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    await sign_in(http, name)
    return Viewer(http)
