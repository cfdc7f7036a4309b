"""The load of a bad day and the checks after it, shared by the cluster tests.

A *scene* is one live session with viewers spread across the nodes through HAProxy, a
moderator console on every node it lands on, a captioner (``boss``) whose caption lines are
the public events every viewer must receive, and askers whose questions must all end up in
MongoDB and in every console. ``settle`` waits (bounded) until every client has caught up
with the outbox, and ``verify`` says what each one missed or saw twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from tests.cluster.clients import LiveClient, Outbox, check_stream, live_session
from tests.cluster.harness import Cluster

QUESTION = "第{i}位观众的第{n}个问题：驾驶证到期了去哪里换？"


@dataclass
class Scene:
    cluster: Cluster
    session_id: str
    outbox: Outbox
    viewers: list[LiveClient]
    consoles: list[LiveClient]
    captioner: LiveClient
    askers: list[LiveClient]
    acked_questions: dict[str, str] = field(default_factory=dict)  # client id -> question id
    acked_captions: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    unavailable: int = 0  # `unavailable` answers to asks (each sent again until acked)
    caption_errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clients(self) -> list[LiveClient]:
        return [*self.viewers, *self.consoles, self.captioner, *self.askers]

    async def close(self) -> None:
        for c in self.clients:
            await c.close()

    def on_node(self, name: str) -> list[LiveClient]:
        return [c for c in self.viewers if c.node == name]


async def scene(cluster: Cluster, title: str, *, viewers: int = 12, askers: int = 6,
                consoles: int = 3) -> Scene:
    session = await live_session(cluster.mongodb_uri, cluster.database, title)
    outbox = Outbox(cluster.mongodb_uri, cluster.database, session.id)
    url = cluster.url
    made = Scene(
        cluster, session.id, outbox,
        [await LiveClient.viewer(url, session.id, f"v{i}") for i in range(viewers)],
        [await LiveClient.staff(url, session.id, "mod", f"mod{i}") for i in range(consoles)],
        await LiveClient.staff(url, session.id, "boss", "cap"),
        [await LiveClient.viewer(url, session.id, f"a{i}") for i in range(askers)])
    for c in made.clients:  # one at a time: leastconn then spreads them evenly
        c.start()
        await c.wait_connected()
    return made


async def ask(s: Scene, asker: LiveClient, i: int, n: int, deadline: float) -> None:
    """Ask until acknowledged (the same client id every time, as a browser resends)."""
    cid = f"{asker.label}-{n}"
    while time.monotonic() < deadline:
        try:
            frame = await asker.request("ask", client_id=cid, text=QUESTION.format(i=i, n=n))
        except (ConnectionError, TimeoutError):
            await asyncio.sleep(0.1)
            continue
        if frame.get("type") == "ack":
            s.acked_questions[cid] = str(frame["question_id"])
            return
        if frame.get("code") == "unavailable":
            s.unavailable += 1
            await asyncio.sleep(0.2)
            continue
        s.refused.append(frame)
        return
    raise AssertionError(f"{cid} was never acknowledged")


async def askers_burst(s: Scene, per_asker: int, pause: float = 0.05,
                       within: float = 45) -> None:
    deadline = time.monotonic() + within

    async def one(i: int, asker: LiveClient) -> None:
        for n in range(per_asker):
            await ask(s, asker, i, n, deadline)
            await asyncio.sleep(pause)

    await asyncio.gather(*(one(i, a) for i, a in enumerate(s.askers)))


async def captions_burst(s: Scene, count: int, pause: float = 0.02,
                         progress: asyncio.Event | None = None, at: int = 0) -> None:
    """``count`` caption lines, one at a time; acknowledged ones are recorded. A line whose
    connection ends before its ack is not sent again (captions carry no client id)."""
    for n in range(count):
        try:
            frame = await s.captioner.request("caption", text=f"字幕第{n}行")
        except (ConnectionError, TimeoutError):
            await asyncio.sleep(0.1)
            continue
        if frame.get("type") == "ack":
            s.acked_captions.append(str(frame["caption_id"]))
        elif frame.get("code") == "unavailable":
            s.caption_errors.append(frame)
        else:
            s.refused.append(frame)
        if progress is not None and n + 1 >= at:
            progress.set()
        await asyncio.sleep(pause)


async def settle(s: Scene, within: float = 20) -> list[Any]:
    """Wait until every client has every event it is entitled to (by the outbox), or the
    time is up; returns the committed events."""
    from live.events import PUBLIC, STAFF

    deadline = time.monotonic() + within
    while True:
        committed = await s.outbox.events()
        last_public = max((e.seq for e in committed if e.audience == PUBLIC), default=0)
        last_staff = max((e.seq for e in committed if e.audience == STAFF), default=0)
        behind = [c.label for c in s.viewers if c.seq < last_public]
        behind += [c.label for c in s.consoles if c.seq < last_staff]
        if not behind or time.monotonic() > deadline:
            return committed
        await asyncio.sleep(0.2)


def verify(s: Scene, committed: list[Any]) -> dict[str, Any]:
    """What went wrong, per client (empty dicts when nothing did)."""
    from live.events import PUBLIC, STAFF

    gaps: dict[str, list[int]] = {}
    dups: dict[str, list[int]] = {}
    disorder: list[str] = []
    for clients, audience in ((s.viewers, PUBLIC), (s.consoles, STAFF)):
        for c in clients:
            start = int(c.snapshots[0]["seq"]) if c.snapshots else 0
            missing, duplicated = check_stream(c, committed, audience, start)
            if missing:
                gaps[c.label] = missing
            if duplicated:
                dups[c.label] = duplicated
            if c.seqs() != sorted(c.seqs()):
                disorder.append(c.label)
    return {"gaps": gaps, "duplicates": dups, "out_of_order": disorder}


async def lost_questions(s: Scene) -> dict[str, Any]:
    """Acknowledged questions missing from MongoDB or from a console's state."""
    stored = await s.outbox.questions()
    acked = set(s.acked_questions.values())
    return {
        "not_stored": sorted(acked - set(stored)),
        "not_in_console": {c.label: sorted(acked - set(c.seen_questions()))
                           for c in s.consoles if acked - set(c.seen_questions())},
    }
