"""Real websocket clients of a cluster, through HAProxy, and what the tests compare them with.

A ``LiveClient`` is one browser tab: its own cookie jar, one websocket that it reopens after
any end with ``?since=EPOCH:SEQ`` exactly as docs/protocol.md tells a browser to, and a log
of everything it saw (hellos, snapshots, events) and which node served each connection
(HAProxy's ``X-Tippocket-Node`` header on the 101). Requests in flight when a connection
ends fail with ``ConnectionError``; the caller sends them again, as a browser would.

The store side (``Outbox``) reads the session's committed events (``store.events_since``)
and questions straight from MongoDB, so a test compares what every client saw with what was
committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp

from live.events import PUBLIC, STAFF
from live.sessions import SessionForm, Sessions
from moderation.audit import Audit
from moderation.staff import LoginThrottle, StaffAccounts
from store.base import Store
from store.mongo import MongoStore
from store.records import LiveSession, Question
from tests.support import PASSWORD, sign_in

NODE_HEADER = "X-Tippocket-Node"
# Connection failures a client treats as "reconnect" (a killed node, a cut session).
LOST = (ConnectionError, aiohttp.ClientError, asyncio.TimeoutError)


def open_store(uri: str, database: str) -> MongoStore:
    return MongoStore(uri, database=database, timeout_ms=3000)


@contextlib.asynccontextmanager
async def store_of(uri: str, database: str) -> AsyncIterator[Store]:
    store = open_store(uri, database)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def seed_staff(uri: str, database: str) -> None:
    """An administrator ``boss`` and a moderator ``mod`` (all cluster tests log in as them)."""
    async with store_of(uri, database) as store:
        accounts = StaffAccounts(store, LoginThrottle(0, 0))
        for name, role in (("boss", "admin"), ("mod", "moderator")):
            if await store.user_by_name(name) is None:
                await accounts.create(name, role, PASSWORD, actor="test")


async def live_session(uri: str, database: str, title: str) -> LiveSession:
    """A new live session, stored the way the admin pages store one."""
    async with store_of(uri, database) as store:
        sessions = Sessions(store, lambda b: None, audit=Audit())
        session = await sessions.create(SessionForm(title, scheduled_start=1.8e9), actor="test")
        return await sessions.start(session.id, actor="test")


class Outbox:
    """What MongoDB holds for one session: its events (the outbox) and its questions."""

    def __init__(self, uri: str, database: str, session_id: str) -> None:
        self.uri, self.database, self.session_id = uri, database, session_id

    async def events(self) -> list[Any]:
        async with store_of(self.uri, self.database) as store:
            rows: list[Any] = []
            after = 0
            while True:
                page = await store.events_since(
                    self.session_id, after, 1000)
                if not page:
                    return rows
                rows += page
                after = page[-1].seq

    async def questions(self) -> dict[str, Question]:
        async with store_of(self.uri, self.database) as store:
            return {q.id: q for q in await store.questions_of(self.session_id)}


def entitled_seqs(events: list[Any], audience: str, after: int) -> list[int]:
    """The seqs after ``after`` that a connection of ``audience`` (PUBLIC for a viewer who
    asks nothing, STAFF for a console) must receive."""
    return [e.seq for e in events if e.seq > after and e.audience == audience]


@dataclass
class Connection:
    """One websocket connection of a client: which node served it and how it began."""

    node: str
    resume: str
    cursor: str
    epoch: str
    ended: str = ""


@dataclass
class LiveClient:
    base: str
    path: str
    http: aiohttp.ClientSession
    label: str = ""
    epoch: str = ""
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    ws: aiohttp.ClientWebSocketResponse | None = None
    _last_node: list[str] = field(default_factory=lambda: [""])
    _pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _opened: asyncio.Event = field(default_factory=asyncio.Event)  # set by each new one
    _stopping: bool = False
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    # --- opening ------------------------------------------------------------------------

    @staticmethod
    def _session(base: str, node: list[str]) -> aiohttp.ClientSession:
        trace = aiohttp.TraceConfig()

        async def on_end(_s: aiohttp.ClientSession, _c: SimpleNamespace,
                         params: aiohttp.TraceRequestEndParams) -> None:
            node[0] = params.response.headers.get(NODE_HEADER, node[0])

        trace.on_request_end.append(on_end)
        return aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     trace_configs=[trace])

    @classmethod
    async def viewer(cls, base: str, session_id: str, label: str = "") -> LiveClient:
        node = [""]
        http = cls._session(base, node)
        async with http.get(f"/live/{session_id}") as page:
            assert page.status == 200, await page.text()
        return cls(base, f"/ws/live/{session_id}", http, label, _last_node=node)

    @classmethod
    async def staff(cls, base: str, session_id: str, name: str, label: str = "") -> LiveClient:
        node = [""]
        http = cls._session(base, node)
        await sign_in(http, name)
        return cls(base, f"/ws/staff/{session_id}", http, label or name, _last_node=node)

    # --- the connection ---------------------------------------------------------------------

    @property
    def node(self) -> str:
        return self.connections[-1].node if self.connections else ""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"client {self.label}")

    async def wait_connected(self, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def _open(self) -> None:
        since = f"?since={self.epoch}:{self.seq}" if self.epoch else ""
        self.ws = await self.http.ws_connect(self.path + since, origin=self.base,
                                             heartbeat=None, timeout=aiohttp.ClientWSTimeout(
                                                 ws_receive=None, ws_close=2))
        hello = await self._frame(10)
        assert hello.get("type") == "hello", hello
        self.epoch = str(hello.get("epoch", self.epoch))
        conn = Connection(self._last_node[0], str(hello.get("resume", "")),
                          str(hello.get("cursor", "")), self.epoch)
        self.connections.append(conn)
        if conn.resume == "snapshot":
            snapshot = await self._frame(10)
            assert snapshot.get("type") == "snapshot", snapshot
            self.snapshots.append(snapshot)
            self.seq = int(snapshot["seq"])
        self._connected.set()
        self._opened.set()

    async def _frame(self, timeout: float | None) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type.name} {msg.data!r}")
        frame: dict[str, Any] = json.loads(msg.data)
        return frame

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                await self._open()
                backoff = 0.1
                while True:
                    frame = await self._frame(None)
                    self._handle(frame)
            except LOST as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            if not self._stopping:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    def _lost(self, why: str) -> None:
        self._connected.clear()
        if self.connections and not self.connections[-1].ended:
            self.connections[-1].ended = why
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(why))
        self._pending.clear()
        if self.ws is not None and not self.ws.closed:
            asyncio.get_running_loop().create_task(self.ws.close())

    def _handle(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "event":
            self.events.append(frame)
            self.seq = max(self.seq, int(frame["seq"]))
            return
        rid = frame.get("re")
        if rid and rid in self._pending:
            future = self._pending.pop(rid)
            if not future.done():
                future.set_result(frame)

    async def request(self, kind: str, timeout: float = 15, **fields: Any) -> dict[str, Any]:
        """Send one request on the current connection and wait for its answer; raises
        ConnectionError if the connection ends first (send it again after reconnecting)."""
        await self.wait_connected(timeout)
        assert self.ws is not None
        rid = f"{self.label}-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            await self.ws.send_str(json.dumps({"type": kind, "id": rid, **fields}))
        except LOST as exc:
            self._pending.pop(rid, None)
            raise ConnectionError(str(exc)) from exc
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            self._pending.pop(rid, None)
            raise

    async def reconnect(self, timeout: float = 20) -> Connection:
        """End the current connection from this side (as a browser tab that lost its network
        would) and wait for the next one, opened with ``?since=EPOCH:SEQ``."""
        assert self.ws is not None
        self._opened.clear()
        await self.ws.close()
        async with asyncio.timeout(timeout):
            await self._opened.wait()
        return self.connections[-1]

    async def close(self) -> None:
        self._stopping = True
        if self.ws is not None:
            with contextlib.suppress(*LOST):
                await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.http.close()

    # --- what it saw ----------------------------------------------------------------------

    def seqs(self) -> list[int]:
        return [int(e["seq"]) for e in self.events]

    def seen_questions(self) -> dict[str, dict[str, Any]]:
        """A console's state: every question of its snapshots and events, by id."""
        state: dict[str, dict[str, Any]] = {}
        for snap in self.snapshots:
            for q in snap.get("questions", []):
                state[q["id"]] = q
        for e in self.events:
            if e.get("kind") == "question":
                q = e["question"]
                state[q["id"]] = q
        return state


def check_stream(client: LiveClient, committed: list[Any], audience: str,
                 start: int) -> tuple[list[int], list[int]]:
    """(missing, duplicated) seqs of ``audience`` after ``start`` that ``client`` should have
    seen, given the committed events. A snapshot covers everything up to its seq."""
    seen = client.seqs()
    duplicated = sorted({s for s in seen if seen.count(s) > 1})
    covered = max([start, *(int(s["seq"]) for s in client.snapshots[1:])]) \
        if len(client.snapshots) > 1 else start
    missing = sorted(set(entitled_seqs(committed, audience, start)) - set(seen)
                     - {s for s in entitled_seqs(committed, audience, start) if s <= covered})
    return missing, duplicated


__all__ = ["LOST", "PUBLIC", "STAFF", "LiveClient", "Outbox", "check_stream", "live_session",
           "seed_staff"]
