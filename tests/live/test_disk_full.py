"""A real fault under a real server: the disk holding the SQLite store fills up (a small
tmpfs; needs root, skipped without it locally and required under CI=true). A moderator's pin
then is not applied at all — not in the store, not in the audit log, not on anyone's screen —
and the moderator is told ``unavailable``; once there is room again the same pin goes
through."""

from __future__ import annotations

import errno
import os
import sqlite3
import uuid
from pathlib import Path

import pytest

from settings import Settings
from store.records import AuditEntry, Question
from tests.live.conftest import Live, question_event
from web import keys


@pytest.fixture
def settings(settings: Settings, disk: Path) -> Settings:
    """The usual test settings, with the data directory (and the store) on the small disk."""
    return settings.replace(server={"data_dir": str(disk / "data")})


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


async def test_a_pin_on_a_full_disk_is_not_applied_and_says_so(
    live: Live, settings: Settings, disk: Path,
) -> None:
    store = live.app[keys.STORE]
    viewer = await live.viewer()
    mod = await live.staff("mod", "moderator")
    ack = await viewer.request("ask", client_id=uuid.uuid4().hex, text="驾照快到期了在哪里换？")
    qid = ack["question_id"]
    pending = await mod.until(lambda f: question_event(f) and f["question"]["id"] == qid)
    approved = await mod.request("approve", question_id=qid, category="驾驶证",
                                 version=pending["question"]["version"])
    assert approved["type"] == "ack"
    before = await store.get(Question, qid)

    # Move everything written so far into the database file and empty the write-ahead log,
    # so that the next commit must grow the log — on a disk with no room left.
    with sqlite3.connect(settings.sqlite_path) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    filler = fill(disk)
    seen = {"mod": len(mod.seen), "viewer": len(viewer.seen)}

    refused = await mod.request("pin", question_id=qid, version=approved["version"],
                                pinned=True)
    assert refused["type"] == "error" and refused["code"] == "unavailable", refused
    assert "没有生效" in refused["message"] and "什么都没有改变" in refused["message"]
    await viewer.request("ping")  # anything published before this reply has arrived
    await mod.request("ping")
    news = [f for f in [*mod.seen[seen["mod"]:], *viewer.seen[seen["viewer"]:]]
            if question_event(f)]
    # (Copies of the approval may still trickle in; nothing newer than it may.)
    assert all(f["question"].get("version", approved["version"]) == approved["version"]
               and not f["question"].get("pinned") for f in news), news

    filler.unlink()
    assert await store.get(Question, qid) == before
    assert [e.action for e in await store.find(AuditEntry, order_by=["at"])
            if e.target == f"question:{qid}"] == ["question.approve"]
    staff_view = live.app[keys.MODERATION].staff_snapshot(
        await live.app[keys.MODERATION].board(live.session.id))
    assert [q["pinned"] for q in staff_view["questions"] if q["id"] == qid] == [False]

    # With room again, the very same request is applied.
    pinned = await mod.request("pin", question_id=qid, version=approved["version"],
                               pinned=True)
    assert pinned["type"] == "ack", pinned
    assert (await store.get(Question, qid)).pinned is True
