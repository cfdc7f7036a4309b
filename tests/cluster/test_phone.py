"""Broadcasting from a phone in a cluster: only the node holding the session's recorder lease
can take the camera's stream, and HAProxy (deploy/haproxy.cfg's `use-server`) routes
``/ws/camera/<id>?node=<node id>`` to that node. A phone that behaves as the page does
(``tests.cluster.phone``) is accepted by the holder within two tries and the session's
playlist gains segments; after the holder is killed (kill -9) the phone lands on the new
holder, whose recording continues the same playlist."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from live.hls_recorder import session_playlist
from live.recorder_lease import RecorderLeases
from live.sessions import SessionForm, Sessions
from moderation.audit import Audit
from store.records import LiveSession
from tests.cluster.clients import store_of
from tests.cluster.harness import Cluster, missing_tools
from tests.cluster.phone import Phone, Try, phone_webm, segment_count
from tests.conftest import require

LEASE = 6  # [media] recorder_lease_seconds (the shipped default)
CLIP_SECONDS = 45


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three nodes that record (a `browser:` session's ffmpeg idles until a phone sends),
    1-second segments; no network namespace (no link is shaped here)."""
    missing = missing_tools()
    require(not missing, f"the cluster tests need {', '.join(missing)}")
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), size=3, use_netns=False,
                      media={"record": True, "segment_seconds": 1,
                             "recorder_lease_seconds": LEASE})
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return phone_webm(tmp_path_factory.mktemp("phone") / "phone.webm", CLIP_SECONDS)


async def phone_session(cluster: Cluster, title: str) -> LiveSession:
    """A live session whose picture comes from a phone (any host or admin may send it)."""
    async with store_of(cluster.mongodb_uri, cluster.database) as store:
        sessions = Sessions(store, lambda b: None, audit=Audit())
        session = await sessions.create(SessionForm(title, scheduled_start=time.time(),
                                                    source_kind="browser"), actor="test")
        return await sessions.start(session.id, actor="test")


async def holder(cluster: Cluster, session_id: str, *, not_: str = "",
                 timeout: float = 30) -> str:
    """The node holding the session's recorder lease (a live one, other than ``not_``)."""
    deadline = time.monotonic() + timeout
    async with store_of(cluster.mongodb_uri, cluster.database) as store:
        leases = RecorderLeases(store, "", LEASE)
        while True:
            job = await leases.holder(session_id)
            if job is not None and job.lease_owner not in ("", not_) \
                    and (job.lease_expires or 0) > time.time():
                return job.lease_owner
            assert time.monotonic() < deadline, f"no node took the lease: {job}"
            await asyncio.sleep(0.2)


async def segments_grow(playlist: Path, beyond: int, by: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while segment_count(playlist) < beyond + by:
        assert time.monotonic() < deadline, \
            f"{segment_count(playlist)} segments, waiting for {beyond + by}"
        await asyncio.sleep(0.2)


async def probe(cluster: Cluster, session_id: str, node: str, clip: bytes,
                query: str | None = None) -> Try:
    """One connection as a phone asking for ``node``, closed at once."""
    phone = await Phone.login(cluster.url, session_id, "boss", clip, CLIP_SECONDS)
    phone.node = node
    try:
        await phone.connect_once(query)
    finally:
        await phone.close()
    return phone.tries[0]


async def test_haproxy_routes_a_phone_to_the_node_it_names(cluster: Cluster, clip: bytes
                                                           ) -> None:
    session = await phone_session(cluster, "路由测试")
    recorder = await holder(cluster, session.id)
    others = [n.name for n in cluster.nodes if n.name != recorder]
    for name in others * 2:  # each non-holder, twice: not leastconn's luck
        refused = await probe(cluster, session.id, name, clip)
        assert (refused.served, refused.outcome, refused.holder) == (
            name, "elsewhere", recorder), refused
    # The name is percent-decoded (the page's URLSearchParams encodes a `host:port` id).
    name = others[0]
    encoded = await probe(cluster, session.id, name, clip,
                          "?node=" + "".join(f"%{ord(c):02X}" for c in name))
    assert (encoded.served, encoded.outcome) == (name, "elsewhere"), encoded
    # A name that is no server of HAProxy's: balanced as usual, and told the holder.
    stray = await probe(cluster, session.id, "no-such-node", clip)
    assert stray.served in {n.name for n in cluster.nodes}, stray
    assert stray.outcome == ("ready" if stray.served == recorder else "elsewhere"), stray


async def test_a_phone_reaches_the_recorder_and_follows_it_when_its_node_dies(
        cluster: Cluster, clip: bytes) -> None:
    session = await phone_session(cluster, "手机直播集群")
    recorder = await holder(cluster, session.id)
    playlist = session_playlist(cluster.nodes[0].media_dir, session.id)
    phone = await Phone.login(cluster.url, session.id, "boss", clip, CLIP_SECONDS)
    victim = cluster.node(recorder)
    try:
        phone.start()
        first = await phone.wait_ready(0, timeout=20)
        # Through HAProxy at random, then straight to the holder: at most two tries.
        assert first.served == recorder and len(phone.tries) <= 2, phone.tries
        if len(phone.tries) == 2:
            assert phone.tries[0].outcome == "elsewhere" and first.asked == recorder
        await segments_grow(playlist, 0, 3, timeout=30)

        before, tries = segment_count(playlist), len(phone.tries)
        killed = time.monotonic()
        await asyncio.to_thread(victim.kill)
        successor = await holder(cluster, session.id, not_=recorder, timeout=LEASE * 3 + 10)
        moved = await phone.wait_ready(tries, timeout=LEASE * 3 + 40)
        assert moved.served == successor != recorder, phone.tries
        # Every try that named a live node was served by it. There may be none: when the
        # first try reached the holder through HAProxy, and the first after the kill went to
        # the successor the same way, the only named try names the dead holder
        # (test_haproxy_routes_a_phone_to_the_node_it_names covers named tries on purpose).
        named = [t for t in phone.tries if t.asked and t.served
                 and (t.asked != recorder or t.at < killed)]
        assert all(t.served == t.asked for t in named), phone.tries
        # Bounded: the page's back-off (1, 2, 4, 8 s) over the lease's expiry.
        assert len(phone.tries) - tries <= 6, phone.tries[tries:]
        # The new holder records the phone into the same playlist.
        await segments_grow(playlist, before, 3, timeout=40)
    finally:
        await phone.close()
        if not victim.running:
            await cluster.restart_node(victim)
