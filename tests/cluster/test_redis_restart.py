"""A Redis restart mid-burst, with its data (the streams come back: clients resume) and
without (history lost: a new epoch, clients reload a snapshot). Either way nothing
acknowledged is lost: every acked question is in MongoDB and in every console, and every
client has every event committed after its last snapshot, once, in order."""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.bursts import (
    askers_burst,
    captions_burst,
    lost_questions,
    scene,
    settle,
    verify,
)
from tests.cluster.harness import Cluster


@pytest.mark.parametrize("keep_data", [True, False], ids=["with_data", "without_data"])
async def test_redis_restart_mid_burst(cluster: Cluster, title: str, keep_data: bool) -> None:
    s = await scene(cluster, f"{title} redis {keep_data}")
    try:
        halfway = asyncio.Event()
        burst = asyncio.gather(captions_burst(s, 100, progress=halfway, at=30),
                               askers_burst(s, per_asker=6))
        async with asyncio.timeout(30):
            await halfway.wait()
        await cluster.restart_redis(keep_data=keep_data)
        async with asyncio.timeout(50):
            await burst
        committed = await settle(s, within=25)

        assert s.refused == []
        assert len(s.acked_questions) == 6 * 6
        assert verify(s, committed) == {"gaps": {}, "duplicates": {}, "out_of_order": []}
        captions = {str(e.data["caption"]["id"]) for e in committed if e.kind == "caption"}
        assert captions >= set(s.acked_captions)
        assert await lost_questions(s) == {"not_stored": [], "not_in_console": {}}
        # Whoever crossed into a new epoch was handed a snapshot for it, never a replay.
        for c in s.clients:
            for before, after in zip(c.connections, c.connections[1:], strict=False):
                if after.epoch != before.epoch:
                    assert after.resume == "snapshot", c.connections
        # A viewer that reconnects now with the cursor it holds: with the data kept, the
        # missed events come from the stream; without, its epoch is gone: a snapshot.
        viewer = s.viewers[0]
        before = viewer.connections[-1]
        after = await viewer.reconnect()
        if keep_data:
            assert (after.resume, after.epoch) == ("replay", before.epoch), after
        else:
            assert after.resume == "snapshot" and after.epoch != before.epoch, after
    finally:
        await s.close()
