"""A node slow or cut off: its network namespace's veth link (both ways: HAProxy to the
node, the node to Redis and MongoDB) shaped with tc netem, or — on a kernel without
sch_netem — its three links relayed through ``tests.cluster.lag``.

Slow (50 ms each way, 2 % loss): its viewers still get every event, once, in order, and its
askers' questions are acknowledged and stored. Partitioned (the
link down: packets vanish both ways): HAProxy's health checks mark it down and cut its
sockets; its viewers reconnect to the other nodes and resume with no gap and no duplicate.
Healed: it comes back up and new viewers on it catch up."""

from __future__ import annotations

import asyncio

from tests.cluster.bursts import (
    askers_burst,
    captions_burst,
    lost_questions,
    scene,
    settle,
    verify,
)
from tests.cluster.clients import LiveClient
from tests.cluster.harness import Cluster
from tests.conftest import require


def slow_node(cluster: Cluster) -> tuple[str, object]:
    node = cluster.slow_node
    require(node is not None and cluster.netns is not None,
            "network namespaces need root, ip and tc (apt-get install iproute2)")
    assert node is not None and cluster.netns is not None
    return node.name, cluster.netns


async def test_a_slow_lossy_node_still_delivers_everything(cluster: Cluster, title: str
                                                          ) -> None:
    name, _ = slow_node(cluster)
    assert cluster.netns is not None
    s = await scene(cluster, title, viewers=9, askers=3)
    assert s.on_node(name)
    try:
        # 50 ms each way: every store and Redis round trip of the node takes 100 ms more.
        with cluster.slow_link(delay_ms=50, loss_pct=2):
            async with asyncio.timeout(120):
                await asyncio.gather(captions_burst(s, 40), askers_burst(s, per_asker=4))
            committed = await settle(s, within=20)
        assert s.refused == [] and len(s.acked_questions) == 12
        assert verify(s, committed) == {"gaps": {}, "duplicates": {}, "out_of_order": []}
        assert await lost_questions(s) == {"not_stored": [], "not_in_console": {}}
    finally:
        await s.close()


async def test_a_partitioned_node_is_taken_out_and_its_viewers_resume(cluster: Cluster,
                                                                     title: str) -> None:
    name, _ = slow_node(cluster)
    assert cluster.netns is not None
    s = await scene(cluster, title, viewers=9, askers=3)
    moved = s.on_node(name)
    assert moved
    late: list[LiveClient] = []
    try:
        halfway = asyncio.Event()
        burst = asyncio.gather(captions_burst(s, 80, progress=halfway, at=20),
                               askers_burst(s, per_asker=5))
        async with asyncio.timeout(30):
            await halfway.wait()
        with cluster.netns.partition():
            await cluster.haproxy.wait_state(name, "DOWN", timeout=15)
            async with asyncio.timeout(50):
                await burst
            committed = await settle(s, within=20)
        for v in moved:
            assert v.node != name and len(v.connections) >= 2, v.connections
        assert s.refused == [] and len(s.acked_questions) == 15
        assert verify(s, committed) == {"gaps": {}, "duplicates": {}, "out_of_order": []}
        assert await lost_questions(s) == {"not_stored": [], "not_in_console": {}}

        # Healed: back in HAProxy, and viewers that land on it get what happens next.
        await cluster.haproxy.wait_state(name, "UP", timeout=20)
        for i in range(6):
            v = await LiveClient.viewer(cluster.url, s.session_id, f"late{i}")
            late.append(v)
            v.start()
            await v.wait_connected()
        assert any(v.node == name for v in late)
        s.viewers += late
        await captions_burst(s, 10)
        committed = await settle(s, within=20)
        assert verify(s, committed) == {"gaps": {}, "duplicates": {}, "out_of_order": []}
    finally:
        await s.close()
