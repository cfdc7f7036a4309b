"""MongoDB unreachable for a while: sockets stay open, requests that need the store are
answered with a clear `unavailable` error within the store's timeout, HAProxy keeps the nodes
(the store is down for all of them alike), and when MongoDB is back the same nodes serve
again without a restart: the asks sent again are stored once. And the everyday case of a
shared store: several nodes' transactions on one session conflicting, all acknowledged."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.cluster.bursts import (
    QUESTION,
    ask,
    askers_burst,
    captions_burst,
    lost_questions,
    scene,
)
from tests.cluster.harness import Cluster


async def test_mongodb_unreachable_then_back(cluster: Cluster, title: str) -> None:
    s = await scene(cluster, title, viewers=3, askers=3, consoles=3)
    starts = {n.name: n.starts for n in cluster.nodes}
    try:
        await asyncio.to_thread(cluster.mongo.stop)
        # Every node says so: a question gets `unavailable`, promptly.
        for i, asker in enumerate(s.askers):
            started = time.monotonic()
            frame = await asker.request("ask", timeout=20, client_id=f"{asker.label}-down",
                                        text=QUESTION.format(i=i, n=0))
            assert frame["type"] == "error" and frame["code"] == "unavailable", frame
            assert frame["re"] and time.monotonic() - started < 10
        async with aiohttp.ClientSession() as http:
            for node in cluster.nodes:
                async with http.get(f"{node.url}/healthz") as health:
                    assert health.status == 503
                    assert (await health.json())["store"]["ok"] is False
        await asyncio.sleep(2.5)  # two health checks
        assert set(cluster.haproxy.states().values()) == {"UP"}
        assert all(not c.connections[-1].ended for c in s.clients)

        await asyncio.to_thread(cluster.mongo.start)
        deadline = time.monotonic() + 30
        await asyncio.gather(*(ask(s, a, i, 0, deadline) for i, a in enumerate(s.askers)))
        await asyncio.gather(*(ask(s, a, i, 1, deadline) for i, a in enumerate(s.askers)))
        assert s.refused == [] and len(s.acked_questions) == 6
        stored = await s.outbox.questions()
        assert {q.client_id for q in stored.values()} == set(s.acked_questions)
        await asyncio.sleep(1)
        assert await lost_questions(s) == {"not_stored": [], "not_in_console": {}}
        assert {n.name: n.starts for n in cluster.nodes} == starts  # no node restarted
        assert all(n.running for n in cluster.nodes)
    finally:
        if cluster.mongo.proc is None:
            await asyncio.to_thread(cluster.mongo.start)
        await s.close()


async def test_concurrent_writers_on_one_session_are_all_acknowledged(cluster: Cluster,
                                                                     title: str) -> None:
    """Several nodes writing to one session at once, with nothing failing: each action takes the
    session's next event numbers in its MongoDB transaction (one counter document), so two nodes'
    transactions on one session conflict and one aborts. A conflict is not an outage: the action
    runs again (store/mongo_transaction.py), and the sender gets its ack, not `unavailable`."""
    s = await scene(cluster, title, viewers=3, askers=6)
    try:
        async with asyncio.timeout(50):
            await asyncio.gather(captions_burst(s, 60), askers_burst(s, per_asker=8))
        assert s.refused == [] and s.caption_errors == []
        assert len(s.acked_captions) == 60 and len(s.acked_questions) == 48
        assert s.unavailable == 0  # no ask had to be sent again
    finally:
        await s.close()
