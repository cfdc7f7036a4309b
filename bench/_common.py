"""Shared pieces of the benchmarks: a minimal raw-socket websocket client driven by one epoll
loop, tiny HTTP helpers, process figures from /proc, and percentiles.

The raw client exists so that the load generator is not the bottleneck: it does the opening
handshake by hand, parses server frames with a few slices (server frames are never masked),
answers pings, and records ``time.monotonic()`` once per ``recv`` — no asyncio, no tasks, no
per-message objects. One Python process can then take in a 5,000-viewer fan-out several times
faster than one Python server can send it. (``websockets``' own client costs a task, a queue
and a decode per frame; ``bench/hub.py --client websockets`` uses it for comparison.)

Linux only (epoll, /proc).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import math
import os
import resource
import select
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

# --------------------------------------------------------------------------------------------
# Process helpers


def raise_nofile(want: int = 65536) -> int:
    """Raise RLIMIT_NOFILE as far as the hard limit allows; returns the soft limit now set."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


_TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(path: str) -> float:
    with open(path, encoding="ascii", errors="replace") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process, in seconds."""
    return _stat_cpu(f"/proc/{pid}/stat")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (threads of the same name summed)."""
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8") as f:
                name = f.read().strip()
            name = "main" if tid == str(pid) else name
            out[name] = out.get(name, 0.0) + _stat_cpu(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue  # the thread ended meanwhile
    return out


class CpuMeter:
    """CPU use of a server process (per thread) and of this process over a stretch of time."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall = time.monotonic()
        self.server = thread_cpu(pid)
        self.own = time.process_time()

    def read(self) -> dict[str, Any]:
        wall = time.monotonic() - self.wall
        now = thread_cpu(self.pid)
        threads = {k: round((v - self.server.get(k, 0.0)) / wall, 2) for k, v in now.items()}
        threads = {k: v for k, v in threads.items() if v >= 0.01}
        used = sum(now.values()) - sum(self.server.values())
        return {
            "wall_s": round(wall, 2),
            "server_cpu": round(used / wall, 2) if wall else 0.0,
            "server_threads": threads,
            "loadgen_cpu": round((time.process_time() - self.own) / wall, 2) if wall else 0.0,
        }


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty collection."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# --------------------------------------------------------------------------------------------
# HTTP


class Http:
    """A keep-alive HTTP/1.1 connection to the server under test with a tiny cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str,
                form: dict[str, Any] | None = None) -> tuple[int, dict[str, str], str]:
        from urllib.parse import urlencode

        headers = {"Origin": self.origin}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        for value in resp.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            name, _, val = pair.partition("=")
            if val and val != '""':
                self.cookies[name.strip()] = val.strip()
            else:
                self.cookies.pop(name.strip(), None)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------------------------
# Raw websocket client

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10
RECV_SIZE = 65536


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """A client frame: FIN, masked with a random key (RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if n:
        stream = (key * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(
            n, "big")
    else:
        masked = b""
    return head + key + masked


TextHandler = Callable[["RawWS", bytes, float], None]


class RawWS:
    """One client websocket: handshake state, frame parser, a callback per text frame."""

    __slots__ = ("buf", "closed", "fd", "handshake", "on_text", "path", "ready", "request",
                 "sock", "tag", "upgrade_headers")

    def __init__(self, path: str, request: bytes, on_text: TextHandler) -> None:
        self.path = path
        self.request = request
        self.on_text = on_text
        self.sock: socket.socket | None = None
        self.fd = -1
        self.buf = b""
        self.handshake = True
        self.closed = ""
        self.upgrade_headers = ""
        self.ready = False
        self.tag: Any = None

    def start(self) -> None:
        """Connect (blocking: loopback, few in flight) and send the opening handshake."""
        port = int(self.request.split(b"Host: 127.0.0.1:", 1)[1].split(b"\r\n", 1)[0])
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(self.request)
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()

    def send(self, payload: bytes, opcode: int = OP_TEXT) -> None:
        assert self.sock is not None
        self.sock.setblocking(True)  # small frames: never blocks long on loopback
        try:
            self.sock.sendall(encode_frame(payload, opcode))
        finally:
            self.sock.setblocking(False)

    def send_json(self, body: dict[str, Any]) -> None:
        self.send(json.dumps(body, ensure_ascii=False).encode())

    def readable(self) -> None:
        sock = self.sock
        assert sock is not None
        try:
            data = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.closed = f"error {exc}"
            return
        t = time.monotonic()
        if not data:
            self.closed = self.closed or "eof"
            return
        buf = self.buf + data if self.buf else data
        if self.handshake:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head = buf[:end].decode("latin-1")
            if not head.startswith("HTTP/1.1 101"):
                self.closed = "refused: " + head.split("\r\n", 1)[0]
                return
            self.handshake = False
            self.upgrade_headers = head
            buf = buf[end + 4 :]
        i, n = 0, len(buf)
        while n - i >= 2:
            b1 = buf[i + 1]
            ln = b1 & 0x7F
            h = 2
            if ln == 126:
                if n - i < 4:
                    break
                ln = (buf[i + 2] << 8) | buf[i + 3]
                h = 4
            elif ln == 127:
                if n - i < 10:
                    break
                ln = int.from_bytes(buf[i + 2 : i + 10], "big")
                h = 10
            if n - i < h + ln:
                break
            op = buf[i] & 0x0F
            payload = buf[i + h : i + h + ln]
            i += h + ln
            if op == OP_TEXT:
                self.on_text(self, payload, t)
            elif op == OP_PING:
                self.send(payload, OP_PONG)
            elif op == OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.closed = f"close {code} {payload[2:].decode('utf-8', 'replace')}"
                break
        self.buf = buf[i:] if i < n else b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def handshake_request(port: int, path: str, cookie: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: http://127.0.0.1:{port}",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Reactor:
    """One epoll loop over many RawWS connections."""

    def __init__(self) -> None:
        self.ep = select.epoll()
        self.conns: dict[int, RawWS] = {}
        self.busy = 0.0  # seconds spent handling readable sockets (not waiting in epoll)

    def open(self, conns: list[RawWS], ready: Callable[[RawWS], bool], *,
             concurrency: int = 64, timeout: float = 120.0) -> float:
        """Connect ``conns`` with at most ``concurrency`` handshakes in flight; wait until
        ``ready`` holds for each. Returns the seconds it took."""
        started = time.monotonic()
        todo = list(reversed(conns))
        pending: list[RawWS] = []
        deadline = started + timeout
        while todo or pending:
            while todo and len(pending) < concurrency:
                c = todo.pop()
                c.start()
                self.conns[c.fd] = c
                self.ep.register(c.fd, select.EPOLLIN)
                pending.append(c)
            self.poll(0.05)
            still = []
            for c in pending:
                if c.closed:
                    raise RuntimeError(f"websocket {c.path} failed: {c.closed}")
                if not ready(c):
                    still.append(c)
            pending = still
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(todo) + len(pending)} connections not ready")
        return time.monotonic() - started

    def poll(self, timeout: float) -> int:
        events = self.ep.poll(timeout, 4096)
        started = time.monotonic()
        conns = self.conns
        for fd, _ev in events:
            c = conns.get(fd)
            if c is not None:
                c.readable()
        self.busy += time.monotonic() - started
        return len(events)

    def run_until(self, done: Callable[[], bool], timeout: float, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what or 'a condition'}")
            self.poll(0.05)

    def sleep(self, seconds: float) -> None:
        """Keep serving sockets (pings, stray frames) for a while."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.poll(min(left, 0.05))

    def close(self, conns: Iterable[RawWS]) -> None:
        for c in conns:
            if c.fd in self.conns:
                del self.conns[c.fd]
                with contextlib.suppress(OSError, ValueError):
                    self.ep.unregister(c.fd)
            c.close()


# --------------------------------------------------------------------------------------------
# A JSON request/response socket on top of RawWS (staff consoles, askers)


class Requester:
    """Sends requests with ids and keeps their replies (acks or errors), with arrival times."""

    def __init__(self, conn: RawWS | None = None) -> None:
        self.conn = conn
        self.counter = 0
        self.replies: dict[str, tuple[dict[str, Any], float]] = {}
        self.frames = 0

    def on_text(self, conn: RawWS, payload: bytes, t: float) -> None:
        self.frames += 1
        if payload.startswith((b'{"type":"ack"', b'{"type":"error"')):
            frame = json.loads(payload)
            if "re" in frame:
                self.replies[frame["re"]] = (frame, t)
        elif payload.startswith(b'{"type":"snapshot"') or (
                payload.startswith(b'{"type":"hello"') and b'"resume":"replay"' in payload):
            conn.ready = True

    def send(self, kind: str, **fields: Any) -> tuple[str, float]:
        assert self.conn is not None
        self.counter += 1
        rid = f"r{self.counter}"
        t = time.monotonic()
        self.conn.send_json({"type": kind, "id": rid, **fields})
        return rid, t


# --------------------------------------------------------------------------------------------
# The same interface over the ``websockets`` asyncio client, for comparison


class WsConn:
    """A ``websockets`` client connection that looks like ``RawWS`` to the benchmark."""

    def __init__(self, uri: str, origin: str, cookie: str, on_text: TextHandler) -> None:
        self.uri = uri
        self.origin = origin
        self.cookie = cookie
        self.on_text = on_text
        self.ws: Any = None
        self.tag: Any = None
        self.ready = False
        self.handshake = True
        self.closed = ""
        self.upgrade_headers = ""
        self.loop: Any = None
        self.reader: Any = None

    async def open(self) -> None:
        import asyncio

        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        headers = [("Cookie", self.cookie)] if self.cookie else None
        self.ws = await connect(self.uri, origin=Origin(self.origin), additional_headers=headers,
                                compression=None, proxy=None, ping_interval=None,
                                open_timeout=60, max_queue=None)
        self.handshake = False
        response = self.ws.response
        self.upgrade_headers = "\r\n".join(f"{k}: {v}" for k, v in response.headers.raw_items())
        self.loop = asyncio.get_running_loop()
        self.reader = self.loop.create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                payload = await self.ws.recv(decode=False)
                self.on_text(self, payload, time.monotonic())  # type: ignore[arg-type]
        except ConnectionClosed as exc:
            self.closed = f"close {exc}"

    def send(self, payload: bytes, opcode: int = OP_TEXT) -> None:
        self.loop.create_task(self.ws.send(payload.decode()))

    def send_json(self, body: dict[str, Any]) -> None:
        self.send(json.dumps(body, ensure_ascii=False).encode())

    def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            self.ws.transport.abort()


class AsyncioReactor:
    """``Reactor``'s interface over an asyncio loop driven step by step from plain code."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.conns: dict[int, Any] = {}
        self.busy = 0.0  # CPU seconds of this process while stepping the loop

    def open(self, conns: list[Any], ready: Callable[[Any], bool], *,
             concurrency: int = 64, timeout: float = 120.0) -> float:
        import asyncio

        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)

        async def one(c: Any) -> None:
            async with gate:
                await c.open()
                while not ready(c):
                    if c.closed:
                        raise RuntimeError(f"websocket {c.uri} failed: {c.closed}")
                    await asyncio.sleep(0.01)

        async def every() -> None:
            await asyncio.wait_for(asyncio.gather(*(one(c) for c in conns)), timeout)

        self.loop.run_until_complete(every())
        for c in conns:
            self.conns[id(c)] = c
        return time.monotonic() - started

    def poll(self, timeout: float) -> int:
        import asyncio

        cpu = time.process_time()
        self.loop.run_until_complete(asyncio.sleep(min(timeout, 0.002)))
        self.busy += time.process_time() - cpu
        return 0

    def run_until(self, done: Callable[[], bool], timeout: float, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what or 'a condition'}")
            self.poll(0.002)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while end - time.monotonic() > 0:
            self.poll(0.05)

    def close(self, conns: Iterable[Any]) -> None:
        for c in list(conns):
            self.conns.pop(id(c), None)
            c.close()
        self.poll(0.01)


# --------------------------------------------------------------------------------------------
# The product set up over HTTP, as a person would


def log(message: str) -> None:
    """Progress on stderr (stdout carries the one JSON line)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def login(port: int, name: str, password: str) -> Http:
    http = Http(port)
    status, _, _ = http.request("GET", "/login")
    assert status == 200, status
    status, _, body = http.request("POST", "/login", {
        "_csrf": http.cookies["tp_csrf"], "name": name, "password": password, "next": "/staff"})
    if status != 303 or "tp_staff" not in http.cookies:
        raise RuntimeError(f"login as {name} failed: {status} {body[:300]}")
    return http


def viewer_cookies(port: int, session_id: str, n: int) -> list[str]:
    """One distinct signed viewer cookie per viewer, each from a real page load."""
    http = Http(port)
    cookies = []
    try:
        for _ in range(n):
            http.cookies.clear()
            status, _, _ = http.request("GET", f"/live/{session_id}")
            assert status == 200 and "tp_viewer" in http.cookies, status
            cookies.append(f"tp_viewer={http.cookies['tp_viewer']}")
    finally:
        http.close()
    return cookies
