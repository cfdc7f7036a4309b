"""Two real apps (two ``create_app`` on two loopback ports) on one MongoDB database
(SecantusDB) and one real redis-server, with real websocket clients: events cross nodes, a
client resumes on the other node with no gap and no duplicate, Redis restarts with and
without its data, and the relay publishes what a node committed but never published."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from live.sessions import SessionForm
from settings import Secret, Settings
from store.mongo import MongoStore
from tests.live.conftest import Live, Socket, question_event
from tests.support import ClientFactory, Site, until
from web import keys
from web.app import create_app

pytestmark = pytest.mark.mongodb


@dataclass
class Cluster:
    a: Live
    b: Live
    redis: Any

    @property
    def session_id(self) -> str:
        return self.a.session.id


@pytest.fixture
async def cluster(settings: Settings, mongodb_uri: str, redis_server: Any, tmp_path: Path,
                  aiohttp_client: ClientFactory) -> AsyncIterator[Cluster]:
    database = f"tp_cluster_{secrets.token_hex(6)}"
    sites = []
    for name in ("a", "b"):
        node = settings.replace(
            server={"data_dir": str(tmp_path / name), "port": 0},
            store={"backend": "mongodb", "mongodb_uri": Secret(mongodb_uri),
                   "mongodb_database": database},
            cluster={"redis_url": Secret(redis_server.url), "node_id": name})
        app = create_app(node)
        sites.append(Site(app, await aiohttp_client(app), aiohttp_client))
    sessions = sites[0].app[keys.SESSIONS]
    broadcast = await sessions.create(SessionForm("交警视频帮 集群场", scheduled_start=1.8e9),
                                      actor="test")
    broadcast = await sessions.start(broadcast.id, actor="test")
    await sites[0].add_user("mod", "moderator")
    lives = [Live(site, broadcast) for site in sites]
    yield Cluster(lives[0], lives[1], redis_server)
    for live in lives:
        for sock in live.sockets:
            await sock.close()
    leftover = MongoStore(mongodb_uri, database=database, timeout_ms=5000)
    await leftover.open()
    await leftover.drop_database()
    await leftover.close()


async def ask(viewer: Socket, text: str) -> str:
    ack = await viewer.request("ask", client_id=secrets.token_hex(6), text=text)
    assert ack["type"] == "ack", ack
    return str(ack["question_id"])


async def approve(mod: Socket, question_id: str) -> None:
    frame = await mod.until(lambda f: question_event(f) and f["question"]["id"] == question_id)
    ack = await mod.request("approve", question_id=question_id,
                            version=frame["question"]["version"], category="驾驶证")
    assert ack["type"] == "ack", ack


def queued(question_id: str) -> Any:
    return lambda f: (question_event(f) and f["question"]["id"] == question_id
                      and f["question"]["state"] == "queued")


async def test_an_event_from_one_node_reaches_a_viewer_on_the_other(cluster: Cluster) -> None:
    watcher = await cluster.b.viewer()
    mod = await cluster.a.staff("mod", "moderator", client=await cluster.a.site.login("mod"))
    asker = await cluster.a.viewer()
    question_id = await ask(asker, "驾驶证到期了怎么换证？")
    await approve(mod, question_id)
    got = await watcher.until(queued(question_id))
    assert got["question"]["text"] == "驾驶证到期了怎么换证？"


async def test_a_client_resumes_on_the_other_node_with_no_gap_and_no_duplicate(
        cluster: Cluster) -> None:
    mod = await cluster.a.staff("mod", "moderator", client=await cluster.a.site.login("mod"))
    stays = await cluster.a.viewer()
    moving_client = await cluster.a.site.new_client()
    moving = await cluster.a.viewer(moving_client)
    asker = await cluster.a.viewer()
    first = await ask(asker, "摩托车驾驶证怎么考？")
    await approve(mod, first)
    await moving.until(queued(first))
    cursor = moving.cursor
    await moving.close()
    later = []
    for text in ("异地可以年审吗？", "驾照扣分怎么查？", "新车上牌要带什么？"):
        later.append(await ask(asker, text))
        await approve(mod, later[-1])
    for question_id in later:
        await stays.until(queued(question_id))
    # The same viewer (its cookie) comes back on node B with its cursor.
    b_client = await cluster.b.site.new_client()
    b_client.session.cookie_jar.update_cookies(
        {c.key: c.value for c in moving_client.session.cookie_jar})
    back = await cluster.b.viewer(b_client, since=cursor)
    hello = back.seen[0]
    assert hello["resume"] == "replay", hello
    await back.until(queued(later[-1]))
    replayed = [f["seq"] for f in back.seen if f["type"] == "event"]
    expected = [f["seq"] for f in stays.seen if f["type"] == "event"
                and int(cursor.split(":")[1]) < f["seq"] <= replayed[-1]]
    assert replayed == expected, (replayed, expected)  # in order, none missing, none twice
    assert [f["question"]["id"] for f in back.seen
            if question_event(f) and f["question"]["state"] == "queued"] == later


async def test_redis_restarts_with_and_without_its_data(cluster: Cluster) -> None:
    mod = await cluster.a.staff("mod", "moderator", client=await cluster.a.site.login("mod"))
    asker = await cluster.a.viewer()
    watcher = await cluster.b.viewer()
    before = await ask(asker, "补领行驶证要多久？")
    await approve(mod, before)
    await watcher.until(queued(before))
    epoch = watcher.epoch
    cluster.redis.restart(keep_data=True)
    broker_b = cluster.b.app[keys.BROKER]
    await until(lambda: broker_b.subscribed.is_set(), "node B subscribed again")  # type: ignore[attr-defined]
    kept = await ask(asker, "电子驾照怎么申领？")
    await approve(mod, kept)
    await watcher.until(queued(kept))
    resumed = await cluster.b.viewer(since=f"{epoch}:{watcher.seq - 2}")
    assert resumed.seen[0]["resume"] == "replay" and resumed.seen[0]["epoch"] == epoch
    # Without its data: a new epoch, and a client with the old cursor reloads a snapshot
    # that holds every acknowledged question.
    cluster.redis.restart(keep_data=False)
    await until(lambda: broker_b.subscribed.is_set(), "node B subscribed again")  # type: ignore[attr-defined]
    lost = await ask(asker, "车辆年检可以提前吗？")
    await approve(mod, lost)
    await watcher.until(queued(lost), timeout=10)
    for live in (cluster.b, cluster.a):
        again = await live.viewer(since=watcher.cursor)
        assert again.seen[0]["resume"] == "snapshot" and again.seen[0]["epoch"] != epoch
    # Node A's board made every change (node B's follows other nodes' changes once the
    # shared boards land): its snapshot holds every acknowledged question.
    assert {q["id"] for q in again.seen[1]["questions"]} >= {before, kept, lost}


async def test_the_relay_publishes_what_a_node_committed_but_never_published(
        cluster: Cluster) -> None:
    relays = [live.app[keys.RELAY] for live in (cluster.a, cluster.b)]
    watcher = await cluster.b.viewer()
    mod = await cluster.a.staff("mod", "moderator", client=await cluster.a.site.login("mod"))
    asker = await cluster.a.viewer()
    question_id = await ask(asker, "驾驶证照片可以自己拍吗？")
    # One relay holds the lease and follows the change stream (it relays every event).
    await until(lambda: sum(r.relayed for r in relays) > 0, "the relay following")
    assert [r.active for r in relays].count(True) == 1
    # Node A commits the approval and "dies" before publishing it.
    cluster.a.app[keys.BROKER].drop_publish = lambda session_id, events: True  # type: ignore[attr-defined]
    await approve(mod, question_id)
    got = await watcher.until(queued(question_id), timeout=15)
    assert got["question"]["state"] == "queued"
