"""The cluster starts: three nodes behind HAProxy, viewers spread across them."""

from __future__ import annotations

from collections import Counter

from tests.cluster.clients import LiveClient, live_session
from tests.cluster.harness import Cluster


async def test_viewers_spread_across_the_nodes(cluster: Cluster, title: str) -> None:
    session = await live_session(cluster.mongodb_uri, cluster.database, title)
    viewers = [await LiveClient.viewer(cluster.url, session.id, f"v{i}") for i in range(9)]
    try:
        for v in viewers:
            v.start()
        for v in viewers:
            await v.wait_connected()
        spread = Counter(v.node for v in viewers)
        assert set(spread) == {n.name for n in cluster.nodes}, spread
    finally:
        for v in viewers:
            await v.close()
