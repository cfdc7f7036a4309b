"""SIGTERM with clients connected: ``run.py serve`` as a real process, real websockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from websockets.frames import Close, Opcode

from live.sessions import SessionForm
from settings import load_settings
from tests.web.test_wsframes import decode_all
from web import keys
from web.app import create_app
from web.auth import LOGIN_COOKIE

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A settings file, a data directory holding a live session and a staff login: the
    session id and the login token."""
    config = tmp_path / "settings.toml"
    config.write_text('[security]\nsecret_key = "shutdown-test-secret-key-0123456789"\n'
                      "[media]\nrecord = false\n")
    data = tmp_path / "data"
    settings = load_settings(config, env={}).replace(server={"data_dir": str(data)})
    # Through the app's own factory, as the server will see it; then stopped again.
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    try:
        app = runner.app
        sessions = app[keys.SESSIONS]
        broadcast = await sessions.create(SessionForm("上午场", scheduled_start=1.8e9),
                                          actor="test")
        await sessions.start(broadcast.id, actor="test")
        user = await app[keys.ACCOUNTS].create("mod", "moderator", "a-long-password",
                                               actor="test")
        token, _ = await app[keys.LOGINS].start(user, "test")
    finally:
        await runner.cleanup()
    return config, data, broadcast.id, token


async def raw_viewer(base: str, http: aiohttp.ClientSession, session_id: str
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    cookie = next(c for c in http.cookie_jar if c.key == "tp_viewer")
    host = base.removeprefix("http://")
    reader, writer = await asyncio.open_connection(*host.split(":"))
    writer.write((f"GET /ws/live/{session_id} HTTP/1.1\r\nHost: {host}\r\n"
                  f"Origin: {base}\r\nCookie: tp_viewer={cookie.value}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_sigterm_closes_every_socket_with_1001_and_exits_promptly(tmp_path: Path) -> None:
    config, data, session_id, token = await prepare(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPPOCKET_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "serve", "--settings", str(config),
        "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    base = f"http://127.0.0.1:{port}"
    clients: list[aiohttp.ClientSession] = []
    try:
        async with asyncio.timeout(60):
            while b"is serving at" not in await proc.stdout.readline():
                assert proc.returncode is None
        sockets = []
        for i in range(4):
            staff = i == 3
            jar = aiohttp.CookieJar(unsafe=True)
            http = aiohttp.ClientSession(cookie_jar=jar)
            clients.append(http)
            if staff:
                jar.update_cookies({LOGIN_COOKIE: token})
            else:
                assert (await http.get(f"{base}/live/{session_id}")).status == 200
            path = "staff" if staff else "live"
            ws = await http.ws_connect(f"{base}/ws/{path}/{session_id}", origin=base)
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            sockets.append(ws)

        # And one client that reads but never answers a Close (a stuck tab, a proxy).
        reader, writer = await raw_viewer(base, clients[0], session_id)

        loop = asyncio.get_running_loop()
        started = loop.time()
        proc.send_signal(signal.SIGTERM)
        for ws in sockets:
            message = await ws.receive(timeout=10)
            assert message.type is aiohttp.WSMsgType.CLOSE, message
            assert ws.close_code == 1001
        async with asyncio.timeout(10):
            rest = await reader.read()  # until the server cuts it off
        frames = decode_all(rest)
        assert frames[-1].opcode is Opcode.CLOSE
        assert Close.parse(frames[-1].data).code == 1001
        writer.close()
        async with asyncio.timeout(30):
            output = await proc.stdout.read()
            returncode = await proc.wait()
        took = loop.time() - started
    finally:
        for http in clients:
            await http.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert returncode == 0, output.decode()
    assert took < 3.0, f"the server took {took:.1f} s to stop"
    assert b"Traceback" not in output, output.decode()
