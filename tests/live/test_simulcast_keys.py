"""Simulcast stream keys encrypted at rest (``live.simulcast_keys``): the store holds no key
on either backend (the raw SQLite file and the raw MongoDB document are read), rows stored as
given before (migration 0016) keep working and are sealed in place when a node starts, and a
changed signing key shows 密钥无法读取 on the admin page, starts no push, and is mended by
entering the key again."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from live.ffmpeg import find_ffmpeg
from live.sessions import SessionForm
from live.simulcast import key_fingerprint
from live.simulcast_keys import PREFIX, StreamKeys, derive_key, seal_plaintext
from live.simulcast_push import NOKEY, Simulcasts
from settings import Secret, Settings
from store import make_store
from store.base import Store
from store.records import AuditEntry, SimulcastTarget
from tests.support import PASSWORD, ClientFactory, Site, both_backends, csrf_of
from web import keys
from web.app import create_app

KEY = "dyS3cr3tPushK3y-9f8e7d?sign=abcdef123456"
URL = "rtmp://push.example.com/third"


def target(stored: str, *, id: str = "t1", url: str = URL) -> SimulcastTarget:
    return SimulcastTarget(id=id, session_id="s1", name="抖音", url=url, stream_key=stored)


def test_a_sealed_key_opens_only_with_its_signing_key_and_for_its_destination() -> None:
    box = StreamKeys(b"signing-key-one")
    sealed = box.seal("t1", URL, KEY)
    assert sealed.startswith(PREFIX) and KEY not in sealed and "abcdef" not in sealed
    assert sealed != box.seal("t1", URL, KEY)  # a fresh nonce each time
    assert box.open(target(sealed)) == KEY
    assert StreamKeys(b"signing-key-two").open(target(sealed)) is None
    assert box.open(target(sealed, id="t2")) is None  # copied into another row
    assert box.open(target(sealed, url="rtmp://evil.example.com/x")) is None  # URL changed
    assert box.open(target(sealed[:-4] + "AAAA")) is None  # altered
    assert box.open(target(PREFIX + "not base64!")) is None
    assert box.open(target(KEY)) == KEY  # stored as given (migration 0016): read as is
    assert derive_key(b"signing-key-one") != b"signing-key-one"[:32]
    assert len(derive_key(b"signing-key-one")) == 32


async def raw_stream_key(store: Store, settings: Settings, target_id: str) -> str:
    """The destination's stream key as the database itself holds it."""
    if store.backend == "sqlite":
        with sqlite3.connect(settings.sqlite_path) as db:
            row = db.execute("SELECT stream_key FROM simulcast_targets WHERE id = ?",
                             (target_id,)).fetchone()
        return str(row[0])
    doc: dict[str, Any] | None = await store.database["simulcast_targets"].find_one(  # type: ignore[attr-defined]
        {"_id": target_id})
    assert doc is not None
    return str(doc["stream_key"])


def files_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


async def add_on_page(client: Any, session_id: str, name: str, url: str, key: str) -> str:
    page = await (await client.get(f"/admin/sessions/{session_id}")).text()
    response = await client.post(f"/admin/sessions/{session_id}", data={
        "_csrf": csrf_of(page), "action": "add_target", "target_name": name,
        "target_url": url, "target_key": key})
    text: str = await response.text()
    assert response.status == 200 and name in text, text
    return text


@both_backends
async def test_the_store_holds_the_key_sealed(site: Site, app_settings: Settings) -> None:
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    session = await site.app[keys.SESSIONS].create(SessionForm("加密", scheduled_start=1.8e9),
                                                   actor="boss")
    page = await add_on_page(admin, session.id, "抖音", URL, KEY)
    assert "••••3456" in page and KEY not in page
    store = site.app[keys.STORE]
    [stored] = await store.find(SimulcastTarget, {"session_id": session.id})
    raw = await raw_stream_key(store, app_settings, stored.id)
    assert raw.startswith(PREFIX) and KEY not in raw and "abcdef123456" not in raw
    assert site.app[keys.SIMULCASTS].keys.open(stored) == KEY
    if store.backend == "sqlite":  # nothing in the database's files either (WAL included)
        assert KEY.encode() not in files_bytes(app_settings.sqlite_path.parent)
    audit = await store.find(AuditEntry, {"action": "simulcast.add"}, order_by=["at"])
    assert [(a.after or {})["key"] for a in audit] == [f"密钥指纹 {key_fingerprint(KEY)}"]


@both_backends
async def test_keys_stored_as_given_are_sealed_when_a_node_starts(
        app_settings: Settings, aiohttp_client: ClientFactory) -> None:
    store = make_store(app_settings)
    await store.open()
    await store.insert(target(KEY))  # a row of migration 0016
    await store.insert(target("", id="t-empty"))
    box = StreamKeys(app_settings.security.secret_key.reveal().encode())
    assert box.open(await store.get(SimulcastTarget, "t1")) == KEY  # read as it is
    await store.close()

    app = create_app(app_settings)
    await aiohttp_client(app)  # starting seals it
    store = app[keys.STORE]
    raw = await raw_stream_key(store, app_settings, "t1")
    assert raw.startswith(PREFIX) and KEY not in raw
    assert app[keys.SIMULCASTS].keys.open(await store.get(SimulcastTarget, "t1")) == KEY
    assert await raw_stream_key(store, app_settings, "t-empty") == ""
    assert await seal_plaintext(store, box) == 0  # once only


async def test_a_changed_signing_key_asks_for_the_key_again_and_pushes_nothing(
        site: Site, app_settings: Settings, aiohttp_client: ClientFactory, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    session = await site.app[keys.SESSIONS].create(SessionForm("换钥", scheduled_start=1.8e9),
                                                   actor="boss")
    await add_on_page(admin, session.id, "抖音", URL, KEY)
    [stored] = await site.app[keys.STORE].find(SimulcastTarget, {"session_id": session.id})

    # The same store, served with another signing key.
    other = create_app(app_settings.replace(
        security={"secret_key": Secret("another-signing-key-fedcba9876543210")}))
    client = await aiohttp_client(other)
    await site.login("boss", PASSWORD, client=client)
    page = await (await client.get(f"/admin/sessions/{session.id}")).text()
    assert "密钥无法读取，请重新输入" in page and 'value="replace_key"' in page
    assert "••••3456" not in page
    page = await add_on_page(client, session.id, "视频号", "rtmp://push.example.net/live",
                             "SecondK3yUnderTheNewSigningKey")
    [second] = [t for t in await other[keys.STORE].find(SimulcastTarget,
                                                         {"session_id": session.id})
                if t.id != stored.id]

    # Its pushes: the destination is not pushed, and says why.
    caplog.set_level(logging.WARNING)
    events: list[Any] = []
    pushes = Simulcasts(other[keys.STORE], lambda _sid, evs: events.extend(evs),
                        other[keys.SIMULCASTS].keys, ffmpeg=find_ffmpeg(),
                        media_dir=tmp_path, recording=lambda: [session.id])
    pushes.watch()
    try:
        for _ in range(40):
            if len(pushes.view(session.id)) == 2:
                break
            await asyncio.sleep(0.1)
        assert pushes.pushing(session.id) == [second.id]  # the other destination pushes
        view = {v["name"]: v for v in pushes.view(session.id)}
        assert view["抖音"]["status"] == "nokey" and view["视频号"]["status"] == "connecting"
        assert pushes.health(session.id, stored.id) == NOKEY
        assert "enter it again" in caplog.text
        assert {p["status"] for p in events[-1].data["simulcast"]} == {"nokey", "connecting"}

        # Entered again on that node: sealed with its key, and pushed.
        response = await client.post(f"/admin/sessions/{session.id}", data={
            "_csrf": csrf_of(page), "action": "replace_key", "target_id": stored.id,
            "target_key": "NewK3yFromThePlatform99"})
        page = await response.text()
        assert response.status == 200 and "••••rm99" in page, page
        assert "密钥无法读取" not in page
        pushes.targets_changed(session.id)
        await pushes.settle()
        assert sorted(pushes.pushing(session.id)) == sorted([stored.id, second.id])
    finally:
        await pushes.close()
    entry = (await other[keys.STORE].find(AuditEntry, {"action": "simulcast.key"},
                                           order_by=["at"]))[0]
    assert (entry.before or {})["key"] == "密钥无法读取"
    assert (entry.after or {})["key"] == f"密钥指纹 {key_fingerprint('NewK3yFromThePlatform99')}"
    # Now the first node's key no longer opens it: one signing key per cluster.
    renewed = await site.app[keys.STORE].get(SimulcastTarget, stored.id)
    assert site.app[keys.SIMULCASTS].keys.open(renewed) is None
    assert other[keys.SIMULCASTS].keys.open(renewed) == "NewK3yFromThePlatform99"
