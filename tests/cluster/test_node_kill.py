"""kill -9 of a hub node mid-burst: its viewers reconnect through HAProxy to the other nodes
and resume from (epoch, seq) with no gap and no duplicate (compared with the outbox in
MongoDB); every acknowledged question is stored and in every moderator console."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.cluster.bursts import (
    askers_burst,
    captions_burst,
    lost_questions,
    scene,
    settle,
    verify,
)
from tests.cluster.clients import LiveClient, live_session
from tests.cluster.harness import Cluster


async def test_viewers_spread_across_the_nodes(cluster: Cluster, title: str) -> None:
    """leastconn through HAProxy: nine viewers, three on each node."""
    session = await live_session(cluster.mongodb_uri, cluster.database, title)
    viewers = [await LiveClient.viewer(cluster.url, session.id, f"v{i}") for i in range(9)]
    try:
        for v in viewers:
            v.start()
            await v.wait_connected()
        spread = Counter(v.node for v in viewers)
        assert spread == {n.name: 3 for n in cluster.nodes}, spread
    finally:
        for v in viewers:
            await v.close()


async def test_kill_9_of_a_node_mid_burst(cluster: Cluster, title: str) -> None:
    s = await scene(cluster, title)
    # The victim: a node with viewers that is not the captioner's (its lines keep coming).
    victim = next(n for n in cluster.nodes if n.name != s.captioner.node and s.on_node(n.name))
    moved = s.on_node(victim.name)
    try:
        halfway = asyncio.Event()
        burst = asyncio.gather(captions_burst(s, 120, progress=halfway, at=40),
                               askers_burst(s, per_asker=8))
        async with asyncio.timeout(30):
            await halfway.wait()
        await asyncio.to_thread(victim.kill)
        async with asyncio.timeout(50):
            await burst
        committed = await settle(s)

        assert s.refused == []
        assert len(s.acked_questions) == 6 * 8
        # The viewers of the dead node are on the others now, resumed without a snapshot.
        for v in moved:
            assert v.node != victim.name and len(v.connections) >= 2, v.connections
            assert all(c.resume == "replay" for c in v.connections[1:]), v.connections
        assert verify(s, committed) == {"gaps": {}, "duplicates": {}, "out_of_order": []}
        captions = [e for e in committed if e.kind == "caption"]
        assert {str(e.data["caption"]["id"]) for e in captions} >= set(s.acked_captions)
        assert await lost_questions(s) == {"not_stored": [], "not_in_console": {}}
    finally:
        await s.close()
        if not victim.running:
            await cluster.restart_node(victim)


async def test_a_node_stopped_with_sigterm_mid_burst(cluster: Cluster, title: str) -> None:
    """The graceful path: the node says it is draining (or simply stops); HAProxy takes it
    out, its viewers resume on the others with no gap and no duplicate."""
    s = await scene(cluster, title, viewers=9, askers=3)
    victim = next(n for n in cluster.nodes if n.name != s.captioner.node and s.on_node(n.name))
    moved = s.on_node(victim.name)
    try:
        halfway = asyncio.Event()
        burst = asyncio.gather(captions_burst(s, 60, progress=halfway, at=20),
                               askers_burst(s, per_asker=5))
        async with asyncio.timeout(30):
            await halfway.wait()
        await asyncio.to_thread(victim.stop)
        await cluster.haproxy.wait_state(victim.name, "DOWN", timeout=15)
        async with asyncio.timeout(50):
            await burst
        committed = await settle(s)
        for v in moved:
            assert v.node != victim.name and len(v.connections) >= 2, v.connections
        assert s.refused == [] and len(s.acked_questions) == 15
        assert verify(s, committed) == {"gaps": {}, "duplicates": {}, "out_of_order": []}
        assert await lost_questions(s) == {"not_stored": [], "not_in_console": {}}
    finally:
        await s.close()
        if not victim.running:
            await cluster.restart_node(victim)
