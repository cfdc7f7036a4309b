"""Graceful drain: ``run.py serve`` with ``[server] drain_seconds`` as a real process.

On SIGTERM /healthz turns 503 ``draining`` at once, the node keeps serving (pages, the open
websockets) for the drain period, then closes every websocket with 1001 and exits 0; a second
SIGTERM ends the drain early. Without a drain period SIGTERM stays prompt
(tests/live/test_shutdown.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.live.test_shutdown import ROOT, free_port, prepare

DRAIN = 2.0


async def start(tmp_path: Path, drain: float
                ) -> tuple[asyncio.subprocess.Process, str, str]:
    config, data, session_id, _ = await prepare(tmp_path)
    config.write_text(config.read_text() + f"[server]\ndrain_seconds = {drain}\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPPOCKET_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "serve", "--settings", str(config),
        "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while b"is serving at" not in await proc.stdout.readline():
            assert proc.returncode is None
    return proc, f"http://127.0.0.1:{port}", session_id


async def draining(http: aiohttp.ClientSession, base: str) -> aiohttp.ClientResponse:
    """The first /healthz answer that is not 200 (within 10 s of the signal)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    for _ in range(1000):
        health = await http.get(f"{base}/healthz")
        if health.status != 200 or loop.time() > deadline:
            return health
        await asyncio.sleep(0.05)
    return health


async def test_sigterm_drains_then_closes_sockets_with_1001(tmp_path: Path) -> None:
    proc, base, session_id = await start(tmp_path, DRAIN)
    assert proc.stdout is not None
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        health = await http.get(f"{base}/healthz")
        assert health.status == 200 and (await health.json())["state"] == "serving"
        assert (await http.get(f"{base}/live/{session_id}")).status == 200
        ws = await http.ws_connect(f"{base}/ws/live/{session_id}", origin=base)
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        assert (await ws.receive_json(timeout=10))["type"] == "snapshot"

        loop = asyncio.get_running_loop()
        started = loop.time()
        proc.send_signal(signal.SIGTERM)
        health = await draining(http, base)
        body = await health.json()
        assert (health.status, body["ok"], body["state"]) == (503, False, "draining")
        # Still serving during the drain: pages, and the open socket stays open.
        assert (await http.get(f"{base}/live/{session_id}")).status == 200
        assert not ws.closed
        message = await ws.receive(timeout=DRAIN + 10)
        closed_after = loop.time() - started
        assert message.type is aiohttp.WSMsgType.CLOSE, message
        assert ws.close_code == 1001
        assert closed_after >= DRAIN * 0.9, f"closed {closed_after:.1f} s after SIGTERM"
        async with asyncio.timeout(30):
            output = (await proc.stdout.read()).decode()
            returncode = await proc.wait()
    finally:
        await http.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert returncode == 0, output
    assert "draining for 2 s" in output and "Traceback" not in output, output


async def test_a_second_sigterm_ends_the_drain(tmp_path: Path) -> None:
    proc, base, _ = await start(tmp_path, 600.0)
    assert proc.stdout is not None
    try:
        async with aiohttp.ClientSession() as http:
            proc.send_signal(signal.SIGTERM)
            await draining(http, base)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            output = (await proc.stdout.read()).decode()
            returncode = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert returncode == 0 and "shutting down" in output, output
