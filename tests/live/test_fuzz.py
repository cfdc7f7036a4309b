"""Generated frames against a real server: it must answer each one and stay consistent.

The app runs in a thread with its own event loop, served on a loopback port; hypothesis
drives the real ``websockets`` client (sync API) on both endpoints. Every text frame must
get exactly one ``ack`` or ``error`` (or, for the frames the protocol closes on, a close
with the documented code); afterwards a fresh client is served normally and the store holds
exactly the questions that were acknowledged as created.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from live.protocol import VIEWER_MESSAGES
from live.sessions import SessionForm
from moderation.actions import ACTIONS, STAFF_MESSAGES, perform
from settings import Secret, load_settings
from store.records import Question
from web import keys
from web.app import create_app

CLOSE_CODES = {1003, 1007, 1009, 4400}


@dataclass
class Server:
    loop: asyncio.AbstractEventLoop
    app: Any
    base: str
    session_id: str
    staff_cookie: str
    viewer_cookie: str
    created: set[str] = field(default_factory=set)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def socket(self, kind: str) -> ClientConnection:
        cookie = self.viewer_cookie if kind == "live" else self.staff_cookie
        ws = connect(f"ws{self.base[4:]}/ws/{kind}/{self.session_id}", origin=self.base,
                     additional_headers={"Cookie": cookie}, compression=None,
                     open_timeout=10, max_size=2**22)
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello"
        if hello["resume"] == "snapshot":
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        return ws


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    config = load_settings(env={}).replace(
        server={"data_dir": str(data), "port": 0},
        security={"secret_key": Secret("fuzz-secret-key-0123456789")},
        live={"viewer_questions_per_minute": 100_000, "address_questions_per_minute": 100_000},
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        from aiohttp import web

        app = create_app(config)
        runner = web.AppRunner(app, shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        user = await app[keys.ACCOUNTS].create("fuzzmod", "admin", "fuzz-password-1",
                                               actor="test")
        token, _ = await app[keys.LOGINS].start(user, "test")
        sessions = app[keys.SESSIONS]
        broadcast = await sessions.create(SessionForm("fuzz", scheduled_start=1.8e9),
                                          actor="test")
        await sessions.start(broadcast.id, actor="test")
        state.update(app=app, runner=runner, port=port, token=token, session=broadcast.id)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    base = f"http://127.0.0.1:{state['port']}"
    with urllib.request.urlopen(f"{base}/live/{state['session']}", timeout=10) as page:
        viewer_cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    srv = Server(loop, state["app"], base, state["session"], f"tp_staff={state['token']}",
                 viewer_cookie)
    yield srv
    asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


# Any code point at all: every category (unassigned, private use, controls, astral), and
# lone surrogates, which hypothesis leaves out by default and which no UTF-8 text can hold.
ANY_CHAR = st.characters(exclude_categories=[]) | st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.text(max_size=40) | st.text(ANY_CHAR, max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=8) | st.text(ANY_CHAR, max_size=8), inner, max_size=3),
    max_leaves=8,
)
SCHEMAS = {**VIEWER_MESSAGES, **STAFF_MESSAGES}
TYPES = [*sorted(SCHEMAS), "", "ASK", "question", "hello"]
FIELDS = sorted({f for spec in SCHEMAS.values() for f in spec} | {"extra"})
VALUES = JSON | st.text(min_size=1, max_size=400) | st.integers(0, 5)
ASK_TEXT = st.sampled_from(["驾照快到期了在哪里换", "电瓶车怎么上牌", "年审要带什么",
                            "电话13812345678 违章怎么处理", "  ", "\u200b", "驾照\ud800换证"]) \
    | st.text(max_size=320) | st.text(ANY_CHAR, max_size=320)


def field_value(draw: st.DrawFn, name: str, spec: Any, ids: list[str]) -> Any:
    """Mostly a value the schema accepts (so frames reach the service), sometimes not."""
    if draw(st.integers(0, 6)) == 0:
        return draw(VALUES)
    if name in ("question_id", "into", "before"):
        # Both draws always happen, and the id is picked by index: hypothesis needs the
        # sequence of draws not to depend on what the server has stored so far.
        index, fallback = draw(st.integers(0, 1000)), draw(st.text(max_size=64))
        return ids[index % len(ids)] if ids else fallback
    if name == "text":
        return draw(ASK_TEXT)
    if name == "category":
        return draw(st.sampled_from(["机动车", "驾驶证", "电动自行车", "线上办", "其他"]))
    if spec.kind is bool:
        return draw(st.booleans())
    if spec.kind is int:
        return draw(st.integers(spec.min_value, min(spec.max_len, 1000)))
    return draw(st.text(max_size=spec.max_len) | st.text(ANY_CHAR, max_size=spec.max_len))


def message(draw: st.DrawFn, ids: list[str]) -> str:
    kind = draw(st.sampled_from(TYPES) | st.text(max_size=20) | st.text(ANY_CHAR, max_size=20))
    body: dict[str, Any] = {"type": kind}
    if draw(st.booleans()):
        body["id"] = draw(st.text(max_size=70) | st.text(ANY_CHAR, max_size=70) | st.integers())
    for name, spec in SCHEMAS.get(kind, {}).items():
        if draw(st.integers(0, 9)):  # now and then a field goes missing
            body[name] = field_value(draw, name, spec, ids)
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(FIELDS))] = draw(VALUES)
    return json.dumps(body, ensure_ascii=draw(st.booleans()))


def frame(draw: st.DrawFn, ids: list[str]) -> str | bytes:
    choice = draw(st.integers(0, 19))
    if choice < 14:
        return message(draw, ids)
    if choice < 16:
        return json.dumps(draw(JSON))
    if choice < 18:
        return draw(st.text(max_size=200) | st.text(ANY_CHAR, max_size=200))
    if choice == 18:
        return draw(st.binary(min_size=1, max_size=50))
    return "x" * 9000


def exchange(srv: Server, ws: ClientConnection, frame: str | bytes) -> bool:
    """Send one frame; True if the server answered it, False if it closed as documented.

    A string holding lone surrogates (unescaped) cannot be UTF-8: it goes out as its
    "surrogatepass" bytes in a text frame, which is what a broken client would send."""
    invalid = isinstance(frame, str) and not frame.isascii() and _unencodable(frame)
    if invalid:
        assert isinstance(frame, str)
        ws.send(frame.encode("utf-8", "surrogatepass"), text=True)
    else:
        ws.send(frame)
    while True:
        try:
            reply = json.loads(ws.recv(timeout=10))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            assert code in CLOSE_CODES, f"unexpected close {code} after {frame!r:.80}"
            return False
        if reply["type"] == "ack":
            if reply.get("created"):
                srv.created.add(reply["question_id"])
            return True
        if reply["type"] == "error":
            assert reply["code"] and reply["message"]
            assert reply["code"] != "internal", f"server bug on {frame!r:.120}"
            if invalid:
                assert reply["code"] in ("bad_text", "too_large"), reply
                if reply["code"] == "bad_text":
                    continue  # the close (1007) follows
            if reply["code"] in ("binary_frame", "too_large") and isinstance(frame, bytes):
                continue  # the close follows
            return True


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_frames_never_break_the_server(server: Server, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["live", "staff"]))
    ws = server.socket(kind)
    try:
        for _ in range(data.draw(st.integers(1, 12))):
            sent = data.draw(st.composite(frame)(sorted(server.created)))
            if not exchange(server, ws, sent):
                ws = server.socket(kind)
    finally:
        ws.close()


def test_after_the_storm_the_server_is_up_and_consistent(server: Server) -> None:
    # Runs after the property test (file order). The storm may have switched slow mode on
    # (a legitimate staff action); switch it off as a moderator would.
    moderation = server.app[keys.MODERATION]
    user = server.call(server.app[keys.STORE].user_by_name("fuzzmod"))
    server.call(perform(ACTIONS["slow_mode"], moderation, server.session_id, user,
                        {"seconds": 0}))
    # A normal client is served normally...
    viewer = server.socket("live")
    viewer.send(json.dumps({"type": "ask", "id": "final", "client_id": "final-check",
                            "text": "驾照快到期了在哪里换"}))
    while True:
        reply = json.loads(viewer.recv(timeout=10))
        if reply.get("re") == "final":
            break
    viewer.close()
    assert reply["type"] == "ack", reply
    server.created.add(reply["question_id"])
    # ...and the store holds exactly the questions acknowledged as created.
    store = server.app[keys.STORE]
    stored = server.call(store.find(Question, {"session_id": server.session_id}))
    assert {q.id for q in stored} == server.created
    with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as health:
        assert json.loads(health.read())["ok"] is True
