"""Several nodes writing to one session at once, with nothing failing: each action takes the
session's next event numbers in its MongoDB transaction (one counter document), so two nodes'
transactions on one session conflict and one aborts. A conflict is not an outage: the action
must run again, and the sender must get its ack, not `unavailable`."""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.bursts import askers_burst, captions_burst, scene
from tests.cluster.harness import Cluster


@pytest.mark.skip(reason="LEAD DECIDES: with broker merged, concurrent actions on one session "
                  "from several nodes abort with a MongoDB WriteConflict on the per-session "
                  "event counter and are answered `unavailable` (17 of 60 captions in one run; "
                  "asks too: 235 `unavailable` against 136 acks in bench/cluster.py --quick); "
                  "who retries transient transaction errors (store.transaction or the "
                  "producers) is not settled")
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
