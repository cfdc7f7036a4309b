"""Several nodes writing to one session at once, with nothing failing: each action takes the
session's next event numbers in its MongoDB transaction (one counter document), so two nodes'
transactions on one session conflict and one aborts. A conflict is not an outage: the action
runs again (store/mongo_transaction.py), and the sender gets its ack, not `unavailable`."""

from __future__ import annotations

import asyncio

from tests.cluster.bursts import askers_burst, captions_burst, scene
from tests.cluster.harness import Cluster


async def test_concurrent_writers_on_one_session_are_all_acknowledged(cluster: Cluster,
                                                                     title: str) -> None:
    s = await scene(cluster, title, viewers=3, askers=6)
    try:
        async with asyncio.timeout(50):
            await asyncio.gather(captions_burst(s, 60), askers_burst(s, per_asker=8))
        assert s.refused == [] and s.caption_errors == []
        assert len(s.acked_captions) == 60 and len(s.acked_questions) == 48
        assert s.unavailable == 0  # no ask had to be sent again
    finally:
        await s.close()
